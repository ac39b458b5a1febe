"""Keeping the garbage collector's full passes short.

A service's heap is mostly what it built at start-up (FastAPI, SQLAlchemy,
pydantic models, its own tables) and keeps until it stops. CPython's full
collection walks all of it: a pause, at a random moment, for every request and
event in flight (bench/README.md has the figure). Objects moved to the permanent
generation with ``gc.freeze()`` are never walked again, so a full pass only looks
at what was made since.
"""

from __future__ import annotations

import gc


def settle(*, collect: bool = True) -> None:
    """Freeze everything alive now out of the collector's way. ``collect`` first
    frees the garbage (a pause of its own: do it before serving, not after)."""
    if collect:
        gc.collect()
    gc.freeze()
