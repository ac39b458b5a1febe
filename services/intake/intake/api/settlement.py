"""The long-stay settlement procedure (长期滞留 → 落户安置): once a stay has raised
long_stay_reached, staff record each step in order: household registration
applied for and granted, extreme-poverty support (特困供养) applied for and
granted, placement in a care institution. The last step allows a discharge as
`settled`; the search goes on meanwhile."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from intake.api.persons import load_person
from intake.api.record import conflict, refused
from intake.care_rules import (
    CareConflict,
    CareRefused,
    check_settlement_step,
    next_settlement_step,
    settlement_complete,
    station_day,
)
from intake.tables import Stay, tables
from intake.tables.record import SettlementStepRecord
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastDay
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts.intake_care import SettlementStep, SettlementStepRecordedV1

router = APIRouter(
    prefix="/persons", tags=["settlement"], dependencies=[require_roles(*STATION_WORK)]
)


class SettlementStepRequest(BaseModel):
    """One step of the procedure, in order: registration_applied (户籍申请),
    registration_granted, support_applied (特困供养申请), support_granted,
    placed_in_institution."""

    model_config = ConfigDict(extra="forbid")

    step: SettlementStep = Field(
        description="The step done; steps follow their order (409 otherwise): "
        "registration_applied, registration_granted, support_applied, support_granted, "
        "placed_in_institution."
    )
    date: PastDay = Field(
        description="The day it was done (the stations' calendar, UTC+8); not before the "
        "previous step.",
        examples=["2026-11-30"],
    )
    by: str = Field(
        min_length=1,
        max_length=200,
        description="Who did it or decided: the staff member, the police station or the "
        "civil-affairs department.",
        examples=["固始县公安局户政科"],
    )
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="Reference numbers, the institution, anything the record should keep.",
        examples=["落户至固始县社会福利院集体户，户口簿编号 GS-2027-031"],
    )


class StepView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: SettlementStep
    number: int
    done_on: dt.date
    done_by: str
    note: str | None
    recorded_at: datetime


class SettlementView(BaseModel):
    person_id: uuid.UUID
    stay_id: uuid.UUID
    long_stay_reached_at: datetime | None = Field(
        description="When the stay became a long stay; the procedure starts then."
    )
    steps: list[StepView] = Field(description="The steps done, in order.")
    next_step: SettlementStep | None = Field(
        description="The step to do next; null before the long stay and once complete."
    )
    complete: bool = Field(description="Placed in an institution: discharge as `settled`.")


async def _steps(session, stay: Stay) -> list[SettlementStepRecord]:
    return list(
        (
            await session.scalars(
                select(SettlementStepRecord)
                .where(SettlementStepRecord.stay_id == stay.id)
                .order_by(SettlementStepRecord.number)
            )
        ).all()
    )


def settlement_view(person_id: uuid.UUID, stay: Stay, steps: list) -> SettlementView:
    done = [SettlementStep(s.step) for s in steps]
    return SettlementView(
        person_id=person_id,
        stay_id=stay.id,
        long_stay_reached_at=stay.long_stay_reached_at,
        steps=[StepView.model_validate(s) for s in steps],
        next_step=next_settlement_step(done) if stay.long_stay_reached_at else None,
        complete=settlement_complete(done),
    )


@router.post("/{person_id}/settlement/steps", status_code=201, response_model=SettlementView)
async def record_settlement_step(
    person_id: uuid.UUID,
    request: SettlementStepRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Record the next step of the current stay's settlement procedure: only once
    the stay has reached long stay, and only in order (409 otherwise)."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    stay = await session.get(Stay, person.current_stay_id, with_for_update=True)
    steps = await _steps(session, stay)
    now = datetime.now(UTC)
    try:
        number = check_settlement_step(
            request.step,
            long_stay_reached=stay.long_stay_reached_at is not None,
            stay_open=stay.discharged_at is None,
            done=[(SettlementStep(s.step), s.done_on) for s in steps],
            on=request.date,
            today=station_day(now),
        )
    except CareConflict as error:
        raise conflict(error) from None
    except CareRefused as error:
        raise refused(error) from None
    record = SettlementStepRecord(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id=stay.station_id,
        step=request.step.value,
        number=number,
        done_on=request.date,
        done_by=request.by,
        note=request.note,
        recorded_by=principal.subject,
        recorded_at=now,
    )
    session.add(record)
    steps.append(record)
    view = settlement_view(person.id, stay, steps)
    await runtime.outbox.stage(
        session,
        SettlementStepRecordedV1(
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            step=request.step,
            number=number,
            done_on=request.date,
            complete=view.complete,
        ),
    )
    await session.flush()
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.get("/{person_id}/settlement", response_model=SettlementView)
async def get_settlement(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The current stay's settlement procedure: the steps done and the next one."""
    person = await load_person(session, runtime, principal, person_id)
    stay = await session.get(Stay, person.current_stay_id)
    return settlement_view(person.id, stay, await _steps(session, stay))
