"""Medical first (先救治,后救助): a person with a suspected mental illness, a
critical illness or intoxication goes to hospital before any admission. The
station screens their identity there, and the hospital's discharge admits them
to the placing station (arrival route hospital_transfer), under the person id
minted with the placement."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from intake.commands.admission import (
    AdmissionRequest,
    ArrivalSource,
    PersonDescription,
    Place,
    Text,
    admit,
)
from intake.domain import check_moment
from intake.tables import HospitalPlacement, HospitalScreening
from intake.views import PersonView, PlacementView, placement_view, screenings_of, view_of
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Conflict
from rescue_events.contracts import ArrivalRoute, PersonCategory, Sex
from rescue_events.contracts.intake_arrivals import (
    HospitalPlacementEndedV1,
    HospitalPlacementMadeV1,
    HospitalScreeningRecordedV1,
    SuspectedCondition,
)


class Placement(PersonDescription):
    """A person placed in hospital (medical first), with what is known of them."""

    model_config = ConfigDict(extra="forbid")

    hospital: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="The hospital the person was placed in.", examples=["信阳市第五人民医院"]
    )
    conditions: list[SuspectedCondition] = Field(
        min_length=1,
        max_length=3,
        description="Why hospital first: mental_illness, critical_illness, intoxication.",
    )
    placed_at: PastInstant | None = Field(
        default=None,
        description="When the person was handed to the hospital; now if omitted.",
        examples=["2026-11-23T23:05:00+08:00"],
    )
    escorting_unit: Text | None = Field(
        default=None,
        description="The police or city-management unit that brought the person, if any.",
        examples=["固始县公安局城关派出所"],
    )


class Screening(BaseModel):
    """Identity screening by station staff at the hospital (甄别)."""

    model_config = ConfigDict(extra="forbid")

    notes: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="What the screening found: conversation, documents, police check.",
        examples=["清醒后自述姓名刘小军，安徽阜阳人，公安人像比对待复核"],
    )
    full_name: Text | None = Field(
        default=None,
        description="The name the person gave at the screening; the admission on discharge "
        "carries the latest as the record's claimed name (a claim: the identity stays "
        "unknown until search confirms it).",
        examples=["刘小军"],
    )
    stated_places: list[Place] = Field(
        default_factory=list,
        max_length=20,
        description="Places the person named at the hospital; added to the record.",
        examples=[["安徽省阜阳市颍上县"]],
    )
    screened_at: PastInstant | None = Field(
        default=None,
        description="When the screening took place; now if omitted.",
        examples=["2026-11-25T10:00:00+08:00"],
    )


class HospitalDischarge(BaseModel):
    """The hospital discharges the person: the placement ends and the placing
    station admits them."""

    model_config = ConfigDict(extra="forbid")

    discharged_at: PastInstant | None = Field(
        default=None,
        description="When the hospital discharged the person (their arrival at the "
        "station); now if omitted.",
        examples=["2026-12-02T09:30:00+08:00"],
    )
    discharge_reference: Text | None = Field(
        default=None,
        description="The hospital's discharge record number; the placement's id if omitted.",
        examples=["XY5Y-2026-1187"],
    )
    categories: list[PersonCategory] | None = Field(
        default=None,
        max_length=9,
        description="Categories now, after treatment (e.g. mental_illness once diagnosed); "
        "the placement's if omitted.",
    )


class PlaceInHospital(Placement, Command):
    """A placement by the caller's station."""


class RecordScreening(Screening, Command):
    placement_id: uuid.UUID


class DischargeFromHospital(HospitalDischarge, Command):
    placement_id: uuid.UUID


async def place_in_hospital(command: PlaceInHospital, uow: UnitOfWork) -> PlacementView:
    """Place a person in hospital before any admission; hospital_placement_made goes
    out under a person id minted now."""
    placed_at = command.placed_at or uow.now
    check_moment("placed_at", placed_at, now=uow.now)
    placement = HospitalPlacement(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=uow.actor.station_id,
        status="open",
        hospital=command.hospital,
        conditions=[c.value for c in dict.fromkeys(command.conditions)],
        placed_at=placed_at,
        escorting_unit=command.escorting_unit,
        sex=command.sex.value,
        estimated_age=command.estimated_age,
        stated_names=list(command.stated_names),
        stated_places=list(command.stated_places),
        dialect=command.dialect,
        physical_description=command.physical_description,
        categories=[c.value for c in command.categories],
        placed_by=uow.actor.subject,
        recorded_at=uow.now,
    )
    uow.add(placement)
    await uow.publish(
        HospitalPlacementMadeV1(
            person_id=placement.person_id,
            placement_id=placement.id,
            station_id=placement.station_id,
            hospital=placement.hospital,
            conditions=[SuspectedCondition(c) for c in placement.conditions],
            placed_at=placed_at,
            escorting_unit=placement.escorting_unit,
        )
    )
    return PlacementView.model_validate(placement)  # no screening yet


