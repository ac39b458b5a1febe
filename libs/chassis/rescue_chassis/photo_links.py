"""Short-lived signed links to a person's photo for the police.

A police agency asked to identify a person fetches the face photo from intake's
``GET /partner/photos/{photo_id}?agency=..&expires=..&signature=..``. The link
names the photo, the agency it was made for and when it expires (Unix seconds);
the signature is HMAC-SHA256 under the network's photo-link key over the three
(and, when given, the identity check it is for: ``request_id``, which intake's
audit trail then records with the view), so none can be changed. Intake also
requires the agency's own partner token: a leaked link alone opens nothing.

The key and intake's public base URL are settings every service may read
(``RESCUE_PHOTO_LINK_KEY``, ``RESCUE_PHOTO_LINK_BASE_URL``: ``ServiceSettings``);
``link_settings`` gives both, or None while they are not configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import quote, urlencode

# Long enough to open the request and look; short enough that a forwarded link dies.
DEFAULT_LIFETIME = timedelta(minutes=15)
MIN_KEY_BYTES = 32


class LinkRefusal(NamedTuple):
    """Why a link is refused: the query parameter at fault and the reason."""

    field: str  # "expires" | "agency" | "signature"
    reason: str


def _message(
    photo_id: uuid.UUID, agency_id: str, expires: int, request_id: uuid.UUID | None
) -> bytes:
    # one field per line: an agency id cannot carry a newline into another field
    text = f"rescue-photo-link/v1\n{photo_id}\n{agency_id}\n{expires}"
    return (text if request_id is None else f"{text}\n{request_id}").encode()


def sign(
    key: bytes,
    photo_id: uuid.UUID,
    agency_id: str,
    expires: int,
    request_id: uuid.UUID | None = None,
) -> str:
    """The link's signature (base64url, no padding)."""
    message = _message(photo_id, agency_id, expires, request_id)
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mint(
    key: bytes,
    base_url: str,
    photo_id: uuid.UUID,
    agency_id: str,
    expires_at: datetime,
    *,
    request_id: uuid.UUID | None = None,
) -> str:
    """The URL through which ``agency_id`` may fetch the photo until ``expires_at``;
    with ``request_id``, for that identity check (signed too, and audited)."""
    _check_key(key)
    if not agency_id or "\n" in agency_id:
        raise ValueError("agency_id must be a non-empty single-line id")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must carry a time zone")
    expires = int(expires_at.timestamp())
    query = {"agency": agency_id, "expires": expires}
    if request_id is not None:
        query["request_id"] = str(request_id)
    query["signature"] = sign(key, photo_id, agency_id, expires, request_id)
    return f"{base_url.rstrip('/')}/partner/photos/{quote(str(photo_id))}?{urlencode(query)}"


def check(
    key: bytes,
    photo_id: uuid.UUID,
    agency_id: str,
    expires: int,
    signature: str,
    now: datetime,
    *,
    request_id: uuid.UUID | None = None,
) -> LinkRefusal | None:
    """None when the link (as presented: the agency it names, its expiry and
    signature) is genuine and unexpired; else why not. The signature is compared in
    constant time and first, so a changed expiry is a bad signature, not a late one."""
    _check_key(key)
    expected = sign(key, photo_id, agency_id, expires, request_id)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return LinkRefusal("signature", "does not match this photo, agency and expiry")
    if now.timestamp() >= expires:
        return LinkRefusal("expires", "the link has expired: ask for the check's photo again")
    return None


def check_caller(
    key: bytes,
    photo_id: uuid.UUID,
    agency_id: str,
    expires: int,
    signature: str,
    now: datetime,
    caller_agency: str | None,
    *,
    request_id: uuid.UUID | None = None,
) -> LinkRefusal | None:
    """As ``check``, and the link must have been made for the caller's own agency."""
    refused = check(key, photo_id, agency_id, expires, signature, now, request_id=request_id)
    if refused is None and caller_agency != agency_id:
        return LinkRefusal("agency", "the link was made for another agency")
    return refused


def expiry(now: datetime, lifetime: timedelta = DEFAULT_LIFETIME) -> datetime:
    """When a link minted now expires."""
    return now + lifetime


class LinkSettings(NamedTuple):
    key: bytes
    base_url: str


def link_settings(settings: object) -> LinkSettings | None:
    """The photo-link key and intake's base URL from a service's settings, or None
    when either is unset (links are then neither made nor honoured)."""
    secret = getattr(settings, "photo_link_key", None)
    base_url = getattr(settings, "photo_link_base_url", None)
    if secret is None or not base_url:
        return None
    return LinkSettings(key_bytes(secret.get_secret_value()), base_url)


def key_bytes(secret: str) -> bytes:
    return secret.encode()


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the photo-link key must be at least {MIN_KEY_BYTES} bytes")
