"""Admission rules (DOMAIN.md, "The life of a case", 1). No I/O here."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from rescue_chassis.refusals import Conflict, Refused
from rescue_events.contracts import ArrivalRoute, DischargeReason, PersonCategory
from rescue_events.contracts.intake_arrivals import LeadOutcome, LeadPriority, SuspectedCondition

# Categories whose people cannot be presumed to have full civil capacity, so
# an escort does not hinge on their consent.
_NOT_PRESUMED_CAPABLE = {
    PersonCategory.MINOR,
    PersonCategory.MENTAL_ILLNESS,
    PersonCategory.DEMENTIA,
}
# A clock skew allowance for station tablets.
_FUTURE_TOLERANCE = timedelta(minutes=5)
# The age of majority (《民法典》第十七条): below it, a minor.
ADULT_AGE = 18
_CHINA = timezone(timedelta(hours=8))  # the stations' calendar days (UTC+8, no DST)


# Medical first (先救治,后救助): suspected mental illness, critical illness or
# intoxication send the person to hospital; the station admits on discharge.
MEDICAL_FIRST = frozenset(
    {
        SuspectedCondition.MENTAL_ILLNESS,
        SuspectedCondition.CRITICAL_ILLNESS,
        SuspectedCondition.INTOXICATION,
    }
)


@dataclass(frozen=True)
class ArrivalSource:
    """Where a transferred person comes from (the facts the rules look at)."""

    hospital: str | None = None
    discharge_reference: str | None = None
    station_id: str | None = None
    station_name: str | None = None
    transfer_reference: str | None = None


def presumed_capable(categories: set[PersonCategory]) -> bool:
    return not categories & _NOT_PRESUMED_CAPABLE


# ---- minors, by age ------------------------------------------------------------------


def age_on(birth_date: date, day: date) -> int:
    """Full years on ``day`` (a birthday counts on its day)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def station_day(at: datetime) -> date:
    return at.astimezone(_CHINA).date()


def minor_by_age(*, estimated_age: int | None, birth_date: date | None, on: date) -> bool | None:
    """Whether the person is a minor by what is known of their age on ``on``: the
    birth date first, then staff's estimate; None when neither is known (then the
    `minor` category stays staff's judgement)."""
    if birth_date is not None:
        return age_on(birth_date, on) < ADULT_AGE
    if estimated_age is not None:
        return estimated_age < ADULT_AGE
    return None


def categories_by_age(
    categories: Iterable[PersonCategory],
    *,
    estimated_age: int | None,
    birth_date: date | None,
    on: date,
    ticked_by_staff: bool = True,
    within: str = "",
) -> list[PersonCategory]:
    """The categories with `minor` derived from the age when it is known, so every
    rule that depends on it (consent, referral, escort) gets it without a tick.

    ``ticked_by_staff``: the categories come from the request. A `minor` tick on a
    person whose known age makes them an adult contradicts the age and is refused
    (422 on ``categories``): staff correct the age or drop the tick, the record
    never holds both. Categories carried over from the record (a readmission) are
    re-derived silently instead: a minor of an earlier stay may have come of age."""
    given = list(dict.fromkeys(PersonCategory(c) for c in categories))
    minor = minor_by_age(estimated_age=estimated_age, birth_date=birth_date, on=on)
    if minor is None:
        return given
    if minor:
        return given if PersonCategory.MINOR in given else [*given, PersonCategory.MINOR]
    if PersonCategory.MINOR in given and ticked_by_staff:
        age = (
            f"born {birth_date.isoformat()}"
            if birth_date is not None
            else f"estimated_age {estimated_age}"
        )
        raise Refused(
            within + "categories",
            f"minor contradicts the person's age ({age}: {ADULT_AGE} or older); correct the "
            "age, or leave minor out (it is derived from a known age)",
        )
    return [c for c in given if c is not PersonCategory.MINOR]


def check_birth_date(birth_date: date | None, *, arrived_at: datetime, within: str = "") -> None:
    if birth_date is not None and birth_date > station_day(arrived_at):
        raise Refused(within + "birth_date", "is after the arrival")


