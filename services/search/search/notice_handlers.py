"""The ending of a stay: its rules for the person's search tasks and notices
(search.commands.endings), and where the remains of a person who died are."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import PersonDischargedV1
from rescue_events.contracts.intake_care import BurialRecordedV1
from rescue_events.envelope import Envelope
from search.commands.endings import EndStay, RecordRemains, end_stay, record_remains


def handlers(runtime: Runtime) -> dict:
    async def when_person_discharged_apply_the_ending(
        session: AsyncSession, event: PersonDischargedV1, envelope: Envelope
    ) -> None:
        await end_stay(EndStay.of(event), UnitOfWork(session, runtime))

    async def when_burial_recorded_say_where_the_remains_are(
        session: AsyncSession, event: BurialRecordedV1, envelope: Envelope
    ) -> None:
        await record_remains(RecordRemains.of(event), UnitOfWork(session, runtime))

    return {
        PersonDischargedV1: when_person_discharged_apply_the_ending,
        BurialRecordedV1: when_burial_recorded_say_where_the_remains_are,
    }
