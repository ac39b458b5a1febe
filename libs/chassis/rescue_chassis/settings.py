"""Settings every service shares; each service subclasses with its env prefix.

Required values have no default: a missing database URL or broker address is
an error at start-up, never a silent localhost.
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_MARKERS = ("change-me", "changeme", "dev", "secret", "placeholder")
DEV_ISSUER = "rescue-network-dev"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str
    kafka_bootstrap_servers: str
    kafka_topic_replication: int = 1
    jwt_secret: SecretStr
    jwt_audience: str = "rescue-network"
    jwt_issuer: str = DEV_ISSUER
    log_level: str = "INFO"
    network_file: str | None = None  # the stations of the network; packaged default if unset
    relay_batch_size: int = 500
    periodic_interval_seconds: float = 60.0  # how often deadline sweeps run

    @model_validator(mode="after")
    def _refuse_development_credentials_in_production(self) -> ServiceSettings:
        secret = self.jwt_secret.get_secret_value()
        if len(secret) < 32:
            raise ValueError("jwt_secret must be at least 32 characters")
        if self.environment == "production" and any(
            marker in secret.lower() for marker in DEV_SECRET_MARKERS
        ):
            raise ValueError("jwt_secret looks like a placeholder; refusing to run in production")
        if self.environment == "production" and self.jwt_issuer == DEV_ISSUER:
            # Development tokens (python -m rescue_chassis.auth) must not open production.
            raise ValueError("jwt_issuer is the development issuer; set the production issuer")
        return self
