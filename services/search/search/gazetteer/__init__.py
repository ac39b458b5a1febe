"""The gazetteer: China's administrative divisions down to villages, current and
former, searchable by characters or pinyin (homophones, dialect mergers, typos,
spoken suffixes), with optional province/county context.

    from search.gazetteer import load_gazetteer
    gaz = load_gazetteer()
    gaz.search("xiao he zhuang", province="河北")
    gaz.lookup("410525")
    gaz.address("老家是河南固始郭陆滩的")  # levels, places, ambiguity (address.py)

The data comes from pinned public packages (rescue_divisions.fetch, shared with
every service that checks administrative codes) into ``var/gazetteer``; the
index is built from it in memory at load.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rescue_divisions.fetch import FetchError, default_dir, fetch
from search.gazetteer.build import Tables, build_tables
from search.gazetteer.index import Gazetteer, PlaceMatch

__all__ = [
    "FetchError",
    "Gazetteer",
    "PlaceMatch",
    "Tables",
    "default_dir",
    "fetch",
    "load_gazetteer",
]


def load_gazetteer(data_dir: Path | None = None, *, isolated: bool = True) -> Gazetteer:
    """Build the gazetteer from ``data_dir`` (default var/gazetteer or
    $SEARCH_GAZETTEER_DIR), fetching the pinned sources first if missing.

    ``isolated``: build in a child process and receive only the finished arrays,
    so the many short-lived Python strings of parsing never fragment this
    process's heap (its resident size grows by the arrays alone). The child is
    spawned, not forked: the service loads the gazetteer on first use, when its
    threads (telemetry exporters, the thread pool) may hold locks a fork would
    copy in their locked state."""
    started = time.perf_counter()
    path = fetch(data_dir)
    tables = _build_isolated(path) if isolated else build_tables(path)
    gaz = Gazetteer(tables)
    gaz.warm()
    gaz.build_seconds = time.perf_counter() - started
    return gaz


def _build_isolated(path: Path) -> Tables:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(build_tables, path).result()
