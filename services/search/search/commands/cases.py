"""Search cases: opened for an unidentified admission with their tasks, matched
against the open missing-person reports, their tasks raised once overdue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, computed_field

from rescue_chassis.commands import Command, UnitOfWork
from rescue_events.contracts import PersonAdmittedV1, SearchCaseOpenedV1
from rescue_events.contracts.search_tasks import SearchTaskOverdueV1
from search import matching, statements
from search.domain import notice_due_at, notice_overdue
from search.names import split_names
from search.tables import SearchCase
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
    """An unidentified person admitted: what search keeps of the admission."""

    person_id: uuid.UUID
    station_id: str
    arrived_at: datetime
    sex: str
    estimated_age: int | None = None
    stated_names: list[str] = []
    stated_places: list[str] = []
    dialect: str | None = None
    categories: list[str] = []

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
        )


async def open_search_case(command: OpenSearchCase, uow: UnitOfWork) -> uuid.UUID | None:
    """The case and its tasks (`search_case_opened`); None when the person, admitted
    again, has their one case already."""
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
    if not await statements.open_case(uow, case, deadlines):
        return None
    await matching.index_person_names(
        uow,
        case["id"],
        command.station_id,
        command.person_id,
        split_names(case["stated_names"]),
        replacing=False,
    )
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


class MatchOpenedCase(Command):
    case_id: uuid.UUID


async def match_opened_case(command: MatchOpenedCase, uow: UnitOfWork) -> int:
    """A new case against the open missing-person reports: how many candidates."""
    if not await statements.any_open_report(uow):  # asked first: most days there is none
        return 0
    case = await uow.get(SearchCase, command.case_id)
    if case is None or case.status != "open":
        return 0
    return await matching.match_open_case(uow, case)


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
