"""Where the services are and how the tool authenticates.

- Base URLs: ``--url intake=http://…`` wins over ``RESCUE_OPS_INTAKE_URL``,
  which wins over the local network (``make run``: http://127.0.0.1:8101-8106).
- Bearer token: ``RESCUE_OPS_TOKEN`` (a real token with the ``ops`` role). For
  a local or development network only, ``--dev-secret`` or
  ``RESCUE_OPS_DEV_JWT_SECRET`` mints a short-lived token for the center with
  the role ``ops``, with the claims the services check (see
  ``rescue_chassis.auth``). Production services refuse the development issuer.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping

import jwt

from rescue_ops import DEFAULT_URLS, SERVICES

TOKEN_ENV = "RESCUE_OPS_TOKEN"
DEV_SECRET_ENV = "RESCUE_OPS_DEV_JWT_SECRET"
DEV_ISSUER = "rescue-network-dev"
AUDIENCE = "rescue-network"
DEV_TOKEN_TTL_SECONDS = 600


class ConfigError(Exception):
    """The command cannot run as configured (exit code 2)."""


def url_env(service: str) -> str:
    return f"RESCUE_OPS_{service.upper()}_URL"


def service_urls(
    options: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Base URL of every service, from ``--url NAME=URL`` options, the
    environment, or the local network's defaults."""
    environ = os.environ if environ is None else environ
    urls = {name: environ.get(url_env(name)) or DEFAULT_URLS[name] for name in SERVICES}
    for option in options:
        name, sep, url = option.partition("=")
        name = name.strip().lower()
        if not sep or not url.strip():
            raise ConfigError(f"--url {option!r}: write SERVICE=URL, e.g. intake=http://host:8101")
        if name not in SERVICES:
            raise ConfigError(f"--url {option!r}: unknown service {name!r} ({', '.join(SERVICES)})")
        urls[name] = url.strip()
    for name, url in urls.items():
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{name}: base URL {url!r} must start with http:// or https://")
        urls[name] = url.rstrip("/")
    return urls


def mint_dev_token(
    secret: str,
    *,
    station_id: str = "center",
    roles: Iterable[str] = ("ops",),
    subject: str = "rescue-ops",
    ttl_seconds: int = DEV_TOKEN_TTL_SECONDS,
) -> str:
    """A development bearer token (HS256), with the claims the services verify."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "station_id": station_id,
        "roles": list(roles),
        "aud": AUDIENCE,
        "iss": DEV_ISSUER,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer_token(
    dev_secret: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The token to send: ``--dev-secret`` if given, else ``RESCUE_OPS_TOKEN``,
    else one minted from ``RESCUE_OPS_DEV_JWT_SECRET``; None without any."""
    environ = os.environ if environ is None else environ
    if dev_secret:
        return mint_dev_token(dev_secret)
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV].strip()
    if environ.get(DEV_SECRET_ENV):
        return mint_dev_token(environ[DEV_SECRET_ENV].strip())
    return None
