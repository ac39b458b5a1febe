"""Search events: evidence."""

from __future__ import annotations
