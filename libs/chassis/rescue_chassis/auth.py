"""Bearer JWTs naming the caller's station and roles.

Every business endpoint depends on ``PrincipalDep``; health and docs stay open.
Two modes, chosen by the settings (``rescue_chassis.settings``), never both:

- Development (default): HS256 tokens signed with ``<SERVICE>_JWT_SECRET``,
  minted with ``python -m rescue_chassis.auth`` (``make token``, the local
  network, the tests). Claims ``sub``, ``station_id``, ``roles`` (a list).
- OIDC, as soon as ``<SERVICE>_OIDC_ISSUER`` or ``<SERVICE>_JWKS_URL`` is set:
  tokens of an identity provider (Keycloak, ...) verified against its JWKS
  (``rescue_chassis.oidc``): RS256/ES256/PS256 only, ``exp``/``nbf``/``iat``
  with ``<SERVICE>_JWT_LEEWAY_SECONDS`` of leeway, ``aud`` = ``<SERVICE>_JWT_AUDIENCE``,
  ``iss`` = the issuer. The shared secret is then never accepted. Roles and
  station come from ``<SERVICE>_JWT_ROLES_CLAIM`` (dotted paths, comma-separated,
  merged: ``realm_access.roles,resource_access.rescue-network.roles`` for
  Keycloak) and ``<SERVICE>_JWT_STATION_CLAIM``. See deploy/k8s/README.md.

A rejected token is a 401 problem with ``WWW-Authenticate: Bearer
error="invalid_token"`` and the reason (expired, signature, audience, issuer,
unknown key, ...); unreachable provider keys are a 503 with ``Retry-After``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Protocol

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rescue_chassis.oidc import JwksCache, KeysUnavailable, OidcVerifier, UnknownSigningKey
from rescue_chassis.problems import Problem
from rescue_chassis.settings import ServiceSettings

log = logging.getLogger(__name__)


class Role(StrEnum):
    STATION_STAFF = "station_staff"
    STATION_LEAD = "station_lead"
    CENTER_COORDINATOR = "center_coordinator"
    SEARCH_SPECIALIST = "search_specialist"
    AUDITOR = "auditor"
    OPS = "ops"
    ADMIN = "admin"
    # A partner agency's system; its token's station_id claim names the agency,
    # and a second role names the agency's type.
    PARTNER = "partner"
    POLICE = "police"
    WOMENS_FEDERATION = "womens_federation"
    MINOR_PROTECTION = "minor_protection"
    CIVIL_AFFAIRS = "civil_affairs"
    HOSPITAL = "hospital"
    SOCIAL_ORGANISATION = "social_organisation"
    # Another region's rescue station (its return notices, ours to it).
    RESCUE_STATION = "rescue_station"
    # A town's or village's official who makes revisits (乡镇/村): the token's
    # station_id claim carries the area's admin code (9 digits town, 12 village).
    TOWN_OFFICIAL = "town_official"


@dataclass(frozen=True)
class Principal:
    subject: str
    station_id: str
    roles: frozenset[str]
    # When the token that named this caller expires (its exp claim, epoch seconds).
    expires_at: float | None = field(default=None, compare=False)

    def has_any(self, *roles: Role) -> bool:
        return any(r.value in self.roles for r in roles)


# ------------------------------------------------------------ rejections ---

# Most specific first (InvalidSignatureError is a DecodeError, ...).
_REASONS: tuple[tuple[type[Exception], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired", "The bearer token has expired."),
    (
        jwt.ImmatureSignatureError,
        "not yet valid",
        "The bearer token is not valid yet (nbf or iat lies in the future).",
    ),
    (jwt.InvalidAudienceError, "audience", "The bearer token is meant for another audience."),
    (jwt.InvalidIssuerError, "issuer", "The bearer token comes from another issuer."),
    (jwt.InvalidSignatureError, "signature", "The bearer token's signature does not verify."),
    (UnknownSigningKey, "unknown key", "The bearer token is signed with an unknown key: {exc}."),
    (jwt.InvalidAlgorithmError, "algorithm", "The bearer token's algorithm is refused: {exc}."),
    (jwt.MissingRequiredClaimError, "missing claim", "The bearer token lacks a claim: {exc}."),
    (jwt.DecodeError, "malformed", "The bearer token is malformed."),
)


def invalid_token(reason: str, detail: str, *, title: str = "Invalid token") -> Problem:
    """A 401 with the RFC 6750 challenge naming the reason."""
    return Problem(
        401,
        title,
        detail,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
    )


def rejected(exc: jwt.InvalidTokenError) -> Problem:
    """The 401 problem for a token PyJWT (or ``rescue_chassis.oidc``) refused."""
    reason, detail = next(
        ((reason, detail) for kind, reason, detail in _REASONS if isinstance(exc, kind)),
        ("invalid", "The bearer token was rejected: {exc}."),
    )
    log.debug("bearer token rejected (%s): %s", reason, exc)
    title = "Token expired" if reason == "expired" else "Invalid token"
    return invalid_token(reason, detail.format(exc=str(exc)[:200]), title=title)


# ----------------------------------------------------------- claim mapping ---


@dataclass(frozen=True)
class ClaimMapping:
    """Where a token carries the station and the roles: dotted claim paths.

    Several roles paths are merged; at least one must be present."""

    station: str = "station_id"
    roles: tuple[str, ...] = ("roles",)

    @classmethod
    def parse(cls, station: str, roles: str) -> ClaimMapping:
        paths = tuple(path.strip() for path in roles.split(",") if path.strip())
        return cls(station=station.strip(), roles=paths or ("roles",))


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """``realm_access.roles`` → ``claims["realm_access"]["roles"]``; None if absent.
    A claim whose own name holds dots (``https://example.org/station``) is found too."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def principal_from_claims(
    claims: Mapping[str, Any], mapping: ClaimMapping = ClaimMapping()
) -> Principal:
    station = claim_at(claims, mapping.station)
    if isinstance(station, list) and len(station) == 1:
        station = station[0]  # a single-valued user attribute, sent as a list
    if not isinstance(station, str) or not station:
        raise invalid_token("station", f"The token names no station (claim {mapping.station}).")
    roles: set[str] = set()
    found = False
    for path in mapping.roles:
        value = claim_at(claims, path)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            raise invalid_token(
                "roles", f"The token's roles claim ({path}) must be a list of strings."
            )
        found = True
        roles.update(value)
    if not found:
        raise invalid_token(
            "roles",
            f"The token's roles claim ({', '.join(mapping.roles)}) must be a list of strings.",
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise invalid_token("subject", "The token names no subject (claim sub).")
    expires = claims.get("exp")
    return Principal(
        subject=subject,
        station_id=station,
        roles=frozenset(roles),
        expires_at=float(expires) if isinstance(expires, int | float) else None,
    )


# ------------------------------------------------------------- verifiers ---


def verify_token(token: str, *, secret: str, audience: str, issuer: str) -> Principal:
    """A development token: HS256 with the shared secret."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.InvalidTokenError as exc:
        raise rejected(exc) from None
    return principal_from_claims(claims)


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


@dataclass(frozen=True)
class SecretVerifier:
    """Development mode: HS256 tokens signed with the shared secret."""

    secret: str
    audience: str
    issuer: str

    async def verify(self, token: str) -> Principal:
        return verify_token(token, secret=self.secret, audience=self.audience, issuer=self.issuer)


class JwksVerifier:
    """OIDC mode: tokens signed by the identity provider's keys."""

    def __init__(self, oidc: OidcVerifier, mapping: ClaimMapping = ClaimMapping()) -> None:
        self.oidc = oidc
        self.mapping = mapping

    async def verify(self, token: str) -> Principal:
        try:
            claims = await self.oidc.claims(token)
        except KeysUnavailable as exc:
            raise Problem(
                503,
                "Identity provider unavailable",
                "The identity provider's signing keys cannot be fetched just now; "
                "the token was not checked. Try again shortly.",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        except jwt.InvalidTokenError as exc:
            raise rejected(exc) from None
        return principal_from_claims(claims, self.mapping)


class RecentlyVerified:
    """Tokens this process verified in the last ``max_age`` seconds, with the caller
    each named: a station app sends the same bearer token with every request, and
    checking its signature each time is CPU spent for nothing. A token is never
    trusted past its own ``exp``; a failed check is never remembered; and a key
    the identity provider withdrew stops being honoured within ``max_age``."""

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        max_age: float = 60.0,
        max_tokens: int = 4096,
        clock=time.time,
    ) -> None:
        self.verifier = verifier
        self.max_age = max_age
        self.max_tokens = max_tokens
        self.clock = clock
        self._known: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        now = self.clock()
        known = self._known.get(token)
        if known is not None:
            principal, until = known
            if now < until:
                return principal
            del self._known[token]
        principal = await self.verifier.verify(token)  # raises for a bad token
        until = now + self.max_age
        if principal.expires_at is not None:
            until = min(until, principal.expires_at)
        self._known[token] = (principal, until)
        while len(self._known) > self.max_tokens:
            self._known.popitem(last=False)  # the oldest
        return principal


def verifier_for(settings: ServiceSettings) -> TokenVerifier:
    """The verifier the settings ask for (see the module docstring)."""
    if not settings.oidc_enabled:
        assert settings.jwt_secret is not None  # the settings refuse this otherwise
        return SecretVerifier(
            secret=settings.jwt_secret.get_secret_value(),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
    keys = JwksCache(
        issuer=settings.oidc_issuer,
        jwks_url=settings.jwks_url,
        timeout=settings.jwks_timeout_seconds,
        cache_seconds=settings.jwks_cache_seconds,
        min_refresh_seconds=settings.jwks_min_refresh_seconds,
    )
    oidc = OidcVerifier(
        keys,
        issuer=settings.token_issuer,
        audience=settings.jwt_audience,
        algorithms=settings.jwt_algorithms,
        leeway=settings.jwt_leeway_seconds,
    )
    mapping = ClaimMapping.parse(settings.jwt_station_claim, settings.jwt_roles_claim)
    return JwksVerifier(oidc, mapping)


def app_verifier(state) -> TokenVerifier:
    """One verifier per app: its JWKS cache and the tokens it recently verified live
    as long as the app (the input limits read the caller from it too)."""
    verifier = getattr(state, "token_verifier", None)
    if verifier is None:
        verifier = state.token_verifier = RecentlyVerified(verifier_for(state.runtime.settings))
    return verifier


def _verifier(request: Request) -> TokenVerifier:
    return app_verifier(request.app.state)


class _BearerPrincipal(HTTPBearer):
    """The caller named by the bearer token: the security scheme (as OpenAPI shows
    it) and the verification in one dependency, resolved once per request. Three
    dependencies of every business route need the caller; each would solve the
    scheme again beneath it (FastAPI solves a cached dependency's own
    dependencies before it looks in the cache)."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        known = request.scope.get(_PRINCIPAL_KEY)
        if known is not None:
            return known
        credentials = await super().__call__(request)
        return await _verified(request, credentials)


async def _verified(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401,
            "Authentication required",
            "Send a bearer token: Authorization: Bearer …",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await _verifier(request).verify(credentials.credentials)
    request.state.principal = principal  # who, for the audit trail (rescue_chassis.audit)
    request.scope[_PRINCIPAL_KEY] = principal
    _current.set(principal)  # for views that show sensitive fields by role (access.may_see)
    return principal


_PRINCIPAL_KEY = "rescue.principal"  # the scope's key of the verified caller
# The scheme's name in the OpenAPI documents, as HTTPBearer names itself.
_principal = _BearerPrincipal(scheme_name="HTTPBearer", auto_error=False)


async def principal_of(request: Request) -> Principal:
    """The request's verified caller: the one a dependency verified already, else
    the bearer token's (for a dependency that would otherwise add a node)."""
    known = request.scope.get(_PRINCIPAL_KEY)
    return known if known is not None else await _principal(request)


# The request's caller, for response views: set by the dependency above within the
# request's task, so the endpoint and the serialisation of its answer see it.
_current: ContextVar[Principal | None] = ContextVar("rescue_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the request being answered; None outside a request."""
    return _current.get()


PrincipalDep = Annotated[Principal, Depends(_principal)]


def require_roles(*roles: Role):
    """The route's policy: which roles may call it (any one of them). The roles are
    kept on the check, so the app factory can refuse a route without a policy and
    the authorisation matrix test can read every route's roles."""

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.has_any(*roles):
            raise Problem(
                403,
                "Forbidden",
                f"This needs one of the roles: {', '.join(r.value for r in roles)}.",
            )
        return principal

    check.rescue_roles = frozenset(roles)  # type: ignore[attr-defined]
    return Depends(check)


def mint_token(
    *,
    secret: str,
    subject: str,
    station_id: str,
    roles: list[str],
    audience: str = "rescue-network",
    issuer: str = "rescue-network-dev",
    ttl_seconds: int = 12 * 3600,
) -> str:
    now = int(time.time())
    claims = {
        "sub": subject,
        "station_id": station_id,
        "roles": roles,
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mint a development bearer token.")
    parser.add_argument("--station", required=True, help="station id, e.g. gushi or center")
    parser.add_argument("--roles", default="station_staff", help="comma-separated roles")
    parser.add_argument("--subject", default="dev-user")
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="seconds")
    parser.add_argument("--secret", default=os.environ.get("RESCUE_JWT_SECRET"))
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("no secret: pass --secret or set RESCUE_JWT_SECRET")
    print(
        mint_token(
            secret=args.secret,
            subject=args.subject,
            station_id=args.station,
            roles=[r.strip() for r in args.roles.split(",") if r.strip()],
            ttl_seconds=args.ttl,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
