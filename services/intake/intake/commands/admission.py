"""Admissions: a new person, or a person of the network's records back.

``admit`` is the one way a new person is admitted: by ``POST /persons``
(``admit_person``), by a hotline lead's closure (commands/leads.py) and by a
hospital placement's discharge (commands/hospital.py), each in its own
transaction."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from intake.domain import ArrivalSource as SourceFacts
from intake.domain import (
    categories_by_age,
    check_admission,
    check_birth_date,
    check_new_person_source,
    check_readmission_source,
    station_day,
)
from intake.tables import Incident, Person, Stay, StaySource
from intake.views import PersonView, view_of
from rescue_chassis.commands import Command, UnitOfWork, single_statement
from rescue_chassis.moments import PastDay, PastInstant
from rescue_chassis.refusals import Conflict, NotFound
from rescue_chassis.writes import new_row
from rescue_divisions.fields import HomeAdminCode
from rescue_events.contracts import (
    ArrivalRoute,
    IdentityStatus,
    PersonAdmittedV1,
    PersonCategory,
    Sex,
)
from rescue_events.contracts.intake_arrivals import SuspectedCondition

Text = Annotated[str, Field(min_length=1, max_length=100)]
_HOME_CODE = re.compile(r"\d{6}(\d{3}(\d{3})?)?")  # a county, town or village
Place = Annotated[str, Field(min_length=1, max_length=300)]


class PersonDescription(BaseModel):
    """What staff can tell of a person before anyone knows who they are."""

    model_config = ConfigDict(extra="forbid")

    sex: Sex = Field(description="male, female, or unknown.")
    estimated_age: StrictInt | None = Field(
        default=None, ge=0, le=120, description="Age as staff estimate it.", examples=[61]
    )
    stated_names: list[Text] = Field(
        default_factory=list,
        max_length=20,
        description="Names the person gives (homophones welcome), as said.",
        examples=[["王建国", "老王"]],
    )
    stated_places: list[Place] = Field(
        default_factory=list,
        max_length=20,
        description="Places the person names: home, villages, where they worked.",
        examples=[["四川省南充市", "王家沟"]],
    )
    dialect: Text | None = Field(
        default=None, description="The dialect staff hear (闻).", examples=["四川话"]
    )
    physical_description: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None,
        description="Height, build, marks, clothing: for search and face comparison.",
        examples=["身高约170cm，偏瘦，左手背有疤痕，穿灰色棉袄"],
    )
    categories: list[PersonCategory] = Field(
        default_factory=list,
        max_length=9,
        description="Categories that change care and referrals: minor, elderly, disabled, "
        "mental_illness, dementia, pregnant, domestic_violence_victim, "
        "suspected_trafficking, coerced_begging. `minor` derives from a known age "
        "(`birth_date`, else `estimated_age` under 18) and is added without the tick; "
        "it is staff's judgement only when no age is known, and a tick on a person "
        "whose known age is 18 or more is refused (correct the age instead).",
    )


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
        description="The name the person (or a paper they carry) gives: a claim, not a "
        "confirmed identity. The record keeps it as `claimed_name` and among the "
        "`stated_names` search works with; the identity stays `unknown` until search "
        "confirms it with evidence (POST /cases/{id}/identity-confirmation), which sets "
        "the record's `full_name`.",
        examples=["王建国"],
    )
    birth_date: PastDay | None = Field(
        default=None,
        description="The birth date, when known (an identity card, a family's word): a "
        "person under 18 on the arrival day is a minor, whatever the categories say.",
        examples=["2014-03-08"],
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
        default=None,
        max_length=9,
        description="Categories now; the record's if omitted. `minor` derives from the "
        "record's known age (birth date, else estimated age) as on an admission.",
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
        description="hospital_transfer and station_transfer: where the person comes from. "
        "A transfer from a station of the network (`station_id`) comes here, never to "
        "POST /persons: the person keeps their record, and the station is the one of "
        "their last stay.",
    )


class AdmitPerson(AdmissionRequest, Command):
    """The caller's own admission, at their station, now."""


class ReadmitPerson(Readmission, Command):
    person_id: uuid.UUID


