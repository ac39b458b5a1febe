"""Search reacts to admissions (a case and its tasks); the other parts add theirs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityStatus, PersonAdmittedV1, SearchCaseOpenedV1
from rescue_events.driver import begun, run, table_name
from rescue_events.envelope import Envelope
from search import evidence_handlers, notice_handlers, police_handlers
from search.domain import notice_due_at
from search.matching import index_case_names
from search.tables import SearchCase, SearchTask
from search.tasks import first_deadlines

OPEN_CASE_COLUMNS = (
    "id",
    "person_id",
    "station_id",
    "status",
    "arrived_at",
    "opened_at",
    "notice_due_at",
    "stated_names",
    "stated_places",
    "dialect",
    "categories",
    "sex",
    "estimated_age",
)
_case_values = ", ".join(f"${n}" for n in range(1, len(OPEN_CASE_COLUMNS) + 1))
_tasks = len(OPEN_CASE_COLUMNS)
OPEN_CASE = (
    f"WITH opened AS (INSERT INTO {table_name(SearchCase.__table__)} "
    f"({', '.join(OPEN_CASE_COLUMNS)}) VALUES ({_case_values}) "
    "ON CONFLICT (person_id) DO NOTHING RETURNING id, station_id), "
    f"tasks AS (INSERT INTO {table_name(SearchTask.__table__)} "
    "(id, case_id, station_id, kind, status, due_at) "
    "SELECT t.id, opened.id, opened.station_id, t.kind, 'open', t.due_at FROM opened, "
    f"unnest(${_tasks + 1}::uuid[], ${_tasks + 2}::text[], ${_tasks + 3}::timestamptz[]) "
    "AS t(id, kind, due_at)) "
    "SELECT id FROM opened"
)


def handlers(runtime: Runtime):
    async def when_person_admitted_open_search_case(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        if event.identity_status is not IdentityStatus.UNKNOWN:
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
        # Every unidentified admission of the network passes here: the case and its
        # tasks in one fixed statement on the driver (rescue_events.driver). The same
        # person admitted again keeps their one case (ON CONFLICT: nothing opened).
        driver = await begun(session)
        deadlines = first_deadlines(case.arrived_at)
        args = (
            *(getattr(case, column) for column in OPEN_CASE_COLUMNS),
            [uuid.uuid4() for _ in deadlines],
            [kind.value for kind, _ in deadlines],
            [due_at for _, due_at in deadlines],
        )
        if await run(OPEN_CASE, driver.fetchval(OPEN_CASE, *args)) is None:
            return
        await index_case_names(session, case, new=True)
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
