"""Admissions and the person's record: admit, come back, read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from intake.domain import AdmissionRefused, check_admission
from intake.tables import Person, Stay, tables
from intake.views import PersonView, person_view
from rescue_chassis.access import ensure_known_station, ensure_visible, sees_network
from rescue_chassis.auth import PrincipalDep
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import HEADER, IdempotentRequest
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_events.contracts import (
    ArrivalRoute,
    IdentityStatus,
    PersonAdmittedV1,
    PersonCategory,
    Sex,
)

router = APIRouter(prefix="/persons", tags=["persons"])

Text = Annotated[str, Field(min_length=1, max_length=100)]


class HandoverRecord(BaseModel):
    """The written handover of a street-patrol escort (书面交接手续)."""

    model_config = ConfigDict(extra="forbid")

    escorting_unit: Text = Field(examples=["固始县公安局城关派出所"])
    officer: Text
    reference_number: Text
    found_place: Annotated[str, Field(min_length=1, max_length=300)]
    found_at: AwareDatetime


class AdmissionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arrival_route: ArrivalRoute
    arrived_at: AwareDatetime | None = Field(
        default=None, description="When the person reached the station; now if omitted."
    )
    sex: Sex
    estimated_age: int | None = Field(default=None, ge=0, le=120)
    full_name: Text | None = Field(
        default=None, description="Only when the identity is already confirmed."
    )
    registered_home_admin_code: str | None = Field(
        default=None,
        pattern=r"^\d{6}(\d{3}(\d{3})?)?$",
        description="The registered home (户籍地) when known: where referrals go.",
        examples=["411502"],
    )
    stated_names: list[Text] = Field(default_factory=list, max_length=20)
    stated_places: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=20
    )
    dialect: Text | None = None
    physical_description: Annotated[str, Field(max_length=2000)] | None = None
    categories: list[PersonCategory] = Field(default_factory=list, max_length=9)
    consent_given: bool | None = None
    handover: HandoverRecord | None = None


class Readmission(BaseModel):
    """A person of the network's records back at a station (a new stay)."""

    model_config = ConfigDict(extra="forbid")

    arrival_route: ArrivalRoute
    arrived_at: AwareDatetime | None = Field(
        default=None, description="When the person reached the station; now if omitted."
    )
    categories: list[PersonCategory] | None = Field(
        default=None, max_length=9, description="Categories now; the record's if omitted."
    )
    consent_given: bool | None = None
    handover: HandoverRecord | None = None


async def load_person(
    session, runtime: Runtime, principal, person_id: uuid.UUID, *, for_update: bool = False
) -> Person:
    person = await session.get(Person, person_id, with_for_update=for_update)
    if person is None:
        raise Problem(404, "Not found", "No such person.")
    ensure_visible(principal, runtime.network, "person", person.station_id)
    return person


def _admission_refused(refused: AdmissionRefused) -> Problem:
    return invalid(refused.field, refused.reason)


async def start_stay(
    session,
    runtime: Runtime,
    person: Person,
    *,
    station_id: str,
    route: ArrivalRoute,
    arrived_at: datetime,
    now: datetime,
    consent_given: bool | None,
    handover: HandoverRecord | None,
    admitted_by: str,
) -> Stay:
    """A stay begins: the person is in the station, and person_admitted goes out."""
    sequence = (
        await session.scalar(select(func.count()).where(Stay.person_id == person.id)) or 0
    ) + 1
    stay = Stay(
        id=uuid.uuid4(),
        person_id=person.id,
        sequence=sequence,
        station_id=station_id,
        arrival_route=route.value,
        arrived_at=arrived_at,
        admitted_at=now,
        admitted_by=admitted_by,
        consent_given=consent_given,
        handover=handover.model_dump(mode="json") if handover else None,
    )
    session.add(stay)
    person.station_id = station_id
    person.status = "in_station"
    person.current_stay_id = stay.id
    await session.flush()
    await runtime.outbox.stage(
        session,
        PersonAdmittedV1(
            person_id=person.id,
            station_id=station_id,
            arrived_at=arrived_at,
            admitted_at=now,
            arrival_route=route,
            identity_status=IdentityStatus(person.identity_status),
            sex=Sex(person.sex),
            estimated_age=person.estimated_age,
            stated_names=person.stated_names,
            stated_places=person.stated_places,
            dialect=person.dialect,
            categories=[PersonCategory(c) for c in person.categories],
            full_name=person.full_name,
            registered_home_admin_code=person.registered_home_admin_code,
            stay_id=stay.id,
            stay_sequence=sequence,
        ),
    )
    return stay


