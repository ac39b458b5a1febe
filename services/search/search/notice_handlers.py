"""Events the notice part of search reacts to: a person who leaves the station
has their family-search notices taken down."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from rescue_events.contracts import PersonDischargedV1
from rescue_events.envelope import Envelope
from search.notices import take_down_notices
from search.tables import SearchCase


def handlers(runtime: Runtime) -> dict:
    async def when_person_discharged_take_notices_down(
        session: AsyncSession, event: PersonDischargedV1, envelope: Envelope
    ) -> None:
        case = await session.scalar(
            select(SearchCase).where(SearchCase.person_id == event.person_id)
        )
        if case is None:
            return
        await take_down_notices(session, runtime, case, f"person_discharged:{event.reason.value}")

    return {PersonDischargedV1: when_person_discharged_take_notices_down}
