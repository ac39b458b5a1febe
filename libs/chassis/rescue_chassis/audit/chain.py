"""Entries and the hash chain: what one access records, the hash linking each
entry to the one before, and the check a verification makes of each link."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rescue_chassis.auth import Principal

GENESIS = "0" * 64  # the prev_hash of position 1


@dataclass(frozen=True)
class Access:
    """One access to record, before it has a place in the chain."""

    subject: str
    station_id: str
    roles: tuple[str, ...]
    action: str
    method: str
    route: str
    record_ids: dict[str, Any]
    fields: list[str] | None
    purpose: str | None
    status_code: int
    correlation_id: str | None

    @classmethod
    def of(cls, principal: Principal, **rest: Any) -> Access:
        return cls(
            subject=principal.subject[:200],
            station_id=principal.station_id[:64],
            roles=tuple(sorted(r[:64] for r in principal.roles))[:20],
            **rest,
        )


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes an entry's hash is taken over: sorted keys, no whitespace, UTF-8."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(
    *,
    position: int,
    at: datetime,
    subject: str,
    station_id: str,
    roles: Iterable[str],
    action: str,
    method: str,
    route: str,
    record_ids: dict[str, Any],
    fields: list[str] | None,
    purpose: str | None,
    status_code: int,
    correlation_id: str | None,
    prev_hash: str,
) -> str:
    document = {
        "position": position,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "subject": subject,
        "station_id": station_id,
        "roles": sorted(roles),
        "action": action,
        "method": method,
        "route": route,
        "record_ids": record_ids,
        "fields": fields,
        "purpose": purpose,
        "status_code": status_code,
        "correlation_id": correlation_id,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(document)).hexdigest()


def row_hash(row: Any) -> str:
    """The hash an entry read back from the table should have."""
    return entry_hash(
        position=row.id,
        at=row.at,
        subject=row.subject,
        station_id=row.station_id,
        roles=row.roles,
        action=row.action,
        method=row.method,
        route=row.route,
        record_ids=row.record_ids,
        fields=row.fields,
        purpose=row.purpose,
        status_code=row.status_code,
        correlation_id=row.correlation_id,
        prev_hash=row.prev_hash,
    )


def broken_link(row: Any, position: int, prev_hash: str) -> tuple[int, str] | None:
    """Where and why ``row``, expected at ``position`` after an entry hashing to
    ``prev_hash``, breaks the chain; None when it follows on."""
    if row.id != position:
        return position, f"entries {position}..{row.id - 1} are missing (deleted from the chain)"
    if row.prev_hash != prev_hash:
        return row.id, (
            f"prev_hash does not match the hash of entry {row.id - 1} "
            "(that entry or this link was altered)"
        )
    if row_hash(row) != row.hash:
        return row.id, "the entry does not hash to its recorded hash (it was altered)"
    return None


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int  # checked, in chain order, up to the first break
    last_position: int | None
    last_hash: str | None  # keep it: a later walk that does not reach it lost its tail
    broken_at: int | None = None
    reason: str | None = None
