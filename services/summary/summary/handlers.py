"""The summary reads every service's topic and keeps each counted event as a fact."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from rescue_events.contracts.base import EventContract
from rescue_events.envelope import Envelope
from summary import statements
from summary.facts import READERS, fact_of


def handlers(runtime: Runtime):
    async def when_counted_event_keep_fact(
        session: AsyncSession, event: EventContract, envelope: Envelope
    ) -> None:
        await statements.keep(session, fact_of(envelope.id, event))

    return {model: when_counted_event_keep_fact for model in READERS}
