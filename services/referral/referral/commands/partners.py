"""The partner directory: agencies, their type, the jurisdiction they serve, their
contacts and, for those that cannot consume Kafka, a webhook."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    UrlConstraints,
)

from referral.tables import Agency
from referral.views import AgencyView
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.refusals import Refused
from rescue_divisions.fields import JurisdictionPrefix
from rescue_events.contracts import PartnerType


def _storable_url(url: HttpUrl) -> HttpUrl:
    # As stored: normalised (a trailing slash, an international name in punycode)
    # the URL can be longer than it was sent.
    if len(str(url)) > 500:
        raise ValueError("at most 500 characters (as normalised)")
    return url


WebhookUrl = Annotated[HttpUrl, UrlConstraints(max_length=500), AfterValidator(_storable_url)]
AgencyId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]


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


class PutPartner(Command):
    agency_id: AgencyId
    entry: AgencyEntry


async def put_partner(command: PutPartner, uow: UnitOfWork) -> AgencyView:
    """Add or update an agency; a webhook only to an address the policy allows."""
    entry = command.entry
    if (entry.webhook_url is None) != (entry.webhook_secret is None):
        raise Refused("webhook_secret", "give both webhook_url and webhook_secret, or neither")
    if entry.webhook_url is not None:
        refusal = uow.settings.webhook_policy.url_refusal(str(entry.webhook_url))
        if refusal is not None:
            raise Refused("webhook_url", refusal)
    agency = await uow.get(Agency, command.agency_id, lock=True)
    values = entry.model_dump(mode="json")
    values["partner_type"] = entry.partner_type.value
    if agency is None:
        agency = Agency(id=command.agency_id, created_at=uow.now, **values)
        uow.add(agency)
    else:
        for key, value in values.items():
            setattr(agency, key, value)
    return AgencyView.model_validate(agency)
