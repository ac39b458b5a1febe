"""Each event the summary counts, as a fact (summary.tables.Fact): which kind, which
station, when, and the ids that link it to other facts. Pure: no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from rescue_events.contracts import (
    EscortDepartedV1,
    EscortPlannedV1,
    HandoverRefusedV1,
    IdentityConfirmedV1,
    IncidentReportedV1,
    LongStayReachedV1,
    PersonAdmittedV1,
    PersonDischargedV1,
    PersonHandedOverV1,
    ReferralOpenedV2,
    ReferralStatusChangedV1,
    RepeatWanderingFlaggedV1,
    ReturnOpenedV1,
    RevisitOverdueV1,
    RevisitRecordedV1,
    SearchCaseOpenedV1,
    StabilisationOpenedV1,
)
from rescue_events.contracts.base import EventContract
from rescue_events.contracts.intake_arrivals import (
    HelpRefusedV1,
    HospitalPlacementMadeV1,
    LeadClosedV1,
    LeadReceivedV1,
)
from rescue_events.contracts.intake_care import (
    OutsourcedCareEndedV1,
    OutsourcedCareStartedV1,
    OutsourcedCareVisitedV1,
    SettlementStepRecordedV1,
)
from rescue_events.contracts.search_notices import NoticePublishedV1
from rescue_events.contracts.search_police import DnaHitReverifiedV1, PoliceDnaSampleSubmittedV1
from summary.tables import Fact

#: Stations report by the calendar of China (UTC+8, no daylight saving).
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_midnight(day: date) -> datetime:
    """A day (a revisit, a settlement step) as the instant it began in China."""
    return datetime.combine(day, time.min, CHINA)


def _admitted(e: PersonAdmittedV1) -> dict[str, Any]:
    return dict(
        kind="admitted",
        station_id=e.station_id,
        at=e.admitted_at,
        other_at=e.arrived_at,
        ref=e.stay_id,
        detail=e.arrival_route.value,
        tags=[c.value for c in e.categories],
        number=e.stay_sequence,
    )


def _discharged(e: PersonDischargedV1) -> dict[str, Any]:
    return dict(
        kind="discharged",
        station_id=e.station_id,
        at=e.discharged_at,
        ref=e.stay_id,
        detail=e.reason.value,
    )


def _incident(e: IncidentReportedV1) -> dict[str, Any]:
    return dict(
        kind="incident",
        station_id=e.station_id,
        at=e.occurred_at,
        ref=e.incident_id,
        detail=e.kind.value,
    )


def _long_stay(e: LongStayReachedV1) -> dict[str, Any]:
    return dict(kind="long_stay", station_id=e.station_id, at=e.reached_at, ref=e.stay_id)


def _lead_received(e: LeadReceivedV1) -> dict[str, Any]:
    return dict(kind="lead_received", station_id=e.station_id, at=e.received_at, ref=e.lead_id)


def _lead_closed(e: LeadClosedV1) -> dict[str, Any]:
    return dict(
        kind="lead_closed",
        station_id=e.station_id,
        at=e.closed_at,
        ref=e.lead_id,
        detail=e.outcome.value,
    )


def _refused(e: HelpRefusedV1) -> dict[str, Any]:
    return dict(kind="refused", station_id=e.station_id, at=e.found_at, ref=e.refusal_id)


def _hospital_placed(e: HospitalPlacementMadeV1) -> dict[str, Any]:
    return dict(kind="hospital_placed", station_id=e.station_id, at=e.placed_at, ref=e.placement_id)


def _care_started(e: OutsourcedCareStartedV1) -> dict[str, Any]:
    return dict(
        kind="care_started",
        station_id=e.station_id,
        at=e.started_at,
        ref=e.care_id,
        ref2=e.stay_id,
    )


def _care_visited(e: OutsourcedCareVisitedV1) -> dict[str, Any]:
    return dict(
        kind="care_visited",
        station_id=e.station_id,
        at=e.visited_at,
        ref=e.care_id,
        ref2=e.visit_id,
    )


def _care_ended(e: OutsourcedCareEndedV1) -> dict[str, Any]:
    return dict(
        kind="care_ended",
        station_id=e.station_id,
        at=e.ended_at,
        ref=e.care_id,
        detail=e.outcome.value,
    )


def _settlement_step(e: SettlementStepRecordedV1) -> dict[str, Any]:
    return dict(
        kind="settlement_step",
        station_id=e.station_id,
        at=china_midnight(e.done_on),
        ref=e.stay_id,
        detail=e.step.value,
        flag=e.complete,
    )


def _case_opened(e: SearchCaseOpenedV1) -> dict[str, Any]:
    return dict(
        kind="case_opened",
        station_id=e.station_id,
        at=e.opened_at,
        other_at=e.notice_due_at,
        ref=e.case_id,
    )


def _notice_published(e: NoticePublishedV1) -> dict[str, Any]:
    return dict(
        kind="notice_published",
        station_id=e.station_id,
        at=e.published_at,
        ref=e.notice_id,
        ref2=e.case_id,
        detail=e.kind.value,
        tags=[e.purpose.value],
    )


def _identified(e: IdentityConfirmedV1) -> dict[str, Any]:
    return dict(
        kind="identified",
        station_id=e.station_id,
        at=e.confirmed_at,
        ref=e.case_id,
        detail=e.method.value,
    )


def _dna_sampled(e: PoliceDnaSampleSubmittedV1) -> dict[str, Any]:
    return dict(
        kind="dna_sampled",
        station_id=e.station_id,
        at=e.submitted_at,
        ref=e.sample_id,
        ref2=e.case_id,
        flag=e.reverifies_sample_id is not None,
    )


def _dna_reverified(e: DnaHitReverifiedV1) -> dict[str, Any]:
    return dict(
        kind="dna_reverified",
        station_id=e.station_id,
        at=e.reverified_at,
        ref=e.hit_sample_id,
        ref2=e.case_id,
    )


def _return_opened(e: ReturnOpenedV1) -> dict[str, Any]:
    return dict(
        kind="return_opened",
        station_id=e.station_id,
        at=e.opened_at,
        ref=e.return_id,
        detail=e.escort_station_id,
        flag=e.cross_province,
    )


def _handed_over(e: PersonHandedOverV1) -> dict[str, Any]:
    return dict(
        kind="handed_over",
        station_id=e.station_id,
        at=e.handed_over_at,
        ref=e.return_id,
        detail=e.escort_station_id,
    )


def _handover_refused(e: HandoverRefusedV1) -> dict[str, Any]:
    return dict(kind="handover_refused", station_id=e.station_id, at=e.refused_at, ref=e.return_id)


def _escort_planned(e: EscortPlannedV1) -> dict[str, Any]:
    return dict(
        kind="escort_planned",
        station_id=e.escort_station_id,
        at=e.planned_departure_at,
        ref=e.escort_id,
        ref2=e.return_id,
    )


def _escort_departed(e: EscortDepartedV1) -> dict[str, Any]:
    return dict(kind="escort_departed", at=e.departed_at, ref=e.escort_id, ref2=e.return_id)


def _referral_opened(e: ReferralOpenedV2) -> dict[str, Any]:
    return dict(
        kind="referral_opened",
        station_id=e.station_id,
        at=e.opened_at,
        ref=e.referral_id,
        detail=e.partner_type.value,
    )


def _referral_changed(e: ReferralStatusChangedV1) -> dict[str, Any]:
    return dict(kind="referral_changed", at=e.changed_at, ref=e.referral_id, detail=e.status.value)


def _stabilisation_opened(e: StabilisationOpenedV1) -> dict[str, Any]:
    return dict(
        kind="stabilisation_opened",
        at=e.opened_at,
        ref=e.record_id,
        dates=list(e.revisit_due_dates),
    )


def _revisit_recorded(e: RevisitRecordedV1) -> dict[str, Any]:
    return dict(
        kind="revisit_recorded",
        at=china_midnight(e.visited_on),
        ref=e.record_id,
        number=e.sequence,
        flag=e.late,
    )


def _revisit_overdue(e: RevisitOverdueV1) -> dict[str, Any]:
    return dict(
        kind="revisit_overdue",
        station_id=e.station_id,
        at=china_midnight(e.due_on),
        ref=e.record_id,
        number=e.sequence,
        detail=e.level,
    )


def _repeat_flagged(e: RepeatWanderingFlaggedV1) -> dict[str, Any]:
    return dict(
        kind="repeat_flagged",
        station_id=e.origin_station_id,
        at=e.flagged_at,
        ref=e.record_id,
        detail=e.admitting_station_id,
    )


#: Every event the summary counts, and how it becomes a fact.
READERS: dict[type[EventContract], Callable[[Any], dict[str, Any]]] = {
    PersonAdmittedV1: _admitted,
    PersonDischargedV1: _discharged,
    IncidentReportedV1: _incident,
    LongStayReachedV1: _long_stay,
    LeadReceivedV1: _lead_received,
    LeadClosedV1: _lead_closed,
    HelpRefusedV1: _refused,
    HospitalPlacementMadeV1: _hospital_placed,
    OutsourcedCareStartedV1: _care_started,
    OutsourcedCareVisitedV1: _care_visited,
    OutsourcedCareEndedV1: _care_ended,
    SettlementStepRecordedV1: _settlement_step,
    SearchCaseOpenedV1: _case_opened,
    NoticePublishedV1: _notice_published,
    IdentityConfirmedV1: _identified,
    PoliceDnaSampleSubmittedV1: _dna_sampled,
    DnaHitReverifiedV1: _dna_reverified,
    ReturnOpenedV1: _return_opened,
    PersonHandedOverV1: _handed_over,
    HandoverRefusedV1: _handover_refused,
    EscortPlannedV1: _escort_planned,
    EscortDepartedV1: _escort_departed,
    ReferralOpenedV2: _referral_opened,
    ReferralStatusChangedV1: _referral_changed,
    StabilisationOpenedV1: _stabilisation_opened,
    RevisitRecordedV1: _revisit_recorded,
    RevisitOverdueV1: _revisit_overdue,
    RepeatWanderingFlaggedV1: _repeat_flagged,
}


def fact_of(event_id: str, event: EventContract) -> Fact:
    """The fact an event stands for (its id is the event's: one fact per event)."""
    fields = READERS[type(event)](event)
    return Fact(event_id=event_id, person_id=event.person_id, **fields)
