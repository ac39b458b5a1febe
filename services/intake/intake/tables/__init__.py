"""Intake's own tables: persistence only. One module per part of the work; all
share one metadata (core.py), so migrations see every table."""

from intake.tables.arrivals import *  # noqa: F403
from intake.tables.burial import *  # noqa: F403
from intake.tables.core import Base, Incident, Person, Stay, metadata, tables
from intake.tables.record import *  # noqa: F403

__all__ = ["Base", "Incident", "Person", "Stay", "metadata", "tables"]
