"""Search events: police."""

from __future__ import annotations
