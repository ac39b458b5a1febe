"""Search's own SQL beside its tables: what its use cases ask of the database beyond
``get`` and ``find``, each a function of the unit of work (a unit test replaces
it). The consumers' per-event statements run on the driver (rescue_events.driver),
one fixed statement each: this is the only module of search that touches it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from rescue_chassis.commands import UnitOfWork
from rescue_events.driver import begun, run, table_name
from search import matching, tasks, visibility
from search.domain import TaskKind
from search.faces.encoder import DetectedFace
from search.faces.store import TrailPerson, enrol_face, find_trail
from search.tables import DnaSample, MissingPersonReport, SearchCase, SearchTask
from search.tables.core import EarlierStaySuggestion
from search.tables.notices import SearchNotice

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

ANY_OPEN_REPORT = (
    f"SELECT EXISTS (SELECT 1 FROM {table_name(MissingPersonReport.__table__)} "
    "WHERE status = 'open')"
)


async def open_case(
    uow: UnitOfWork, case: dict[str, Any], tasks: Sequence[tuple[str, datetime]]
) -> bool:
    """The case (its columns by name) and its tasks (kind, due) in one statement;
    False when the person has a case already (ON CONFLICT: nothing opened)."""
    driver = await begun(uow.session)
    args = (
        *(case[column] for column in OPEN_CASE_COLUMNS),
        [uuid.uuid4() for _ in tasks],
        [kind for kind, _ in tasks],
        [due_at for _, due_at in tasks],
    )
    return await run(OPEN_CASE, driver.fetchval(OPEN_CASE, *args)) is not None


async def any_open_report(uow: UnitOfWork) -> bool:
    """Whether any missing-person report is open (most days none is)."""
    driver = await begun(uow.session)
    return bool(await run(ANY_OPEN_REPORT, driver.fetchval(ANY_OPEN_REPORT)))


async def fresh_notices(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> list[SearchNotice]:
    """These notices as they are now (their results were recorded in other sessions)."""
    found = await uow.session.scalars(
        select(SearchNotice)
        .where(SearchNotice.id.in_(ids))
        .execution_options(populate_existing=True)
    )
    return list(found.all())


async def overdue_tasks(uow: UnitOfWork, limit: int) -> list[tuple[SearchTask, uuid.UUID]]:
    """Open tasks past their deadline not yet raised, with their person, oldest first;
    rows another replica's sweep holds are skipped."""
    late = await uow.session.execute(
        select(SearchTask, SearchCase.person_id)
        .join(SearchCase, SearchCase.id == SearchTask.case_id)
        .where(
            SearchTask.status == "open",
            SearchTask.due_at < uow.now,
            SearchTask.overdue_at.is_(None),
        )
        .order_by(SearchTask.due_at)
        .limit(limit)
        .with_for_update(of=SearchTask, skip_locked=True)
    )
    return [(task, person_id) for task, person_id in late.all()]


# ---- police -------------------------------------------------------------------


async def sample_ref_taken(uow: UnitOfWork, sample_ref: str) -> bool:
    """Whether a sample with this reference was submitted before (by the blind
    index: the reference itself is encrypted at rest)."""
    found = await uow.session.scalar(
        select(DnaSample.id).where(DnaSample.sample_ref_lookup == sample_ref)
    )
    return found is not None


async def complete_task(uow: UnitOfWork, case_id: uuid.UUID, kind: TaskKind) -> bool:
    """The case's task of this kind done now (once): search.tasks."""
    return await tasks.complete_task(uow.session, case_id, kind, uow.now)


# ---- matching and who sees it ----------------------------------------------------


async def match_case(uow: UnitOfWork, case: SearchCase) -> int:
    """The case ranked against every open report: new candidates (search.matching)."""
    return await matching.match_case(uow.session, uow.runtime, case)


async def index_report(uow: UnitOfWork, report: MissingPersonReport) -> None:
    """The report's name in the name index of the network's history."""
    await matching.index_report_name(uow.session, report)


async def match_report(uow: UnitOfWork, report: MissingPersonReport) -> int:
    """The report ranked against every open case: new candidates (search.matching)."""
    return await matching.match_report(uow.session, uow.runtime, report)


async def is_protected(uow: UnitOfWork, case_id: uuid.UUID) -> bool:
    """Whether the case's person is protected (search.visibility)."""
    return bool(await visibility.protected_cases(uow.session, [case_id]))


async def trail_rule(uow: UnitOfWork, case_ids: Iterable[Any]) -> visibility.TrailRule:
    """Which trail records the caller sees, for records of these cases."""
    return await visibility.trail_rule(uow.session, uow.actor, uow.network, case_ids)


# ---- faces ------------------------------------------------------------------------


async def enrol(uow: UnitOfWork, face: DetectedFace, **record: Any) -> uuid.UUID:
    """One face of a photo stored (once: search.faces.store): its record's id."""
    return (await enrol_face(uow.session, face=face, enrolled_at=uow.now, **record)).id


async def trails(
    uow: UnitOfWork,
    face: DetectedFace,
    *,
    limit: int,
    max_distance: float,
    exclude_person_id: uuid.UUID | None = None,
) -> list[TrailPerson]:
    """The wandering trails of the persons nearest to this face."""
    return await find_trail(
        uow.session,
        face.vector,
        limit=limit,
        exclude_person_id=exclude_person_id,
        max_distance=max_distance,
    )


async def suggest_earlier_stay(uow: UnitOfWork, **suggestion: Any) -> uuid.UUID | None:
    """A pending earlier-stay suggestion for the case, unless that person was
    suggested for it before (then None): a rejected one is not made again."""
    return await uow.session.scalar(
        insert(EarlierStaySuggestion)
        .values(id=uuid.uuid4(), status="pending", suggested_at=uow.now, **suggestion)
        .on_conflict_do_nothing(index_elements=["case_id", "earlier_person_id"])
        .returning(EarlierStaySuggestion.id)
    )
