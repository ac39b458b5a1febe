"""Search cases: opened for an unidentified admission (or a hospital placement) with
their tasks, following their person to every station the person is admitted at,
matched against the open missing-person reports, their tasks raised once overdue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, computed_field

from rescue_chassis.commands import Command, UnitOfWork
from rescue_events.contracts import (
    ArrivalRoute,
    IdentityStatus,
    PersonAdmittedV1,
    SearchCaseOpenedV1,
)
from rescue_events.contracts.intake_arrivals import HospitalPlacementMadeV1
from rescue_events.contracts.search import CaseMoveReason, SearchCaseMovedV1
from rescue_events.contracts.search_tasks import SearchTaskOverdueV1
from search import matching, notices, statements, tasks
from search.domain import TaskKind, notice_due_at, notice_overdue
from search.names import split_names
from search.notices import PROTECTED_CATEGORIES, NoticeStatus
from search.tables import SearchCase, SearchTask
from search.tables.core import CaseStation, EarlierStaySuggestion
from search.tables.evidence import IdentityCandidate
from search.tables.notices import NoticeProtection, SearchNotice
from search.tasks import first_deadlines


class CaseView(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    station_id: str
    status: str
    arrived_at: datetime
    opened_at: datetime
    notice_due_at: datetime
    notice_published_at: datetime | None
    stated_names: str | None
    stated_places: str | None
    dialect: str | None
    identified_at: datetime | None
    method: str | None
    full_name: str | None
    home_province: str | None
    home_address: str | None
    home_admin_code: str | None
    ending: str | None = None
    ended_at: datetime | None = None

    @computed_field
    @property
    def notice_overdue(self) -> bool:
        return self.status == "open" and notice_overdue(
            self.notice_due_at, self.notice_published_at, datetime.now(UTC)
        )

    @classmethod
    def of(cls, case: SearchCase) -> CaseView:
        return cls.model_validate(case, from_attributes=True)


class OpenSearchCase(Command):
    """A person admitted (or placed in hospital): what search keeps of it."""

    person_id: uuid.UUID
    station_id: str
    arrived_at: datetime  # the clock's start: the arrival, or the hospital placement
    sex: str | None = None  # a hospital placement does not say; the admission does
    estimated_age: int | None = None
    stated_names: list[str] = []
    stated_places: list[str] = []
    dialect: str | None = None
    categories: list[str] = []
    unidentified: bool = True  # False: only a case the person has already follows them
    transfer: bool = False  # a transfer from a station of the network (station_transfer)

    @classmethod
    def of(cls, admitted: PersonAdmittedV1) -> OpenSearchCase:
        return cls(
            person_id=admitted.person_id,
            station_id=admitted.station_id,
            arrived_at=admitted.arrived_at,
            sex=admitted.sex.value,
            estimated_age=admitted.estimated_age,
            stated_names=admitted.stated_names,
            stated_places=admitted.stated_places,
            dialect=admitted.dialect,
            categories=[c.value for c in admitted.categories],
            unidentified=admitted.identity_status is IdentityStatus.UNKNOWN,
            transfer=admitted.arrival_route is ArrivalRoute.STATION_TRANSFER,
        )

    @classmethod
    def of_placement(cls, placed: HospitalPlacementMadeV1) -> OpenSearchCase:
        """Medical first: the search starts while the person is in hospital, the
        clock at the placement (the admission on discharge uses the same person id)."""
        return cls(
            person_id=placed.person_id, station_id=placed.station_id, arrived_at=placed.placed_at
        )


async def open_search_case(command: OpenSearchCase, uow: UnitOfWork) -> uuid.UUID | None:
    """The person's one case: a new one with its tasks (`search_case_opened`),
    matched against the open missing-person reports at once, or
    the one they have, which follows them (``follow_person``); None when an
    identified person without a case is admitted."""
    if not command.unidentified or not (case := await _opened(command, uow)):
        # the person has their case (or an identified person has none): it follows
        found = await uow.find(SearchCase, person_id=command.person_id, lock=True)
        if not found:
            return None
        await follow_person(uow, found[0], command)
        return found[0].id
    if PROTECTED_CATEGORIES.intersection(command.categories):
        await _no_notice_task(uow, case["id"])
    await matching.index_person_names(
        uow,
        case["id"],
        command.station_id,
        command.person_id,
        split_names(case["stated_names"]),
        replacing=False,
    )
    # matched here, in the transaction that opens it: no round trip through the broker
    any_report = await statements.any_open_report(uow)  # asked first: most days none is
    await matching.match_new_case(uow, SearchCase(**case), any_report=any_report)
    await uow.publish(
        SearchCaseOpenedV1(
            person_id=command.person_id,
            case_id=case["id"],
            station_id=command.station_id,
            opened_at=uow.now,
            notice_due_at=case["notice_due_at"],
        )
    )
    return case["id"]


async def _opened(command: OpenSearchCase, uow: UnitOfWork) -> dict | None:
    """The new case's columns, written with its tasks in one statement; None when the
    person has a case already (most admissions are first ones: no read before)."""
    case = {
        "id": uuid.uuid4(),
        "person_id": command.person_id,
        "station_id": command.station_id,
        "status": "open",
        "arrived_at": command.arrived_at,
        "opened_at": uow.now,
        "notice_due_at": notice_due_at(command.arrived_at),
        "stated_names": "、".join(command.stated_names) or None,
        "stated_places": "、".join(command.stated_places) or None,
        "dialect": command.dialect,
        "categories": command.categories,
        "sex": command.sex,
        "estimated_age": command.estimated_age,
    }
    deadlines = [(kind.value, due_at) for kind, due_at in first_deadlines(command.arrived_at)]
    return case if await statements.open_case(uow, case, deadlines) else None


async def _no_notice_task(uow: UnitOfWork, case_id: uuid.UUID) -> None:
    """A protected person gets no public notice: its task can never be done."""
    await tasks.cancel_open_tasks(uow, case_id, "protected", [TaskKind.FAMILY_SEARCH_NOTICE])


# Why tasks closed at an ending that the person's return makes possible again.
CLOSED_BY_AN_ENDING = ("returned_home", "left", "transferred_out")


async def follow_person(uow: UnitOfWork, case: SearchCase, command: OpenSearchCase) -> None:
    """The person admitted again, anywhere in the network: the case (an identified one
    stays identified) moves to the admitting station, learns what the admission
    says, and an open search resumes where the ending stopped it, with its first
    deadlines (the 24-hour clock does not restart). A move is told
    (`search_case_moved`), and each notice up is re-issued naming the new station."""
    moved = case.station_id != command.station_id
    if moved:
        await _moved(uow, case, command)
    protected_before = bool(PROTECTED_CATEGORIES.intersection(case.categories or []))
    _learn(case, command)
    case.ending = None  # in a station again
    case.ended_at = None
    if case.status == "open":
        if not protected_before and PROTECTED_CATEGORIES.intersection(case.categories):
            await _no_notice_task(uow, case.id)
        await tasks.reopen_tasks(uow, case.id, CLOSED_BY_AN_ENDING, case.station_id)
        if moved:  # a family calls the station that has the person now
            await notices.reissue(uow, case, "case_moved")
        flags = await uow.get(NoticeProtection, case.id, lock=True)
        if flags is not None and (flags.closed_reason or "").startswith("person_discharged"):
            flags.closed_at = None  # closed by the ending, not by an identification
            flags.closed_reason = None
            await notices.republish(uow, case, "person_discharged")
    await matching.index_case_names(uow, case)  # its names, under its station now


async def _moved(uow: UnitOfWork, case: SearchCase, command: OpenSearchCase) -> None:
    """The case moved to the admitting station, for partners and both stations to see."""
    from_station_id, at = case.station_id, max(command.arrived_at, case.arrived_at)
    transfer = command.transfer or case.ending == "transferred"
    await _move(uow, case, command.station_id, at)
    await uow.publish(
        SearchCaseMovedV1(
            person_id=case.person_id,
            case_id=case.id,
            from_station_id=from_station_id,
            to_station_id=command.station_id,
            reason=CaseMoveReason.TRANSFER if transfer else CaseMoveReason.READMISSION,
            moved_at=at,
        )
    )


async def _move(uow: UnitOfWork, case: SearchCase, station_id: str, at: datetime) -> None:
    """The case and its work in progress go to the station that has the person; the
    stations it was at are kept (they keep reading it: search.visibility)."""
    history = await uow.find(CaseStation, case_id=case.id, lock=True)
    if not history:  # first move: the station it was opened at
        uow.add(
            CaseStation(
                id=uuid.uuid4(),
                case_id=case.id,
                station_id=case.station_id,
                from_at=case.arrived_at,
                to_at=at,
            )
        )
    for period in history:
        if period.to_at is None:
            period.to_at = at
    uow.add(CaseStation(id=uuid.uuid4(), case_id=case.id, station_id=station_id, from_at=at))
    case.station_id = station_id
    for task in await uow.find(SearchTask, case_id=case.id, status="open", lock=True):
        task.station_id = station_id
    for notice in await uow.find(SearchNotice, case_id=case.id, lock=True):
        if notice.status != NoticeStatus.TAKEN_DOWN:
            notice.station_id = station_id
    for waiting in (
        *await uow.find(EarlierStaySuggestion, case_id=case.id, status="pending", lock=True),
        *await uow.find(IdentityCandidate, case_id=case.id, status="pending", lock=True),
    ):
        waiting.station_id = station_id


def _learn(case: SearchCase, command: OpenSearchCase) -> None:
    """What the admission adds to the case: what it did not know (a case opened at a
    hospital placement knows little), names, places and categories besides its own."""
    if command.sex and (case.sex is None or case.sex == "unknown"):
        case.sex = command.sex
    if case.estimated_age is None:
        case.estimated_age = command.estimated_age
    case.dialect = case.dialect or command.dialect
    case.stated_names = _joined(case.stated_names, command.stated_names)
    case.stated_places = _joined(case.stated_places, command.stated_places)
    case.categories = list(dict.fromkeys([*(case.categories or []), *command.categories]))


def _joined(known: str | None, more: list[str]) -> str | None:
    """The case's "、"-joined list with the new entries it lacks (as it was, if they
    would not fit its column)."""
    entries = [e.strip() for e in (known or "").split("、") if e.strip()]
    joined = "、".join(dict.fromkeys([*entries, *(m.strip() for m in more if m.strip())]))
    return known if len(joined) > 2000 else joined or None


class RaiseOverdueTasks(Command):
    batch: int = 500


async def raise_overdue_tasks(command: RaiseOverdueTasks, uow: UnitOfWork) -> int:
    """Each task past its deadline raises `search_task_overdue` once: how many now."""
    late = await statements.overdue_tasks(uow, command.batch)
    for task, person_id in late:
        task.overdue_at = uow.now
        await uow.publish(
            SearchTaskOverdueV1(
                person_id=person_id,
                case_id=task.case_id,
                task_id=task.id,
                station_id=task.station_id,
                kind=task.kind,
                due_at=task.due_at,
                noticed_at=uow.now,
            )
        )
    return len(late)
