"""Clues from conversation with the person: the structured "520" record
(望 observe, 闻 listen to the dialect, 问 ask, 切 note changes, 断 judge together).
Each new clue is matched again against the open missing-person reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, model_validator

from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Refused
from rescue_events.contracts import Sex
from rescue_events.contracts.search_evidence import CluePart, ClueRecordedV1
from search import matching
from search.tables.core import SearchCase
from search.tables.evidence import Clue

_Text = Annotated[str, Field(min_length=1, max_length=2000)] | None


class ClueRecord(Command):
    """One 520 record; each part is optional, but at least one must be given."""

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


class RecordClue(ClueRecord):
    case_id: uuid.UUID


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


async def record_clue(command: RecordClue, uow: UnitOfWork) -> ClueView:
    """A clue (`clue_recorded`): its names join the case's, and the case is matched
    again against the open missing-person reports."""
    case = await uow.load(SearchCase, command.case_id, what="search case", lock=True)
    if command.noted_at is not None and command.noted_at > uow.now:
        raise Refused("noted_at", "lies in the future")
    clue = Clue(
        id=uuid.uuid4(),
        case_id=case.id,
        station_id=case.station_id,
        observed=command.observed,
        dialect_heard=command.dialect_heard,
        person_said=command.person_said,
        changes=command.changes,
        group_judgment=command.group_judgment,
        names=command.names,
        places=command.places,
        apparent_sex=command.apparent_sex.value if command.apparent_sex else None,
        apparent_age=command.apparent_age,
        author=command.author or uow.actor.subject,
        noted_at=command.noted_at or uow.now,
        recorded_by=uow.actor.subject,
        recorded_at=uow.now,
    )
    uow.add(clue)
    await uow.flush()
    await uow.publish(
        ClueRecordedV1(
            person_id=case.person_id,
            case_id=case.id,
            clue_id=clue.id,
            station_id=case.station_id,
            parts=[p for p in CluePart if getattr(command, p.value)],
            noted_at=clue.noted_at,
            recorded_by=uow.actor.subject,
        )
    )
    await matching.index_case_names(uow, case)
    await matching.match_open_case(uow, case)
    return ClueView.model_validate(clue, from_attributes=True)
