"""Intake's events for arrivals that are not (yet) admissions: hotline leads,
refusals of help, hospital placements (medical first)."""

from __future__ import annotations
