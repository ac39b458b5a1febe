"""Return notices (返乡通知) from other regions' stations over HTTP: the same
stabilisation as a notice on the topic rescue.inbound.returns, and a receipt."""

from __future__ import annotations

from fastapi import APIRouter

from followup.commands import inbound
from followup.commands.inbound import InboundReturnNotice, ReturnNoticeReceipt
from rescue_chassis.auth import Role, require_roles
from rescue_chassis.commands import Run

router = APIRouter(
    prefix="/inbound",
    tags=["return stabilisation"],
    dependencies=[require_roles(Role.RESCUE_STATION)],
)


@router.post("/returns", status_code=201, response_model=ReturnNoticeReceipt)
async def receive_return_notice(notice: InboundReturnNotice, run: Run):
    """Another region's station (a partner token of type rescue_station) says it
    escorts a person home to this region: the station serving the registered home
    opens the returnee's stabilisation. Send an Idempotency-Key to retry safely; the
    same sender's reference again without one is a 409."""
    return await run(inbound.receive_return_notice, inbound.ReceiveReturnNotice(notice=notice))