class RecordConfirmedIdentity(Command):
    """Search confirmed who the person is (identity_confirmed)."""

    person_id: uuid.UUID
    full_name: str
    confirmed_at: datetime
    home_admin_code: str | None = None
    home_province: str | None = None
    home_address: str | None = None


# ---- the use cases ------------------------------------------------------------------


# Without a source, an admission only adds rows and publishes: one statement. A
# transfer's source record is encrypted by its column type: through the session.
@single_statement(when=lambda command: command.source is None)
async def admit_person(command: AdmitPerson, uow: UnitOfWork) -> PersonView:
    """Admit a person to the caller's station; a refusal names the field at fault."""
    person, stay = await admit(uow, command, station_id=uow.actor.station_id)
    return view_of(person, [stay], [])  # a new person: one stay, no incidents


async def readmit_person(command: ReadmitPerson, uow: UnitOfWork) -> PersonView:
    """The person is back (at any station of the network): a new stay on the same
    record. A person still in a station is a 409 naming that station only to those
    who see the person, "another station" to others."""
    person = await uow.get(Person, command.person_id, lock=True)
    if person is None:
        raise NotFound("person")
    if person.status != "discharged":
        where = f"at {person.station_id}" if uow.sees(person.station_id) else "at another station"
        raise Conflict(
            "Still in a station",
            f"The person's stay {where} has not ended; that station discharges it first.",
        )
    station_id = uow.actor.station_id
    arrived_at = command.arrived_at or uow.now
    stays = await uow.find(Stay, person_id=person.id, order_by=Stay.sequence)
    categories = categories_by_age(
        command.categories if command.categories is not None else person.categories,
        estimated_age=person.estimated_age,
        birth_date=person.birth_date,
        on=station_day(arrived_at),
        ticked_by_staff=command.categories is not None,
    )
    check_admission(
        route=command.arrival_route,
        categories=set(categories),
        consent_given=command.consent_given,
        has_handover_record=command.handover is not None,
        arrived_at=arrived_at,
        now=uow.now,
        suspected_conditions=command.suspected_conditions,
        source=_facts(command.source),
        admitting_station=station_id,
        network_stations=set(uow.network.stations),
    )
    check_readmission_source(
        _facts(command.source),
        last_station=stays[-1].station_id if stays else person.station_id,
    )
    person.categories = [c.value for c in categories]
    stay = begin_stay(
        person,
        uow,
        station_id=station_id,
        route=command.arrival_route,
        arrived_at=arrived_at,
        consent_given=command.consent_given,
        handover=command.handover,
        sequence=len(stays) + 1,
    )
    await _write_stay(uow, person, stay, source=command.source)
    incidents = await uow.find(Incident, person_id=person.id, order_by=Incident.occurred_at)
    return view_of(person, [*stays, stay], incidents)


async def record_confirmed_identity(command: RecordConfirmedIdentity, uow: UnitOfWork) -> None:
    """The person's record takes the name and the registered home search confirmed
    (the only way an identity becomes confirmed)."""
    person = await uow.get(Person, command.person_id, lock=True)
    if person is None:
        return  # admitted elsewhere before this network kept records here
    person.identity_status = IdentityStatus.CONFIRMED.value
    person.full_name = command.full_name
    person.identity_confirmed_at = command.confirmed_at
    learn_registered_home(
        person,
        admin_code=command.home_admin_code,
        province=command.home_province,
        address=command.home_address,
    )


def learn_registered_home(
    person: Person, *, admin_code: str | None, province: str | None, address: str | None
) -> None:
    """The registered home (户籍地) identification found, over what intake was told;
    what the finding does not say is kept."""
    if admin_code and _HOME_CODE.fullmatch(admin_code):
        person.registered_home_admin_code = admin_code
    if province:
        person.registered_home_province = province[:50]
    if address:
        person.registered_home_address = address[:300]


# ---- admitting, for every way in ----------------------------------------------------