async def record_screening(command: RecordScreening, uow: UnitOfWork) -> PlacementView:
    """Identity screening at the hospital; the latest name given goes onto the
    admission at discharge, as a claim."""
    placement = await _open_placement(uow, command.placement_id)
    screened_at = command.screened_at or uow.now
    check_moment(
        "screened_at",
        screened_at,
        now=uow.now,
        not_before=placement.placed_at,
        not_before_what="the placement",
    )
    uow.add(
        HospitalScreening(
            id=uuid.uuid4(),
            placement_id=placement.id,
            screened_at=screened_at,
            notes=command.notes,
            full_name=command.full_name,
            stated_places=list(command.stated_places),
            screened_by=uow.actor.subject,
            recorded_at=uow.now,
        )
    )
    await uow.publish(
        HospitalScreeningRecordedV1(
            person_id=placement.person_id,
            placement_id=placement.id,
            station_id=placement.station_id,
            screened_at=screened_at,
            name_found=command.full_name is not None,
        )
    )
    return await placement_view(uow, placement)


async def discharge_from_hospital(command: DischargeFromHospital, uow: UnitOfWork) -> PersonView:
    """The hospital discharges the person: the placement ends and the person is
    admitted to the placing station in the same transaction (hospital_transfer,
    source = the hospital), with the name the screening found, if any, as a claim.
    hospital_placement_ended goes out, then person_admitted, on the same person id."""
    placement = await _open_placement(uow, command.placement_id)
    discharged_at = command.discharged_at or uow.now
    check_moment(
        "discharged_at",
        discharged_at,
        now=uow.now,
        not_before=placement.placed_at,
        not_before_what="the placement",
    )
    screenings = await screenings_of(uow, placement)
    names = [s.full_name for s in screenings if s.full_name]
    places = [*placement.stated_places, *(p for s in screenings for p in s.stated_places)]
    reference = command.discharge_reference or str(placement.id)
    categories = (
        command.categories
        if command.categories is not None
        else [PersonCategory(c) for c in placement.categories]
    )
    # Built from what was validated on the way in; the merged places may exceed a
    # request's 20, which the record keeps.
    admission = AdmissionRequest.model_construct(
        arrival_route=ArrivalRoute.HOSPITAL_TRANSFER,
        arrived_at=discharged_at,
        sex=Sex(placement.sex),
        estimated_age=placement.estimated_age,
        full_name=names[-1] if names else None,
        birth_date=None,
        registered_home_admin_code=None,
        stated_names=list(placement.stated_names),
        stated_places=list(dict.fromkeys(places)),
        dialect=placement.dialect,
        physical_description=placement.physical_description,
        categories=list(categories),
        consent_given=None,
        handover=None,
        suspected_conditions=[],
        source=ArrivalSource(hospital=placement.hospital, discharge_reference=reference),
    )
    stay_id = uuid.uuid4()
    placement.status = "ended"
    placement.discharged_at = discharged_at
    placement.discharge_reference = reference
    placement.discharged_by = uow.actor.subject
    await uow.publish(
        HospitalPlacementEndedV1(
            person_id=placement.person_id,
            placement_id=placement.id,
            station_id=placement.station_id,
            hospital=placement.hospital,
            discharged_at=discharged_at,
            stay_id=stay_id,
        )
    )
    person, stay = await admit(
        uow,
        admission,
        station_id=placement.station_id,
        person_id=placement.person_id,
        placement_id=placement.id,
        stay_id=stay_id,
    )
    await uow.flush()  # the stay first: a flush orders its tables by class name, not by key
    placement.stay_id = stay_id
    return view_of(person, [stay], [])  # a new person: one stay, no incidents


async def _open_placement(uow: UnitOfWork, placement_id: uuid.UUID) -> HospitalPlacement:
    placement = await uow.load(
        HospitalPlacement, placement_id, what="hospital placement", lock=True
    )
    if placement.status != "open":
        raise Conflict(
            "Placement ended",
            f"The hospital discharged the person on {placement.discharged_at:%Y-%m-%d}.",
        )
    return placement
