"""Settings every service shares; each service subclasses with its env prefix.

Required values have no default: a missing database URL or broker address is
an error at start-up, never a silent localhost.

Authentication has two modes (see ``rescue_chassis.auth``), never both at once:

- development (the default): HS256 tokens signed with ``jwt_secret`` and issued
  by ``jwt_issuer`` (``rescue-network-dev`` for ``python -m rescue_chassis.auth``);
- OIDC, as soon as ``oidc_issuer`` or ``jwks_url`` is set: only tokens signed by
  the identity provider's keys (its JWKS, ``jwt_algorithms``: asymmetric only)
  are accepted; ``jwt_secret`` is then not needed and never used.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rescue_chassis.crypto import configured_key_ring

DEV_SECRET_MARKERS = ("change-me", "changeme", "dev", "secret", "placeholder")
DEV_ISSUER = "rescue-network-dev"
# Signature algorithms a JWKS key may verify. Never "none", never HS* (a JWKS
# holds public keys: HS256 "signed" with one is the algorithm-confusion attack).
OIDC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
DEFAULT_OIDC_ALGORITHMS = ("RS256", "ES256", "PS256")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str
    kafka_bootstrap_servers: str
    kafka_topic_replication: int = 1
    # Off by default (the local network's plaintext broker). In Kubernetes: SASL_SSL,
    # SCRAM-SHA-512, the service's KafkaUser and its password, the cluster CA's file.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    jwt_secret: SecretStr | None = None  # required unless OIDC is configured
    jwt_audience: str = "rescue-network"
    jwt_issuer: str = DEV_ISSUER
    # OIDC (e.g. Keycloak): the issuer URL, whose discovery document
    # (<issuer>/.well-known/openid-configuration) names the JWKS, and/or the JWKS
    # URL itself (then jwt_issuer, or oidc_issuer, is the issuer tokens must name).
    oidc_issuer: str | None = None
    jwks_url: str | None = None
    jwt_algorithms: Annotated[tuple[str, ...], NoDecode] = DEFAULT_OIDC_ALGORITHMS  # "RS256,ES256"
    # Where an OIDC token carries the roles and the station: dotted claim paths;
    # several role paths (comma-separated) are merged, e.g. Keycloak's
    # "realm_access.roles,resource_access.rescue-network.roles".
    jwt_roles_claim: str = "roles"
    jwt_station_claim: str = "station_id"
    jwt_leeway_seconds: float = 30.0  # clock skew allowed on exp, nbf, iat
    jwks_cache_seconds: float = 300.0  # keys are refetched after this
    jwks_min_refresh_seconds: float = 30.0  # at most one refetch per interval (unknown kid)
    jwks_timeout_seconds: float = 5.0
    log_level: str = "INFO"
    network_file: str | None = None  # the stations of the network; packaged default if unset
    network_recheck_seconds: float = 10.0  # a changed stations file is re-read after this
    relay_batch_size: int = 500
    # Published events stay in the outbox this long (then the relay purges them),
    # so what a broker lost can be sent again (rescue_events.relay).
    outbox_retention_seconds: float = 7 * 24 * 3600.0
    # When the relay finds the broker is another cluster, or lost a topic, it sends
    # again every kept event published to the one before (the consumers' inbox
    # makes that harmless). Off: only by hand, rescue-ops republish.
    relay_republish_lost: bool = True
    periodic_interval_seconds: float = 60.0  # how often deadline sweeps run
    # Protection at rest (rescue_chassis.crypto): data keys "kid:base64,…" (or a JSON
    # object), the one for new writes, and the blind-index key. Required in
    # production by a service with encrypted columns; elsewhere, if unset,
    # development keys are derived from jwt_secret.
    data_keys: SecretStr | None = None
    data_key_current: str | None = None
    lookup_key: SecretStr | None = None
    data_key_rotation_batch: int = 200  # rows per table the re-encryption job does per run
    # Input bounds (rescue_chassis.limits). A request body of at most max_body_bytes,
    # unless its route declares more (limits.body_limit), never over max_upload_bytes;
    # URL (path and query) and headers bounded; larger → 413, 414, 431.
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 16 * 1024 * 1024
    max_url_bytes: int = 8 * 1024
    max_header_bytes: int = 16 * 1024
    # Requests per authenticated subject (else per client address): a token bucket in
    # each replica, this many a second sustained, burst at once; past it 429 with
    # Retry-After. 0 turns it off. Generous by default: the benchmarks drive one
    # subject at hundreds a second; a deployment sets what its clients need.
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 10_000
    # Requests worked on at once (rescue_chassis.gate); the rest wait in arrival
    # order, up to request_queue_timeout_seconds, then 503 with Retry-After. 0: no gate.
    # Below the pool's 10 connections, so a request in progress never waits for one.
    max_concurrent_requests: int = 8
    request_queue_timeout_seconds: float = 10.0
    # Photo links for the police (rescue_chassis.photo_links): one key for the whole
    # network (referral mints, intake checks) and intake's public base URL; unset: no links.
    photo_link_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        validation_alias=AliasChoices("RESCUE_PHOTO_LINK_KEY", "photo_link_key"),
    )
    photo_link_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        validation_alias=AliasChoices("RESCUE_PHOTO_LINK_BASE_URL", "photo_link_base_url"),
    )

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer or self.jwks_url)

    @property
    def token_issuer(self) -> str:
        """The issuer (iss) a token must name."""
        return self.oidc_issuer or self.jwt_issuer

    @field_validator("database_url")
    @classmethod
    def _postgresql_only(cls, url: str) -> str:
        # Without a scheme it is a placeholder (unit tests); load_settings refuses it.
        return check_database_url(url) if "://" in url else url

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(a.strip() for a in value.split(",") if a.strip())
        return value

    @model_validator(mode="after")
    def _check_oidc(self) -> ServiceSettings:
        if not self.oidc_enabled:
            return self
        for name in ("oidc_issuer", "jwks_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("https://", "http://")):
                raise ValueError(f"{name} must be an http(s) URL")
        refused = [a for a in self.jwt_algorithms if a not in OIDC_ALGORITHMS]
        if refused or not self.jwt_algorithms:
            raise ValueError(
                f"jwt_algorithms {', '.join(refused) or '(empty)'} refused: use some of "
                + ", ".join(sorted(OIDC_ALGORITHMS))
            )
        if self.oidc_issuer and self.jwt_issuer not in (DEV_ISSUER, self.oidc_issuer):
            raise ValueError("jwt_issuer and oidc_issuer differ; set oidc_issuer only")
        if self.token_issuer == DEV_ISSUER:
            raise ValueError("with jwks_url, set jwt_issuer to the identity provider's issuer")
        if not self.jwt_roles_claim.strip() or not self.jwt_station_claim.strip():
            raise ValueError("jwt_roles_claim and jwt_station_claim must name claims")
        return self

    @model_validator(mode="after")
    def _check_kafka_login(self) -> ServiceSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "kafka_sasl_mechanism, kafka_sasl_username and kafka_sasl_password are "
                f"required with kafka_security_protocol {self.kafka_security_protocol}"
            )
        return self

    @model_validator(mode="after")
    def _check_data_keys(self) -> ServiceSettings:
        configured_key_ring(self)  # malformed or half-set keys fail here, at start-up
        return self

    @model_validator(mode="after")
    def _refuse_development_credentials_in_production(self) -> ServiceSettings:
        if self.oidc_enabled:
            return self  # the development secret is never used: nothing to refuse
        if self.jwt_secret is None:
            raise ValueError("jwt_secret is required (or configure OIDC: oidc_issuer, jwks_url)")
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


# ---- start-up: settings that cannot be loaded, said in one line ------------------

DATABASE_URL_EXAMPLE = "postgresql+asyncpg://user:password@host:5432/database"
_POSTGRESQL = ("postgresql", "postgres")
_ASYNC_DRIVER = "asyncpg"  # the one driver installed (rescue_chassis.db: an async engine)
# What to set a required value to, when it is missing.
_MISSING_HINTS = {
    "database_url": f"the service's PostgreSQL database, e.g. {DATABASE_URL_EXAMPLE}",
    "kafka_bootstrap_servers": "the Kafka brokers, host:port[,host:port…]",
}

S = TypeVar("S", bound=ServiceSettings)


class SettingsError(Exception):
    """Settings a service cannot start with; the message is one line naming the
    environment variables at fault, what is wrong and what to set."""


def check_database_url(url: str) -> str:
    """The URL as the engine takes it (``postgresql://`` gets the asyncpg driver);
    ValueError saying what is wrong with any other."""
    scheme, found, rest = url.partition("://")
    if not found or not scheme or not rest:
        raise ValueError(f"is not a database URL: use {DATABASE_URL_EXAMPLE}")
    dialect, _, driver = scheme.lower().partition("+")
    if dialect not in _POSTGRESQL:
        raise ValueError(
            f"only postgresql URLs are supported, not {_clip(dialect)}://: "
            f"use {DATABASE_URL_EXAMPLE}"
        )
    if driver not in ("", _ASYNC_DRIVER):
        raise ValueError(
            f"the driver {_clip(driver)!r} is not installed: use postgresql+asyncpg:// "
            "(or postgresql://)"
        )
    return f"postgresql+{_ASYNC_DRIVER}://{rest}"


def env_name(settings_class: type[ServiceSettings], field: str) -> str:
    """The environment variable a setting is read from (``INTAKE_DATABASE_URL``)."""
    return (str(settings_class.model_config.get("env_prefix") or "") + field).upper()


def load_settings(settings_class: type[S]) -> S:
    """The service's settings from its environment, or ``SettingsError``."""
    try:
        settings = settings_class()
    except ValidationError as error:
        raise SettingsError(describe_settings_error(error, settings_class)) from None
    if "://" not in settings.database_url:
        name = env_name(settings_class, "database_url")
        raise SettingsError(f"{name} is not a database URL: use {DATABASE_URL_EXAMPLE}")
    return settings


def describe_settings_error(error: ValidationError, settings_class: type[ServiceSettings]) -> str:
    """One line naming each environment variable at fault; never a value (secrets)."""
    fields = list(settings_class.model_fields)
    parts = []
    for found in error.errors(include_url=False, include_input=False)[:5]:
        loc = [str(part) for part in found.get("loc", ())]
        message = str(found.get("msg", "is invalid"))
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        if loc and loc[0] in fields:
            name = env_name(settings_class, loc[0])
            if found.get("type") == "missing":
                hint = _MISSING_HINTS.get(loc[0], "a value")
                parts.append(f"{name} is not set: set it to {hint}")
            else:
                parts.append(
                    f"{name} {message}"
                    if message.startswith("is ")
                    else f"{name} is wrong: {message}"
                )
        else:  # a rule across settings: its message names them by field
            parts.append(_env_names_in(message, settings_class, fields))
    if len(error.errors()) > 5:
        parts.append(f"and {len(error.errors()) - 5} more")
    return "; ".join(parts)


def _env_names_in(message: str, settings_class: type[ServiceSettings], fields: list[str]) -> str:
    """``message`` with each setting it names (jwt_secret, JWT_SECRET, "lookup key")
    replaced by its environment variable."""
    names: dict[str, str] = {}
    for field in fields:
        env = env_name(settings_class, field)
        names[field] = names[field.upper()] = env
        if "_" in field:
            names[field.replace("_", " ").removesuffix("s")] = env  # "data key(s)"
    pattern = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.sub(rf"\b({pattern})s?\b", lambda m: names.get(m.group(1), m.group(0)), message)


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
