"""Intake's HTTP API: validate, call the domain, stage events, answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from intake.domain import AdmissionRefused, check_admission
from intake.tables import Person, tables
from rescue_chassis.access import ensure_known_station, ensure_visible, sees_network
from rescue_chassis.auth import PrincipalDep
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import HEADER, IdempotentRequest
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
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


class PersonView(BaseModel):
    id: uuid.UUID
    station_id: str
    arrived_at: datetime
    admitted_at: datetime
    arrival_route: ArrivalRoute
    identity_status: IdentityStatus
    full_name: str | None
    registered_home_admin_code: str | None
    sex: Sex
    estimated_age: int | None
    stated_names: list[str]
    stated_places: list[str]
    dialect: str | None
    physical_description: str | None
    categories: list[PersonCategory]
    consent_given: bool | None
    handover: HandoverRecord | None
    identity_confirmed_at: datetime | None

    @classmethod
    def of(cls, person: Person) -> PersonView:
        return cls.model_validate(person, from_attributes=True)


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
        raise invalid(refused.field, refused.reason) from None

    identity = IdentityStatus.CONFIRMED if request.full_name else IdentityStatus.UNKNOWN
    person = Person(
        id=uuid.uuid4(),
        station_id=principal.station_id,
        arrived_at=arrived_at,
        admitted_at=now,
        arrival_route=request.arrival_route.value,
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
        consent_given=request.consent_given,
        handover=request.handover.model_dump(mode="json") if request.handover else None,
        admitted_by=principal.subject,
        identity_confirmed_at=now if request.full_name else None,
    )
    # One transaction: the person, the person_admitted event and the idempotency record.
    session.add(person)
    await runtime.outbox.stage(
        session,
        PersonAdmittedV1(
            person_id=person.id,
            station_id=person.station_id,
            arrived_at=arrived_at,
            admitted_at=now,
            arrival_route=request.arrival_route,
            identity_status=identity,
            sex=request.sex,
            estimated_age=request.estimated_age,
            stated_names=person.stated_names,
            stated_places=person.stated_places,
            dialect=request.dialect,
            categories=list(request.categories),
            full_name=request.full_name,
            registered_home_admin_code=request.registered_home_admin_code,
        ),
    )
    view = PersonView.of(person)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    response.headers["Location"] = f"/persons/{person.id}"
    return view


@router.get("/{person_id}", response_model=PersonView)
async def get_person(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    person = await session.get(Person, person_id)
    if person is None:
        raise Problem(404, "Not found", "No such person.")
    ensure_visible(principal, runtime.network, "person", person.station_id)
    return PersonView.of(person)


@router.get("", response_model=list[PersonView])
async def list_persons(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    identity_status: IdentityStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's persons (the center sees the whole network), newest first."""
    query = select(Person).order_by(Person.admitted_at.desc()).limit(limit)
    if not sees_network(principal, runtime.network):
        query = query.where(Person.station_id == principal.station_id)
    if identity_status is not None:
        query = query.where(Person.identity_status == identity_status.value)
    return [PersonView.of(p) for p in (await session.scalars(query)).all()]
