"""Admissions and the person's record: admit, come back, read.

`admit` is the one way a new person is admitted: by `POST /persons`, by a
hotline lead's closure (api/leads.py) and by a hospital placement's discharge
(api/hospital.py), each in its own transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import func, select

from intake.api.fields import PersonDescription, Place, Text
from intake.domain import AdmissionRefused, check_admission
from intake.domain import ArrivalSource as SourceFacts
from intake.tables import Person, Stay, StaySource, tables
from intake.views import PersonView, person_view, view_of
from rescue_chassis.access import (
    STATION_WORK,
    can_see,
    ensure_known_station,
    ensure_visible,
    sees_network,
)
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest, RequestKey
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_divisions.fields import HomeAdminCode
from rescue_events.contracts import (
    ArrivalRoute,
    IdentityStatus,
    PersonAdmittedV1,
    PersonCategory,
    Sex,
)
from rescue_events.contracts.intake_arrivals import SuspectedCondition
from rescue_events.driver import autocommit
from rescue_chassis.writes import Writes

router = APIRouter(prefix="/persons", tags=["persons"], dependencies=[require_roles(*STATION_WORK)])


class HandoverRecord(BaseModel):
    """The written handover of a street-patrol escort (书面交接手续)."""

    model_config = ConfigDict(extra="forbid")

    escorting_unit: Text = Field(
        description="The police or city-management unit that escorted the person.",
        examples=["固始县公安局城关派出所"],
    )
    officer: Text = Field(
        description="The escorting officer who signed the handover.", examples=["刘队长"]
    )
    reference_number: Text = Field(
        description="The number of the written handover record.", examples=["CG-2026-0042"]
    )
    found_place: Place = Field(
        description="Where the patrol found the person.", examples=["固始县人民广场"]
    )
    found_at: PastInstant = Field(
        description="When the patrol found the person, with its offset.",
        examples=["2026-11-23T06:10:00+08:00"],
    )


class ArrivalSource(BaseModel):
    """Where a transferred person comes from. A `hospital_transfer` gives
    `hospital` and `discharge_reference`; a `station_transfer` gives the sending
    station (`station_id` for a station of the network, `station_name` for one
    outside it) and `transfer_reference`. Other routes carry no source."""

    model_config = ConfigDict(extra="forbid")

    hospital: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="hospital_transfer: the discharging hospital.",
        examples=["信阳市第五人民医院"],
    )
    discharge_reference: Text | None = Field(
        default=None,
        description="hospital_transfer: the hospital's discharge or transfer record number.",
        examples=["XY5Y-2026-1187"],
    )
    station_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="station_transfer: the sending station, when it is a station of the network.",
        examples=["xixian"],
    )
    station_name: Text | None = Field(
        default=None,
        description="station_transfer: the sending station's name, when it is outside the network.",
        examples=["合肥市救助管理站"],
    )
    transfer_reference: Text | None = Field(
        default=None,
        description="station_transfer: the sending station's transfer reference.",
        examples=["HF-ZY-2026-031"],
    )


class AdmissionRequest(PersonDescription):
    """An admission (入站登记). The service enforces the rules of DOMAIN.md
    ("The life of a case", 1):

    - `street_patrol` needs the written `handover`, and a capable adult's
      `consent_given`; without consent, record a refusal (`POST /refusals`);
    - `hospital_transfer` and `station_transfer` need their `source`;
    - `hotline_tip` admissions are made by closing the lead
      (`POST /leads/{id}/closure`), never here;
    - medical first: any `suspected_conditions` sends the person to hospital
      (`POST /hospital-placements`); the discharge admits them.
    """

    model_config = ConfigDict(extra="forbid")

    arrival_route: ArrivalRoute = Field(
        description="How the person came: street_patrol, own_request, hotline_tip (only "
        "through a lead's closure), hospital_transfer or station_transfer."
    )
    arrived_at: PastInstant | None = Field(
        default=None,
        description="When the person reached the station; now if omitted.",
        examples=["2026-11-23T07:30:00+08:00"],
    )
    full_name: Text | None = Field(
        default=None,
        description="Only when the identity is already confirmed.",
        examples=["王建国"],
    )
    registered_home_admin_code: HomeAdminCode | None = Field(
        default=None,
        description="The registered home (户籍地) when known: where referrals go. The code "
        "of a county (6 digits), town (9) or village (12), current or former (kept as "
        "given); a code that names no such division is refused.",
        examples=["411502"],
    )
    consent_given: StrictBool | None = Field(
        default=None,
        description="street_patrol: the person consented to the escort. Needed for a "
        "capable adult; minors and persons with a mental illness or dementia go without.",
        examples=[True],
    )
    handover: HandoverRecord | None = Field(
        default=None, description="street_patrol: the written handover record (书面交接手续)."
    )
    suspected_conditions: list[SuspectedCondition] = Field(
        default_factory=list,
        max_length=3,
        description="Medical first (先救治,后救助): suspected mental illness, critical illness "
        "or intoxication. Any of them refuses the admission: place the person in hospital "
        "(POST /hospital-placements) instead. (A diagnosed, treated mental illness is the "
        "category mental_illness.)",
    )
    source: ArrivalSource | None = Field(
        default=None,
        description="hospital_transfer and station_transfer: where the person comes from.",
    )


class Readmission(BaseModel):
    """A person of the network's records back at a station (a new stay). The
    admission rules apply as on a first admission."""

    model_config = ConfigDict(extra="forbid")

    arrival_route: ArrivalRoute = Field(
        description="How the person came back (hotline_tip is not possible here)."
    )
    arrived_at: PastInstant | None = Field(
        default=None,
        description="When the person reached the station; now if omitted.",
        examples=["2026-12-02T15:00:00+08:00"],
    )
    categories: list[PersonCategory] | None = Field(
        default=None, max_length=9, description="Categories now; the record's if omitted."
    )
    consent_given: StrictBool | None = Field(
        default=None,
        description="street_patrol: the person consented to the escort.",
        examples=[True],
    )
    handover: HandoverRecord | None = Field(
        default=None, description="street_patrol: the written handover record."
    )
    suspected_conditions: list[SuspectedCondition] = Field(
        default_factory=list,
        max_length=3,
        description="Medical first: any of them refuses the stay; place the person in "
        "hospital instead.",
    )
    source: ArrivalSource | None = Field(
        default=None,
        description="hospital_transfer and station_transfer: where the person comes from.",
    )


class StaySourceView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    stay_id: uuid.UUID
    kind: str = Field(description="hospital or station.")
    hospital: str | None
    discharge_reference: str | None
    station_id: str | None = Field(description="A sending station of the network.")
    station_name: str | None = Field(description="A sending station outside the network.")
    transfer_reference: str | None
    placement_id: uuid.UUID | None = Field(
        description="The hospital placement (medical first) this stay followed, if any."
    )


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


def check_arrival(
    runtime: Runtime,
    *,
    station_id: str,
    route: ArrivalRoute,
    categories: set[PersonCategory],
    consent_given: bool | None,
    handover: HandoverRecord | None,
    suspected_conditions: list[SuspectedCondition],
    source: ArrivalSource | None,
    arrived_at: datetime,
    now: datetime,
    via_lead: bool = False,
) -> None:
    """The admission rules (domain.check_admission), as a 422 naming the field."""
    try:
        check_admission(
            route=route,
            categories=categories,
            consent_given=consent_given,
            has_handover_record=handover is not None,
            arrived_at=arrived_at,
            now=now,
            suspected_conditions=suspected_conditions,
            source=SourceFacts(**source.model_dump()) if source else None,
            via_lead=via_lead,
            admitting_station=station_id,
            network_stations=set(runtime.network.stations),
        )
    except AdmissionRefused as refused:
        raise _admission_refused(refused) from None


def begin_stay(
    person: Person,
    *,
    station_id: str,
    route: ArrivalRoute,
    arrived_at: datetime,
    now: datetime,
    consent_given: bool | None,
    handover: HandoverRecord | None,
    admitted_by: str,
    sequence: int,
    stay_id: uuid.UUID | None = None,
) -> Stay:
    """The stay's row, and the person's record pointing at it; nothing written."""
    stay = Stay(
        id=stay_id or uuid.uuid4(),
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
    person.station_id = station_id
    person.status = "in_station"
    person.current_stay_id = stay.id
    return stay


def person_admitted(person: Person, stay: Stay) -> PersonAdmittedV1:
    return PersonAdmittedV1(
        person_id=person.id,
        station_id=stay.station_id,
        arrived_at=stay.arrived_at,
        admitted_at=stay.admitted_at,
        arrival_route=ArrivalRoute(stay.arrival_route),
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
        stay_sequence=stay.sequence,
    )


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
    source: ArrivalSource | None = None,
    placement_id: uuid.UUID | None = None,
    stay_id: uuid.UUID | None = None,
    sequence: int | None = None,
) -> Stay:
    """A stay begins: the person is in the station, and person_admitted goes out.
    ``sequence``: known for a new person (1); else counted from the stays."""
    if sequence is None:
        sequence = (
            await session.scalar(select(func.count()).where(Stay.person_id == person.id)) or 0
        ) + 1
    stay = begin_stay(
        person,
        station_id=station_id,
        route=route,
        arrived_at=arrived_at,
        now=now,
        consent_given=consent_given,
        handover=handover,
        admitted_by=admitted_by,
        sequence=sequence,
        stay_id=stay_id,
    )
    await write_stay(session, runtime, person, stay, source=source, placement_id=placement_id)
    return stay


async def write_stay(
    session,
    runtime: Runtime,
    person: Person,
    stay: Stay,
    *,
    source: ArrivalSource | None = None,
    placement_id: uuid.UUID | None = None,
) -> None:
    """The stay (and where a transfer came from) through the session, and
    person_admitted staged, in the caller's transaction."""
    session.add(stay)
    await session.flush()
    if source is not None:
        hospital = stay.arrival_route == ArrivalRoute.HOSPITAL_TRANSFER.value
        session.add(
            StaySource(
                stay_id=stay.id,
                kind="hospital" if hospital else "station",
                placement_id=placement_id,
                **source.model_dump(),
            )
        )
        await session.flush()
    await runtime.outbox.stage(session, person_admitted(person, stay))


