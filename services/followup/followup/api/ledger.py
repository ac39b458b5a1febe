"""The ledger of returned persons and each record's work: revisits, the center's
risk assessment, the county's help plan, social workers' services, closing."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from followup import queries
from followup.api.common import JurisdictionFilter
from followup.commands import stabilisations as use
from followup.commands.stabilisations import Assessment, Closing, Plan, RevisitReport, Service
from followup.domain import RecordStatus
from followup.views import StabilisationView
from rescue_chassis.access import REVISIT_WORK, STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(prefix="/stabilisations", tags=["return stabilisation"])

# Town officials read the records of their area and record revisits; the rest is
# the stations' work.
STATIONS = [require_roles(*STATION_WORK)]
TOWNS_TOO = [require_roles(*REVISIT_WORK)]


@router.get("", response_model=list[StabilisationView], dependencies=TOWNS_TOO)
async def list_stabilisations(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    status: RecordStatus | None = None,
    jurisdiction_code: JurisdictionFilter = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    """The ledger of returned persons (返乡受助人员信息台账): the caller's station's,
    the center's for the whole network, a town official's for its town or village."""
    reading = UnitOfWork(session, runtime, principal)
    return await queries.stabilisations(reading, person_id, status, jurisdiction_code, limit)


@router.get("/{record_id}", response_model=StabilisationView, dependencies=TOWNS_TOO)
async def get_stabilisation(
    record_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return await queries.stabilisation(UnitOfWork(session, runtime, principal), record_id)


@router.post(
    "/{record_id}/revisits/{sequence}", response_model=StabilisationView, dependencies=TOWNS_TOO
)
async def record_revisit(record_id: uuid.UUID, sequence: int, report: RevisitReport, run: Run):
    """A revisit made by visit or phone. A difficulty opens a help task (with the
    partner to refer to); a person found gone again enters the at-risk register;
    a death closes the record."""
    return await run(
        use.record_revisit, use.RecordRevisit(record_id=record_id, sequence=sequence, report=report)
    )


@router.post(
    "/{record_id}/risk-assessments",
    status_code=201,
    response_model=StabilisationView,
    dependencies=STATIONS,
)
async def assess_risk(record_id: uuid.UUID, assessment: Assessment, run: Run):
    """The center assesses the risk of wandering again (市站做评估)."""
    return await run(use.assess_risk, use.AssessRisk(record_id=record_id, assessment=assessment))


@router.post(
    "/{record_id}/help-plans",
    status_code=201,
    response_model=StabilisationView,
    dependencies=STATIONS,
)
async def make_help_plan(record_id: uuid.UUID, plan: Plan, run: Run):
    """The county's help plan (县级做帮扶), with its owner."""
    return await run(use.make_help_plan, use.MakeHelpPlan(record_id=record_id, plan=plan))


@router.post(
    "/{record_id}/social-work-services",
    status_code=201,
    response_model=StabilisationView,
    dependencies=STATIONS,
)
async def record_service(record_id: uuid.UUID, service: Service, run: Run):
    """A service delivered by a social worker (社工做服务)."""
    return await run(
        use.record_social_work_service,
        use.RecordSocialWorkService(record_id=record_id, service=service),
    )


@router.post("/{record_id}/closure", response_model=StabilisationView, dependencies=STATIONS)
async def close_stabilisation(record_id: uuid.UUID, closing: Closing, run: Run):
    """Close after a stable year, or on settlement when there is no home to return to."""
    return await run(
        use.close_stabilisation, use.CloseStabilisation(record_id=record_id, closing=closing)
    )
