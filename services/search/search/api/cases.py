"""Search cases as stations see them: the list, one case, its tasks, what is
overdue now."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, computed_field
from sqlalchemy import select

from rescue_chassis.access import SEARCH_WORK, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from search.domain import notice_overdue
from search.tables import SearchCase, SearchTask
from search.visibility import case_stations, visible_case

router = APIRouter(
    prefix="/cases", tags=["search cases"], dependencies=[require_roles(*SEARCH_WORK)]
)


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


@router.get("", response_model=list[CaseView])
async def list_cases(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(open|identified)$")] = None,
    person_id: uuid.UUID | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Search cases of the caller's station (the center sees all); `overdue=true` for
    cases whose family-search notice is past its 24-hour deadline."""
    query = select(SearchCase).order_by(SearchCase.notice_due_at).limit(limit)
    if (stations := case_stations(principal, runtime.network)) is not None:
        query = query.where(SearchCase.station_id.in_(stations))
    if status:
        query = query.where(SearchCase.status == status)
    if person_id:
        query = query.where(SearchCase.person_id == person_id)
    if overdue:
        query = query.where(
            SearchCase.status == "open",
            SearchCase.notice_published_at.is_(None),
            SearchCase.notice_due_at < datetime.now(UTC),
        )
    return [CaseView.of(c) for c in (await session.scalars(query)).all()]


# ":uuid": only an id matches, so a sibling path such as /cases/identity-lookup (POST
# only) is a 405 for GET, not a 422 about its "case id"; a malformed id names no case.
@router.get("/{case_id:uuid}", response_model=CaseView)
async def get_case(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return CaseView.of(await visible_case(session, principal, runtime.network, case_id))


class TaskView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    station_id: str
    kind: str
    status: str
    due_at: datetime
    done_at: datetime | None
    overdue_at: datetime | None = None

    @computed_field
    @property
    def overdue(self) -> bool:
        return self.status == "open" and datetime.now(UTC) > self.due_at


@router.get("/{case_id}/tasks", response_model=list[TaskView])
async def case_tasks(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The case's tasks with their deadlines: notice, police check, DNA sample."""
    await visible_case(session, principal, runtime.network, case_id)
    tasks = await session.scalars(
        select(SearchTask).where(SearchTask.case_id == case_id).order_by(SearchTask.due_at)
    )
    return [TaskView.model_validate(t, from_attributes=True) for t in tasks.all()]


overdue_router = APIRouter(tags=["search cases"], dependencies=[require_roles(*SEARCH_WORK)])


@overdue_router.get("/overdue", response_model=list[TaskView])
async def overdue_now(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    kind: Annotated[
        str | None, Query(pattern="^(family_search_notice|police_check|dna_sample)$")
    ] = None,
):
    """What is overdue in my station now (the center: the network), oldest first."""
    query = (
        select(SearchTask)
        .where(SearchTask.status == "open", SearchTask.due_at < datetime.now(UTC))
        .order_by(SearchTask.due_at)
    )
    if not sees_network(principal, runtime.network):
        query = query.where(SearchTask.station_id == principal.station_id)
    if kind:
        query = query.where(SearchTask.kind == kind)
    return [
        TaskView.model_validate(t, from_attributes=True)
        for t in (await session.scalars(query)).all()
    ]
