"""What intake's API answers with (API-out models)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from intake.domain import days_in_station
from intake.tables import Incident, Person, Stay
from rescue_chassis.access import may_see
from rescue_events.contracts import ArrivalRoute, IdentityStatus, PersonCategory, Sex


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


DV = PersonCategory.DOMESTIC_VIOLENCE_VICTIM.value


class PersonView(BaseModel):
    id: uuid.UUID
    station_id: str = Field(description="Where the person is, or was last.")
    status: str = Field(description="in_station, missing or discharged.")
    arrived_at: datetime = Field(description="Arrival of the current (or last) stay.")
    admitted_at: datetime
    arrival_route: ArrivalRoute
    days_in_station: int | None = Field(description="Days since arrival, while in a station.")
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
    handover: dict | None
    identity_confirmed_at: datetime | None
    protected: bool = Field(
        default=False,
        description="Her whereabouts are not given out to anyone asking (she fled domestic "
        "violence; the category itself shows to leads and the center only).",
    )
    stays: list[StayView] = Field(description="Every stay in the network, earliest first.")
    incidents: list[IncidentView]


async def person_view(session, person: Person) -> PersonView:
    stays = (
        await session.scalars(
            select(Stay).where(Stay.person_id == person.id).order_by(Stay.sequence)
        )
    ).all()
    incidents = (
        await session.scalars(
            select(Incident).where(Incident.person_id == person.id).order_by(Incident.occurred_at)
        )
    ).all()
    return view_of(person, stays, incidents)


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
        **{
            k: getattr(person, k)
            for k in PersonView.model_fields
            if k not in ("stays", "incidents", "categories", "protected") and hasattr(person, k)
        },
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