def check_admission(
    *,
    route: ArrivalRoute,
    categories: set[PersonCategory],
    consent_given: bool | None,
    has_handover_record: bool,
    arrived_at: datetime,
    now: datetime,
    suspected_conditions: Iterable[SuspectedCondition] = (),
    source: ArrivalSource | None = None,
    via_lead: bool = False,
    admitting_station: str | None = None,
    network_stations: Collection[str] | None = None,
    within: str = "",
) -> None:
    """Raise Refused naming the field when an admission breaks a rule.

    ``via_lead``: the admission closes a hotline lead (the only way a
    ``hotline_tip`` admission is made). ``network_stations``: the stations a
    ``station_transfer`` may name by id. ``within``: where the admission sits in
    its request ("admission." in a lead's closure), before the field named.
    """
    if arrived_at > now + _FUTURE_TOLERANCE:
        raise Refused(within + "arrived_at", "lies in the future")
    check_medical_first(suspected_conditions, within=within)
    check_arrival_source(
        route=route,
        source=source,
        via_lead=via_lead,
        admitting_station=admitting_station,
        network_stations=network_stations,
        within=within,
    )
    if route is ArrivalRoute.STREET_PATROL:
        if not has_handover_record:
            raise Refused(
                within + "handover", "a street-patrol escort needs its written handover record"
            )
        if presumed_capable(categories) and consent_given is not True:
            raise Refused(
                within + "consent_given",
                "escorting an adult with full civil capacity needs their consent; "
                "without it, record a refusal of help with the advice given "
                "(POST /refusals) instead of an admission",
            )


def check_medical_first(
    suspected_conditions: Iterable[SuspectedCondition], within: str = ""
) -> None:
    found = sorted(set(suspected_conditions) & MEDICAL_FIRST)
    if found:
        raise Refused(
            within + "suspected_conditions",
            f"suspected {', '.join(found)}: medical first (先救治,后救助); place the person "
            "in hospital (POST /hospital-placements), the discharge admits them",
        )


def check_arrival_source(
    *,
    route: ArrivalRoute,
    source: ArrivalSource | None,
    via_lead: bool = False,
    admitting_station: str | None = None,
    network_stations: Collection[str] | None = None,
    within: str = "",
) -> None:
    """Each arrival route with the data it needs: a hotline tip comes through its
    lead; a hospital transfer names the hospital and its discharge reference; a
    station transfer names the sending station and its transfer reference."""
    if route is ArrivalRoute.HOTLINE_TIP and not via_lead:
        raise Refused(
            within + "arrival_route",
            "a hotline-tip admission is made by closing its lead with outcome admitted "
            "(POST /leads/{id}/closure)",
        )
    if route is ArrivalRoute.HOSPITAL_TRANSFER:
        if source is None:
            raise Refused(
                within + "source",
                "a hospital transfer names the hospital and its discharge reference",
            )
        if source.station_id or source.station_name or source.transfer_reference:
            raise Refused(
                within + "source", "a hospital transfer names a hospital, not a sending station"
            )
        if not source.hospital:
            raise Refused(within + "source.hospital", "name the discharging hospital")
        if not source.discharge_reference:
            raise Refused(
                within + "source.discharge_reference", "give the hospital's discharge reference"
            )
    elif route is ArrivalRoute.STATION_TRANSFER:
        if source is None:
            raise Refused(
                within + "source",
                "a station transfer names the sending station and its transfer reference",
            )
        if source.hospital or source.discharge_reference:
            raise Refused(
                within + "source", "a station transfer names a sending station, not a hospital"
            )
        if bool(source.station_id) == bool(source.station_name):
            raise Refused(
                within + "source.station_id",
                "name the sending station once: station_id for a station of the network, "
                "station_name for one outside it",
            )
        if source.station_id:
            if network_stations is not None and source.station_id not in network_stations:
                raise Refused(
                    within + "source.station_id",
                    "is not a station of the network; give an outside station as station_name",
                )
            if source.station_id == admitting_station:
                raise Refused(within + "source.station_id", "is the admitting station itself")
        if not source.transfer_reference:
            raise Refused(
                within + "source.transfer_reference",
                "give the sending station's transfer reference",
            )
    elif source is not None:
        raise Refused(within + "source", "only hospital and station transfers carry a source")


def check_new_person_source(source: ArrivalSource | None, within: str = "") -> None:
    """A person transferred from a station of the network is a person of its records:
    the transfer is a new stay of the same person, never a new person, so the search
    case, clues, samples and history follow them."""
    if source is not None and source.station_id:
        raise Refused(
            within + "source.station_id",
            "names a station of the network: the person keeps their record; admit them "
            "there with POST /persons/{person_id}/stays (a new stay of the same person)",
        )


