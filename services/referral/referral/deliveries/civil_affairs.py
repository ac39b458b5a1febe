"""The civil-affairs bureau over a station (民政局) hears at once of every incident
(death, person gone missing, injury) and every escalation (a missed search
deadline or long stay, a home area refusing a return), each acknowledged within
a window; an unacknowledged one is flagged overdue by the deliveries' sweep."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from referral.deliveries import outbound
from referral.domain import choose_agency
from referral.feeds import DV
from referral.tables import Agency, Person
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.network import Network
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import (
    HandoverRefusedV1,
    IncidentKind,
    IncidentReportedV1,
    PartnerType,
)
from rescue_events.contracts.civil_affairs import BureauEscalationV1, BureauIncidentV1
from rescue_events.contracts.search_escalations import DeadlineEscalatedV1
from rescue_events.envelope import Envelope

log = logging.getLogger(__name__)

#: Reported at once (立即报告): a death is acknowledged fastest, a person gone
#: missing next (the search starts now), an injury within the half-day.
INCIDENT_ACKNOWLEDGEMENT = {
    IncidentKind.DEATH: timedelta(hours=1),
    IncidentKind.MISSING: timedelta(hours=2),
    IncidentKind.INJURY: timedelta(hours=4),
}
#: An escalation asks the bureau to step in (督办): a working day to take it up.
ESCALATION_ACKNOWLEDGEMENT = timedelta(hours=24)


async def bureau_over(uow: UnitOfWork, station_id: str) -> str | None:
    """The civil-affairs agency whose jurisdiction covers the station's area (the
    most specific: the county's before the city's), or None."""
    station = uow.network.station(station_id)
    if station is None or station.admin_code is None:
        return None
    serving = await uow.find(Agency, partner_type=PartnerType.CIVIL_AFFAIRS.value, active=True)
    return choose_agency([(a.id, a.jurisdiction_code) for a in serving], station.admin_code)


def protected(person: Person | None) -> bool:
    """A domestic-violence victim's whereabouts leave the network for her federation only."""
    return person is not None and DV in person.categories


def contact_station(network: Network, station_id: str, person: Person | None) -> tuple[str, str]:
    """(id, name) of the station the bureau asks: the center for a protected person."""
    station = network.center if protected(person) else network.station(station_id)
    if station is None:
        return station_id, station_id
    return station.id, station.name


def incident_for_bureau(
    network: Network, event: IncidentReportedV1, person: Person | None
) -> BureauIncidentV1:
    contact_id, contact_name = contact_station(network, event.station_id, person)
    hidden = protected(person)
    return BureauIncidentV1(
        person_id=event.person_id,
        incident_id=event.incident_id,
        kind=event.kind,
        occurred_at=event.occurred_at,
        contact_station_id=contact_id,
        contact_station_name=contact_name,
        # staff's words may say where she is: the center tells the bureau itself
        description=None if hidden else event.description,
        full_name=person.full_name if person else None,
        sex=person.sex if person else None,
        estimated_age=person.estimated_age if person else None,
    )


def search_escalation_for_bureau(
    network: Network, event: DeadlineEscalatedV1, person: Person | None
) -> BureauEscalationV1:
    contact_id, contact_name = contact_station(network, event.station_id, person)
    return BureauEscalationV1(
        person_id=event.person_id,
        escalation_id=event.escalation_id,
        kind=event.kind,
        contact_station_id=contact_id,
        contact_station_name=contact_name,
        escalated_at=event.escalated_at,
        due_at=event.due_at,
    )


def refusal_for_bureau(
    network: Network, event: HandoverRefusedV1, person: Person | None
) -> BureauEscalationV1:
    contact_id, contact_name = contact_station(network, event.station_id, person)
    return BureauEscalationV1(
        person_id=event.person_id,
        escalation_id=event.escalation_id,
        kind="handover_refused",
        contact_station_id=contact_id,
        contact_station_name=contact_name,
        escalated_at=event.refused_at,
        refused_by=event.refused_by,
        reason=event.reason,
    )


async def _to_bureau(
    uow: UnitOfWork,
    station_id: str,
    feed: outbound.Feed,
    message: BureauIncidentV1 | BureauEscalationV1,
    envelope: Envelope,
    within: timedelta,
) -> None:
    bureau = await bureau_over(uow, station_id)
    if bureau is None:
        # nobody to tell yet: the directory lacks the bureau (ops add it, then replay)
        log.warning("no civil-affairs bureau over station %s for %s", station_id, feed.value)
        return
    await outbound.deliver(
        uow,
        agency_id=bureau,
        feed=feed,
        event=message,
        subject_id=message.person_id,
        source_event_id=uuid.UUID(envelope.id),
        acknowledge_within=within,
    )


async def report_incident(uow: UnitOfWork, event: IncidentReportedV1, envelope: Envelope) -> None:
    """An incident to the bureau over the station, acknowledged within its kind's window."""
    person = await uow.get(Person, event.person_id)
    message = incident_for_bureau(uow.network, event, person)
    within = INCIDENT_ACKNOWLEDGEMENT[event.kind]
    await _to_bureau(uow, event.station_id, outbound.Feed.INCIDENT, message, envelope, within)


async def escalate_deadline(
    uow: UnitOfWork, event: DeadlineEscalatedV1, envelope: Envelope
) -> None:
    """A missed search deadline or long stay, to the bureau over the station."""
    person = await uow.get(Person, event.person_id)
    message = search_escalation_for_bureau(uow.network, event, person)
    await _to_bureau(
        uow,
        event.station_id,
        outbound.Feed.ESCALATION,
        message,
        envelope,
        ESCALATION_ACKNOWLEDGEMENT,
    )


async def escalate_refusal(uow: UnitOfWork, event: HandoverRefusedV1, envelope: Envelope) -> None:
    """A home area refusing the person (流出地拒不接收): the higher civil-affairs level,
    the bureau over the station caring for the person, takes it up."""
    person = await uow.get(Person, event.person_id)
    message = refusal_for_bureau(uow.network, event, person)
    await _to_bureau(
        uow,
        event.station_id,
        outbound.Feed.ESCALATION,
        message,
        envelope,
        ESCALATION_ACKNOWLEDGEMENT,
    )


def handlers(runtime: Runtime):
    """The bureau's feeds, for referral's consumer (referral.handlers)."""

    async def when_incident_reported_tell_the_bureau(
        session: AsyncSession, event: IncidentReportedV1, envelope: Envelope
    ) -> None:
        await report_incident(UnitOfWork(session, runtime), event, envelope)

    async def when_deadline_escalated_tell_the_bureau(
        session: AsyncSession, event: DeadlineEscalatedV1, envelope: Envelope
    ) -> None:
        await escalate_deadline(UnitOfWork(session, runtime), event, envelope)

    async def when_handover_refused_tell_the_bureau(
        session: AsyncSession, event: HandoverRefusedV1, envelope: Envelope
    ) -> None:
        await escalate_refusal(UnitOfWork(session, runtime), event, envelope)

    return {
        IncidentReportedV1: when_incident_reported_tell_the_bureau,
        DeadlineEscalatedV1: when_deadline_escalated_tell_the_bureau,
        HandoverRefusedV1: when_handover_refused_tell_the_bureau,
    }
