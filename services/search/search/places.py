"""The search service's gazetteer: loaded once, on first use, in a thread.

The index of every division down to the villages takes seconds to build and
hundreds of megabytes; most requests never need it, so it is built when the
first place is searched or a candidate is ranked, not at start-up, and shared by
everything after that. ``SEARCH_GAZETTEER_DIR`` points at the data that
``make setup`` fetched (var/gazetteer by default).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from rescue_chassis import heap
from search.gazetteer import Gazetteer, load_gazetteer
from search.gazetteer.address import Address
from search.ranking import ResolvedPlace, place_resolver

_lock = threading.Lock()
_loaded: dict[Path | None, tuple[Gazetteer, Callable[[str], tuple[ResolvedPlace, ...]]]] = {}


def _load(data_dir: Path | None):
    with _lock:
        if data_dir not in _loaded:
            gazetteer = load_gazetteer(data_dir)
            # every place field is free text as said: understood as an address
            _loaded[data_dir] = (gazetteer, place_resolver(gazetteer.find))
            heap.settle(collect=False)  # kept for good: out of the collector's way
        return _loaded[data_dir]


async def gazetteer(data_dir: Path | None) -> Gazetteer:
    """The gazetteer, built on first use off the event loop."""
    found = _loaded.get(data_dir)
    return found[0] if found else (await asyncio.to_thread(_load, data_dir))[0]


async def resolver(data_dir: Path | None) -> Callable[[str], tuple[ResolvedPlace, ...]]:
    """Free text → current places (former names followed), remembered per text."""
    found = _loaded.get(data_dir)
    return found[1] if found else (await asyncio.to_thread(_load, data_dir))[1]


def loaded_resolver(data_dir: Path | None) -> Callable[[str], tuple[ResolvedPlace, ...]] | None:
    """The resolver if the gazetteer is loaded already, else None (not loaded for it)."""
    found = _loaded.get(data_dir)
    return found[1] if found else None


async def address(
    data_dir: Path | None,
    text: str,
    province: str | None = None,
    county: str | None = None,
    limit: int = 10,
) -> Address:
    """A free-form address understood: its levels, the ranked places, the ambiguity."""
    return (await gazetteer(data_dir)).address(text, province=province, county=county, limit=limit)
