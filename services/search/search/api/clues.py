"""Clues from conversation with the person: the structured "520" record
(望 observe, 闻 listen to the dialect, 问 ask, 切 note changes, 断 judge together).
Each new clue is matched again against the open missing-person reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from sqlalchemy import select

from rescue_chassis.access import SEARCH_WORK, ensure_visible
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import Sex
from rescue_events.contracts.search_evidence import CluePart, ClueRecordedV1
from search.matching import index_case_names, match_case
from search.tables import tables
from search.tables.core import SearchCase
from search.tables.evidence import Clue

router = APIRouter(prefix="/cases", tags=["clues"], dependencies=[require_roles(*SEARCH_WORK)])

_Text = Annotated[str, Field(min_length=1, max_length=2000)] | None


class ClueRecord(BaseModel):
    """One 520 record; each part is optional, but at least one must be given."""

    model_config = ConfigDict(extra="forbid")

    observed: _Text = Field(
        default=None,
        description="望 — what staff observed: appearance, habits, skills, marks.",
        examples=["右手虎口有旧伤疤,会用镰刀,习惯蹲着吃饭"],
    )
    dialect_heard: _Text = Field(
        default=None,
        description="闻 — the dialect or accent heard, and words that stood out.",
        examples=["四川话,川北口音,把'鞋子'说成'孩子'"],
    )
    person_said: _Text = Field(
        default=None,
        description="问 — what the person said when asked: names, places, family, work.",
        examples=["说自己叫老李,家门口有条河,村里有座石桥"],
    )
    changes: _Text = Field(
        default=None,
        description="切 — changes over time: what the person says or does differently now.",
        examples=["情绪稳定后改口说家在南充,以前说的是成都"],
    )
    group_judgment: _Text = Field(
        default=None,
        description="断 — what the team judged together from all of it.",
        examples=["综合判断为四川南充一带人,建议向仪陇县定向推送"],
    )
    names: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=20,
        description="Names heard in this conversation, as the person said them (for matching).",
        examples=[["李建国", "老李"]],
    )
    places: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list,
        max_length=20,
        description="Places heard in this conversation (for matching).",
        examples=[["南充", "仪陇县"]],
    )
    apparent_sex: Sex | None = Field(
        default=None, description="The sex as observed (for matching).", examples=["male"]
    )
    apparent_age: StrictInt | None = Field(
        default=None, ge=0, le=120, description="The age as estimated now.", examples=[60]
    )
    author: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Who talked with the person; the caller when not given.",
        examples=["社工 张敏"],
    )
    noted_at: PastInstant | None = Field(
        default=None,
        description="When the conversation took place; now when not given.",
        examples=["2026-11-24T10:30:00+08:00"],
    )

    @model_validator(mode="after")
    def _at_least_one_part(self) -> ClueRecord:
        if not any(getattr(self, part.value) for part in CluePart):
            raise ValueError(
                "give at least one of observed, dialect_heard, person_said, changes, group_judgment"
            )
        return self


class ClueView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    station_id: str
    observed: str | None
    dialect_heard: str | None
    person_said: str | None
    changes: str | None
    group_judgment: str | None
    names: list[str]
    places: list[str]
    apparent_sex: str | None
    apparent_age: int | None
    author: str
    noted_at: datetime
    recorded_by: str
    recorded_at: datetime


async def _case(session, principal, runtime, case_id: uuid.UUID, *, lock: bool = False):
    case = await session.get(SearchCase, case_id, with_for_update=lock)
    if case is None:
        raise Problem(404, "Not found", "No such search case.")
    ensure_visible(principal, runtime.network, "search case", case.station_id)
    return case


@router.post("/{case_id}/clues", status_code=201, response_model=ClueView)
async def record_clue(
    case_id: uuid.UUID,
    record: ClueRecord,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Record a clue (`clue_recorded`); the case is matched again against the open
    missing-person reports, and new candidates go to the review queue."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, record
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    case = await _case(session, principal, runtime, case_id, lock=True)
    now = datetime.now(UTC)
    if record.noted_at is not None and record.noted_at > now:
        raise invalid("noted_at", "lies in the future")
    clue = Clue(
        id=uuid.uuid4(),
        case_id=case.id,
        station_id=case.station_id,
        observed=record.observed,
        dialect_heard=record.dialect_heard,
        person_said=record.person_said,
        changes=record.changes,
        group_judgment=record.group_judgment,
        names=record.names,
        places=record.places,
        apparent_sex=record.apparent_sex.value if record.apparent_sex else None,
        apparent_age=record.apparent_age,
        author=record.author or principal.subject,
        noted_at=record.noted_at or now,
        recorded_by=principal.subject,
        recorded_at=now,
    )
    session.add(clue)
    await session.flush()
    await runtime.outbox.stage(
        session,
        ClueRecordedV1(
            person_id=case.person_id,
            case_id=case.id,
            clue_id=clue.id,
            station_id=case.station_id,
            parts=[p for p in CluePart if getattr(record, p.value)],
            noted_at=clue.noted_at,
            recorded_by=principal.subject,
        ),
    )
    await index_case_names(session, case)
    await match_case(session, runtime, case)
    view = ClueView.model_validate(clue, from_attributes=True)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.get("/{case_id}/clues", response_model=list[ClueView])
async def list_clues(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The case's clues in the order they were noted."""
    await _case(session, principal, runtime, case_id)
    clues = await session.scalars(
        select(Clue).where(Clue.case_id == case_id).order_by(Clue.noted_at, Clue.recorded_at)
    )
    return [ClueView.model_validate(c, from_attributes=True) for c in clues.all()]
