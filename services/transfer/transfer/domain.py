"""Return rules (DOMAIN.md, "The life of a case", 4). No I/O here."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from rescue_chassis.network import Network, province_key
from rescue_chassis.refusals import Refused
from rescue_events.contracts import PersonCategory

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SIGNATURE_BYTES = 256 * 1024

# Who is sick enough to need a medical escort on the way home.
NEEDS_MEDICAL_ESCORT = {
    PersonCategory.MENTAL_ILLNESS,
    PersonCategory.DEMENTIA,
    PersonCategory.PREGNANT,
}


class ReturnStatus(StrEnum):
    PENDING = "pending"  # waiting for an escort to be planned
    PLANNED = "planned"  # assigned to an escort that has not left
    IN_TRANSIT = "in_transit"
    HANDED_OVER = "handed_over"
    REFUSED = "refused"  # the home area refused; escalated


class EscortStatus(StrEnum):
    PLANNED = "planned"
    DEPARTED = "departed"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Traveller:
    """What planning needs to know about one person going home."""

    return_id: str
    status: ReturnStatus
    escort_station_id: str
    destination_province: str
    sex: str | None
    categories: frozenset[str]
    fit_to_travel: bool | None
    medical_escort_required: bool


@dataclass(frozen=True)
class EscortMember:
    name: str
    sex: str
    role: str  # escort | medical | driver


@dataclass(frozen=True)
class Leg:
    origin: str
    destination: str


def escort_station(network: Network, caring_station: str, cross_province: bool) -> str:
    """Who runs the escort: the center takes over every cross-province return of a
    satellite; local returns stay with the person's own station."""
    return network.center.id if cross_province else caring_station


def needs_medical_escort(traveller: Traveller) -> bool:
    return traveller.medical_escort_required or bool(
        traveller.categories & {c.value for c in NEEDS_MEDICAL_ESCORT}
    )


def check_escort_plan(
    *,
    planning_station: str,
    travellers: Sequence[Traveller],
    staff: Sequence[EscortMember],
    legs: Sequence[Leg],
) -> str:
    """Raise Refused naming the field; returns the destination province."""
    if not travellers:
        raise Refused("return_ids", "an escort takes at least one person")
    for t in travellers:
        if t.escort_station_id != planning_station:
            raise Refused(
                "return_ids", f"return {t.return_id} is escorted by {t.escort_station_id}"
            )
        if t.status is not ReturnStatus.PENDING:
            raise Refused("return_ids", f"return {t.return_id} is {t.status.value}")
        if t.fit_to_travel is False:
            raise Refused("return_ids", f"return {t.return_id}: not fit to travel")
        if t.sex is None:
            # Sex and health decide who must travel along: never plan blind.
            raise Refused(
                "return_ids",
                f"return {t.return_id}: the admission record has not reached transfer yet",
            )
    provinces = {province_key(t.destination_province) for t in travellers}
    if len(provinces) > 1:
        raise Refused("return_ids", "an escort goes to one destination province; split the batch")
    if not any(m.role in ("escort", "medical") for m in staff):
        raise Refused("staff", "at least one escort staff member is needed")
    if any(t.sex == "female" for t in travellers) and not any(
        m.sex == "female" and m.role in ("escort", "medical") for m in staff
    ):
        raise Refused("staff", "a woman or girl travels: a female escort is needed")
    if any(needs_medical_escort(t) for t in travellers) and not any(
        m.role == "medical" for m in staff
    ):
        raise Refused("staff", "a sick person travels: a medical escort is needed")
    if not legs:
        raise Refused("legs", "the itinerary needs at least one leg")
    for i, (a, b) in enumerate(zip(legs, legs[1:], strict=False), start=1):
        if a.destination != b.origin:
            raise Refused(
                f"legs.{i}.origin", f"must continue from {a.destination!r} where leg {i} ends"
            )
    return travellers[0].destination_province


def decode_signature(encoded: str) -> bytes:
    """The receiver's signature: a base64 PNG, bounded in size."""
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("signature_png", "is not base64") from None
    if not image.startswith(PNG_MAGIC):
        raise Refused("signature_png", "is not a PNG image")
    if len(image) > MAX_SIGNATURE_BYTES:
        raise Refused("signature_png", f"is larger than {MAX_SIGNATURE_BYTES} bytes")
    return image


def escort_finished(statuses: Iterable[ReturnStatus]) -> bool:
    return all(s in (ReturnStatus.HANDED_OVER, ReturnStatus.REFUSED) for s in statuses)


def not_future(field: str, moment: datetime | None, now: datetime) -> datetime:
    """When a step happened: as told, or now when not told; never later than now."""
    if moment is not None and moment > now:
        raise Refused(field, "lies in the future")
    return moment or now
