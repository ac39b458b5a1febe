"""Transfer's figures for /metrics: returns by escorting station and status."""

from sqlalchemy import func, select

from rescue_chassis.metrics import WorkMetric, grouped_count
from transfer.tables import Return


async def _returns(session, now):
    return await grouped_count(
        session,
        select(Return.escort_station_id, Return.status, func.count()).group_by(
            Return.escort_station_id, Return.status
        ),
    )


WORK_METRICS = [
    WorkMetric(
        "rescue_returns",
        "Returns by escorting station and status.",
        ("station", "status"),
        _returns,
    ),
]
