"""The console's settings, env prefix ``CONSOLE_``; the service URLs are required."""

from __future__ import annotations

from pydantic import Field, HttpUrl, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    intake_url: HttpUrl
    search_url: HttpUrl
    transfer_url: HttpUrl
    referral_url: HttpUrl
    followup_url: HttpUrl

    # The development sign-in mints tokens the services trust (make token's secret);
    # without it there is no sign-in page (an OIDC sign-in comes later).
    dev_jwt_secret: str | None = Field(default=None, min_length=32)
    dev_jwt_audience: str = "rescue-network"
    dev_jwt_issuer: str = "rescue-network-dev"
    network_file: str | None = None

    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=8, ge=1, le=24)
    # Off only for plain-http hosts other than localhost (browsers keep Secure
    # cookies on http://127.0.0.1 and http://localhost).
    cookie_secure: bool = True
    service_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    board_refresh_seconds: int = Field(default=15, ge=2, le=600)

    @model_validator(mode="after")
    def _no_placeholder_secret(self) -> ConsoleSettings:
        if self.dev_jwt_secret and self.dev_jwt_secret.strip("x") == "":
            raise ValueError("CONSOLE_DEV_JWT_SECRET is a placeholder")
        return self

    def service_url(self, name: str) -> str:
        return str(getattr(self, f"{name}_url")).rstrip("/")
