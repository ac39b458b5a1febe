"""The long-stay settlement procedure (长期滞留 → 落户安置): each step, in order,
once the stay has reached long stay."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from intake.care_rules import check_settlement_step, station_day
from intake.commands.record import load_person
from intake.record_views import SettlementView, settlement_view
from intake.tables import Stay
from intake.tables.record import SettlementStepRecord
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastDay
from rescue_events.contracts.intake_care import SettlementStep, SettlementStepRecordedV1


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


class RecordSettlementStep(Command):
    person_id: uuid.UUID
    step: SettlementStepRequest


async def record_settlement_step(command: RecordSettlementStep, uow: UnitOfWork) -> SettlementView:
    """The next step of the current stay's procedure (409 out of order or before
    the long stay); the last one allows a discharge as `settled`."""
    request = command.step
    person = await load_person(uow, command.person_id, lock=True)
    stay = await uow.get(Stay, person.current_stay_id, lock=True)
    steps = await uow.find(
        SettlementStepRecord, stay_id=stay.id, order_by=SettlementStepRecord.number
    )
    number = check_settlement_step(
        request.step,
        long_stay_reached=stay.long_stay_reached_at is not None,
        stay_open=stay.discharged_at is None,
        done=[(SettlementStep(s.step), s.done_on) for s in steps],
        on=request.date,
        today=station_day(uow.now),
    )
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
        recorded_by=uow.actor.subject,
        recorded_at=uow.now,
    )
    uow.add(record)
    view = settlement_view(person.id, stay, [*steps, record])
    await uow.publish(
        SettlementStepRecordedV1(
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            step=request.step,
            number=number,
            done_on=request.date,
            complete=view.complete,
        )
    )
    return view
