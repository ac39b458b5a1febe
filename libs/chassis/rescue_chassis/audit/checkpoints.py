"""Checkpoints of the audit chain: a verification starts from the latest one.

A checkpoint is a position of the chain found intact, with its entry's hash. The
periodic job ``audit-checkpoint`` walks what was appended since the latest
checkpoint (at most ``CHECKPOINT_WALK`` entries a run) and, when every link holds,
records a new one; ``GET /audit/verification`` then re-checks the checkpointed
entry (its hash recomputed, and equal to the one recorded) and walks on from
there, so a verification costs what was appended since, not the whole chain.

What a checkpoint takes on trust: the entries before it, which the append-only
trigger and the service role's missing rights keep as they were verified. Not
against the database's owner, who can rewrite entries, recompute the hashes after
them and the checkpoints: the anchors held outside the database catch that
(rescue_chassis.audit.anchors), each one checked by the same verification.
``?full=true`` walks from the first entry again (for the auditor's periodic full
check).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from rescue_chassis.audit.anchors import Anchor, broken_anchor
from rescue_chassis.audit.chain import GENESIS, broken_link, row_hash
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.tables import AUDIT_CHECKPOINTS_TABLE

log = logging.getLogger(__name__)

BATCH = 2000  # entries read at once
CHECKPOINT_WALK = 100_000  # entries the job walks a run at most; the next run goes on


@dataclass(frozen=True)
class Checkpoint:
    position: int
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    """A walk of the chain from a checkpoint (or from the start)."""

    ok: bool
    entries: int  # walked after the checkpoint, in chain order, up to the first break
    last_position: int | None  # the last position found intact
    last_hash: str | None
    checkpoint: int | None = None  # the position the walk started after; None: the start
    broken_at: int | None = None
    reason: str | None = None
    anchors: int = 0  # anchors held outside the database that the chain was checked against


class Chain(Protocol):
    """What a verification reads of a chain and its checkpoints."""

    async def latest_checkpoint(self) -> Checkpoint | None: ...

    async def entry(self, position: int) -> Any | None: ...

    async def entries(self, start: int, limit: int) -> Sequence[Any]: ...


async def verify_chain(
    chain: Chain,
    *,
    full: bool = False,
    batch: int = BATCH,
    limit: int | None = None,
    anchors: Sequence[Anchor] = (),
) -> ChainCheck:
    """Walk ``chain`` from its latest checkpoint (from position 1 when ``full`` or
    there is none): each entry must follow the one before and hash to what it says;
    then each of ``anchors`` must still have its hash at its position.
    ``limit``: stop, intact so far, after that many entries."""
    checkpoint = None if full else await chain.latest_checkpoint()
    position, prev_hash = 1, GENESIS
    last_position: int | None = None
    last_hash: str | None = None
    if checkpoint is not None:
        anchor = await chain.entry(checkpoint.position)
        reason = None
        if anchor is None:
            reason = "the checkpointed entry is missing (deleted from the chain)"
        elif anchor.hash != checkpoint.hash or row_hash(anchor) != anchor.hash:
            reason = "the checkpointed entry changed since it was verified"
        if reason is not None:
            return ChainCheck(
                ok=False,
                entries=0,
                last_position=None,
                last_hash=None,
                checkpoint=checkpoint.position,
                broken_at=checkpoint.position,
                reason=reason,
            )
        position, prev_hash = checkpoint.position + 1, checkpoint.hash
        last_position, last_hash = checkpoint.position, checkpoint.hash
    count = 0
    while limit is None or count < limit:
        size = batch if limit is None else min(batch, limit - count)
        rows = await chain.entries(position, size)
        for row in rows:
            if broken := broken_link(row, position, prev_hash):
                return ChainCheck(
                    ok=False,
                    entries=count,
                    last_position=last_position,
                    last_hash=last_hash,
                    checkpoint=checkpoint.position if checkpoint else None,
                    broken_at=broken[0],
                    reason=broken[1],
                )
            count += 1
            position += 1
            last_position, last_hash = row.id, row.hash
            prev_hash = row.hash
        if len(rows) < size:
            break
    for anchor in sorted(set(anchors), key=lambda a: a.position):
        if broken := await broken_anchor(chain, anchor):
            return ChainCheck(
                ok=False,
                entries=count,
                last_position=last_position,
                last_hash=last_hash,
                checkpoint=checkpoint.position if checkpoint else None,
                broken_at=broken[0],
                reason=broken[1],
                anchors=len(set(anchors)),
            )
    return ChainCheck(
        ok=True,
        anchors=len(set(anchors)),
        entries=count,
        last_position=last_position,
        last_hash=last_hash,
        checkpoint=checkpoint.position if checkpoint else None,
    )


class SqlChain:
    """A service's chain in its database, read on one connection (one snapshot
    when the caller's transaction is REPEATABLE READ)."""

    def __init__(self, conn: AsyncConnection, entries: Table, checkpoints: Table) -> None:
        self.conn = conn
        self.t = entries
        self.c = checkpoints

    async def latest_checkpoint(self) -> Checkpoint | None:
        query = select(self.c.c.position, self.c.c.hash).order_by(self.c.c.position.desc())
        row = (await self.conn.execute(query.limit(1))).first()
        return Checkpoint(row.position, row.hash) if row else None

    async def entry(self, position: int) -> Any | None:
        return (await self.conn.execute(select(self.t).where(self.t.c.id == position))).first()

    async def entries(self, start: int, limit: int) -> Sequence[Any]:
        query = select(self.t).where(self.t.c.id >= start).order_by(self.t.c.id).limit(limit)
        return (await self.conn.execute(query)).all()


