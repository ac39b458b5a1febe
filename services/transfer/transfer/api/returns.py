"""Returns home: the planning view, fitness, the handover receipt, refusals, the notice."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from transfer import queries
from transfer.commands import returns
from transfer.commands.returns import Fitness, HandoverReceipt, Refusal, ReturnOpening
from transfer.domain import ReturnStatus
from transfer.views import PlanningGroup, ReturnView

router = APIRouter(prefix="/returns", tags=["returns"], dependencies=[require_roles(*STATION_WORK)])


@router.get("", response_model=list[ReturnView])
async def list_returns(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    status: ReturnStatus | None = None,
    escort_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Returns of the caller's station or escorted by it (the center sees all)."""
    reading = UnitOfWork(session, runtime, principal)
    return await queries.returns(reading, person_id, status, escort_id, limit)


@router.get("/planning", response_model=list[PlanningGroup])
async def planning_view(principal: PrincipalDep, session: SessionDep):
    """Pending returns the caller's station escorts, grouped by destination province:
    the center plans batches from here."""
    return await queries.planning(session, principal.station_id)


@router.post("", status_code=201, response_model=ReturnView)
async def open_return_by_staff_decision(opening: ReturnOpening, run: Run):
    """Open a return for a person of the caller's station (`return_opened`)."""
    return await run(
        returns.open_return, returns.OpenReturn(**opening.model_dump()), location="/returns/{id}"
    )


@router.get("/{return_id}", response_model=ReturnView)
async def get_return(
    return_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return await queries.return_(UnitOfWork(session, runtime, principal), return_id)


@router.post("/{return_id}/fitness", response_model=ReturnView)
async def record_fitness(return_id: uuid.UUID, fitness: Fitness, run: Run):
    """The caring station records whether the person is fit to travel."""
    return await run(
        returns.record_fitness, returns.RecordFitness(return_id=return_id, fitness=fitness)
    )


@router.post("/{return_id}/handover", response_model=ReturnView)
async def record_handover(return_id: uuid.UUID, receipt: HandoverReceipt, run: Run):
    """The signed handover at home; issues the written notice to the origin
    (`person_handed_over`, `return_notice_issued`)."""
    return await run(
        returns.record_handover, returns.RecordHandover(return_id=return_id, receipt=receipt)
    )


@router.get("/{return_id}/notice", response_class=HTMLResponse)
async def get_notice(
    return_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The written notice to the origin, as a page to read and print."""
    reading = UnitOfWork(session, runtime, principal)
    return HTMLResponse(await queries.notice_html(reading, return_id))


@router.get(
    "/{return_id}/signature",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The signature, PNG."}},
)
async def get_signature(
    return_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The receiver's signature drawn at the handover, as the PNG transfer stored;
    404 before the handover."""
    reading = UnitOfWork(session, runtime, principal)
    return Response(
        await queries.signature_png(reading, return_id),
        media_type="image/png",
        # a signature is personal data: no shared cache keeps a copy
        headers={"Cache-Control": "private, no-store"},
    )


@router.post("/{return_id}/refusal", response_model=ReturnView)
async def record_refusal(return_id: uuid.UUID, refusal: Refusal, run: Run):
    """The home area refused to take the person back: escalate to the higher level
    (`handover_refused`)."""
    return await run(
        returns.record_refusal, returns.RecordRefusal(return_id=return_id, refusal=refusal)
    )
