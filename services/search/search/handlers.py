"""Search reacts to admissions (a case and its tasks); the other parts add theirs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityStatus, PersonAdmittedV1, SearchCaseOpenedV1
from rescue_events.envelope import Envelope
from search import evidence_handlers, notice_handlers, police_handlers
from search.domain import notice_due_at
from search.matching import index_case_names
from search.tables import SearchCase
from search.tasks import open_tasks


def handlers(runtime: Runtime):
    async def when_person_admitted_open_search_case(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        if event.identity_status is not IdentityStatus.UNKNOWN:
            return
        existing = await session.scalar(
            select(SearchCase.id).where(SearchCase.person_id == event.person_id)
        )
        if existing is not None:  # the same person admitted again: one case per person
            return
        now = datetime.now(UTC)
        case = SearchCase(
            id=uuid.uuid4(),
            person_id=event.person_id,
            station_id=event.station_id,
            status="open",
            arrived_at=event.arrived_at,
            opened_at=now,
            notice_due_at=notice_due_at(event.arrived_at),
            stated_names="、".join(event.stated_names) or None,
            stated_places="、".join(event.stated_places) or None,
            dialect=event.dialect,
            categories=[c.value for c in event.categories],
            sex=event.sex.value,
            estimated_age=event.estimated_age,
        )
        session.add(case)
        await session.flush()
        await index_case_names(session, case, new=True)
        open_tasks(session, case)
        await runtime.outbox.stage(
            session,
            SearchCaseOpenedV1(
                person_id=case.person_id,
                case_id=case.id,
                station_id=case.station_id,
                opened_at=now,
                notice_due_at=case.notice_due_at,
            ),
        )

    # Each part of search declares the events it reacts to; one handler per event
    # type, so two parts claiming the same event is a mistake caught at start-up.
    merged: dict = {PersonAdmittedV1: when_person_admitted_open_search_case}
    for part in (notice_handlers, police_handlers, evidence_handlers):
        for contract, handler in part.handlers(runtime).items():
            if contract in merged:
                raise RuntimeError(f"{contract.__name__} is handled twice in search")
            merged[contract] = handler
    return merged
