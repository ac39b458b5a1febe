"""Arrivals that are not (yet) admissions: hotline leads, refusals of help,
hospital placements (medical first)."""

from intake.tables.core import Base  # noqa: F401
