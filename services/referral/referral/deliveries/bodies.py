"""What a partner receives of a delivery on the webhook and the pull feed, as of
now: the stored message, and for a police check a fresh photo link (never stored:
it is minted for each post or pull, and dies after the settings' lifetime)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from referral.deliveries.outbound import Feed
from referral.tables import PartnerDelivery
from rescue_chassis import photo_links


def body(delivery: PartnerDelivery, now: datetime, settings: Any) -> dict[str, Any]:
    """The message as the partner sees it now."""
    message = json.loads(delivery.body)
    link = photo_link(delivery, message, now, settings)
    if link is not None:
        message["face_photo_link"], message["face_photo_link_expires_at"] = link
    return message


def posted(delivery: PartnerDelivery, now: datetime, settings: Any) -> bytes:
    """The webhook's body: the stored bytes, unless something is added now."""
    message = body(delivery, now, settings)
    if "face_photo_link" not in message:
        return delivery.body.encode()
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def photo_link(
    delivery: PartnerDelivery, message: dict[str, Any], now: datetime, settings: Any
) -> tuple[str, str] | None:
    """(link, expiry) to the face photo a police check asks about, for the agency
    asked only; None without a photo or while links are not configured."""
    photo_id = message.get("face_photo_id")
    if delivery.feed != Feed.POLICE_CHECK.value or not photo_id:
        return None
    link_settings = photo_links.link_settings(settings)
    if link_settings is None:
        return None
    expires_at = now + timedelta(seconds=settings.photo_link_ttl_seconds)
    link = photo_links.mint(
        link_settings.key,
        link_settings.base_url,
        uuid.UUID(str(photo_id)),
        delivery.agency_id,
        expires_at,
        # the check it is for, signed too: intake's audit of the view names it
        request_id=uuid.UUID(str(message["request_id"])) if message.get("request_id") else None,
    )
    return link, expires_at.isoformat()
