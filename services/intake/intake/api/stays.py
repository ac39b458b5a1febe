"""Discharge: a stay ends with its reason (returned home, left, transferred,
settled, died). The stay's belongings are returned (or it is said why not), an
open outsourced-care placement ends with it, and `settled` needs the settlement
procedure's last step."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import select

from intake.api.persons import load_person
from intake.care_rules import (
    CareConflict,
    CareRefused,
    belongings_at_discharge,
    check_settled_discharge,
)
from intake.domain import AdmissionRefused, check_discharge
from intake.tables import Person, Stay
from intake.tables.record import Belonging, OutsourcedCare, SettlementStepRecord
from intake.views import PersonView, person_view
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_events.contracts import DischargeReason, PersonDischargedV1
from rescue_events.contracts.intake_care import (
    BelongingsReturnedV1,
    OutsourcedCareEndedV1,
    OutsourcedCareOutcome,
    SettlementStep,
)

router = APIRouter(prefix="/persons", tags=["persons"], dependencies=[require_roles(*STATION_WORK)])


class Discharge(BaseModel):
    """How a stay ends. A stay whose belongings (随身物品) have not all been returned
    ends only with `belongings_returned: true`, or with a `belongings_note` saying
    why not (e.g. the person died and the items are kept for the family)."""

    model_config = ConfigDict(extra="forbid")

    reason: DischargeReason = Field(
        description="Why the stay ends: returned_home, left (of their own will), transferred "
        "(say where in `transferred_to`), settled (only after the settlement procedure's "
        "last step, placed_in_institution) or died."
    )
    discharged_at: PastInstant | None = Field(
        default=None,
        description="When the stay ended, with its offset; now if omitted.",
        examples=["2026-11-30T10:00:00+08:00"],
    )
    transferred_to: str | None = Field(
        default=None,
        max_length=200,
        description="For `transferred`: the hospital, institution or station.",
        examples=["信阳市第五人民医院"],
    )
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="What the record should keep about the discharge.",
        examples=["由女儿接回"],
    )
    belongings_returned: StrictBool = Field(
        default=False,
        description="The stay's belongings were handed back to the person: every item not "
        "yet returned is marked returned at the discharge time. Required (or "
        "`belongings_note`) when the stay has belongings not yet returned.",
    )
    belongings_note: str | None = Field(
        default=None,
        max_length=2000,
        description="About the belongings: a remark on their return, or, without "
        "`belongings_returned`, why they are not returned and where they are.",
        examples=["本人死亡，物品由站内保管，待家属领取"],
    )


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


async def discharge_stay(
    session,
    runtime: Runtime,
    person: Person,
    stay: Stay,
    request: Discharge,
    *,
    by: str,
    now: datetime,
) -> None:
    """End the (locked) open stay: the rules of discharge, the belongings, an open
    outsourced-care placement, then person_discharged. Raises Problem."""
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
    if request.reason is DischargeReason.SETTLED:
        done = (
            await session.scalars(
                select(SettlementStepRecord.step)
                .where(SettlementStepRecord.stay_id == stay.id)
                .order_by(SettlementStepRecord.number)
            )
        ).all()
        try:
            check_settled_discharge([SettlementStep(s) for s in done])
        except CareConflict as conflict:
            raise Problem(409, conflict.title, conflict.detail) from None
    unreturned = (
        await session.scalars(
            select(Belonging)
            .where(Belonging.stay_id == stay.id, Belonging.returned_at.is_(None))
            .with_for_update()
        )
    ).all()
    try:
        returning = belongings_at_discharge(
            unreturned=len(unreturned),
            belongings_returned=request.belongings_returned,
            belongings_note=request.belongings_note,
        )
    except CareRefused as refused:
        raise invalid(refused.field, refused.reason) from None
    placement = await session.scalar(
        select(OutsourcedCare)
        .where(OutsourcedCare.stay_id == stay.id, OutsourcedCare.ended_at.is_(None))
        .with_for_update()
    )
    if placement is not None:
        if at < placement.started_at:
            raise invalid("discharged_at", "is before the outsourced care started")
        placement.ended_at = at
        placement.outcome = OutsourcedCareOutcome.DISCHARGED.value
        placement.ended_by = by
        await runtime.outbox.stage(
            session,
            OutsourcedCareEndedV1(
                person_id=person.id,
                care_id=placement.id,
                stay_id=stay.id,
                station_id=placement.station_id,
                ended_at=at,
                outcome=OutsourcedCareOutcome.DISCHARGED,
            ),
        )
    for item in unreturned:
        item.return_note = request.belongings_note
        if returning:
            item.returned_at = at
            item.returned_by = by
    if returning:
        await runtime.outbox.stage(
            session,
            BelongingsReturnedV1(
                person_id=person.id,
                stay_id=stay.id,
                station_id=stay.station_id,
                returned_at=at,
                items=len(unreturned),
                note=request.belongings_note,
            ),
        )
    await end_stay(
        session,
        runtime,
        person,
        stay,
        reason=request.reason,
        at=at,
        by=by,
        note=request.note,
        transferred_to=request.transferred_to,
    )


@router.post("/{person_id}/discharge", response_model=PersonView)
async def discharge(
    person_id: uuid.UUID,
    request: Discharge,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """End the person's current stay at the caller's station (see Discharge for the
    rules on belongings and on `settled`)."""
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    stay = await session.get(Stay, person.current_stay_id, with_for_update=True)
    if stay.discharged_at is not None:
        raise Problem(
            409, "Already discharged", f"The stay ended on {stay.discharged_at:%Y-%m-%d}."
        )
    if principal.station_id != stay.station_id:
        raise Problem(403, "Not the caring station", f"Station {stay.station_id} discharges.")
    await discharge_stay(
        session, runtime, person, stay, request, by=principal.subject, now=datetime.now(UTC)
    )
    view = await person_view(session, person)
    await session.commit()
    return view
