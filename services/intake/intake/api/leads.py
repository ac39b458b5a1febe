"""Hotline tips (线索): received → triaged → assigned → closed; a closure with
outcome `admitted` admits the person (commands/leads.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from intake import queries
from intake.commands import leads
from intake.commands.leads import (
    AssignLead,
    Assignment,
    CloseLead,
    Closure,
    LeadReport,
    ReceiveLead,
    Triage,
    TriageLead,
)
from intake.domain import LeadStatus
from intake.tables import Lead
from intake.views import LeadView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork, load
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(prefix="/leads", tags=["leads"], dependencies=[require_roles(*STATION_WORK)])


@router.post("", status_code=201, response_model=LeadView)
async def receive_lead(report: LeadReport, run: Run):
    """A hotline tip comes in; lead_received goes out under a person id minted now."""
    return await run(leads.receive_lead, ReceiveLead(**dict(report)), location="/leads/{id}")


@router.post("/{lead_id}/triage", response_model=LeadView)
async def triage_lead(lead_id: uuid.UUID, request: Triage, run: Run):
    """How urgent the lead is: urgent, normal, or no_action."""
    return await run(leads.triage_lead, TriageLead(lead_id=lead_id, **dict(request)))


@router.post("/{lead_id}/assignment", response_model=LeadView)
async def assign_lead(lead_id: uuid.UUID, request: Assignment, run: Run):
    """Who goes out. A new assignment replaces the last (the next shift takes over)."""
    return await run(leads.assign_lead, AssignLead(lead_id=lead_id, **dict(request)))


@router.post("/{lead_id}/closure", response_model=LeadView)
async def close_lead(lead_id: uuid.UUID, request: Closure, run: Run):
    """The lead's outcome. `admitted` admits the person to the lead's station in the
    same transaction (the admission rules apply; a refused admission leaves the lead
    open); lead_closed goes out, then person_admitted, on the same person id."""
    return await run(leads.close_lead, CloseLead(lead_id=lead_id, **dict(request)))


@router.get("", response_model=list[LeadView])
async def list_leads(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: LeadStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's leads (the center sees the network), newest first."""
    return await queries.leads(UnitOfWork(session, runtime, principal), status, limit)


@router.get("/{lead_id}", response_model=LeadView)
async def get_lead(
    lead_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return LeadView.model_validate(
        await load(session, runtime, principal, Lead, lead_id, what="lead")
    )
