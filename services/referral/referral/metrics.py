"""Referral's figures for /metrics: open referrals and missed partner deadlines."""

from sqlalchemy import func, literal, select, union_all

from referral.domain import OPEN
from referral.tables import Referral
from rescue_chassis.metrics import WorkMetric, grouped_count

OPEN_STATUSES = [s.value for s in OPEN]


async def _open(session, now):
    return await grouped_count(
        session,
        select(Referral.station_id, Referral.partner_type, func.count())
        .where(Referral.status.in_(OPEN_STATUSES))
        .group_by(Referral.station_id, Referral.partner_type),
    )


async def _overdue(session, now):
    def late(kind: str, marker, statuses):
        return (
            select(Referral.station_id, literal(kind), func.count())
            .where(marker.is_not(None), Referral.status.in_(statuses))
            .group_by(Referral.station_id)
        )

    return await grouped_count(
        session,
        union_all(
            late("referral_acknowledgement", Referral.acknowledgement_overdue_at, ["sent"]),
            late("referral_action", Referral.action_overdue_at, ["accepted", "in_progress"]),
        ),
    )


WORK_METRICS = [
    WorkMetric("rescue_referrals_open", "Open referrals.", ("station", "partner_type"), _open),
    WorkMetric("rescue_overdue", "Overdue deadlines.", ("station", "kind"), _overdue),
]