def new_admission(
    runtime: Runtime,
    request: AdmissionRequest,
    *,
    station_id: str,
    admitted_by: str,
    now: datetime,
    person_id: uuid.UUID | None = None,
    via_lead: bool = False,
    stay_id: uuid.UUID | None = None,
) -> tuple[Person, Stay]:
    """The rules of an arrival checked (a refusal is a 422 naming the field), and
    the new person's record and first stay built; nothing written."""
    arrived_at = request.arrived_at or now
    route = ArrivalRoute(request.arrival_route)
    check_arrival(
        runtime,
        station_id=station_id,
        route=route,
        categories=set(request.categories),
        consent_given=request.consent_given,
        handover=request.handover,
        suspected_conditions=request.suspected_conditions,
        source=request.source,
        arrived_at=arrived_at,
        now=now,
        via_lead=via_lead,
    )
    identity = IdentityStatus.CONFIRMED if request.full_name else IdentityStatus.UNKNOWN
    person = Person(
        id=person_id or uuid.uuid4(),
        station_id=station_id,
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
    stay = begin_stay(
        person,
        station_id=station_id,
        route=route,
        arrived_at=arrived_at,
        now=now,
        consent_given=request.consent_given,
        handover=request.handover,
        admitted_by=admitted_by,
        sequence=1,
        stay_id=stay_id,
    )
    return person, stay


async def admit(
    session,
    runtime: Runtime,
    request: AdmissionRequest,
    *,
    station_id: str,
    admitted_by: str,
    now: datetime,
    person_id: uuid.UUID | None = None,
    via_lead: bool = False,
    placement_id: uuid.UUID | None = None,
    stay_id: uuid.UUID | None = None,
) -> tuple[Person, Stay]:
    """Admit a new person to ``station_id``: the rules, the person, the first stay
    and person_admitted, in the caller's transaction (the caller commits).

    A lead's closure and a hospital placement's discharge admit through here,
    with the ``person_id`` they minted (``via_lead`` for a lead)."""
    person, stay = new_admission(
        runtime,
        request,
        station_id=station_id,
        admitted_by=admitted_by,
        now=now,
        person_id=person_id,
        via_lead=via_lead,
        stay_id=stay_id,
    )
    # Not flushed alone: write_stay flushes the person and the stay together (the
    # stay's foreign key orders the two inserts), saving round trips per admission.
    session.add(person)
    await write_stay(
        session, runtime, person, stay, source=request.source, placement_id=placement_id
    )
    return person, stay


@router.post("", status_code=201, response_model=PersonView)
async def admit_person(
    request: AdmissionRequest,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    """Admit a person to the caller's station (入站登记). See the request's rules:
    a refused admission answers 422 naming the field at fault."""
    ensure_known_station(principal, runtime.network)
    if request.source is not None:  # a transfer: its source record, encrypted, by the ORM
        # A session of its own: the common admission below needs none (an
        # AsyncSession made and closed for every admission was about a sixth of
        # its CPU, measured in process).
        async with runtime.sessions() as session:
            return await _admit_transfer(
                request, principal, session, runtime, response, idempotency_key
            )
    # The common admission in one statement in autocommit: the idempotency record
    # as its claim, and the person, the stay and person_admitted only if the key
    # is new (rescue_chassis.writes). One round trip instead of BEGIN, a read of
    # the key, the inserts and COMMIT, each a wait behind every other request.
    idem = IdempotentRequest.of(tables.idempotency, idempotency_key, principal, request)
    try:
        person, stay = _arrival_of(runtime, request, principal)
    except Problem:
        # A retry is answered as the first request was, even where the rules
        # would now refuse it (as a key read first would have).
        if idem.key is not None:
            async with autocommit(runtime.engine) as driver:
                await idem.read_stored(driver)
            if idem.replayed:
                return _replayed(idem)
        raise
    view = view_of(person, [stay], [])  # a new person: one stay, no incidents
    writes = Writes()
    writes.insert(person)
    writes.insert(stay)
    runtime.outbox.stage_in(writes, person_admitted(person, stay))
    idem.claim_in(writes, 201, view.model_dump(mode="json"))
    # A pooled connection for the statement only, not for the rules and rows above.
    async with autocommit(runtime.engine) as driver:
        await writes.send(driver)
        if writes.claimed is False:  # the key's record is there: nothing was written
            await idem.read_stored(driver)
            if not idem.replayed:  # gone again meanwhile (expired): nothing to answer with
                raise Problem(409, "Request in progress", "Retry with the same key shortly.")
            return _replayed(idem)
    response.headers["Location"] = f"/persons/{person.id}"
    return view


async def _admit_transfer(
    request: AdmissionRequest,
    principal,
    session,
    runtime: Runtime,
    response: Response,
    idempotency_key: RequestKey | None,
):
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return _replayed(idem)
    person, stay = _arrival_of(runtime, request, principal)
    view = view_of(person, [stay], [])
    session.add(person)
    await write_stay(session, runtime, person, stay, source=request.source)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    response.headers["Location"] = f"/persons/{person.id}"
    return view


def _arrival_of(runtime: Runtime, request: AdmissionRequest, principal) -> tuple[Person, Stay]:
    """The caller's own admission, at their station, now (new_admission)."""
    return new_admission(
        runtime,
        request,
        station_id=principal.station_id,
        admitted_by=principal.subject,
        now=datetime.now(UTC),
    )


def _replayed(idem: IdempotentRequest) -> JSONResponse:
    return JSONResponse(
        idem.stored_response,
        status_code=idem.stored_status,
        headers={"Location": f"/persons/{idem.stored_response['id']}"},
    )


@router.post("/{person_id}/stays", status_code=201, response_model=PersonView)
async def readmit_person(
    person_id: uuid.UUID,
    request: Readmission,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """The person is back (at any station of the network): a new stay on the same
    record, so the stay history stays whole and followup sees a repeat wanderer.
    A person still in a station is a 409; it names that station only to those who
    see the person (that station itself and the center), others read "another station"."""
    ensure_known_station(principal, runtime.network)
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    person = await session.get(Person, person_id, with_for_update=True)
    if person is None:
        raise Problem(404, "Not found", "No such person.")
    if person.status != "discharged":
        # Any station may readmit, but only those who see the person learn where they are.
        where = (
            f"at {person.station_id}"
            if can_see(principal, runtime.network, person.station_id)
            else "at another station"
        )
        raise Problem(
            409,
            "Still in a station",
            f"The person's stay {where} has not ended; that station discharges it first.",
        )
    now = datetime.now(UTC)
    arrived_at = request.arrived_at or now
    categories = request.categories if request.categories is not None else person.categories
    check_arrival(
        runtime,
        station_id=principal.station_id,
        route=request.arrival_route,
        categories={PersonCategory(c) for c in categories},
        consent_given=request.consent_given,
        handover=request.handover,
        suspected_conditions=request.suspected_conditions,
        source=request.source,
        arrived_at=arrived_at,
        now=now,
    )
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
        source=request.source,
    )
    view = await person_view(session, person)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.get("/{person_id}/sources", response_model=list[StaySourceView])
async def stay_sources(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """Where each transferred stay came from: the discharging hospital or the
    sending station, with its reference (stays by other routes have none)."""
    await load_person(session, runtime, principal, person_id)
    found = await session.scalars(
        select(StaySource)
        .join(Stay, Stay.id == StaySource.stay_id)
        .where(Stay.person_id == person_id)
        .order_by(Stay.sequence)
    )
    return [StaySourceView.model_validate(s) for s in found.all()]


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