def checkpoints_table(entries: Table) -> Table:
    """The checkpoints table of the service whose chain is ``entries``."""
    return entries.metadata.tables[AUDIT_CHECKPOINTS_TABLE]


async def verify(
    engine: Any, entries: Table, *, full: bool = False, anchors: Sequence[Anchor] = ()
) -> ChainCheck:
    """Verify a service's chain from its latest checkpoint, and against ``anchors``,
    in one snapshot."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            return await verify_chain(
                SqlChain(conn, entries, checkpoints_table(entries)), full=full, anchors=anchors
            )


class ChainBroken(Exception):
    """The chain does not verify: the checkpoint job refuses to go on."""


async def record_checkpoint(
    conn: AsyncConnection | AsyncSession,
    entries: Table,
    now: datetime,
    *,
    limit: int = CHECKPOINT_WALK,
) -> ChainCheck:
    """Walk on from the latest checkpoint (up to ``limit`` entries) and, if intact and
    further on, record where it got to. A broken chain raises ``ChainBroken``."""
    checkpoints = checkpoints_table(entries)
    conn = conn if isinstance(conn, AsyncConnection) else await conn.connection()
    check = await verify_chain(SqlChain(conn, entries, checkpoints), limit=limit)
    if not check.ok:
        log.error("audit chain broken at %s: %s", check.broken_at, check.reason)
        raise ChainBroken(f"the audit chain is broken at {check.broken_at}: {check.reason}")
    if check.entries:  # further than the latest checkpoint
        await conn.execute(
            pg_insert(checkpoints)
            .values(
                position=check.last_position,
                hash=check.last_hash,
                verified_at=now,
                entries=check.entries,
            )
            .on_conflict_do_nothing(index_elements=["position"])  # another replica's
        )
    return check


def checkpoint_job(entries: Table, limit: int = CHECKPOINT_WALK) -> PeriodicJob:
    """The periodic job verifying what was appended and recording a checkpoint."""

    async def run(session: AsyncSession, now: datetime) -> int:
        check = await record_checkpoint(session, entries, now, limit=limit)
        return 1 if check.entries else 0

    return PeriodicJob("audit-checkpoint", run)


# -- the migration's DDL (frozen: a change is a _v2) ---------------------------------


def create_audit_checkpoints_v1() -> None:
    op.create_table(
        AUDIT_CHECKPOINTS_TABLE,
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("position"),
    )


def drop_audit_checkpoints_v1() -> None:
    op.drop_table(AUDIT_CHECKPOINTS_TABLE)
