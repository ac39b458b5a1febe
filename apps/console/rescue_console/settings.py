"""The console's settings, env prefix ``CONSOLE_``; the service URLs are required."""

from __future__ import annotations

from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    intake_url: HttpUrl
    search_url: HttpUrl
    transfer_url: HttpUrl
    referral_url: HttpUrl
    followup_url: HttpUrl
    # The summary service (情况汇总表, issue 28); unset: the console counts from the others.
    summary_url: HttpUrl | None = None
    # intake's address as the photo links for the police name it, when not intake_url
    # (a public address in front of the same service); the console fetches no other origin.
    intake_public_url: HttpUrl | None = None

    # Sign-in through the OIDC issuer the services trust (authorization code + PKCE):
    # the issuer's URL (its discovery document names the endpoints and keys).
    oidc_issuer: str | None = None
    oidc_client_id: str = "rescue-console"
    oidc_client_secret: SecretStr | None = None  # a confidential client's, if registered so
    oidc_scopes: str = "openid"
    # The access token is for the services: their audience, and where it carries
    # the station and roles (as the services' <SERVICE>_JWT_*_CLAIM).
    oidc_audience: str = "rescue-network"
    oidc_roles_claim: str = "roles"
    oidc_station_claim: str = "station_id"
    oidc_algorithms: str = "RS256,ES256,PS256"
    # The console's own address as the browser reaches it (the redirect URI);
    # from the request if unset.
    public_url: HttpUrl | None = None

    # Without OIDC: the development sign-in mints tokens the services trust (the
    # shared secret of the tests' networks); with neither there is no sign-in.
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
    # Telemetry as the services': JSON logs at this level; traces from the OTEL_* variables.
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _no_placeholder_secret(self) -> ConsoleSettings:
        if self.dev_jwt_secret and self.dev_jwt_secret.strip("x") == "":
            raise ValueError("CONSOLE_DEV_JWT_SECRET is a placeholder")
        if self.oidc_issuer and self.dev_jwt_secret:
            raise ValueError("set CONSOLE_OIDC_ISSUER or CONSOLE_DEV_JWT_SECRET, not both")
        if self.oidc_issuer and not self.oidc_issuer.startswith(("https://", "http://")):
            raise ValueError("CONSOLE_OIDC_ISSUER must be an http(s) URL")
        return self

    def service_url(self, name: str) -> str:
        return str(getattr(self, f"{name}_url")).rstrip("/")

    def service_urls(self, names) -> dict[str, str]:
        """The services' URLs, the optional ones only when configured."""
        return {n: self.service_url(n) for n in names if getattr(self, f"{n}_url") is not None}
