"""Refusals of help (劝导记录): an adult with full civil capacity may refuse to be
escorted to the station. The refusal is recorded with the advice given; no
admission is made."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from intake.domain import AdmissionRefused, check_moment
from intake.tables import Refusal, tables
from rescue_chassis.access import STATION_WORK, ensure_known_station, ensure_visible, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts.intake_arrivals import HelpRefusedV1

router = APIRouter(
    prefix="/refusals", tags=["refusals"], dependencies=[require_roles(*STATION_WORK)]
)

Short = Annotated[str, Field(min_length=1, max_length=100)]
Long = Annotated[str, Field(min_length=1, max_length=2000)]


class RefusalRecord(BaseModel):
    """A person who refused help, and what they were advised."""

    model_config = ConfigDict(extra="forbid")

    found_place: Annotated[str, Field(min_length=1, max_length=300)] = Field(
        description="Where the person was found.", examples=["固始县人民广场东门"]
    )
    found_at: PastInstant | None = Field(
        default=None,
        description="When staff met the person, with its offset; now if omitted.",
        examples=["2026-11-23T21:15:00+08:00"],
    )
    description: Long = Field(
        description="Who: sex, apparent age, appearance, state.",
        examples=["男，约50岁，神志清楚，自称在此等工作"],
    )
    name: Short | None = Field(
        default=None, description="The person's name, if they gave one.", examples=["李四"]
    )
    advice_given: Long = Field(
        description="The advice given (劝导): shelter offered, where to get help, the hotline.",
        examples=["告知可随时到站求助并留下24小时求助热线，赠送棉被一条"],
    )
    recorded_by: Short = Field(
        description="The staff member who gave the advice.", examples=["王晓红"]
    )
    escorting_unit: Short | None = Field(
        default=None,
        description="The police or city-management unit present, if any.",
        examples=["固始县公安局城关派出所"],
    )


class RefusalView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID = Field(description="Minted for the refusal; no person record exists.")
    station_id: str
    found_place: str
    found_at: datetime
    description: str
    name: str | None
    advice_given: str
    recorded_by: str
    escorting_unit: str | None
    recorded_at: datetime


@router.post("", status_code=201, response_model=RefusalView)
async def record_refusal(
    record: RefusalRecord,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    """Record a refusal of help with the advice given; help_refused goes out."""
    ensure_known_station(principal, runtime.network)
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, record
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    now = datetime.now(UTC)
    found_at = record.found_at or now
    try:
        check_moment("found_at", found_at, now=now)
    except AdmissionRefused as refused:
        raise invalid(refused.field, refused.reason) from None
    refusal = Refusal(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=principal.station_id,
        found_place=record.found_place,
        found_at=found_at,
        description=record.description,
        name=record.name,
        advice_given=record.advice_given,
        recorded_by=record.recorded_by,
        escorting_unit=record.escorting_unit,
        recorded_at=now,
        entered_by=principal.subject,
    )
    session.add(refusal)
    await runtime.outbox.stage(
        session,
        HelpRefusedV1(
            person_id=refusal.person_id,
            refusal_id=refusal.id,
            station_id=refusal.station_id,
            found_place=refusal.found_place,
            found_at=found_at,
            escorting_unit=refusal.escorting_unit,
        ),
    )
    await session.flush()
    view = RefusalView.model_validate(refusal)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    response.headers["Location"] = f"/refusals/{refusal.id}"
    return view


@router.get("", response_model=list[RefusalView])
async def list_refusals(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's refusals (the center sees the network), newest first."""
    query = select(Refusal).order_by(Refusal.found_at.desc()).limit(limit)
    if not sees_network(principal, runtime.network):
        query = query.where(Refusal.station_id == principal.station_id)
    return [RefusalView.model_validate(r) for r in (await session.scalars(query)).all()]


@router.get("/{refusal_id}", response_model=RefusalView)
async def get_refusal(
    refusal_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    refusal = await session.get(Refusal, refusal_id)
    if refusal is None:
        raise Problem(404, "Not found", "No such refusal.")
    ensure_visible(principal, runtime.network, "refusal", refusal.station_id)
    return RefusalView.model_validate(refusal)
