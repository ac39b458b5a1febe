"""Discharge: a stay ends with its reason (returned home, left, transferred,
settled, died). The stay's belongings are returned (or it is said why not), an
open outsourced-care placement ends with it, and `settled` needs the settlement
procedure's last step.

``discharge_stay`` is every discharge's: ``POST /persons/{id}/discharge``, a
death reported as an incident, outsourced care ended with the discharge, and the
family's signed handover at home (``person_handed_over``), which ends the stay
as returned home."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from intake.care_rules import belongings_at_discharge, check_settled_discharge
from intake.commands.admission import learn_registered_home
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
        description="For `transferred`: the hospital, institution or station (the "
        "network station's name if omitted with `transferred_to_station_id`).",
        examples=["信阳市第五人民医院"],
    )
    transferred_to_station_id: str | None = Field(
        default=None,
        max_length=64,
        description="For `transferred` to a station of the network: its id. That "
        "station readmits the same person (POST /persons/{id}/stays, arrival_route "
        "station_transfer, source.station_id this station), so their record and search "
        "case follow them.",
        examples=["xixian"],
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


async def discharge_stay(
    uow: UnitOfWork, person: Person, stay: Stay, request: Discharge, *, by: str | None = None
) -> None:
    """End the (locked) open stay, by the caller (``by`` for an event's), now: the
    rules of discharge, the belongings, an open outsourced-care placement, then
    person_discharged."""
    at = request.discharged_at or uow.now
    check_discharge(
        reason=request.reason,
        transferred_to=request.transferred_to,
        admitted_at=stay.admitted_at,
        discharged_at=at,
        now=uow.now,
        transferred_to_station_id=request.transferred_to_station_id,
        caring_station=stay.station_id,
        network_stations=set(uow.network.stations),
    )
    transferred_to = request.transferred_to
    if request.transferred_to_station_id and not transferred_to:
        receiving = uow.network.station(request.transferred_to_station_id)
        transferred_to = receiving.name if receiving else request.transferred_to_station_id
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
    by = by or uow.actor.subject
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
    stay.transferred_to = transferred_to
    stay.transferred_to_station_id = request.transferred_to_station_id
    person.status = "discharged"
    await uow.publish(
        PersonDischargedV1(
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            discharged_at=at,
            reason=request.reason,
            transferred_to=transferred_to,
            transferred_to_station_id=request.transferred_to_station_id,
        )
    )


class DischargeOnHandover(Command):
    """The family (or the receiving station) signed for the person at home
    (person_handed_over): the stay ends as returned home."""

    person_id: uuid.UUID
    handed_over_at: datetime
    received_by: str
    relation: str | None = None
    home_admin_code: str | None = None
    home_province: str | None = None
    home_address: str | None = None


HANDOVER = "person_handed_over"  # who discharged: the handover event, not a staff member


async def discharge_on_handover(command: DischargeOnHandover, uow: UnitOfWork) -> None:
    """End the person's open stay as returned_home at the handover, once: a stay
    staff discharged already stays as they ended it. The record learns the home the
    person was taken to."""
    person = await uow.get(Person, command.person_id, lock=True)
    if person is None:
        return  # not a person of intake's records (a return opened elsewhere)
    learn_registered_home(
        person,
        admin_code=command.home_admin_code,
        province=command.home_province,
        address=command.home_address,
    )
    stay = await uow.get(Stay, person.current_stay_id, lock=True)
    if stay is None or stay.discharged_at is not None:
        return
    # not before the admission, nor ahead of this clock (a receipt signed on a phone)
    at = min(max(command.handed_over_at, stay.admitted_at), uow.now)
    receiver = command.received_by + (f" ({command.relation})" if command.relation else "")
    unreturned = await uow.find(Belonging, stay_id=stay.id, returned_at=None)
    discharge = Discharge(
        reason=DischargeReason.RETURNED_HOME,
        discharged_at=at,
        note=f"handed over at home to {receiver}"[:2000],
        # nobody at the station saw the belongings go back: they stay open for staff
        belongings_note=(
            "the stay ended at the handover home; confirm the return of these belongings"
            if unreturned
            else None
        ),
    )
    await discharge_stay(uow, person, stay, discharge, by=HANDOVER)
