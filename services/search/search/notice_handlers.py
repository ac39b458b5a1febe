"""Events the notice part of search reacts to: a person who leaves the station
has their family-search notices taken down."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import PersonDischargedV1
from rescue_events.envelope import Envelope
from search.commands.notices import TakeNoticesDown, take_notices_down


def handlers(runtime: Runtime) -> dict:
    async def when_person_discharged_take_notices_down(
        session: AsyncSession, event: PersonDischargedV1, envelope: Envelope
    ) -> None:
        command = TakeNoticesDown(
            person_id=event.person_id, reason=f"person_discharged:{event.reason.value}"
        )
        await take_notices_down(command, UnitOfWork(session, runtime))

    return {PersonDischargedV1: when_person_discharged_take_notices_down}
