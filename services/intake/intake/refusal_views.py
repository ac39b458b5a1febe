"""What the refusal routes answer with: a refusal with who it may be, and a
person's refusals counted (repeated refusals, e.g. every night of a cold spell)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from intake import refusal_names
from intake.tables import Person, Refusal
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import NotFound

#: At most this many suggestions of each kind (person records, earlier refusals).
MATCHES = 10


class RefusalView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID = Field(
        description="Minted for the refusal (no person record), or the person staff linked "
        "it to: a person record of the network, or a person met in earlier refusals."
    )
    first_person_id: uuid.UUID = Field(
        description="The id the refusal was announced under (help_refused's key)."
    )
    linked_at: datetime | None = Field(description="When staff linked it to a known person.")
    station_id: str
    found_place: str
    found_at: datetime
    description: str
    name: str | None
    advice_given: str
    recorded_by: str
    escorting_unit: str | None
    recorded_at: datetime


class PossibleMatch(BaseModel):
    """A record that may be the same person, by name: link it with
    POST /refusals/{id}/person if staff judge it is."""

    kind: Literal["person", "refusal"] = Field(
        description="`person`: a person record of the network; `refusal`: an earlier refusal."
    )
    person_id: uuid.UUID
    refusal_id: uuid.UUID | None = Field(description="For `refusal`: the earlier refusal.")
    station_id: str
    name: str = Field(description="The name on that record that matched.")
    found_at: datetime | None = Field(description="For `refusal`: when that person was met.")


class RefusalWithMatches(RefusalView):
    possible_matches: list[PossibleMatch] = Field(
        description="Records in the caller's scope whose name matches the name given "
        "(normalised), persons first, then refusals newest first; empty for a refusal "
        "linked to a person, or without a name. Faces are search's to compare."
    )


class PersonRefusals(BaseModel):
    person_id: uuid.UUID
    person_record: bool = Field(description="A person record of the network has this id.")
    count: int = Field(description="The person's refusals in the whole network.")
    repeated: bool = Field(description="More than one refusal.")
    refusals: list[RefusalView] = Field(
        description="Those of the refusals the caller sees (its station's; the center: all), "
        "newest first."
    )


async def possible_matches(uow: UnitOfWork, refusal: Refusal) -> list[PossibleMatch]:
    """Who the person of an unlinked refusal may be, by the name they gave."""
    key = refusal.name_key
    if key is None or refusal.linked_at is not None:
        return []
    persons = await refusal_names.persons_named(uow, key, MATCHES)
    earlier = [
        r
        for r in await uow.find(Refusal, name_key=key)
        if r.id != refusal.id and r.person_id != refusal.person_id and uow.sees(r.station_id)
    ]
    earlier.sort(key=lambda r: r.found_at, reverse=True)
    return [
        PossibleMatch(
            kind="person",
            person_id=p.id,
            refusal_id=None,
            station_id=p.station_id,
            name=p.name,
            found_at=None,
        )
        for p in persons
        if p.id != refusal.person_id
    ] + [
        PossibleMatch(
            kind="refusal",
            person_id=r.person_id,
            refusal_id=r.id,
            station_id=r.station_id,
            name=r.name or "",
            found_at=r.found_at,
        )
        for r in earlier[:MATCHES]
    ]


async def with_matches(uow: UnitOfWork, refusal: Refusal) -> RefusalWithMatches:
    view = RefusalView.model_validate(refusal)
    return RefusalWithMatches(**dict(view), possible_matches=await possible_matches(uow, refusal))


async def person_refusals(uow: UnitOfWork, person_id: uuid.UUID) -> PersonRefusals:
    """The person's refusals, counted in the whole network, listed as far as the caller
    sees; a 404 for a person the caller sees neither the record nor a refusal of."""
    record = await uow.get(Person, person_id)
    every = await uow.find(Refusal, person_id=person_id)
    seen = sorted(
        (r for r in every if uow.sees(r.station_id)), key=lambda r: r.found_at, reverse=True
    )
    if not seen and (record is None or not uow.sees(record.station_id)):
        raise NotFound("person")
    return PersonRefusals(
        person_id=person_id,
        person_record=record is not None,
        count=len(every),
        repeated=len(every) > 1,
        refusals=[RefusalView.model_validate(r) for r in seen],
    )
