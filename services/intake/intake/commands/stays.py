"""Discharge: a stay ends with its reason (returned home, left, transferred,
settled, died). The stay's belongings are returned (or it is said why not), an
open outsourced-care placement ends with it, and `settled` needs the settlement
procedure's last step.

``discharge_stay`` is every discharge's: ``POST /persons/{id}/discharge``, a
death reported as an incident, outsourced care ended with the discharge."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from intake.care_rules import belongings_at_discharge, check_settled_discharge
from intake.domain import check_discharge
from intake.tables import Person, Stay
from intake.tables.record import Belonging, OutsourcedCare, SettlementStepRecord
from intake.views import PersonView, person_view_in
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Conflict, Forbidden, Refused
from rescue_events.contracts import DischargeReason, PersonDischargedV1
from rescue_events.contracts.intake_care import (
    BelongingsReturnedV1,
    OutsourcedCareEndedV1,
    OutsourcedCareOutcome,
    SettlementStep,
)


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


class DischargePerson(Discharge, Command):
    person_id: uuid.UUID


async def discharge_person(command: DischargePerson, uow: UnitOfWork) -> PersonView:
    """End the person's current stay; only the caring station discharges."""
    person = await uow.load(Person, command.person_id, what="person", lock=True)
    stay = await uow.get(Stay, person.current_stay_id, lock=True)
    if stay.discharged_at is not None:
        raise Conflict("Already discharged", f"The stay ended on {stay.discharged_at:%Y-%m-%d}.")
    if uow.actor.station_id != stay.station_id:
        raise Forbidden("Not the caring station", f"Station {stay.station_id} discharges.")
    await discharge_stay(uow, person, stay, command)
    return await person_view_in(uow, person)


async def discharge_stay(uow: UnitOfWork, person: Person, stay: Stay, request: Discharge) -> None:
    """End the (locked) open stay, by the caller, now: the rules of discharge, the
    belongings, an open outsourced-care placement, then person_discharged."""
    at = request.discharged_at or uow.now
    check_discharge(
        reason=request.reason,
        transferred_to=request.transferred_to,
        admitted_at=stay.admitted_at,
        discharged_at=at,
        now=uow.now,
    )
    if request.reason is DischargeReason.SETTLED:
        done = await uow.find(
            SettlementStepRecord, stay_id=stay.id, order_by=SettlementStepRecord.number
        )
        check_settled_discharge([SettlementStep(s.step) for s in done])
    unreturned = await uow.find(Belonging, stay_id=stay.id, returned_at=None, lock=True)
    returning = belongings_at_discharge(
        unreturned=len(unreturned),
        belongings_returned=request.belongings_returned,
        belongings_note=request.belongings_note,
    )
    by = uow.actor.subject
    for placement in await uow.find(OutsourcedCare, stay_id=stay.id, ended_at=None, lock=True):
        if at < placement.started_at:
            raise Refused("discharged_at", "is before the outsourced care started")
        placement.ended_at = at
        placement.outcome = OutsourcedCareOutcome.DISCHARGED.value
        placement.ended_by = by
        await uow.publish(
            OutsourcedCareEndedV1(
                person_id=person.id,
                care_id=placement.id,
                stay_id=stay.id,
                station_id=placement.station_id,
                ended_at=at,
                outcome=OutsourcedCareOutcome.DISCHARGED,
            )
        )
    for item in unreturned:
        item.return_note = request.belongings_note
        if returning:
            item.returned_at = at
            item.returned_by = by
    if returning:
        await uow.publish(
            BelongingsReturnedV1(
                person_id=person.id,
                stay_id=stay.id,
                station_id=stay.station_id,
                returned_at=at,
                items=len(unreturned),
                note=request.belongings_note,
            )
        )
    stay.discharged_at = at
    stay.discharge_reason = request.reason.value
    stay.discharge_note = request.note
    stay.discharged_by = by
    person.status = "discharged"
    await uow.publish(
        PersonDischargedV1(
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            discharged_at=at,
            reason=request.reason,
            transferred_to=request.transferred_to,
        )
    )
