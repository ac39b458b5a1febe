"""Intake's events for the person's record and care: belongings returned,
outsourced care and its monitoring, the settlement procedure."""

from __future__ import annotations
