from __future__ import annotations

import uuid

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from followup.domain import RecordStatus
from followup.tables import StabilisationRecord
from rescue_chassis.access import ensure_visible, sees_network
from rescue_chassis.auth import Principal
from rescue_chassis.problems import Problem
from rescue_chassis.runtime import Runtime


async def load_record(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    record_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> StabilisationRecord:
    record = await session.get(StabilisationRecord, record_id, with_for_update=for_update)
    if record is None:
        raise Problem(404, "Not found", "No such stabilisation record.")
    ensure_visible(
        principal,
        runtime.network,
        "stabilisation record",
        record.station_id,
        record.escort_station_id,
    )
    return record


def ensure_active(record: StabilisationRecord) -> None:
    if record.status != RecordStatus.ACTIVE.value:
        raise Problem(409, "Record closed", f"The record is closed ({record.outcome}).")


def scoped(query, principal: Principal, runtime: Runtime):
    """Records of the caller's station (or escorted by it); the center sees all."""
    if sees_network(principal, runtime.network):
        return query
    return query.where(
        or_(
            StabilisationRecord.station_id == principal.station_id,
            StabilisationRecord.escort_station_id == principal.station_id,
        )
    )
