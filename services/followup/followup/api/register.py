"""The at-risk register (易流浪走失人员信息库) and its town rosters (花名册)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select

from followup.api.common import load_record
from followup.domain import RecordStatus, RevisitStatus
from followup.ledger import register_at_risk
from followup.roster import render_roster
from followup.tables import AtRiskEntry, Revisit, StabilisationRecord
from followup.views import AtRiskEntryView
from rescue_chassis.access import STATION_WORK, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from rescue_divisions.fields import AdminCodeFilter

router = APIRouter(
    prefix="/at-risk-register",
    tags=["at-risk register"],
    dependencies=[require_roles(*STATION_WORK)],
)

JurisdictionCode = Annotated[
    str, Path(pattern=r"^[0-9]{6}([0-9]{3})?$", examples=["511324105"]), AdminCodeFilter
]


class Registration(BaseModel):
    """Staff enter a returned person the automatic rules did not."""

    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    reasons: list[
        Literal["mental_illness", "dementia", "disabled", "repeat_wandering", "other"]
    ] = Field(min_length=1, max_length=5)
    note: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _other_says_why(self) -> Registration:
        if "other" in self.reasons and not self.note:
            raise ValueError("note: say why when the reason is `other`")
        return self


def _scoped_entries(query, principal, runtime):
    if sees_network(principal, runtime.network):
        return query
    return query.where(AtRiskEntry.station_id == principal.station_id)


@router.get("", response_model=list[AtRiskEntryView])
async def list_register(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    jurisdiction_code: Annotated[
        str | None, Query(pattern=r"^[0-9]{6}([0-9]{3})?$"), AdminCodeFilter
    ] = None,
    person_id: uuid.UUID | None = None,
):
    query = _scoped_entries(
        select(AtRiskEntry).order_by(AtRiskEntry.registered_at), principal, runtime
    )
    if jurisdiction_code:
        query = query.where(AtRiskEntry.jurisdiction_code.startswith(jurisdiction_code))
    if person_id:
        query = query.where(AtRiskEntry.person_id == person_id)
    return [AtRiskEntryView.model_validate(e) for e in (await session.scalars(query)).all()]


@router.post("", status_code=201, response_model=AtRiskEntryView)
async def add_to_register(
    registration: Registration, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    record = await load_record(session, runtime, principal, registration.record_id)
    entry = await register_at_risk(
        session,
        runtime,
        record,
        list(registration.reasons),
        principal.subject,
        datetime.now(UTC),
        note=registration.note,
    )
    await session.flush()
    result = AtRiskEntryView.model_validate(entry)
    await session.commit()
    return result


@router.get("/rosters/{jurisdiction_code}", response_class=HTMLResponse)
async def town_roster(
    jurisdiction_code: JurisdictionCode,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The roster for a town (9 digits) or a county (6): a page to print and send."""
    next_due = (
        select(func.min(Revisit.due_on))
        .where(
            Revisit.record_id == StabilisationRecord.id,
            Revisit.status != RevisitStatus.DONE.value,
        )
        .scalar_subquery()
    )
    query = _scoped_entries(
        select(AtRiskEntry, StabilisationRecord, next_due)
        .join(StabilisationRecord, StabilisationRecord.id == AtRiskEntry.record_id)
        .where(
            AtRiskEntry.jurisdiction_code.startswith(jurisdiction_code),
            StabilisationRecord.status == RecordStatus.ACTIVE.value,
        )
        .order_by(StabilisationRecord.full_name),
        principal,
        runtime,
    )
    rows = [
        {
            "full_name": record.full_name,
            "home_address": record.home_address,
            "reasons": entry.reasons,
            "handed_over_at": record.handed_over_at,
            "next_due": due,
            "station": _station_name(runtime, record.station_id),
        }
        for entry, record, due in (await session.execute(query)).all()
    ]
    return HTMLResponse(render_roster(jurisdiction_code, rows, datetime.now(UTC)))


def _station_name(runtime, station_id: str) -> str:
    station = runtime.network.station(station_id)
    return station.name if station else station_id
