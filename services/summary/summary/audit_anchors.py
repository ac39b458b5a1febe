"""The anchors of every service's audit chain, kept outside that service's database
(rescue_chassis.audit.anchors): consumed from ``rescue.audit``, never changed, and
read by auditors to verify a chain (``GET /audit/verification?anchor=`` on the
service).

An anchor that arrives for a position already anchored with another hash does not
replace the first: it is noted beside it (``contradicted_by``), the sign of a
chain rewritten between the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Column, DateTime, String, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.access import AUDITORS
from rescue_chassis.auth import require_roles
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_events.contracts.audit import AuditChainAnchoredV1
from rescue_events.envelope import Envelope
from summary.tables import metadata

SERVICE_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"


anchors = Table(
    "audit_anchors",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("entry_at", DateTime(timezone=True), nullable=False),
    Column("anchored_at", DateTime(timezone=True), nullable=False),
    Column("event_id", String(64), nullable=False),
    # A later anchor of this position with another hash: the chain was rewritten.
    Column("contradicted_by", String(64), nullable=True),
)


def handlers(runtime: Runtime):
    async def when_chain_anchored_keep_anchor(
        session: AsyncSession, event: AuditChainAnchoredV1, envelope: Envelope
    ) -> None:
        new = pg_insert(anchors).values(
            service=event.service,
            position=event.position,
            hash=event.hash,
            entry_at=event.entry_at,
            anchored_at=event.anchored_at,
            event_id=envelope.id,
        )
        await session.execute(
            new.on_conflict_do_update(
                index_elements=[anchors.c.service, anchors.c.position],
                set_={"contradicted_by": new.excluded.hash},
                where=(anchors.c.hash != new.excluded.hash) & anchors.c.contradicted_by.is_(None),
            )
        )

    return {AuditChainAnchoredV1: when_chain_anchored_keep_anchor}


class AnchorView(BaseModel):
    service: str
    position: int
    hash: str
    entry_at: datetime
    anchored_at: datetime
    contradicted_by: str | None = Field(
        description="Another hash anchored later for this position: the chain was rewritten."
    )
    anchor: str = Field(description="position:hash, as GET /audit/verification takes it.")


router = APIRouter(prefix="/audit/anchors", tags=["audit"], dependencies=[require_roles(*AUDITORS)])


@router.get("/{service}", response_model=list[AnchorView])
async def audit_anchors_of(
    service: Annotated[str, Path(pattern=SERVICE_PATTERN, examples=["intake"])],
    runtime: RuntimeDep,
    before: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="Only anchors of positions before this one."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> list[AnchorView]:
    """The anchors kept of a service's audit chain, the latest first; page on with
    ``before`` = the last position seen."""
    query = select(anchors).where(anchors.c.service == service)
    if before is not None:
        query = query.where(anchors.c.position < before)
    query = query.order_by(anchors.c.position.desc()).limit(limit)
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        AnchorView(
            service=r["service"],
            position=r["position"],
            hash=r["hash"],
            entry_at=r["entry_at"],
            anchored_at=r["anchored_at"],
            contradicted_by=r["contradicted_by"],
            anchor=f"{r['position']}:{r['hash']}",
        )
        for r in rows
    ]
