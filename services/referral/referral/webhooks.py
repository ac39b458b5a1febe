"""The deliveries' webhook channel (referral.deliveries), for partners that cannot
consume Kafka: each delivery, signed, posted and retried with backoff until the
partner answers 2xx, or failed after MAX_ATTEMPTS (still on the topic and the pull feed).

Signature (like Stripe's): ``X-Rescue-Signature: t=<unix seconds>,v1=<hex>``
where hex = HMAC-SHA256(agency secret, "<t>.<body>"). The partner recomputes it
and rejects old timestamps, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.tables import Agency, PartnerDelivery
from rescue_chassis.outbound import OutboundPolicy

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Rescue-Signature"
MAX_ATTEMPTS = 10
BATCH = 20


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def stored_body(delivery: PartnerDelivery, now: datetime) -> bytes:
    return delivery.body.encode()


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a partner runs on receipt (and the tests, as a partner would)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


async def deliver_due(
    session: AsyncSession,
    now: datetime,
    client: httpx.AsyncClient,
    retry_base: float,
    policy: OutboundPolicy,
    body_of: Callable[[PartnerDelivery, datetime], bytes] = stored_body,
    on_failed: Callable[[PartnerDelivery], Awaitable[None]] | None = None,
) -> int:
    """Post what is due. ``client`` should be ``policy.client()``: it refuses hosts that
    resolve to forbidden addresses; the URL itself is checked here again (rows stored
    before the rules, or under other settings). ``body_of``: what is posted, as of now
    (a police check gets a fresh photo link, never stored); ``on_failed``: told of
    each delivery given up."""
    due = (
        await session.execute(
            select(PartnerDelivery, Agency)
            .join(Agency, Agency.id == PartnerDelivery.agency_id)
            .where(
                PartnerDelivery.webhook_status == "pending",
                PartnerDelivery.webhook_next_attempt_at <= now,
            )
            .order_by(PartnerDelivery.webhook_next_attempt_at)
            .limit(BATCH)
            .with_for_update(of=PartnerDelivery, skip_locked=True)
        )
    ).all()
    for delivery, agency in due:
        delivery.webhook_attempts += 1
        try:
            if not agency.webhook_url or not agency.webhook_secret:
                raise ValueError("the agency has no webhook configured any more")
            if (refusal := policy.url_refusal(agency.webhook_url)) is not None:
                raise ValueError(f"webhook_url refused: {refusal}")
            body = body_of(delivery, now)
            response = await client.post(
                agency.webhook_url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Rescue-Event-Type": delivery.event_type,
                    "X-Rescue-Feed": delivery.feed,
                    "X-Rescue-Delivery-Id": str(delivery.id),
                    "X-Rescue-Cursor": str(delivery.cursor),
                    SIGNATURE_HEADER: sign(agency.webhook_secret, int(now.timestamp()), body),
                },
            )
            if response.is_success:
                delivery.webhook_status = "delivered"
                delivery.webhook_delivered_at = now
                delivery.webhook_last_error = None
                continue
            error = f"HTTP {response.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        delivery.webhook_last_error = error
        if delivery.webhook_attempts >= MAX_ATTEMPTS:
            # ops see it (GET /deliveries, metrics); the topic and pull feed still have it
            delivery.webhook_status = "failed"
            log.error("webhook %s to %s failed for good: %s", delivery.id, agency.id, error)
            if on_failed is not None:
                await on_failed(delivery)
        else:
            delay = min(retry_base * 2 ** (delivery.webhook_attempts - 1), 3600)
            delivery.webhook_next_attempt_at = now + timedelta(seconds=delay)
    return len(due)
