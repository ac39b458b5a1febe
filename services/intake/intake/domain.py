"""Admission rules (DOMAIN.md, "The life of a case", 1). No I/O here."""

from __future__ import annotations

from datetime import datetime, timedelta

from rescue_events.contracts import ArrivalRoute, DischargeReason, PersonCategory

# Categories whose people cannot be presumed to have full civil capacity, so
# an escort does not hinge on their consent.
_NOT_PRESUMED_CAPABLE = {
    PersonCategory.MINOR,
    PersonCategory.MENTAL_ILLNESS,
    PersonCategory.DEMENTIA,
}
# A clock skew allowance for station tablets.
_FUTURE_TOLERANCE = timedelta(minutes=5)


class AdmissionRefused(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def presumed_capable(categories: set[PersonCategory]) -> bool:
    return not categories & _NOT_PRESUMED_CAPABLE


def check_admission(
    *,
    route: ArrivalRoute,
    categories: set[PersonCategory],
    consent_given: bool | None,
    has_handover_record: bool,
    arrived_at: datetime,
    now: datetime,
) -> None:
    """Raise AdmissionRefused naming the field when an admission breaks a rule."""
    if arrived_at > now + _FUTURE_TOLERANCE:
        raise AdmissionRefused("arrived_at", "lies in the future")
    if route is ArrivalRoute.STREET_PATROL:
        if not has_handover_record:
            raise AdmissionRefused(
                "handover", "a street-patrol escort needs its written handover record"
            )
        if presumed_capable(categories) and consent_given is not True:
            raise AdmissionRefused(
                "consent_given",
                "escorting an adult with full civil capacity needs their consent; "
                "record a refusal of help instead",
            )


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
) -> None:
    if discharged_at > now + _FUTURE_TOLERANCE:
        raise AdmissionRefused("discharged_at", "lies in the future")
    if discharged_at < admitted_at:
        raise AdmissionRefused("discharged_at", "is before the admission")
    if reason is DischargeReason.TRANSFERRED and not transferred_to:
        raise AdmissionRefused("transferred_to", "a transfer says where the person went")


def days_in_station(arrived_at: datetime, now: datetime) -> int:
    return max((now - arrived_at).days, 0)
