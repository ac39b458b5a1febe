"""Refusals of help (劝导记录): an adult with full civil capacity may refuse to be
escorted to the station. The refusal is recorded with the advice given; no
admission is made."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from intake.domain import check_moment
from intake.tables import Refusal
from intake.views import RefusalView
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_events.contracts.intake_arrivals import HelpRefusedV1

Short = Annotated[str, Field(min_length=1, max_length=100)]
Long = Annotated[str, Field(min_length=1, max_length=2000)]


class RefusalRecord(BaseModel):
    """A person who refused help, and what they were advised."""

    model_config = ConfigDict(extra="forbid")

    found_place: Annotated[str, Field(min_length=1, max_length=300)] = Field(
        description="Where the person was found.", examples=["固始县人民广场东门"]
    )
    found_at: PastInstant | None = Field(
        default=None,
        description="When staff met the person, with its offset; now if omitted.",
        examples=["2026-11-23T21:15:00+08:00"],
    )
    description: Long = Field(
        description="Who: sex, apparent age, appearance, state.",
        examples=["男，约50岁，神志清楚，自称在此等工作"],
    )
    name: Short | None = Field(
        default=None, description="The person's name, if they gave one.", examples=["李四"]
    )
    advice_given: Long = Field(
        description="The advice given (劝导): shelter offered, where to get help, the hotline.",
        examples=["告知可随时到站求助并留下24小时求助热线，赠送棉被一条"],
    )
    recorded_by: Short = Field(
        description="The staff member who gave the advice.", examples=["王晓红"]
    )
    escorting_unit: Short | None = Field(
        default=None,
        description="The police or city-management unit present, if any.",
        examples=["固始县公安局城关派出所"],
    )


class RecordRefusal(RefusalRecord, Command):
    """A refusal met by the caller's station."""


async def record_refusal(command: RecordRefusal, uow: UnitOfWork) -> RefusalView:
    """Record a refusal of help with the advice given; help_refused goes out."""
    found_at = command.found_at or uow.now
    check_moment("found_at", found_at, now=uow.now)
    refusal = Refusal(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=uow.actor.station_id,
        found_place=command.found_place,
        found_at=found_at,
        description=command.description,
        name=command.name,
        advice_given=command.advice_given,
        recorded_by=command.recorded_by,
        escorting_unit=command.escorting_unit,
        recorded_at=uow.now,
        entered_by=uow.actor.subject,
    )
    uow.add(refusal)
    await uow.publish(
        HelpRefusedV1(
            person_id=refusal.person_id,
            refusal_id=refusal.id,
            station_id=refusal.station_id,
            found_place=refusal.found_place,
            found_at=found_at,
            escorting_unit=refusal.escorting_unit,
        )
    )
    return RefusalView.model_validate(refusal)
