"""Burial and remains (殡葬记录) of a person who died in the network's care: an
unidentified person who dies is still searched for (DOMAIN.md, 7), so where the
remains are is recorded, with whether photo and DNA are kept for the search
(search keeps them; the point is recorded here). One record per person, after a
stay that ended in death (a `died` discharge, or a death reported as an
incident); a correction replaces it, saying why."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from intake.care_rules import station_day
from intake.tables import Person, Stay
from intake.tables.burial import Burial
from intake.views import BurialView
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastDay
from rescue_chassis.refusals import Conflict, NotFound, Refused
from rescue_events.contracts import DischargeReason
from rescue_events.contracts.intake_care import BurialRecordedV1, RemainsHandling

Place = Annotated[str, Field(min_length=1, max_length=200)]


class BurialRecord(BaseModel):
    """Where and how the remains went. At least one of `cemetery` and `funeral_home`."""

    model_config = ConfigDict(extra="forbid")

    buried_on: PastDay = Field(
        description="The day of burial, cremation or placement in keeping (not before the death).",
        examples=["2026-12-03"],
    )
    remains: RemainsHandling = Field(
        description="buried, cremated_ashes_kept, cremated_ashes_scattered or "
        "body_kept_pending_identification.",
        examples=["cremated_ashes_kept"],
    )
    cemetery: Place | None = Field(
        default=None, description="The cemetery (公墓), if buried there.", examples=["固始县公墓"]
    )
    funeral_home: Place | None = Field(
        default=None,
        description="The funeral home (殡仪馆) that cremated or keeps the remains.",
        examples=["固始县殡仪馆"],
    )
    certificate_reference: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="The death certificate or the cremation/burial approval reference.",
        examples=["豫死证〔2026〕0381号"],
    )
    photo_kept: StrictBool = Field(
        description="Photos of the person are kept for the search (search keeps them)."
    )
    dna_kept: StrictBool = Field(
        description="A DNA sample is kept for the search (search keeps it)."
    )
    note: Annotated[str, Field(min_length=1, max_length=2000)] | None = Field(
        default=None,
        description="What else the record should keep.",
        examples=["骨灰寄存于殡仪馆骨灰堂，编号 B-117，待家属认领"],
    )


class RecordBurial(BurialRecord, Command):
    person_id: uuid.UUID


class BurialCorrection(BurialRecord):
    """The whole record again, corrected, and why."""

    correction_note: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="What was wrong in the record.", examples=["火化证明编号录入有误"]
    )


class CorrectBurial(BurialCorrection, Command):
    person_id: uuid.UUID


async def _died(uow: UnitOfWork, person_id: uuid.UUID) -> tuple[Person, Stay]:
    """The (locked) person and their last stay, which must have ended in death."""
    person = await uow.load(Person, person_id, what="person", lock=True)
    stay = await uow.get(Stay, person.current_stay_id) if person.current_stay_id else None
    if stay is None or stay.discharged_at is None:
        raise Conflict("Not died", "The person's stay has not ended; burial follows a death.")
    if stay.discharge_reason != DischargeReason.DIED.value:
        raise Conflict(
            "Not died", f"The person's last stay ended {stay.discharge_reason}, not died."
        )
    return person, stay


def _check(record: BurialRecord, stay: Stay) -> None:
    if record.cemetery is None and record.funeral_home is None:
        raise Refused("cemetery", "give the cemetery or the funeral home (殡仪馆), or both")
    if record.buried_on < station_day(stay.discharged_at):
        raise Refused("buried_on", "is before the death")


def _fill(burial: Burial, record: BurialRecord) -> None:
    burial.buried_on = record.buried_on
    burial.remains = record.remains.value
    burial.cemetery = record.cemetery
    burial.funeral_home = record.funeral_home
    burial.certificate_reference = record.certificate_reference
    burial.photo_kept = record.photo_kept
    burial.dna_kept = record.dna_kept
    burial.note = record.note


async def _announce(uow: UnitOfWork, burial: Burial, *, corrected: bool) -> BurialView:
    await uow.publish(
        BurialRecordedV1(
            person_id=burial.person_id,
            stay_id=burial.stay_id,
            station_id=burial.station_id,
            buried_on=burial.buried_on,
            remains=RemainsHandling(burial.remains),
            cemetery=burial.cemetery,
            funeral_home=burial.funeral_home,
            certificate_reference=burial.certificate_reference,
            photo_kept=burial.photo_kept,
            dna_kept=burial.dna_kept,
            recorded_at=burial.corrected_at or burial.recorded_at,
            corrected=corrected,
        )
    )
    return BurialView.model_validate(burial)


async def record_burial(command: RecordBurial, uow: UnitOfWork) -> BurialView:
    """Record the burial of a person whose last stay ended in death; burial_recorded
    goes out. A second record is a 409 (correct it instead)."""
    person, stay = await _died(uow, command.person_id)
    if await uow.get(Burial, person.id) is not None:
        raise Conflict(
            "Burial already recorded",
            "The person has a burial record; correct it with PUT /persons/{id}/burial.",
        )
    _check(command, stay)
    burial = Burial(
        person_id=person.id,
        stay_id=stay.id,
        station_id=stay.station_id,
        recorded_at=uow.now,
        recorded_by=uow.actor.subject,
    )
    _fill(burial, command)
    uow.add(burial)
    return await _announce(uow, burial, corrected=False)


async def correct_burial(command: CorrectBurial, uow: UnitOfWork) -> BurialView:
    """Replace the person's burial record with a corrected one, saying why;
    burial_recorded goes out again, marked corrected."""
    person, stay = await _died(uow, command.person_id)
    burial = await uow.get(Burial, person.id, lock=True)
    if burial is None:
        raise NotFound("burial")
    _check(command, stay)
    _fill(burial, command)
    burial.corrected_at = uow.now
    burial.corrected_by = uow.actor.subject
    burial.correction_note = command.correction_note
    return await _announce(uow, burial, corrected=True)


async def burial_of(uow: UnitOfWork, person_id: uuid.UUID) -> BurialView:
    """The person's burial record; a 404 for a person out of the caller's scope or
    without one."""
    await uow.load(Person, person_id, what="person")
    burial = await uow.get(Burial, person_id)
    if burial is None:
        raise NotFound("burial")
    return BurialView.model_validate(burial)
