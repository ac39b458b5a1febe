"""Bearer JWTs naming the caller's station and roles.

Every business endpoint depends on ``PrincipalDep``; health and docs stay open.
Development tokens are minted with ``python -m rescue_chassis.auth``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rescue_chassis.problems import Problem


class Role(StrEnum):
    STATION_STAFF = "station_staff"
    STATION_LEAD = "station_lead"
    CENTER_COORDINATOR = "center_coordinator"
    SEARCH_SPECIALIST = "search_specialist"
    AUDITOR = "auditor"
    OPS = "ops"
    ADMIN = "admin"
    # A partner agency's system; its token's station_id claim names the agency.
    PARTNER = "partner"


@dataclass(frozen=True)
class Principal:
    subject: str
    station_id: str
    roles: frozenset[str]

    def has_any(self, *roles: Role) -> bool:
        return any(r.value in self.roles for r in roles)


_bearer = HTTPBearer(auto_error=False)


def verify_token(token: str, *, secret: str, audience: str, issuer: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Problem(401, "Token expired", "The bearer token has expired.") from None
    except jwt.InvalidTokenError as exc:
        raise Problem(401, "Invalid token", f"The bearer token was rejected: {exc}.") from None
    station = claims.get("station_id")
    roles = claims.get("roles")
    if not isinstance(station, str) or not station:
        raise Problem(401, "Invalid token", "The token names no station (claim station_id).")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Problem(401, "Invalid token", "The token's roles claim must be a list of strings.")
    return Principal(subject=claims["sub"], station_id=station, roles=frozenset(roles))


async def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401, "Authentication required", "Send a bearer token: Authorization: Bearer …"
        )
    settings = request.app.state.runtime.settings
    return verify_token(
        credentials.credentials,
        secret=settings.jwt_secret.get_secret_value(),
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )


PrincipalDep = Annotated[Principal, Depends(_principal)]


def require_roles(*roles: Role):
    async def check(principal: PrincipalDep) -> Principal:
        if not principal.has_any(*roles):
            raise Problem(
                403,
                "Forbidden",
                f"This needs one of the roles: {', '.join(r.value for r in roles)}.",
            )
        return principal

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
