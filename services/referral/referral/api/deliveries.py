"""Ops' view of the deliveries to partner agencies: which are waiting, failed or
overdue, per agency and feed (no message bodies: those are person data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from referral import queries
from referral.deliveries.outbound import Feed
from referral.views import DeliveryStatus, DeliveryView
from rescue_chassis.auth import Role, require_roles
from rescue_chassis.db import SessionDep

router = APIRouter(
    prefix="/deliveries", tags=["deliveries"], dependencies=[require_roles(Role.OPS, Role.ADMIN)]
)


@router.get("", response_model=list[DeliveryView])
async def list_deliveries(
    session: SessionDep,
    status: DeliveryStatus | None = None,
    agency_id: Annotated[str | None, Query(max_length=64)] = None,
    feed: Feed | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Newest first. ``status``: pending / delivered / failed (the webhook),
    unacknowledged / acknowledged / overdue (the receipt)."""
    return await queries.deliveries(session, status, agency_id, feed, limit)
