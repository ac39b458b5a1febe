"""Referral's figures for /metrics: open referrals, missed partner deadlines, and
the deliveries to partners (webhooks waiting or given up, receipts overdue)."""

from sqlalchemy import func, literal, select, union_all

from referral.domain import OPEN
from referral.tables import PartnerDelivery, Referral
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


def _deliveries(*where):
    D = PartnerDelivery

    async def read(session, now):
        return await grouped_count(
            session,
            select(D.agency_id, D.feed, func.count()).where(*where).group_by(D.agency_id, D.feed),
        )

    return read


async def _oldest_pending(session, now):
    D = PartnerDelivery
    rows = await session.execute(
        select(D.agency_id, func.min(D.created_at))
        .where(D.webhook_status == "pending")
        .group_by(D.agency_id)
    )
    return [((agency,), max((now - oldest).total_seconds(), 0.0)) for agency, oldest in rows]


WORK_METRICS = [
    WorkMetric("rescue_referrals_open", "Open referrals.", ("station", "partner_type"), _open),
    WorkMetric("rescue_overdue", "Overdue deadlines.", ("station", "kind"), _overdue),
    WorkMetric(
        "rescue_partner_deliveries_pending",
        "Deliveries whose webhook is still to be accepted by the partner.",
        ("agency", "feed"),
        _deliveries(PartnerDelivery.webhook_status == "pending"),
    ),
    WorkMetric(
        "rescue_partner_deliveries_failed",
        "Deliveries whose webhook was given up (the topic and pull feed still have them).",
        ("agency", "feed"),
        _deliveries(PartnerDelivery.webhook_status == "failed"),
    ),
    WorkMetric(
        "rescue_partner_delivery_oldest_pending_age_seconds",
        "Age of the oldest delivery whose webhook is still pending.",
        ("agency",),
        _oldest_pending,
    ),
    WorkMetric(
        "rescue_partner_deliveries_overdue",
        "Deliveries flagged overdue: not acknowledged by their deadline, and still not.",
        ("agency", "feed"),
        _deliveries(
            PartnerDelivery.overdue_flagged_at.is_not(None),
            PartnerDelivery.acknowledged_at.is_(None),
        ),
    ),
]
