"""Returns home from elsewhere: another region's station's notice (返乡通知) opens
the returnee's stabilisation here (also on the topic rescue.inbound.returns)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from followup import queries
from followup.commands import inbound
from followup.commands.inbound import InboundReturnNotice
from followup.views import InboundReturnView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/inbound-returns",
    tags=["return stabilisation"],
    dependencies=[require_roles(*STATION_WORK)],
)


@router.post("", status_code=201, response_model=InboundReturnView)
async def notify_inbound_return(notice: InboundReturnNotice, run: Run):
    """A person escorted home to this region by another region's station: the person
    gets an id of this network and a stabilisation record at the station serving the
    registered home, with six revisits from the expected arrival day, assigned to
    the home town. The same sending station's reference twice is a 409."""
    return await run(inbound.notify_inbound_return, inbound.NotifyInboundReturn(notice=notice))


@router.get("", response_model=list[InboundReturnView])
async def list_inbound_returns(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    reference: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    """Notices received for the caller's station (the center: all), newest first."""
    return await queries.inbound_returns(UnitOfWork(session, runtime, principal), reference, limit)