@router.post("", status_code=201, response_model=PersonView)
async def admit_person(
    request: AdmissionRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias=HEADER)] = None,
):
    """Admit a person to the caller's station (入站登记)."""
    ensure_known_station(principal, runtime.network)
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal.subject, request
    )
    if idem.replayed:
        return JSONResponse(
            idem.stored_response,
            status_code=idem.stored_status,
            headers={"Location": f"/persons/{idem.stored_response['id']}"},
        )

    now = datetime.now(UTC)
    arrived_at = request.arrived_at or now
    try:
        check_admission(
            route=request.arrival_route,
            categories=set(request.categories),
            consent_given=request.consent_given,
            has_handover_record=request.handover is not None,
            arrived_at=arrived_at,
            now=now,
        )
    except AdmissionRefused as refused:
        raise _admission_refused(refused) from None

    identity = IdentityStatus.CONFIRMED if request.full_name else IdentityStatus.UNKNOWN
    person = Person(
        id=uuid.uuid4(),
        station_id=principal.station_id,
        status="in_station",
        identity_status=identity.value,
        full_name=request.full_name,
        registered_home_admin_code=request.registered_home_admin_code,
        sex=request.sex.value,
        estimated_age=request.estimated_age,
        stated_names=list(request.stated_names),
        stated_places=list(request.stated_places),
        dialect=request.dialect,
        physical_description=request.physical_description,
        categories=[c.value for c in request.categories],
        identity_confirmed_at=now if request.full_name else None,
    )
    # One transaction: the person, the stay, person_admitted and the idempotency record.
    session.add(person)
    await session.flush()
    await start_stay(
        session,
        runtime,
        person,
        station_id=principal.station_id,
        route=request.arrival_route,
        arrived_at=arrived_at,
        now=now,
        consent_given=request.consent_given,
        handover=request.handover,
        admitted_by=principal.subject,
    )
    view = await person_view(session, person)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    response.headers["Location"] = f"/persons/{person.id}"
    return view


@router.post("/{person_id}/stays", status_code=201, response_model=PersonView)
async def readmit_person(
    person_id: uuid.UUID,
    request: Readmission,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(alias=HEADER)] = None,
):
    """The person is back (at any station of the network): a new stay on the same
    record, so the stay history stays whole and followup sees a repeat wanderer."""
    ensure_known_station(principal, runtime.network)
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal.subject, request
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    person = await session.get(Person, person_id, with_for_update=True)
    if person is None:
        raise Problem(404, "Not found", "No such person.")
    if person.status != "discharged":
        raise Problem(
            409,
            "Still in a station",
            f"The person's stay at {person.station_id} has not ended; discharge it first.",
        )
    now = datetime.now(UTC)
    arrived_at = request.arrived_at or now
    categories = request.categories if request.categories is not None else person.categories
    try:
        check_admission(
            route=request.arrival_route,
            categories={PersonCategory(c) for c in categories},
            consent_given=request.consent_given,
            has_handover_record=request.handover is not None,
            arrived_at=arrived_at,
            now=now,
        )
    except AdmissionRefused as refused:
        raise _admission_refused(refused) from None
    person.categories = [PersonCategory(c).value for c in categories]
    await start_stay(
        session,
        runtime,
        person,
        station_id=principal.station_id,
        route=request.arrival_route,
        arrived_at=arrived_at,
        now=now,
        consent_given=request.consent_given,
        handover=request.handover,
        admitted_by=principal.subject,
    )
    view = await person_view(session, person)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.get("/{person_id}", response_model=PersonView)
async def get_person(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's record with every stay (the stay history, earlier stays included)."""
    return await person_view(session, await load_person(session, runtime, principal, person_id))


@router.get("", response_model=list[PersonView])
async def list_persons(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    identity_status: IdentityStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's persons (the center sees the whole network), newest first."""
    query = (
        select(Person)
        .join(Stay, Stay.id == Person.current_stay_id)
        .order_by(Stay.admitted_at.desc())
        .limit(limit)
    )
    if not sees_network(principal, runtime.network):
        query = query.where(Person.station_id == principal.station_id)
    if identity_status is not None:
        query = query.where(Person.identity_status == identity_status.value)
    return [await person_view(session, p) for p in (await session.scalars(query)).all()]
