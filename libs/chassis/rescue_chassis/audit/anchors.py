"""Anchors: the head of a service's audit chain (position, hash, when), published
outside the service's database as ``audit_chain_anchored`` on ``rescue.audit``
(keyed by the service) and kept by the summary service (``GET /audit/anchors/
{service}`` there, for auditors).

Why: the append-only trigger and the service role's missing rights do not stop
the database's owner, who can rewrite an entry and recompute every hash after
it, checkpoints included; the chain then verifies on its own. An anchor taken
before the rewrite cannot be recomputed: the rewritten chain no longer has the
anchored hash at the anchored position.

When: every ``<SERVICE>_AUDIT_ANCHOR_INTERVAL_SECONDS`` (the ``audit-anchor`` job
checks at each periodic sweep, anchoring a head that moved), in the transaction
of the append that passes a multiple of ``<SERVICE>_AUDIT_ANCHOR_EVERY_ENTRIES``
(0: never), and on demand (``POST /audit/anchors``).

Verification: ``GET /audit/verification?anchor=<position>:<hash>`` checks the
anchors its caller brings from the summary service's store (the latest few, or
any older one): the service never vouches for its own anchors, which a database
owner could forge in its outbox. A forged anchor cannot remove the summary's
earlier ones: each is checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.audit.chain import row_hash
from rescue_chassis.periodic import PeriodicJob
from rescue_events.driver import begun

MAX_ANCHORS = 20  # checked by one verification (they travel in its URL)
ANCHOR_PATTERN = r"^[1-9][0-9]{0,18}:[0-9a-f]{64}$"


class AnchorSettings(BaseSettings):
    """How often a service anchors its chain; read with the service's env prefix."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    audit_anchor_interval_seconds: float = 300.0
    audit_anchor_every_entries: int = 10_000


def anchor_settings(service_settings: BaseSettings) -> AnchorSettings:
    prefix = service_settings.model_config.get("env_prefix", "")
    return AnchorSettings(_env_prefix=prefix)  # type: ignore[call-arg]


@dataclass(frozen=True)
class Anchor:
    """A position of the chain and the hash its entry had when anchored."""

    position: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        position, _, hash_ = text.partition(":")
        return cls(int(position), hash_)


def anchor_job(trail: Any, interval_seconds: float) -> PeriodicJob:
    """Anchor the chain's head when it moved since this process's last anchor and
    ``interval_seconds`` have passed (the first sweep, at start, anchors at once)."""
    last_at: list[float] = []  # monotonic time of this process's last anchor

    async def run(session: AsyncSession, now: datetime) -> int:
        if last_at and time.monotonic() - last_at[0] < interval_seconds:
            return 0
        driver = await begun(session)
        head = await trail.head(driver)
        last = trail.last_anchor
        if head is None or (last is not None and last.position == head.position):
            return 0
        await trail.stage_anchor(driver, head)
        last_at[:] = [time.monotonic()]
        return 1

    return PeriodicJob("audit-anchor", run)


async def broken_anchor(chain: Any, anchor: Anchor) -> tuple[int, str] | None:
    """Where and why the chain contradicts ``anchor``; None when it holds it."""
    entry = await chain.entry(anchor.position)
    if entry is None:
        return anchor.position, (
            f"the anchored entry {anchor.position} is missing: the chain was cut below an "
            "anchor held outside the database"
        )
    if entry.hash != anchor.hash:
        return anchor.position, (
            f"entry {anchor.position} no longer has the hash anchored outside the database: "
            "the chain was rewritten at or below it"
        )
    if row_hash(entry) != entry.hash:
        return anchor.position, "the anchored entry does not hash to its recorded hash (altered)"
    return None
