"""Search's own tables. One module per part of the work; all share one metadata
(core.py), so migrations see every table."""

from search.tables.core import (
    Base,
    EarlierStay,
    EarlierStaySuggestion,
    SearchCase,
    SearchTask,
    metadata,
    tables,
)
from search.tables.escalations import *  # noqa: F403
from search.tables.evidence import *  # noqa: F403
from search.tables.faces import *  # noqa: F403
from search.tables.matching import *  # noqa: F403
from search.tables.names import *  # noqa: F403
from search.tables.notices import *  # noqa: F403
from search.tables.police import *  # noqa: F403
from search.tables.refusal_faces import *  # noqa: F403

__all__ = [
    "Base",
    "EarlierStay",
    "EarlierStaySuggestion",
    "SearchCase",
    "SearchTask",
    "metadata",
    "tables",
]
