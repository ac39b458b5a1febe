"""The pull feed of a partner agency: every message delivered to it (referrals,
police checks and DNA samples, incidents, escalations, return notices) after a
cursor, for agencies that can neither consume Kafka nor run a webhook, and its
acknowledgement of one. Only the caller's agency's."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from referral.deliveries import feed
from referral.deliveries.feed import AcknowledgeDelivery, FeedItem, FeedPage, ReadFeed
from referral.deliveries.outbound import Feed
from rescue_chassis.access import PARTNER_TYPES
from rescue_chassis.audit import PURPOSE_HEADER, Access
from rescue_chassis.auth import Principal, PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts.audit import AuditAction

router = APIRouter(
    prefix="/partner/feed",
    tags=["partner API"],
    dependencies=[require_roles(*PARTNER_TYPES)],
)


@router.get("", response_model=FeedPage)
async def my_feed(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    since: Annotated[int, Query(ge=0, description="The last cursor seen; 0: from the start.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    feed_name: Annotated[Feed | None, Query(alias="feed")] = None,
):
    """The caller's agency's deliveries after ``since``, oldest first; ask again from
    ``next``. A police check carries a fresh photo link that expires soon."""
    command = ReadFeed(since=since, limit=limit, feed=feed_name)
    page = await feed.read_feed(command, UnitOfWork(session, runtime, principal))
    await _on_record(request, principal, page)
    return page


@router.post("/{delivery_id}/acknowledgement", response_model=FeedItem)
async def acknowledge(delivery_id: uuid.UUID, run: Run):
    """The agency has the message (again: the first acknowledgement stands)."""
    return await run(feed.acknowledge_delivery, AcknowledgeDelivery(delivery_id=delivery_id))


async def _on_record(request: Request, principal: Principal, page: FeedPage) -> None:
    """Which persons' messages the page showed, on the audit trail before it leaves
    (the trail's own entry of the request names the page's fields only)."""
    if not page.items:
        return
    purpose = request.headers.get(PURPOSE_HEADER, "")
    purpose = "".join(c for c in purpose if c.isprintable()).strip()[:200] or None
    await request.app.state.audit.append(
        Access.of(
            principal,
            action=AuditAction.READ.value,
            method="GET",
            route=router.prefix,
            record_ids={
                "listed_ids": [str(item.delivery_id) for item in page.items],
                "listed_person_ids": list(dict.fromkeys(str(i.person_id) for i in page.items)),
            },
            fields=sorted(FeedItem.model_fields),
            purpose=purpose,
            status_code=200,
            correlation_id=request.headers.get("X-Correlation-Id"),
        )
    )