async def admit(
    uow: UnitOfWork,
    request: AdmissionRequest,
    *,
    station_id: str,
    person_id: uuid.UUID | None = None,
    via_lead: bool = False,
    within: str = "",
    placement_id: uuid.UUID | None = None,
    stay_id: uuid.UUID | None = None,
) -> tuple[Person, Stay]:
    """Admit a new person to ``station_id``, now: the rules (a Refused naming the
    field, ``within`` the request), the person, the first stay and person_admitted.

    A lead's closure and a hospital placement's discharge admit through here, with
    the ``person_id`` they minted (``via_lead`` for a lead)."""
    arrived_at = request.arrived_at or uow.now
    route = ArrivalRoute(request.arrival_route)
    check_birth_date(request.birth_date, arrived_at=arrived_at, within=within)
    categories = categories_by_age(
        request.categories,
        estimated_age=request.estimated_age,
        birth_date=request.birth_date,
        on=station_day(arrived_at),
        within=within,
    )
    check_admission(
        route=route,
        categories=set(categories),
        consent_given=request.consent_given,
        has_handover_record=request.handover is not None,
        arrived_at=arrived_at,
        now=uow.now,
        suspected_conditions=request.suspected_conditions,
        source=_facts(request.source),
        via_lead=via_lead,
        admitting_station=station_id,
        network_stations=set(uow.network.stations),
        within=within,
    )
    check_new_person_source(_facts(request.source), within=within)
    claimed = request.full_name
    # new_row: the values set at once; admissions are intake's hottest write
    person = new_row(
        Person,
        id=person_id or uuid.uuid4(),
        station_id=station_id,
        status="in_station",
        # a name given at intake is a claim: only search's confirmation, on evidence,
        # makes the identity confirmed (record_confirmed_identity)
        identity_status=IdentityStatus.UNKNOWN.value,
        full_name=None,
        claimed_name=claimed,
        birth_date=request.birth_date,
        registered_home_admin_code=request.registered_home_admin_code,
        sex=request.sex.value,
        estimated_age=request.estimated_age,
        stated_names=list(dict.fromkeys([*([claimed] if claimed else []), *request.stated_names])),
        stated_places=list(request.stated_places),
        dialect=request.dialect,
        physical_description=request.physical_description,
        categories=[c.value for c in categories],
        identity_confirmed_at=None,
    )
    stay = begin_stay(
        person,
        uow,
        station_id=station_id,
        route=route,
        arrived_at=arrived_at,
        consent_given=request.consent_given,
        handover=request.handover,
        sequence=1,
        stay_id=stay_id,
    )
    uow.add(person)
    await _write_stay(uow, person, stay, source=request.source, placement_id=placement_id)
    return person, stay


def begin_stay(
    person: Person,
    uow: UnitOfWork,
    *,
    station_id: str,
    route: ArrivalRoute,
    arrived_at: datetime,
    consent_given: bool | None,
    handover: HandoverRecord | None,
    sequence: int,
    stay_id: uuid.UUID | None = None,
) -> Stay:
    """The stay's row, and the person's record pointing at it; nothing written."""
    stay = new_row(
        Stay,
        id=stay_id or uuid.uuid4(),
        person_id=person.id,
        sequence=sequence,
        station_id=station_id,
        arrival_route=ArrivalRoute(route).value,
        arrived_at=arrived_at,
        admitted_at=uow.now,
        admitted_by=uow.actor.subject,
        consent_given=consent_given,
        handover=handover.model_dump(mode="json") if handover else None,
    )
    person.station_id = station_id
    person.status = "in_station"
    person.current_stay_id = stay.id
    return stay


async def _write_stay(
    uow: UnitOfWork,
    person: Person,
    stay: Stay,
    *,
    source: ArrivalSource | None = None,
    placement_id: uuid.UUID | None = None,
) -> None:
    """The stay (and where a transfer came from) added, and person_admitted published."""
    uow.add(stay)
    if source is not None:
        await uow.flush()  # the stay first: a flush orders its tables by class name, not by key
        hospital = stay.arrival_route == ArrivalRoute.HOSPITAL_TRANSFER.value
        uow.add(
            StaySource(
                stay_id=stay.id,
                kind="hospital" if hospital else "station",
                placement_id=placement_id,
                **source.model_dump(),
            )
        )
    await uow.publish(person_admitted(person, stay))


def _facts(source: ArrivalSource | None) -> SourceFacts | None:
    return SourceFacts(**source.model_dump()) if source is not None else None


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
