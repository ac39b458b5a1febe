from typing import Annotated

from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from rescue_chassis.outbound import OutboundPolicy, parse_networks
from rescue_chassis.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_")

    # First retry of a failed webhook delivery; doubles each attempt, at most an hour.
    webhook_retry_base_seconds: float = 5.0
    # Networks partners' webhooks may be in though not public (loopback, private,
    # link-local are refused otherwise): CIDRs, comma-separated, e.g. "10.20.0.0/16".
    webhook_allowed_networks: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = ()
    # How long a police check's photo link (minted afresh for each pull or webhook) lives.
    photo_link_ttl_seconds: int = Field(default=900, ge=30, le=86400)

    _split_networks = field_validator("webhook_allowed_networks", mode="before")(parse_networks)

    @property
    def webhook_policy(self) -> OutboundPolicy:
        """Where webhooks may go: HTTPS, public addresses, or the allowed networks."""
        return OutboundPolicy(
            allow_http=self.environment == "development",
            allowed_networks=self.webhook_allowed_networks,
            setting="REFERRAL_WEBHOOK_ALLOWED_NETWORKS",
        )
