"""What intake's API answers with (API-out models)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from functools import cache

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from intake.domain import LeadStatus, days_in_station
from intake.tables import HospitalPlacement, HospitalScreening, Incident, Person, Stay
from rescue_chassis.access import may_see
from rescue_chassis.commands import UnitOfWork
from rescue_events.contracts import ArrivalRoute, IdentityStatus, PersonCategory, Sex
from rescue_events.contracts.intake_arrivals import LeadOutcome, LeadPriority, SuspectedCondition
from rescue_events.contracts.intake_care import RemainsHandling


class StayView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sequence: int = Field(description="1 for the first stay; more when the person came back.")
    station_id: str
    arrival_route: ArrivalRoute
    arrived_at: datetime
    admitted_at: datetime
    consent_given: bool | None
    handover: dict | None
    discharged_at: datetime | None
    discharge_reason: str | None
    discharge_note: str | None
    transferred_to: str | None = Field(default=None, description="For `transferred`: where.")
    transferred_to_station_id: str | None = Field(
        default=None, description="For `transferred` to a station of the network: that station."
    )
    long_stay_reached_at: datetime | None


class IncidentView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stay_id: uuid.UUID
    station_id: str
    kind: str
    occurred_at: datetime
    description: str
    reported_at: datetime


class BurialView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    person_id: uuid.UUID
    stay_id: uuid.UUID = Field(description="The stay that ended in death.")
    station_id: str = Field(description="The station in whose care the person died.")
    buried_on: date
    remains: RemainsHandling
    cemetery: str | None
    funeral_home: str | None
    certificate_reference: str
    photo_kept: bool
    dna_kept: bool
    note: str | None
    recorded_at: datetime
    corrected_at: datetime | None
    correction_note: str | None


DV = PersonCategory.DOMESTIC_VIOLENCE_VICTIM.value


class PersonView(BaseModel):
    id: uuid.UUID
    station_id: str = Field(description="Where the person is, or was last.")
    status: str = Field(description="in_station, missing or discharged.")
    arrived_at: datetime = Field(description="Arrival of the current (or last) stay.")
    admitted_at: datetime
    arrival_route: ArrivalRoute
    days_in_station: int | None = Field(description="Days since arrival, while in a station.")
    identity_status: IdentityStatus = Field(
        description="confirmed only once search confirmed who the person is, on evidence."
    )
    full_name: str | None = Field(description="The name search confirmed; none before.")
    claimed_name: str | None = Field(
        default=None,
        description="The name given at intake: a claim, also among stated_names.",
    )
    registered_home_admin_code: str | None
    registered_home_province: str | None = Field(
        default=None, description="The registered home's province, as identification found it."
    )
    registered_home_address: str | None = Field(
        default=None, description="The registered home's address, as identification found it."
    )
    sex: Sex
    estimated_age: int | None
    birth_date: date | None = Field(
        default=None, description="When known; a minor by it (or by estimated_age) is `minor`."
    )
    stated_names: list[str]
    stated_places: list[str]
    dialect: str | None
    physical_description: str | None
    categories: list[PersonCategory]
    consent_given: bool | None
    handover: dict | None
    identity_confirmed_at: datetime | None
    protected: bool = Field(
        default=False,
        description="Her whereabouts are not given out to anyone asking (she fled domestic "
        "violence; the category itself shows to leads and the center only).",
    )
    stays: list[StayView] = Field(description="Every stay in the network, earliest first.")
    incidents: list[IncidentView]
    refusal_count: int | None = Field(
        default=None,
        description="Refusals of help linked to the person (GET /persons/{id}/refusals lists "
        "them); on GET /persons/{id} only.",
    )
    burial: BurialView | None = Field(
        default=None,
        description="Where the remains are, when the person died in the network's care "
        "(GET /persons/{id}/burial); on GET /persons/{id} only.",
    )


async def person_view_in(uow: UnitOfWork, person: Person) -> PersonView:
    """The person's view read through a unit of work (a use case's answer)."""
    stays = await uow.find(Stay, person_id=person.id, order_by=Stay.sequence)
    incidents = await uow.find(Incident, person_id=person.id, order_by=Incident.occurred_at)
    return view_of(person, stays, incidents)


async def person_views(session, persons) -> list[PersonView]:
    """The views of many persons, their stays and incidents read in two queries."""
    ids = [p.id for p in persons]
    if not ids:
        return []
    stays: dict[uuid.UUID, list[Stay]] = {i: [] for i in ids}
    found = await session.scalars(
        select(Stay).where(Stay.person_id.in_(ids)).order_by(Stay.person_id, Stay.sequence)
    )
    for stay in found.all():
        stays[stay.person_id].append(stay)
    incidents: dict[uuid.UUID, list[Incident]] = {i: [] for i in ids}
    found = await session.scalars(
        select(Incident)
        .where(Incident.person_id.in_(ids))
        .order_by(Incident.person_id, Incident.occurred_at)
    )
    for incident in found.all():
        incidents[incident.person_id].append(incident)
    return [view_of(p, stays[p.id], incidents[p.id]) for p in persons]


_FROM_ROW = tuple(
    k for k in PersonView.model_fields if k not in ("stays", "incidents", "categories", "protected")
)


@cache
def _row_fields(row_class: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The view's fields the row's class has, and the others (set on a row, if ever)."""
    on_class = tuple(k for k in _FROM_ROW if hasattr(row_class, k))
    return on_class, tuple(k for k in _FROM_ROW if k not in on_class)