def check_readmission_source(
    source: ArrivalSource | None, *, last_station: str, within: str = ""
) -> None:
    """A transfer from a station of the network comes from where the person was last."""
    if source is not None and source.station_id and source.station_id != last_station:
        raise Refused(within + "source.station_id", "is not the station of the person's last stay")


def check_moment(
    field: str,
    at: datetime,
    *,
    now: datetime,
    not_before: datetime | None = None,
    not_before_what: str = "",
) -> None:
    """A time staff type in: not in the future, and not before what it follows."""
    if at > now + _FUTURE_TOLERANCE:
        raise Refused(field, "lies in the future")
    if not_before is not None and at < not_before:
        raise Refused(field, f"is before {not_before_what}")


# ---- hotline leads (线索) -------------------------------------------------------


class OutOfOrder(Conflict):
    """A step of a lifecycle that does not come now."""

    def __init__(self, detail: str) -> None:
        super().__init__("Out of order", detail)


class LeadStatus(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    CLOSED = "closed"


def lead_triage(status: str) -> str:
    if status != LeadStatus.RECEIVED:
        raise OutOfOrder(f"the lead is {status}; only a received lead is triaged")
    return LeadStatus.TRIAGED


def lead_assignment(status: str, priority: LeadPriority | None) -> str:
    """Assigned after triage; a new assignment (another shift) replaces the last."""
    if status not in (LeadStatus.TRIAGED, LeadStatus.ASSIGNED):
        raise OutOfOrder(f"the lead is {status}; it is assigned after triage, before closure")
    if priority is LeadPriority.NO_ACTION:
        raise OutOfOrder("the lead was triaged no_action: close it, nobody goes out")
    return LeadStatus.ASSIGNED


def lead_closure(status: str, priority: LeadPriority | None) -> str:
    """Closed once assigned; a lead triaged no_action closes straight from triage."""
    if status == LeadStatus.ASSIGNED:
        return LeadStatus.CLOSED
    if status == LeadStatus.TRIAGED and priority is LeadPriority.NO_ACTION:
        return LeadStatus.CLOSED
    if status == LeadStatus.CLOSED:
        raise OutOfOrder("the lead is already closed")
    raise OutOfOrder(f"the lead is {status}; it is closed once assigned (or triaged no_action)")


def check_lead_closure(*, outcome: LeadOutcome, has_admission: bool, note: str | None) -> None:
    if outcome is LeadOutcome.ADMITTED and not has_admission:
        raise Refused("admission", "an `admitted` closure carries the admission")
    if outcome is not LeadOutcome.ADMITTED and has_admission:
        raise Refused("admission", "only an `admitted` closure carries an admission")
    if outcome is LeadOutcome.REFERRED_ELSEWHERE and not note:
        raise Refused("note", "say where the person was referred")


# Still unidentified this long after arrival: a long stay (长期滞留), and the
# settlement procedure starts (DOMAIN.md, "The life of a case", 3). "Three
# months" is counted as 90 days, so every station's timer means the same.
LONG_STAY = timedelta(days=90)


def long_stay_from(arrived_at: datetime) -> datetime:
    return arrived_at + LONG_STAY


def check_discharge(
    *,
    reason: DischargeReason,
    transferred_to: str | None,
    admitted_at: datetime,
    discharged_at: datetime,
    now: datetime,
    transferred_to_station_id: str | None = None,
    caring_station: str | None = None,
    network_stations: Collection[str] | None = None,
) -> None:
    """``transferred_to_station_id``: a transfer to a station of the network, which
    readmits the same person (POST /persons/{id}/stays)."""
    if discharged_at > now + _FUTURE_TOLERANCE:
        raise Refused("discharged_at", "lies in the future")
    if discharged_at < admitted_at:
        raise Refused("discharged_at", "is before the admission")
    if transferred_to_station_id is not None:
        if reason is not DischargeReason.TRANSFERRED:
            raise Refused("transferred_to_station_id", "only a transfer names a receiving station")
        if network_stations is not None and transferred_to_station_id not in network_stations:
            raise Refused(
                "transferred_to_station_id",
                "is not a station of the network; name a station outside it in transferred_to",
            )
        if transferred_to_station_id == caring_station:
            raise Refused("transferred_to_station_id", "is the discharging station itself")
    if reason is DischargeReason.TRANSFERRED and not (transferred_to or transferred_to_station_id):
        raise Refused("transferred_to", "a transfer says where the person went")


def days_in_station(arrived_at: datetime, now: datetime) -> int:
    return max((now - arrived_at).days, 0)
