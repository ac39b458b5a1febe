from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class Figures(BaseModel):
    figures: dict[str, int | float | None] = Field(
        description="Each figure by its key (labels names them): counts, rates 0–1, hours."
    )


class StationFigures(Figures):
    station_id: str
    name: str


class TableView(BaseModel):
    """A month's summary table (情况汇总表)."""

    month: str = Field(examples=["2026-12"])
    labels: dict[str, str] = Field(description="Each figure's Chinese name.")
    definitions: dict[str, str] = Field(description="Which events count each figure.")
    stations: list[StationFigures]
    network: Figures = Field(description="The stations shown, added up (rates recomputed).")


class SubmissionView(BaseModel):
    id: uuid.UUID
    month: str
    status: str = Field(examples=["pending", "received"])
    requested_by: str
    requested_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    received_at: datetime | None
    receipt_id: str | None = Field(description="The national system's id of the table.")


class RebuildView(BaseModel):
    id: uuid.UUID
    status: str = Field(examples=["running", "done", "failed"])
    requested_by: str
    started_at: datetime
    finished_at: datetime | None
    records_read: int
    facts: int | None
    error: str | None
