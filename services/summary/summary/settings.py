from typing import Annotated

from pydantic import AliasChoices, Field, IPvAnyNetwork, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from rescue_chassis.outbound import OutboundPolicy, parse_networks
from rescue_chassis.settings import ServiceSettings


class SummarySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUMMARY_")

    # Submissions wait for the sweep: run it often enough that one leaves within seconds.
    periodic_interval_seconds: float = 10.0
    national_system_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SUMMARY_NATIONAL_SYSTEM_URL", "RESCUE_NATIONAL_SYSTEM_URL"),
        description="The national rescue information system's endpoint for summary tables "
        "(全国救助管理信息系统): POST one table, answered with its id (the receipt).",
    )
    national_system_timeout_seconds: float = Field(default=15.0, gt=0)
    national_system_retry_base_seconds: float = Field(
        default=30.0, gt=0, description="First backoff after a failed try; doubles, at most 1 h."
    )
    # Networks the national system may be in though not public: CIDRs, comma-separated.
    national_system_allowed_networks: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = ()

    _split_networks = field_validator("national_system_allowed_networks", mode="before")(
        parse_networks
    )

    @field_validator("national_system_url")
    @classmethod
    def _an_http_url(cls, url: str | None) -> str | None:
        if url and not url.startswith(("https://", "http://")):
            raise ValueError("must be an https URL")
        return url or None

    @property
    def national_system_policy(self) -> OutboundPolicy:
        """Where submissions may go: HTTPS, public addresses, or the allowed networks."""
        return OutboundPolicy(
            allow_http=self.environment == "development",
            allowed_networks=self.national_system_allowed_networks,
            setting="SUMMARY_NATIONAL_SYSTEM_ALLOWED_NETWORKS",
        )
