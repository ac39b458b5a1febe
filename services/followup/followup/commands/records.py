"""A stabilisation record as the use cases reach it: in the caller's scope, and
still open for work."""

from __future__ import annotations

import uuid

from followup.domain import RecordStatus
from followup.tables import StabilisationRecord
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import Conflict


def record_stations(record: StabilisationRecord) -> tuple[str, ...]:
    """Who sees a record: its station and the station that escorted the person."""
    return tuple(s for s in (record.station_id, record.escort_station_id) if s)


async def load_record(
    uow: UnitOfWork, record_id: uuid.UUID, *, lock: bool = False
) -> StabilisationRecord:
    """The record, or a 404 when there is none the caller may see."""
    return await uow.load(
        StabilisationRecord,
        record_id,
        what="stabilisation record",
        lock=lock,
        stations=record_stations,
    )


def ensure_active(record: StabilisationRecord) -> None:
    if record.status != RecordStatus.ACTIVE.value:
        raise Conflict("Record closed", f"The record is closed ({record.outcome}).")
