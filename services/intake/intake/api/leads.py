"""Hotline tips (线索): a call to the 24-hour hotline about someone who may need
help. received → triaged → assigned → closed; a closure with outcome
`admitted` admits the person in the same transaction, under the person id
minted when the lead came in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from intake.api.persons import AdmissionRequest, admit
from intake.domain import (
    AdmissionRefused,
    LeadStatus,
    OutOfOrder,
    check_lead_closure,
    check_moment,
    lead_assignment,
    lead_closure,
    lead_triage,
)
from intake.tables import Lead, tables
from rescue_chassis.access import (
    STATION_WORK,
    can_see,
    ensure_known_station,
    ensure_visible,
    sees_network,
)
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_events.contracts.intake_arrivals import (
    LeadAssignedV1,
    LeadClosedV1,
    LeadOutcome,
    LeadPriority,
    LeadReceivedV1,
    LeadTriagedV1,
)

router = APIRouter(prefix="/leads", tags=["leads"], dependencies=[require_roles(*STATION_WORK)])

Note = Annotated[str, Field(min_length=1, max_length=2000)]


class LeadReport(BaseModel):
    """What the caller reported."""

    model_config = ConfigDict(extra="forbid")

    caller_name: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The caller, if they give a name.", examples=["张女士"]
    )
    caller_phone: Annotated[str, Field(min_length=3, max_length=30)] | None = Field(
        default=None, description="A number to call back, if given.", examples=["13800138000"]
    )
    reported: Note = Field(
        description="What the caller saw: who, their state, what they need.",
        examples=["一名老年男子在桥洞下过夜，衣着单薄，说话听不懂"],
    )
    place: Annotated[str, Field(min_length=1, max_length=300)] = Field(
        description="Where the person was seen.", examples=["固始县史河大桥东侧桥洞"]
    )
    seen_at: PastInstant | None = Field(
        default=None,
        description="When the caller saw the person, with its offset.",
        examples=["2026-11-23T05:40:00+08:00"],
    )
    station_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="The station that acts on the lead; the caller's own if omitted. The "
        "center's hotline may hand a lead to any satellite.",
        examples=["gushi"],
    )


class Triage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: LeadPriority = Field(
        description="urgent, normal, or no_action (nobody goes out; close the lead)."
    )
    note: Note | None = Field(
        default=None, description="Why this priority.", examples=["夜间气温低于零度，需立即出车"]
    )


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assigned_to: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Who goes out: a staff member or a patrol team.",
        examples=["外展巡查二组 李明"],
    )


class LeadAdmission(AdmissionRequest):
    """The admission a lead's closure makes: an admission whose route is always
    hotline_tip."""

    arrival_route: Literal["hotline_tip"] = Field(
        default="hotline_tip",
        description="Always hotline_tip for a lead's admission.",
        examples=["hotline_tip"],
    )


class Closure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: LeadOutcome = Field(
        description="admitted (with `admission`), refused_help (record the refusal with "
        "POST /refusals), not_found, referred_elsewhere (the note says where) or duplicate."
    )
    note: Note | None = Field(
        default=None,
        description="What happened; for referred_elsewhere, where to.",
        examples=["到场未发现当事人，已请派出所留意"],
    )
    admission: LeadAdmission | None = Field(
        default=None,
        description="For `admitted`: the admission, made in the same transaction.",
    )


class LeadView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID = Field(
        description="Minted with the lead: the person's id if the closure admits them."
    )
    station_id: str
    status: LeadStatus
    caller_name: str | None
    caller_phone: str | None
    reported: str
    place: str
    seen_at: datetime | None
    received_at: datetime
    priority: LeadPriority | None
    triage_note: str | None
    triaged_at: datetime | None
    assigned_to: str | None
    assigned_at: datetime | None
    outcome: LeadOutcome | None
    closure_note: str | None
    closed_at: datetime | None
    stay_id: uuid.UUID | None = Field(description="For `admitted`: the stay the closure began.")


async def _load(
    session, runtime: Runtime, principal, lead_id: uuid.UUID, *, for_update: bool = False
) -> Lead:
    lead = await session.get(Lead, lead_id, with_for_update=for_update)
    if lead is None:
        raise Problem(404, "Not found", "No such lead.")
    ensure_visible(principal, runtime.network, "lead", lead.station_id)
    return lead


def _out_of_order(error: OutOfOrder) -> Problem:
    return Problem(409, "Out of order", str(error))


async def _replayed(session, idempotency_key, principal, request) -> IdempotentRequest:
    return await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )


async def _done(session, idem: IdempotentRequest, status: int, lead: Lead) -> LeadView:
    await session.flush()
    view = LeadView.model_validate(lead)
    await idem.remember(session, status, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.post("", status_code=201, response_model=LeadView)
async def receive_lead(
    report: LeadReport,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    """A hotline tip comes in; lead_received goes out under a person id minted now."""
    ensure_known_station(principal, runtime.network)
    idem = await _replayed(session, idempotency_key, principal, report)
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    station_id = report.station_id or principal.station_id
    if runtime.network.station(station_id) is None:
        raise invalid("station_id", "is not a station of the network")
    if not can_see(principal, runtime.network, station_id):
        raise Problem(403, "Not your station", "Only the center hands a lead to another station.")
    now = datetime.now(UTC)
    if report.seen_at is not None:
        try:
            check_moment("seen_at", report.seen_at, now=now)
        except AdmissionRefused as refused:
            raise invalid(refused.field, refused.reason) from None
    lead = Lead(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=station_id,
        status=LeadStatus.RECEIVED.value,
        caller_name=report.caller_name,
        caller_phone=report.caller_phone,
        reported=report.reported,
        place=report.place,
        seen_at=report.seen_at,
        received_at=now,
        received_by=principal.subject,
    )
    session.add(lead)
    await runtime.outbox.stage(
        session,
        LeadReceivedV1(
            person_id=lead.person_id,
            lead_id=lead.id,
            station_id=station_id,
            received_at=now,
            seen_at=report.seen_at,
            place=report.place,
        ),
    )
    response.headers["Location"] = f"/leads/{lead.id}"
    return await _done(session, idem, 201, lead)


@router.post("/{lead_id}/triage", response_model=LeadView)
async def triage_lead(
    lead_id: uuid.UUID,
    request: Triage,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """How urgent the lead is: urgent, normal, or no_action."""
    idem = await _replayed(session, idempotency_key, principal, request)
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    lead = await _load(session, runtime, principal, lead_id, for_update=True)
    try:
        lead.status = lead_triage(lead.status).value
    except OutOfOrder as error:
        raise _out_of_order(error) from None
    lead.priority = request.priority.value
    lead.triage_note = request.note
    lead.triaged_at = datetime.now(UTC)
    lead.triaged_by = principal.subject
    await runtime.outbox.stage(
        session,
        LeadTriagedV1(
            person_id=lead.person_id,
            lead_id=lead.id,
            station_id=lead.station_id,
            priority=lead.priority,
            triaged_at=lead.triaged_at,
        ),
    )
    return await _done(session, idem, 200, lead)


@router.post("/{lead_id}/assignment", response_model=LeadView)
async def assign_lead(
    lead_id: uuid.UUID,
    request: Assignment,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Who goes out. A new assignment replaces the last (the next shift takes over)."""
    idem = await _replayed(session, idempotency_key, principal, request)
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    lead = await _load(session, runtime, principal, lead_id, for_update=True)
    priority = LeadPriority(lead.priority) if lead.priority else None
    try:
        lead.status = lead_assignment(lead.status, priority).value
    except OutOfOrder as error:
        raise _out_of_order(error) from None
    lead.assigned_to = request.assigned_to
    lead.assigned_at = datetime.now(UTC)
    lead.assigned_by = principal.subject
    await runtime.outbox.stage(
        session,
        LeadAssignedV1(
            person_id=lead.person_id,
            lead_id=lead.id,
            station_id=lead.station_id,
            assigned_at=lead.assigned_at,
        ),
    )
    return await _done(session, idem, 200, lead)


