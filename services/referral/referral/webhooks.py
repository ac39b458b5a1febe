"""Webhook delivery for partners that cannot consume Kafka: the partner feed
event, signed, posted and retried with backoff until the partner answers 2xx.

Signature (like Stripe's): ``X-Rescue-Signature: t=<unix seconds>,v1=<hex>``
where hex = HMAC-SHA256(agency secret, "<t>.<body>"). The partner recomputes it
and rejects old timestamps, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.tables import Agency, WebhookDelivery
from rescue_chassis.outbound import OutboundPolicy
from rescue_events.contracts import PartnerReferral
from rescue_events.registry import registry

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Rescue-Signature"
MAX_ATTEMPTS = 10
BATCH = 20


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


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


def delivery(agency: Agency, event: PartnerReferral, now: datetime) -> WebhookDelivery:
    """The feed event as a delivery to the agency's webhook, due now."""
    return WebhookDelivery(
        id=uuid.uuid4(),
        referral_id=event.referral_id,
        agency_id=agency.id,
        event_type=registry.for_model(type(event)).name,
        body=event.model_dump_json(),
        status="pending",
        next_attempt_at=now,
        created_at=now,
    )


async def deliver_due(
    session: AsyncSession,
    now: datetime,
    client: httpx.AsyncClient,
    retry_base: float,
    policy: OutboundPolicy,
) -> int:
    """Post what is due. ``client`` should be ``policy.client()``: it refuses hosts that
    resolve to forbidden addresses; the URL itself is checked here again (rows stored
    before the rules, or under other settings)."""
    due = (
        await session.execute(
            select(WebhookDelivery, Agency)
            .join(Agency, Agency.id == WebhookDelivery.agency_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(BATCH)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
    ).all()
    for delivery, agency in due:
        delivery.attempts += 1
        body = delivery.body.encode()
        try:
            if not agency.webhook_url or not agency.webhook_secret:
                raise ValueError("the agency has no webhook configured any more")
            if (refusal := policy.url_refusal(agency.webhook_url)) is not None:
                raise ValueError(f"webhook_url refused: {refusal}")
            response = await client.post(
                agency.webhook_url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Rescue-Event-Type": delivery.event_type,
                    "X-Rescue-Delivery-Id": str(delivery.id),
                    SIGNATURE_HEADER: sign(agency.webhook_secret, int(now.timestamp()), body),
                },
            )
            if response.is_success:
                delivery.status = "delivered"
                delivery.delivered_at = now
                delivery.last_error = None
                continue
            error = f"HTTP {response.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        delivery.last_error = error
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"  # ops sees it; the partner topic still has it
            log.error("webhook %s to %s failed for good: %s", delivery.id, agency.id, error)
        else:
            delay = min(retry_base * 2 ** (delivery.attempts - 1), 3600)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
    return len(due)
