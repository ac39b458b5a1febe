"""The partner directory: agencies, their type, the jurisdiction they serve, their
contacts and, for those that cannot consume Kafka, a webhook."""

from __future__ import annotations

from fastapi import APIRouter

from referral import queries
from referral.commands import partners
from referral.commands.partners import AgencyEntry, AgencyId
from referral.views import AgencyView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, Role, require_roles
from rescue_chassis.commands import Run
from rescue_chassis.db import SessionDep
from rescue_events.contracts import PartnerType

router = APIRouter(prefix="/partners", tags=["partner directory"])


@router.get(
    "",
    response_model=list[AgencyView],
    dependencies=[require_roles(*STATION_WORK, Role.ADMIN, Role.OPS)],
)
async def list_partners(
    principal: PrincipalDep, session: SessionDep, partner_type: PartnerType | None = None
):
    return await queries.partners(session, partner_type)


@router.put(
    "/{agency_id}",
    response_model=AgencyView,
    dependencies=[require_roles(Role.ADMIN, Role.OPS)],
)
async def put_partner(agency_id: AgencyId, entry: AgencyEntry, run: Run):
    """Add or update an agency (admins). Referrals waiting for an agency in its
    jurisdiction are routed to it by the next routing sweep. A webhook URL must be
    HTTPS (HTTP in development) on a public address, unless the network is allowed
    (REFERRAL_WEBHOOK_ALLOWED_NETWORKS); delivery checks the resolved address again."""
    return await run(partners.put_partner, partners.PutPartner(agency_id=agency_id, entry=entry))
