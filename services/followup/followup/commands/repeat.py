"""Repeat wandering (屡送屡返): a person of the ledger admitted again, recognised by
the same person id, by a confirmed identity or by search's earlier-stay match."""

from __future__ import annotations

import uuid
from datetime import datetime

from followup import statements
from followup.commands.register import AUTOMATIC, register_at_risk
from followup.domain import REPEAT_WANDERING, at_risk_reasons
from followup.tables import RepeatWandering, StabilisationRecord
from rescue_chassis.commands import Command, UnitOfWork
from rescue_events.contracts import RepeatWanderingFlaggedV1


class CheckAdmission(Command):
    """An admission of a person who has a stabilisation record."""

    person_id: uuid.UUID
    station_id: str
    admitted_at: datetime
    categories: list[str]


class RecogniseReturnedPerson(Command):
    """An identity confirmed: the same name and home as a record's person?"""

    person_id: uuid.UUID
    station_id: str
    identity_key: str


class RecogniseEarlierStay(Command):
    person_id: uuid.UUID
    earlier_person_id: uuid.UUID
    station_id: str
    basis: str


async def check_admission(command: CheckAdmission, uow: UnitOfWork) -> bool:
    """Admitted again after the handover: flagged; the categories may put the
    person on the register. Whether the person was flagged."""
    record = await record_of(uow, command.person_id)
    if record is None:
        return False
    flagged = False
    # Admitted again under the same person: a returned person back on the street.
    if command.admitted_at > record.handed_over_at:
        flagged = await flag_repeat_wandering(
            uow,
            record,
            admitted_person_id=command.person_id,
            admitting_station_id=command.station_id,
            basis="same_person",
        )
    reasons = at_risk_reasons(command.categories)
    if reasons:
        await register_at_risk(uow, record, reasons, AUTOMATIC)
    return flagged


async def recognise_returned_person(command: RecogniseReturnedPerson, uow: UnitOfWork) -> int:
    """Flag the records of the same identity under another person id; how many."""
    flagged = 0
    for record in await statements.records_of_identity(
        uow, command.identity_key, besides=command.person_id
    ):
        flagged += await flag_repeat_wandering(
            uow,
            record,
            admitted_person_id=command.person_id,
            admitting_station_id=command.station_id,
            basis="identity",
        )
    return flagged


async def recognise_earlier_stay(command: RecogniseEarlierStay, uow: UnitOfWork) -> bool:
    record = await record_of(uow, command.earlier_person_id)
    if record is None:
        return False  # an earlier stay, but never returned home through the network
    return await flag_repeat_wandering(
        uow,
        record,
        admitted_person_id=command.person_id,
        admitting_station_id=command.station_id,
        basis=command.basis,
    )


async def record_of(uow: UnitOfWork, person_id: uuid.UUID) -> StabilisationRecord | None:
    found = await uow.find(StabilisationRecord, person_id=person_id)
    return found[0] if found else None


async def flag_repeat_wandering(
    uow: UnitOfWork,
    record: StabilisationRecord,
    *,
    admitted_person_id: uuid.UUID,
    admitting_station_id: str,
    basis: str,
) -> bool:
    """Flag, once per new stay, a person of the ledger admitted again, to the
    origin and the admitting station; they enter the at-risk register."""
    if await uow.find(RepeatWandering, record_id=record.id, person_id=admitted_person_id):
        return False
    uow.add(
        RepeatWandering(
            id=uuid.uuid4(),
            record_id=record.id,
            person_id=admitted_person_id,
            origin_station_id=record.station_id,
            admitting_station_id=admitting_station_id,
            basis=basis,
            flagged_at=uow.now,
        )
    )
    await uow.publish(
        RepeatWanderingFlaggedV1(
            person_id=admitted_person_id,
            earlier_person_id=record.person_id,
            record_id=record.id,
            origin_station_id=record.station_id,
            admitting_station_id=admitting_station_id,
            basis=basis,
            flagged_at=uow.now,
        )
    )
    await register_at_risk(uow, record, [REPEAT_WANDERING], AUTOMATIC)
    return True
