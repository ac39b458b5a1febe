"""The auditors' routes (roles ``auditor``, ``admin``): the entries, a walk of the
chain from its latest checkpoint checked against the anchors held outside the
database, and an anchor taken on demand. Their reading is itself audited.

Entries are scoped like everything else (``rescue_chassis.audit.scope``): a
station's auditor sees its station's entries, the center's the network's. The
verification shows no entry, only whether the chain holds: every auditor may run it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from rescue_chassis.audit import checkpoints
from rescue_chassis.audit.anchors import ANCHOR_PATTERN, MAX_ANCHORS, Anchor
from rescue_chassis.audit.middleware import write_record
from rescue_chassis.audit.scope import entries_station
from rescue_chassis.audit.writer import AuditTrail
from rescue_chassis.auth import PrincipalDep, Role, require_roles
from rescue_chassis.moments import PeriodInstant, ensure_period
from rescue_chassis.problems import Problem
from rescue_events.contracts.audit import AuditAction
from rescue_events.driver import begun

router = APIRouter(
    prefix="/audit", tags=["audit"], dependencies=[require_roles(Role.AUDITOR, Role.ADMIN)]
)


class AuditEntryView(BaseModel):
    position: int
    at: datetime
    subject: str
    station_id: str
    roles: list[str]
    action: str
    method: str
    route: str
    record_ids: dict[str, Any]
    fields: list[str] | None
    purpose: str | None
    status_code: int
    correlation_id: str | None
    prev_hash: str
    hash: str


class VerificationView(BaseModel):
    ok: bool
    service: str
    entries: int = Field(description="Entries checked in chain order, up to the first break.")
    last_position: int | None
    last_hash: str | None = Field(
        description="Keep it: a later verification that does not reach it means lost entries."
    )
    broken_at: int | None = Field(description="The first position that does not verify.")
    reason: str | None
    checkpoint: int | None = Field(
        default=None,
        description="The checkpoint the walk started from (its entry checked again); "
        "null: from the first entry. ``entries`` counts those after it.",
    )
    anchors: int = Field(
        default=0, description="Anchors (held outside the database) the chain was checked against."
    )


class AnchorView(BaseModel):
    service: str
    position: int = Field(description="The anchored entry: the chain's head.")
    hash: str
    entry_at: datetime
    anchored_at: datetime


def _trail(request: Request) -> AuditTrail:
    return request.app.state.audit


@router.get("/entries", response_model=list[AuditEntryView])
async def audit_entries(
    request: Request,
    principal: PrincipalDep,
    subject: str | None = None,
    record_id: Annotated[
        str | None, Query(description="Any record id: a person, case, report…")
    ] = None,
    station_id: str | None = None,
    action: AuditAction | None = None,
    since: PeriodInstant | None = None,
    until: PeriodInstant | None = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Only positions after this one.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryView]:
    """Entries in chain order; page on with ``after`` = the last position seen. A
    station's auditor sees its station's entries (another ``station_id`` is a 403)."""
    if since is not None and until is not None:
        ensure_period(since, until, start_name="since", end_name="until", end_inclusive=False)
    trail = _trail(request)
    station_id = entries_station(principal, trail.runtime.network, station_id)
    t = trail.table
    query = select(t).order_by(t.c.id).limit(limit)
    if subject is not None:
        query = query.where(t.c.subject == subject)
    if record_id is not None:
        query = query.where(t.c.record_values.contains([record_id]))
    if station_id is not None:
        query = query.where(t.c.station_id == station_id)
    if action is not None:
        query = query.where(t.c.action == action.value)
    if since is not None:
        query = query.where(t.c.at >= since)
    if until is not None:
        query = query.where(t.c.at < until)
    if after is not None:
        query = query.where(t.c.id > after)
    async with trail.runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [AuditEntryView(position=r["id"], **r) for r in rows]


@router.get("/verification", response_model=VerificationView)
async def audit_verification(
    request: Request,
    full: Annotated[
        bool, Query(description="Walk from the first entry, not from the latest checkpoint.")
    ] = False,
    anchor: Annotated[
        list[str],
        Query(
            max_length=MAX_ANCHORS,
            description="Anchors of this chain as the summary service keeps them "
            "(GET /audit/anchors/{service} there), as position:hash; each must still hold.",
            examples=["1024:" + "0" * 64],
        ),
    ] = [],  # noqa: B006 - FastAPI copies a query list's default
) -> VerificationView:
    """Walks this service's chain from its latest checkpoint and recomputes every
    hash, then checks the chain still has each given anchor's hash at its position:
    ``ok``, or the first position that does not verify and why."""
    anchors = []
    for text in anchor:
        if not re.fullmatch(ANCHOR_PATTERN, text):
            raise Problem(
                422, "Invalid anchor", f"anchor: {text[:80]!r} is not position:sha256-hex."
            )
        anchors.append(Anchor.parse(text))
    trail = _trail(request)
    result = await checkpoints.verify(trail.runtime.engine, trail.table, full=full, anchors=anchors)
    return VerificationView(service=trail.service, **vars(result))


@router.post(
    "/anchors",
    status_code=202,
    response_model=AnchorView,
    responses={409: {"description": "The chain is empty: nothing to anchor."}},
)
async def anchor_chain(request: Request, principal: PrincipalDep) -> AnchorView:
    """Anchor this service's chain now: its head is published as
    ``audit_chain_anchored`` (once the relay sends it) for the summary service to keep."""
    trail = _trail(request)
    record = write_record(request.scope)
    async with trail.runtime.sessions() as session, session.begin():
        driver = await begun(session)
        head = await trail.head(driver)
        if head is None:
            raise Problem(409, "Nothing to anchor", f"{trail.service}'s audit chain is empty.")
        anchor = await trail.stage_anchor(driver, head)
        view = AnchorView(**anchor.model_dump(exclude={"person_id"}))
        if record is not None:  # this request's entry commits with the anchor
            await record.stage(session, principal, 202, view.model_dump(mode="json"))
    if record is not None:
        record.committed()
    return view
