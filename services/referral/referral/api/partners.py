"""The partner directory: agencies, their type, the jurisdiction they serve, their
contacts and, for those that cannot consume Kafka, a webhook."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    UrlConstraints,
)
from sqlalchemy import select

from referral.tables import Agency
from referral.views import AgencyView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, Role, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_divisions.fields import JurisdictionPrefix
from rescue_events.contracts import PartnerType

router = APIRouter(prefix="/partners", tags=["partner directory"])


def _storable_url(url: HttpUrl) -> HttpUrl:
    # As stored: normalised (a trailing slash, an international name in punycode)
    # the URL can be longer than it was sent.
    if len(str(url)) > 500:
        raise ValueError("at most 500 characters (as normalised)")
    return url


WebhookUrl = Annotated[HttpUrl, UrlConstraints(max_length=500), AfterValidator(_storable_url)]


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=30)
    role: str | None = Field(default=None, max_length=100)


class AgencyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["信阳市妇女联合会"])
    partner_type: PartnerType
    jurisdiction_code: JurisdictionPrefix = Field(
        description="The admin code (prefix) the agency serves: province 2 digits, city 4, "
        "county 6, town 9, village 12; a current division (411500 is refused: 信阳市's "
        "prefix is 4115).",
        examples=["4115"],
    )
    contacts: list[Contact] = Field(default_factory=list, max_length=20)
    webhook_url: WebhookUrl | None = None
    webhook_secret: str | None = Field(default=None, min_length=32, max_length=200)
    active: StrictBool = True


AgencyId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]


@router.get(
    "",
    response_model=list[AgencyView],
    dependencies=[require_roles(*STATION_WORK, Role.ADMIN, Role.OPS)],
)
async def list_partners(
    principal: PrincipalDep, session: SessionDep, partner_type: PartnerType | None = None
):
    query = select(Agency).order_by(Agency.partner_type, Agency.jurisdiction_code)
    if partner_type:
        query = query.where(Agency.partner_type == partner_type.value)
    return [AgencyView.model_validate(a) for a in (await session.scalars(query)).all()]


@router.put(
    "/{agency_id}",
    response_model=AgencyView,
    dependencies=[require_roles(Role.ADMIN, Role.OPS)],
)
async def put_partner(
    agency_id: AgencyId, entry: AgencyEntry, session: SessionDep, runtime: RuntimeDep
):
    """Add or update an agency (admins). Referrals waiting for an agency in its
    jurisdiction are routed to it by the next routing sweep. A webhook URL must be
    HTTPS (HTTP in development) on a public address, unless the network is allowed
    (REFERRAL_WEBHOOK_ALLOWED_NETWORKS); delivery checks the resolved address again."""
    if (entry.webhook_url is None) != (entry.webhook_secret is None):
        raise invalid("webhook_secret", "give both webhook_url and webhook_secret, or neither")
    if entry.webhook_url is not None:
        refusal = runtime.settings.webhook_policy.url_refusal(str(entry.webhook_url))
        if refusal is not None:
            raise invalid("webhook_url", refusal)
    agency = await session.get(Agency, agency_id, with_for_update=True)
    values = entry.model_dump(mode="json")
    values["partner_type"] = entry.partner_type.value
    if agency is None:
        agency = Agency(id=agency_id, created_at=datetime.now(UTC), **values)
        session.add(agency)
    else:
        for key, value in values.items():
            setattr(agency, key, value)
    result = AgencyView.model_validate(agency)
    await session.commit()
    return result
