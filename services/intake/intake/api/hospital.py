"""Medical first (先救治,后救助): a person with a suspected mental illness, a
critical illness or intoxication goes to hospital before any admission. The
station screens their identity there, and the hospital's discharge admits them
to the placing station (arrival route hospital_transfer), under the person id
minted with the placement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from intake.api.fields import PersonDescription, Place, Text
from intake.api.persons import AdmissionRequest, ArrivalSource, admit
from intake.domain import AdmissionRefused, check_moment
from intake.tables import HospitalPlacement, HospitalScreening, tables
from intake.views import PersonView, person_view
from rescue_chassis.access import STATION_WORK, ensure_known_station, ensure_visible, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_events.contracts import ArrivalRoute, PersonCategory, Sex
from rescue_events.contracts.intake_arrivals import (
    HospitalPlacementEndedV1,
    HospitalPlacementMadeV1,
    HospitalScreeningRecordedV1,
    SuspectedCondition,
)

router = APIRouter(
    prefix="/hospital-placements",
    tags=["hospital placements"],
    dependencies=[require_roles(*STATION_WORK)],
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
        description="The person's name, when the screening established it; the admission "
        "on discharge carries it (identity confirmed).",
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


class ScreeningView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    screened_at: datetime
    notes: str
    full_name: str | None
    stated_places: list[str]


class PlacementView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID = Field(description="Minted with the placement; the admitted person.")
    station_id: str = Field(description="The placing station, which admits on discharge.")
    status: str = Field(description="open, or ended by the discharge.")
    hospital: str
    conditions: list[SuspectedCondition]
    placed_at: datetime
    escorting_unit: str | None
    sex: Sex
    estimated_age: int | None
    stated_names: list[str]
    stated_places: list[str]
    dialect: str | None
    physical_description: str | None
    categories: list[PersonCategory]
    discharged_at: datetime | None
    discharge_reference: str | None
    stay_id: uuid.UUID | None = Field(description="The stay the discharge began.")
    screenings: list[ScreeningView] = Field(default_factory=list)


async def _screenings(session, placement_id: uuid.UUID) -> list[HospitalScreening]:
    found = await session.scalars(
        select(HospitalScreening)
        .where(HospitalScreening.placement_id == placement_id)
        .order_by(HospitalScreening.screened_at, HospitalScreening.recorded_at)
    )
    return list(found.all())


async def placement_view(session, placement: HospitalPlacement) -> PlacementView:
    view = PlacementView.model_validate(placement)
    view.screenings = [
        ScreeningView.model_validate(s) for s in await _screenings(session, placement.id)
    ]
    return view


async def _load(
    session, runtime: Runtime, principal, placement_id: uuid.UUID, *, for_update: bool = False
) -> HospitalPlacement:
    placement = await session.get(HospitalPlacement, placement_id, with_for_update=for_update)
    if placement is None:
        raise Problem(404, "Not found", "No such hospital placement.")
    ensure_visible(principal, runtime.network, "hospital placement", placement.station_id)
    return placement


def _ended(placement: HospitalPlacement) -> Problem:
    return Problem(
        409,
        "Placement ended",
        f"The hospital discharged the person on {placement.discharged_at:%Y-%m-%d}.",
    )


def _checked(field: str, at: datetime, **kwargs) -> None:
    try:
        check_moment(field, at, **kwargs)
    except AdmissionRefused as refused:
        raise invalid(refused.field, refused.reason) from None


@router.post("", status_code=201, response_model=PlacementView)
async def place_in_hospital(
    request: Placement,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    """Place a person in hospital before any admission; hospital_placement_made goes
    out under a person id minted now."""
    ensure_known_station(principal, runtime.network)
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    now = datetime.now(UTC)
    placed_at = request.placed_at or now
    _checked("placed_at", placed_at, now=now)
    placement = HospitalPlacement(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=principal.station_id,
        status="open",
        hospital=request.hospital,
        conditions=[c.value for c in dict.fromkeys(request.conditions)],
        placed_at=placed_at,
        escorting_unit=request.escorting_unit,
        sex=request.sex.value,
        estimated_age=request.estimated_age,
        stated_names=list(request.stated_names),
        stated_places=list(request.stated_places),
        dialect=request.dialect,
        physical_description=request.physical_description,
        categories=[c.value for c in request.categories],
        placed_by=principal.subject,
        recorded_at=now,
    )
    session.add(placement)
    await runtime.outbox.stage(
        session,
        HospitalPlacementMadeV1(
            person_id=placement.person_id,
            placement_id=placement.id,
            station_id=placement.station_id,
            hospital=placement.hospital,
            conditions=[SuspectedCondition(c) for c in placement.conditions],
            placed_at=placed_at,
            escorting_unit=placement.escorting_unit,
        ),
    )
    await session.flush()
    view = await placement_view(session, placement)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    response.headers["Location"] = f"/hospital-placements/{placement.id}"
    return view


@router.post("/{placement_id}/screening", status_code=201, response_model=PlacementView)
async def record_screening(
    placement_id: uuid.UUID,
    request: Screening,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Identity screening at the hospital; the latest name found goes onto the
    admission at discharge."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    placement = await _load(session, runtime, principal, placement_id, for_update=True)
    if placement.status != "open":
        raise _ended(placement)
    now = datetime.now(UTC)
    screened_at = request.screened_at or now
    _checked(
        "screened_at",
        screened_at,
        now=now,
        not_before=placement.placed_at,
        not_before_what="the placement",
    )
    session.add(
        HospitalScreening(
            id=uuid.uuid4(),
            placement_id=placement.id,
            screened_at=screened_at,
            notes=request.notes,
            full_name=request.full_name,
            stated_places=list(request.stated_places),
            screened_by=principal.subject,
            recorded_at=now,
        )
    )
    await runtime.outbox.stage(
        session,
        HospitalScreeningRecordedV1(
            person_id=placement.person_id,
            placement_id=placement.id,
            station_id=placement.station_id,
            screened_at=screened_at,
            name_found=request.full_name is not None,
        ),
    )
    await session.flush()
    view = await placement_view(session, placement)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.post("/{placement_id}/discharge", status_code=201, response_model=PersonView)
async def discharge_from_hospital(
    placement_id: uuid.UUID,
    request: HospitalDischarge,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    """The hospital discharges the person: the placement ends and the person is
    admitted to the placing station in the same transaction (hospital_transfer,
    source = the hospital), with the name the screening found, if any.
    hospital_placement_ended goes out, then person_admitted, on the same person id."""
    ensure_known_station(principal, runtime.network)
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return JSONResponse(
            idem.stored_response,
            status_code=idem.stored_status,
            headers={"Location": f"/persons/{idem.stored_response['id']}"},
        )
    placement = await _load(session, runtime, principal, placement_id, for_update=True)
    if placement.status != "open":
        raise _ended(placement)
    now = datetime.now(UTC)
    discharged_at = request.discharged_at or now
    _checked(
        "discharged_at",
        discharged_at,
        now=now,
        not_before=placement.placed_at,
        not_before_what="the placement",
    )
    screenings = await _screenings(session, placement.id)
    names = [s.full_name for s in screenings if s.full_name]
    places = list(
        dict.fromkeys([*placement.stated_places, *(p for s in screenings for p in s.stated_places)])
    )
    reference = request.discharge_reference or str(placement.id)
    categories = (
        request.categories
        if request.categories is not None
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
        registered_home_admin_code=None,
        stated_names=list(placement.stated_names),
        stated_places=places,
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
    placement.discharged_by = principal.subject
    await runtime.outbox.stage(
        session,
        HospitalPlacementEndedV1(
            person_id=placement.person_id,
            placement_id=placement.id,
            station_id=placement.station_id,
            hospital=placement.hospital,
            discharged_at=discharged_at,
            stay_id=stay_id,
        ),
    )
    person, _ = await admit(
        session,
        runtime,
        admission,
        station_id=placement.station_id,
        admitted_by=principal.subject,
        now=now,
        person_id=placement.person_id,
        placement_id=placement.id,
        stay_id=stay_id,
    )
    placement.stay_id = stay_id
    await session.flush()
    view = await person_view(session, person)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    response.headers["Location"] = f"/persons/{person.id}"
    return view


@router.get("", response_model=list[PlacementView])
async def open_placements(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep):
    """The caller's station's open placements (the center sees the network), oldest
    first: persons in hospital awaiting screening and discharge."""
    query = (
        select(HospitalPlacement)
        .where(HospitalPlacement.status == "open")
        .order_by(HospitalPlacement.placed_at)
    )
    if not sees_network(principal, runtime.network):
        query = query.where(HospitalPlacement.station_id == principal.station_id)
    return [await placement_view(session, p) for p in (await session.scalars(query)).all()]


@router.get("/{placement_id}", response_model=PlacementView)
async def get_placement(
    placement_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return await placement_view(session, await _load(session, runtime, principal, placement_id))
