"""Rules of the person's record and care (DOMAIN.md, "The life of a case", 1 and 3):
photos, belongings, the admission health check, outsourced care and its
monitoring, the long-stay settlement procedure. No I/O here."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from rescue_chassis.refusals import Conflict, Problem, Refused
from rescue_events.contracts.intake_care import SettlementStep

# A clock skew allowance for station tablets (as for admissions).
FUTURE_TOLERANCE = timedelta(minutes=5)
CHINA = timezone(timedelta(hours=8))  # the stations' calendar days (UTC+8, no DST)

# ---- photos ------------------------------------------------------------------

MAX_PHOTO_BYTES = 2 * 1024 * 1024  # 2 MiB of image, decoded
# The longest base64 text that can decode to MAX_PHOTO_BYTES.
MAX_PHOTO_BASE64 = 4 * -(-MAX_PHOTO_BYTES // 3)
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PhotoTooLarge(Problem):
    """An image over MAX_PHOTO_BYTES (answered 413)."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, "Photo too large", detail)


def photo_content_type(image: bytes) -> str | None:
    """The image's content type from its magic bytes; None if it is neither JPEG nor PNG."""
    if image.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if image.startswith(PNG_MAGIC):
        return "image/png"
    return None


def decode_photo(encoded: str) -> tuple[bytes, str]:
    """The image and its content type from base64 text: a JPEG or PNG of at most
    MAX_PHOTO_BYTES. Raises PhotoTooLarge or Refused("image", …)."""
    if not encoded:
        raise Refused("image", "the photo is empty")
    if len(encoded) > MAX_PHOTO_BASE64:
        raise PhotoTooLarge(f"the image is larger than {MAX_PHOTO_BYTES} bytes")
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("image", "is not base64 (the photo's bytes, with padding)") from None
    if len(image) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge(f"the image is larger than {MAX_PHOTO_BYTES} bytes")
    content_type = photo_content_type(image)
    if content_type is None:
        raise Refused("image", "the photo is not a JPEG or PNG image")
    return image, content_type


# ---- times -------------------------------------------------------------------


def check_time(
    field: str,
    at: datetime,
    *,
    now: datetime,
    not_before: datetime | None = None,
    not_before_what: str = "the person arrived",
) -> None:
    """A recorded time lies neither in the future nor before ``not_before``."""
    if at > now + FUTURE_TOLERANCE:
        raise Refused(field, "lies in the future")
    if not_before is not None and at < not_before:
        raise Refused(field, f"is before {not_before_what}")


def station_day(at: datetime) -> date:
    """The stations' calendar day of an instant."""
    return at.astimezone(CHINA).date()


# ---- the admission health check (入站基础健康检视) ----------------------------


class InfectiousScreening(StrEnum):
    NOT_DONE = "not_done"
    NEGATIVE = "negative"
    SUSPECTED = "suspected"  # isolate, refer to a hospital
    POSITIVE = "positive"


TEMPERATURE_C = (34.0, 43.0)
SYSTOLIC_MMHG = (60, 260)
DIASTOLIC_MMHG = (30, 160)
PULSE_PER_MINUTE = (30, 220)


def _in_range(field: str, value: float | None, bounds: tuple[float, float], unit: str) -> None:
    low, high = bounds
    if value is not None and not low <= value <= high:
        raise Refused(field, f"must lie between {low} and {high} {unit}")


def check_vitals(
    *,
    temperature_c: float | None,
    systolic_mmhg: int | None,
    diastolic_mmhg: int | None,
    pulse_per_minute: int | None,
) -> None:
    """Plausible values only: a typo (37.5 typed as 375) must not enter the record."""
    _in_range("temperature_c", temperature_c, TEMPERATURE_C, "°C")
    _in_range("systolic_mmhg", systolic_mmhg, SYSTOLIC_MMHG, "mmHg")
    _in_range("diastolic_mmhg", diastolic_mmhg, DIASTOLIC_MMHG, "mmHg")
    _in_range("pulse_per_minute", pulse_per_minute, PULSE_PER_MINUTE, "beats per minute")
    if (systolic_mmhg is None) != (diastolic_mmhg is None):
        missing = "diastolic_mmhg" if diastolic_mmhg is None else "systolic_mmhg"
        raise Refused(missing, "a blood pressure has both a systolic and a diastolic value")
    if systolic_mmhg is not None and diastolic_mmhg is not None:
        if systolic_mmhg <= diastolic_mmhg:
            raise Refused("diastolic_mmhg", "must be lower than the systolic pressure")


