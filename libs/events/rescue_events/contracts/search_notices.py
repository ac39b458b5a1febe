"""Search events: notices."""

from __future__ import annotations
