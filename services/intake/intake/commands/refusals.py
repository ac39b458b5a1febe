"""Refusals of help (劝导记录): an adult with full civil capacity may refuse to be
escorted to the station. The refusal is recorded with the advice given; no
admission is made.

The same person met again must be recognised (DOMAIN.md, 8): a refusal names a
known person when staff recognise them (``person_id``: a person record of the
network, from any station, as a readmission may; or a person met in earlier
refusals), is answered with who it may be by name otherwise, and may be linked
afterwards (``link_refusal``). By face, search compares a refusal's photos and
intake keeps who it found as suggestions (refusal_photos.py); linking is always
staff's choice here: a wrong merge is worse than a missed one."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from intake.domain import check_moment
from intake.refusal_names import name_key
from intake.refusal_views import PersonRefusals, RefusalWithMatches, person_refusals, with_matches
from intake.tables import Person, Refusal
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Conflict, NotFound, Refused
from rescue_events.contracts.intake_arrivals import HelpRefusedV1, RefusalLinkedV1

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
    person_id: uuid.UUID | None = Field(
        default=None,
        description="The person, when staff recognise them: a person record of the network "
        "(any station's), or the person_id of earlier refusals. A 404 if there is none.",
        examples=["0b5c3f7e-2d4a-4c1e-9f7a-3e8d2b6a1c90"],
    )


class RecordRefusal(RefusalRecord, Command):
    """A refusal met by the caller's station."""


async def refusals_of(uow: UnitOfWork, person_id: uuid.UUID) -> list[Refusal]:
    """The refusals of a person known to the network; a 404 if the network knows no
    such person (no record, no refusal under that id)."""
    refusals = await uow.find(Refusal, person_id=person_id)
    if not refusals and await uow.get(Person, person_id) is None:
        raise NotFound("person")
    return refusals


async def record_refusal(command: RecordRefusal, uow: UnitOfWork) -> RefusalWithMatches:
    """Record a refusal of help with the advice given, under the person staff named
    or a new id; help_refused goes out. Answered with who it may be, by name."""
    found_at = command.found_at or uow.now
    check_moment("found_at", found_at, now=uow.now)
    linked = command.person_id is not None
    earlier = await refusals_of(uow, command.person_id) if linked else []
    person_id = command.person_id or uuid.uuid4()
    refusal = Refusal(
        id=uuid.uuid4(),
        person_id=person_id,
        first_person_id=person_id,
        station_id=uow.actor.station_id,
        found_place=command.found_place,
        found_at=found_at,
        description=command.description,
        name=command.name,
        name_key=name_key(command.name),
        advice_given=command.advice_given,
        recorded_by=command.recorded_by,
        escorting_unit=command.escorting_unit,
        recorded_at=uow.now,
        entered_by=uow.actor.subject,
        linked_at=uow.now if linked else None,
        linked_by=uow.actor.subject if linked else None,
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
            person_linked=linked,
            refusal_count=len(earlier) + 1 if linked else None,
        )
    )
    return await with_matches(uow, refusal)


class RefusalLink(BaseModel):
    """Who the person of a refusal is: a person, or the person of an earlier refusal."""

    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID | None = Field(
        default=None,
        description="A person record of the network (any station's), or the person_id of "
        "earlier refusals.",
        examples=["0b5c3f7e-2d4a-4c1e-9f7a-3e8d2b6a1c90"],
    )
    earlier_refusal_id: uuid.UUID | None = Field(
        default=None,
        description="Instead of person_id: an earlier refusal (one the caller sees) whose "
        "person this is, e.g. one of possible_matches.",
        examples=["6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c"],
    )


class LinkRefusal(RefusalLink, Command):
    refusal_id: uuid.UUID


async def link_refusal(command: LinkRefusal, uow: UnitOfWork) -> PersonRefusals:
    """Link a refusal to the person staff recognise; refusal_linked goes out for each
    refusal that changes person. A person known only from refusals moves whole: all
    their refusals are the named person's. Another link corrects a wrong one."""
    if (command.person_id is None) == (command.earlier_refusal_id is None):
        raise Refused("person_id", "give either person_id or earlier_refusal_id")
    refusal = await uow.load(Refusal, command.refusal_id, what="refusal", lock=True)
    if command.earlier_refusal_id is not None:
        earlier = await uow.load(Refusal, command.earlier_refusal_id, what="earlier refusal")
        person_id = earlier.person_id
        theirs = await uow.find(Refusal, person_id=person_id)
    else:
        person_id = command.person_id
        theirs = await refusals_of(uow, person_id)
    previous = refusal.person_id
    if person_id == previous:
        raise Conflict("Already linked", "The refusal is already this person's.")
    if await uow.get(Person, previous) is None:
        moving = await uow.find(Refusal, person_id=previous, lock=True)
    else:  # a refusal linked to the wrong record: only it moves
        moving = [refusal]
    count = len(theirs) + len(moving)
    for moved in moving:
        moved.person_id = person_id
        moved.linked_at = uow.now
        moved.linked_by = uow.actor.subject
        await uow.publish(
            RefusalLinkedV1(
                person_id=person_id,
                refusal_id=moved.id,
                station_id=moved.station_id,
                previous_person_id=previous,
                linked_at=uow.now,
                refusal_count=count,
            )
        )
    return await person_refusals(uow, person_id)
