from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from rescue_chassis.settings import ServiceSettings
from search.police import DEFAULT_ESCALATION_CHAIN, escalation_chain


class SearchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEARCH_")

    # Family-search notices (search.notices). Without a URL, publishing records a
    # failed notice naming the missing setting; nothing is sent anywhere.
    notice_site_url: str | None = Field(
        default=None,
        description="The national family-search website's notice endpoint (全国救助寻亲网): "
        "POST publishes, DELETE <url>/<external id> takes down.",
    )
    notice_push_url: str | None = Field(
        default=None,
        description="The regional push endpoint (头条寻人-style): POST one push per region, "
        "DELETE <url>/<external id> withdraws it.",
    )
    notice_signing_secret: str | None = Field(
        default=None,
        description="Shared with the site and the push service: each request is signed "
        "(X-Rescue-Signature, docs/protocols/notice-site.md). Unset: unsigned (local runs).",
    )
    notice_timeout_seconds: float = Field(default=10.0, gt=0)
    notice_attempts: int = Field(
        default=3, ge=1, le=10, description="Tries per call on 5xx or connection errors."
    )
    notice_retry_base_seconds: float = Field(
        default=0.5, ge=0, description="First backoff between tries; doubles each time."
    )
    notice_stuck_after_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A notice still `publishing` after this long is retried by the sweep.",
    )
    notice_max_publish_attempts: int = Field(
        default=5, ge=1, description="Sweep retries of a failed notice before it stays failed."
    )

    # The matching engine (search.places, search.faces).
    gazetteer_dir: Path | None = Field(
        default=None,
        description="Where `make setup` put the gazetteer's sources (default: var/gazetteer "
        "of the checkout). Loaded on first use.",
    )

    # Police identity checks passed up (逐级上报, search.police): chains of agency ids,
    # county>city>province, separated by ";"; an agency on no chain is a top level.
    police_escalation_chain: str = Field(
        default=DEFAULT_ESCALATION_CHAIN,
        description="Where a check answered `unverifiable` goes next: e.g. "
        "'gushi-police>xinyang-police>henan-police;xixian-police>xinyang-police'.",
    )

    @field_validator("police_escalation_chain")
    @classmethod
    def _chain_without_loops(cls, text: str) -> str:
        escalation_chain(text)  # two levels above one agency, or a loop: refused at start-up
        return text

    @property
    def police_levels(self) -> dict[str, str]:
        """Each police agency's next level up."""
        return escalation_chain(self.police_escalation_chain)
