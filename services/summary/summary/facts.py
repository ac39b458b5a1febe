"""Each event the summary counts, as a fact (summary.tables.Fact): which kind, which
station, when, and the ids that link it to other facts. Pure: no database.

Most events become a fact field for field (``Reads``: the event's attribute behind
each of the fact's); the few that compute a field (a day as China's midnight, a
list of tags) have a function of their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from operator import attrgetter
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


@dataclass(frozen=True)
class Reads:
    """A fact read field for field from its event: each field names the event's
    attribute it takes (dotted: ``"reason.value"`` for an enum's value); None, a field
    the fact leaves empty (``station_id`` None: the station is found through a ref)."""

    kind: str
    at: str
    ref: str
    station_id: str | None = "station_id"
    other_at: str | None = None
    ref2: str | None = None
    detail: str | None = None
    number: str | None = None
    flag: str | None = None

    def __call__(self, event: EventContract) -> dict[str, Any]:
        fields: dict[str, Any] = {"kind": self.kind}
        for name in ("station_id", "at", "other_at", "ref", "ref2", "detail", "number", "flag"):
            path = getattr(self, name)
            if path is not None:
                fields[name] = attrgetter(path)(event)
        return fields


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


def _settlement_step(e: SettlementStepRecordedV1) -> dict[str, Any]:
    return dict(
        kind="settlement_step",
        station_id=e.station_id,
        at=china_midnight(e.done_on),
        ref=e.stay_id,
        detail=e.step.value,
        flag=e.complete,
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


def _dna_sampled(e: PoliceDnaSampleSubmittedV1) -> dict[str, Any]:
    return dict(
        kind="dna_sampled",
        station_id=e.station_id,
        at=e.submitted_at,
        ref=e.sample_id,
        ref2=e.case_id,
        flag=e.reverifies_sample_id is not None,
    )


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


#: Every event the summary counts, and how it becomes a fact.
READERS: dict[type[EventContract], Callable[[Any], dict[str, Any]]] = {
    # intake
    PersonAdmittedV1: _admitted,
    PersonDischargedV1: Reads("discharged", "discharged_at", "stay_id", detail="reason.value"),
    IncidentReportedV1: Reads("incident", "occurred_at", "incident_id", detail="kind.value"),
    LongStayReachedV1: Reads("long_stay", "reached_at", "stay_id"),
    LeadReceivedV1: Reads("lead_received", "received_at", "lead_id"),
    LeadClosedV1: Reads("lead_closed", "closed_at", "lead_id", detail="outcome.value"),
    HelpRefusedV1: Reads("refused", "found_at", "refusal_id"),
    HospitalPlacementMadeV1: Reads("hospital_placed", "placed_at", "placement_id"),
    OutsourcedCareStartedV1: Reads("care_started", "started_at", "care_id", ref2="stay_id"),
    OutsourcedCareVisitedV1: Reads("care_visited", "visited_at", "care_id", ref2="visit_id"),
    OutsourcedCareEndedV1: Reads("care_ended", "ended_at", "care_id", detail="outcome.value"),
    SettlementStepRecordedV1: _settlement_step,
    # search
    SearchCaseOpenedV1: Reads("case_opened", "opened_at", "case_id", other_at="notice_due_at"),
    NoticePublishedV1: _notice_published,
    IdentityConfirmedV1: Reads("identified", "confirmed_at", "case_id", detail="method.value"),
    PoliceDnaSampleSubmittedV1: _dna_sampled,
    DnaHitReverifiedV1: Reads("dna_reverified", "reverified_at", "hit_sample_id", ref2="case_id"),
    # transfer
    ReturnOpenedV1: Reads(
        "return_opened", "opened_at", "return_id", detail="escort_station_id", flag="cross_province"
    ),
    PersonHandedOverV1: Reads(
        "handed_over", "handed_over_at", "return_id", detail="escort_station_id"
    ),
    HandoverRefusedV1: Reads("handover_refused", "refused_at", "return_id"),
    EscortPlannedV1: Reads(
        "escort_planned",
        "planned_departure_at",
        "escort_id",
        station_id="escort_station_id",
        ref2="return_id",
    ),
    EscortDepartedV1: Reads(
        "escort_departed", "departed_at", "escort_id", station_id=None, ref2="return_id"
    ),
    # referral
    ReferralOpenedV2: Reads(
        "referral_opened", "opened_at", "referral_id", detail="partner_type.value"
    ),
    ReferralStatusChangedV1: Reads(
        "referral_changed", "changed_at", "referral_id", station_id=None, detail="status.value"
    ),
    # followup
    StabilisationOpenedV1: _stabilisation_opened,
    RevisitRecordedV1: _revisit_recorded,
    RevisitOverdueV1: _revisit_overdue,
    RepeatWanderingFlaggedV1: Reads(
        "repeat_flagged",
        "flagged_at",
        "record_id",
        station_id="origin_station_id",
        detail="admitting_station_id",
    ),
}


def fact_of(event_id: str, event: EventContract) -> Fact:
    """The fact an event stands for (its id is the event's: one fact per event)."""
    fields = READERS[type(event)](event)
    return Fact(event_id=event_id, person_id=event.person_id, **fields)