@router.post("/{lead_id}/closure", response_model=LeadView)
async def close_lead(
    lead_id: uuid.UUID,
    request: Closure,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """The lead's outcome. `admitted` admits the person to the lead's station in the
    same transaction (the admission rules apply; a refused admission leaves the lead
    open); lead_closed goes out, then person_admitted, on the same person id."""
    ensure_known_station(principal, runtime.network)
    idem = await _replayed(session, idempotency_key, principal, request)
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    lead = await _load(session, runtime, principal, lead_id, for_update=True)
    priority = LeadPriority(lead.priority) if lead.priority else None
    try:
        status = lead_closure(lead.status, priority)
    except OutOfOrder as error:
        raise _out_of_order(error) from None
    try:
        check_lead_closure(
            outcome=request.outcome,
            has_admission=request.admission is not None,
            note=request.note,
        )
    except AdmissionRefused as refused:
        raise invalid(refused.field, refused.reason) from None
    now = datetime.now(UTC)
    stay_id = uuid.uuid4() if request.admission is not None else None
    lead.status = status.value
    lead.outcome = request.outcome.value
    lead.closure_note = request.note
    lead.closed_at = now
    lead.closed_by = principal.subject
    await runtime.outbox.stage(
        session,
        LeadClosedV1(
            person_id=lead.person_id,
            lead_id=lead.id,
            station_id=lead.station_id,
            closed_at=now,
            outcome=request.outcome,
            admitted_person_id=lead.person_id if stay_id else None,
            stay_id=stay_id,
        ),
    )
    if request.admission is not None:
        try:
            await admit(
                session,
                runtime,
                request.admission,
                station_id=lead.station_id,
                admitted_by=principal.subject,
                now=now,
                person_id=lead.person_id,
                via_lead=True,
                stay_id=stay_id,
            )
        except Problem as problem:
            # name the field inside the closure's body
            if problem.errors:
                for error in problem.errors:
                    error["field"] = f"admission.{error['field']}"
                problem.detail = "; ".join(f"{e['field']}: {e['reason']}" for e in problem.errors)
            raise
        await session.flush()
        lead.stay_id = stay_id
    return await _done(session, idem, 200, lead)


@router.get("", response_model=list[LeadView])
async def list_leads(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: LeadStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's leads (the center sees the network), newest first."""
    query = select(Lead).order_by(Lead.received_at.desc()).limit(limit)
    if not sees_network(principal, runtime.network):
        query = query.where(Lead.station_id == principal.station_id)
    if status is not None:
        query = query.where(Lead.status == status.value)
    return [LeadView.model_validate(lead) for lead in (await session.scalars(query)).all()]


@router.get("/{lead_id}", response_model=LeadView)
async def get_lead(
    lead_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return LeadView.model_validate(await _load(session, runtime, principal, lead_id))
