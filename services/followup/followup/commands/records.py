"""A stabilisation record as the use cases reach it: in the caller's scope, and
still open for work. Station staff see their station's records (the center all);
a town official sees the records whose registered home lies in its area."""

from __future__ import annotations

import re
import uuid

from followup.domain import RecordStatus
from followup.tables import StabilisationRecord
from rescue_chassis.access import STATION_ROLES, STATION_WORK, TOWNS
from rescue_chassis.auth import Principal, Role
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import Conflict, Forbidden, NotFound

# A town's (乡镇街道, 9 digits) or a village's (村居, 12) code: what a town token names.
_AREA = re.compile(r"[0-9]{9}([0-9]{3})?")


def town_area(actor: Principal | None) -> str | None:
    """The area a town official works in (its token's station_id claim carries the
    town or village code), or None for everyone else. A town token naming no such
    code is a 403: it would otherwise see nothing, or too much."""
    if actor is None or not actor.has_any(*TOWNS) or actor.has_any(*STATION_ROLES):
        return None
    if not _AREA.fullmatch(actor.station_id):
        raise Forbidden(
            "Unknown area",
            f"A town official's token names a town (9 digits) or village (12) code, "
            f"not {actor.station_id!r}.",
        )
    return actor.station_id


def in_area(record: StabilisationRecord, area: str) -> bool:
    """The record's registered home lies in the town or village."""
    return bool(record.home_admin_code) and record.home_admin_code.startswith(area)


def acting_role(actor: Principal | None) -> str | None:
    """The role a revisit is recorded under: the town's, or the caller's station role."""
    if actor is None:
        return None
    if town_area(actor) is not None:
        return Role.TOWN_OFFICIAL.value
    return next((r.value for r in STATION_WORK if r.value in actor.roles), None)


def record_stations(record: StabilisationRecord) -> tuple[str, ...]:
    """Who sees a record: its station and the station that escorted the person."""
    return tuple(s for s in (record.station_id, record.escort_station_id) if s)


async def load_record(
    uow: UnitOfWork, record_id: uuid.UUID, *, lock: bool = False
) -> StabilisationRecord:
    """The record, or a 404 when there is none the caller may see."""
    area = town_area(uow.actor)
    if area is None:
        return await uow.load(
            StabilisationRecord,
            record_id,
            what="stabilisation record",
            lock=lock,
            stations=record_stations,
        )
    record = await uow.get(StabilisationRecord, record_id, lock=lock)
    if record is None or not in_area(record, area):
        raise NotFound("stabilisation record")
    return record


def ensure_active(record: StabilisationRecord) -> None:
    if record.status != RecordStatus.ACTIVE.value:
        raise Conflict("Record closed", f"The record is closed ({record.outcome}).")
