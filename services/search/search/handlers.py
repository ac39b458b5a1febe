"""Search reacts to admissions (a case and its tasks); the other parts add theirs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityStatus, PersonAdmittedV1
from rescue_events.envelope import Envelope
from search import evidence_handlers, notice_handlers, police_handlers
from search.commands.cases import OpenSearchCase, open_search_case


def handlers(runtime: Runtime):
    async def when_person_admitted_open_search_case(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        if event.identity_status is not IdentityStatus.UNKNOWN:
            return
        await open_search_case(OpenSearchCase.of(event), UnitOfWork(session, runtime))

    # Each part of search declares the events it reacts to; one handler per event
    # type, so two parts claiming the same event is a mistake caught at start-up.
    merged: dict = {PersonAdmittedV1: when_person_admitted_open_search_case}
    for part in (notice_handlers, police_handlers, evidence_handlers):
        for contract, handler in part.handlers(runtime).items():
            if contract in merged:
                raise RuntimeError(f"{contract.__name__} is handled twice in search")
            merged[contract] = handler
    return merged
