"""Followup's figures for /metrics: active records and missed revisits."""

from sqlalchemy import case, func, select

from followup.tables import Revisit, StabilisationRecord
from rescue_chassis.metrics import WorkMetric, grouped_count


async def _active(session, now):
    return await grouped_count(
        session,
        select(StabilisationRecord.station_id, func.count())
        .where(StabilisationRecord.status == "active")
        .group_by(StabilisationRecord.station_id),
    )


async def _overdue(session, now):
    kind = case((Revisit.escalated_at.is_not(None), "revisit_escalated"), else_="revisit")
    return await grouped_count(
        session,
        select(StabilisationRecord.station_id, kind, func.count())
        .join(StabilisationRecord, StabilisationRecord.id == Revisit.record_id)
        .where(Revisit.status == "overdue", StabilisationRecord.status == "active")
        .group_by(StabilisationRecord.station_id, kind),
    )


WORK_METRICS = [
    WorkMetric(
        "rescue_stabilisations_active", "Active stabilisation records.", ("station",), _active
    ),
    WorkMetric("rescue_overdue", "Overdue deadlines.", ("station", "kind"), _overdue),
]
