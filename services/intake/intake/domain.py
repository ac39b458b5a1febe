"""Admission rules (DOMAIN.md, "The life of a case", 1). No I/O here."""

from __future__ import annotations

from datetime import datetime, timedelta

from rescue_events.contracts import ArrivalRoute, PersonCategory

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