# ---- belongings at discharge ---------------------------------------------------


def belongings_at_discharge(
    *, unreturned: int, belongings_returned: bool | None, belongings_note: str | None
) -> bool:
    """Whether the stay's unreturned belongings are handed back now (True) or stay
    unreturned with the note saying why (False). A stay with belongings not yet
    returned ends only with one or the other."""
    if unreturned == 0:
        return False
    if belongings_returned:
        return True
    if belongings_note:
        return False
    raise Refused(
        "belongings_returned",
        f"{unreturned} item(s) of this stay's belongings have not been returned: "
        "return them (belongings_returned: true) or say why not (belongings_note)",
    )


# ---- outsourced care (站外托养) --------------------------------------------------

# A placement not visited this long is overdue for its monitoring visit.
VISIT_INTERVAL = timedelta(days=30)


def check_outsourced_care_start(
    *, person_status: str, stay_open: bool, placement_open: bool
) -> None:
    """Care is in-station by default; only a person in station can be placed outside."""
    if not stay_open or person_status != "in_station":
        raise Conflict(
            "Not in station", f"Only a person in station can be placed (status: {person_status})."
        )
    if placement_open:
        raise Conflict(
            "Already in outsourced care", "End the current placement before starting another."
        )


def last_contact(started_at: datetime, last_visited_at: datetime | None) -> datetime:
    """When the station last saw the person: the latest visit, or the placement."""
    return max(started_at, last_visited_at) if last_visited_at else started_at


def days_since_last_visit(
    started_at: datetime, last_visited_at: datetime | None, now: datetime
) -> int:
    return max((now - last_contact(started_at, last_visited_at)).days, 0)


def visit_overdue(started_at: datetime, last_visited_at: datetime | None, now: datetime) -> bool:
    return now - last_contact(started_at, last_visited_at) >= VISIT_INTERVAL


def visit_is_latest(visited_at: datetime, last_visited_at: datetime | None) -> bool:
    """A visit keeps the record's health status current unless a later one is known
    (visits may be entered late, out of order)."""
    return last_visited_at is None or visited_at >= last_visited_at


# ---- the settlement procedure (长期滞留 → 落户安置) -------------------------------

SETTLEMENT_STEPS: tuple[SettlementStep, ...] = tuple(SettlementStep)


def next_settlement_step(done: Sequence[SettlementStep]) -> SettlementStep | None:
    return SETTLEMENT_STEPS[len(done)] if len(done) < len(SETTLEMENT_STEPS) else None


def settlement_complete(done: Sequence[SettlementStep]) -> bool:
    return next_settlement_step(done) is None


def check_settlement_step(
    step: SettlementStep,
    *,
    long_stay_reached: bool,
    stay_open: bool,
    done: Sequence[tuple[SettlementStep, date]],
    on: date,
    today: date,
) -> int:
    """Check the next step of the procedure; returns its number (1 to 5).

    The procedure starts once the stay is a long stay, and its steps follow their
    order: a step out of order or before the long stay is a conflict (409); a date
    in the future or before the previous step's is a field error (422)."""
    if not stay_open:
        raise Conflict("Not in a station", "The person's stay has ended.")
    if not long_stay_reached:
        raise Conflict(
            "Not a long stay",
            "The settlement procedure starts when the stay has reached long stay "
            "(still unidentified three months after arrival).",
        )
    expected = next_settlement_step([s for s, _ in done])
    if expected is None:
        raise Conflict("Settlement complete", "Every step of the procedure is recorded.")
    if step is not expected:
        already = step in {s for s, _ in done}
        raise Conflict(
            "Step already recorded" if already else "Step out of order",
            f"The next step is {expected.value}, not {step.value}.",
        )
    if on > today:
        raise Refused("date", "lies in the future")
    if done and on < done[-1][1]:
        raise Refused("date", f"is before the previous step ({done[-1][0].value})")
    return len(done) + 1


def check_settled_discharge(done: Sequence[SettlementStep]) -> None:
    """Discharge as `settled` only when the person is placed in an institution."""
    if not settlement_complete(done):
        expected = next_settlement_step(done)
        raise Conflict(
            "Settlement not complete",
            f"Discharge as settled needs every settlement step; next: {expected.value}.",
        )