def _row_values(person: Person) -> dict:
    # Once per class, not a hasattr per field per view: a field the row lacks went
    # through pydantic's __getattr__ and its AttributeError each time.
    on_class, others = _row_fields(type(person))
    values = {k: getattr(person, k) for k in on_class}
    values.update((k, person.__dict__[k]) for k in others if k in person.__dict__)
    return values


def view_of(person: Person, stays, incidents) -> PersonView:
    """The view from rows already at hand (a new admission knows its one stay and
    that there are no incidents: no need to read them back)."""
    current = next(s for s in stays if s.id == person.current_stay_id)
    open_stay = current.discharged_at is None
    protected = DV in person.categories
    categories = [
        c for c in person.categories if c != DV or may_see("domestic_violence")
    ]  # sensitive: the category by role (rescue_chassis.access.SENSITIVE)
    return PersonView(
        **_row_values(person),
        categories=categories,
        protected=protected,
        arrived_at=current.arrived_at,
        admitted_at=current.admitted_at,
        arrival_route=current.arrival_route,
        consent_given=current.consent_given,
        handover=current.handover,
        days_in_station=(
            days_in_station(current.arrived_at, datetime.now(UTC)) if open_stay else None
        ),
        stays=[StayView.model_validate(s) for s in stays],
        incidents=[IncidentView.model_validate(i) for i in incidents],
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


class LeadView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID = Field(
        description="Minted with the lead: the person's id if the closure admits them."
    )
    station_id: str
    status: LeadStatus
    caller_name: str | None
    caller_phone: str | None
    reported: str
    place: str
    seen_at: datetime | None
    received_at: datetime
    priority: LeadPriority | None
    triage_note: str | None
    triaged_at: datetime | None
    assigned_to: str | None
    assigned_at: datetime | None
    outcome: LeadOutcome | None
    closure_note: str | None
    closed_at: datetime | None
    stay_id: uuid.UUID | None = Field(description="For `admitted`: the stay the closure began.")


class RefusalView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID = Field(description="Minted for the refusal; no person record exists.")
    station_id: str
    found_place: str
    found_at: datetime
    description: str
    name: str | None
    advice_given: str
    recorded_by: str
    escorting_unit: str | None
    recorded_at: datetime


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


async def screenings_of(uow: UnitOfWork, placement: HospitalPlacement) -> list[HospitalScreening]:
    """The placement's screenings, in the order they took place."""
    found = await uow.find(HospitalScreening, placement_id=placement.id)
    return sorted(found, key=lambda s: (s.screened_at, s.recorded_at))


async def placement_view(uow: UnitOfWork, placement: HospitalPlacement) -> PlacementView:
    view = PlacementView.model_validate(placement)
    screenings = await screenings_of(uow, placement)
    view.screenings = [ScreeningView.model_validate(s) for s in screenings]
    return view
