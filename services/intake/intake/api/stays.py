"""Discharge: a stay ends with its reason (returned home, left, transferred,
settled, died)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from intake.api.persons import load_person
from intake.domain import AdmissionRefused, check_discharge
from intake.tables import Person, Stay
from intake.views import PersonView, person_view
from rescue_chassis.auth import PrincipalDep
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_events.contracts import DischargeReason, PersonDischargedV1

router = APIRouter(prefix="/persons", tags=["persons"])


class Discharge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DischargeReason = Field(description="Why the stay ends.")
    discharged_at: AwareDatetime | None = Field(default=None, description="Now if omitted.")
    transferred_to: str | None = Field(
        default=None,
        max_length=200,
        description="For `transferred`: the hospital, institution or station.",
        examples=["信阳市第五人民医院"],
    )
    note: str | None = Field(default=None, max_length=2000, examples=["由女儿接回"])


async def end_stay(
    session,
    runtime: Runtime,
    person: Person,
    stay: Stay,
    *,
    reason: DischargeReason,
    at: datetime,
    by: str,
    note: str | None = None,
    transferred_to: str | None = None,
) -> None:
    stay.discharged_at = at
    stay.discharge_reason = reason.value
    stay.discharge_note = note
    stay.discharged_by = by
    person.status = "discharged"
    await runtime.outbox.stage(
        session,
        PersonDischargedV1(
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            discharged_at=at,
            reason=reason,
            transferred_to=transferred_to,
        ),
    )


@router.post("/{person_id}/discharge", response_model=PersonView)
async def discharge(
    person_id: uuid.UUID,
    request: Discharge,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    stay = await session.get(Stay, person.current_stay_id, with_for_update=True)
    if stay.discharged_at is not None:
        raise Problem(
            409, "Already discharged", f"The stay ended on {stay.discharged_at:%Y-%m-%d}."
        )
    if principal.station_id != stay.station_id:
        raise Problem(403, "Not the caring station", f"Station {stay.station_id} discharges.")
    now = datetime.now(UTC)
    at = request.discharged_at or now
    try:
        check_discharge(
            reason=request.reason,
            transferred_to=request.transferred_to,
            admitted_at=stay.admitted_at,
            discharged_at=at,
            now=now,
        )
    except AdmissionRefused as refused:
        raise invalid(refused.field, refused.reason) from None
    await end_stay(
        session,
        runtime,
        person,
        stay,
        reason=request.reason,
        at=at,
        by=principal.subject,
        note=request.note,
        transferred_to=request.transferred_to,
    )
    view = await person_view(session, person)
    await session.commit()
    return view
