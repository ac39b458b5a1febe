"""OIDC bearer tokens, verified against a JWKS served by a real local HTTP server.

The "identity provider" is a tiny http.server on 127.0.0.1 (discovery document and
JWKS, keys generated here); the service side is a small FastAPI app built with
the chassis dependency (``PrincipalDep``), called over httpx's ASGI transport.
No Postgres, no broker.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from rescue_chassis import problems
from rescue_chassis.auth import (
    JwksVerifier,
    PrincipalDep,
    Role,
    SecretVerifier,
    mint_token,
    require_roles,
    verifier_for,
)
from rescue_chassis.oidc import JwksCache, UnknownSigningKey
from rescue_chassis.problems import Problem
from rescue_chassis.settings import ServiceSettings

AUDIENCE = "rescue-network"
DEV_SECRET = "oidc-unit-test-" + "q" * 40


class AuthTestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTHTEST_")


# ------------------------------------------------------------------- keys ---


class Key:
    def __init__(self, kid: str, private: Any, algorithm: str, *, jwk_alg: str | None = None):
        self.kid, self.private, self.algorithm = kid, private, algorithm
        exporter = RSAAlgorithm if algorithm[:2] in ("RS", "PS") else ECAlgorithm
        self.jwk: dict[str, Any] = exporter.to_jwk(private.public_key(), as_dict=True)
        self.jwk |= {"kid": kid, "use": "sig"}
        if jwk_alg:
            self.jwk["alg"] = jwk_alg

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, kid: str | None = "same", alg: str | None = None):
        headers = {} if kid is None else {"kid": self.kid if kid == "same" else kid}
        return jwt.encode(claims, self.private, algorithm=alg or self.algorithm, headers=headers)


def rsa_key(kid: str, algorithm: str = "RS256", jwk_alg: str | None = "RS256") -> Key:
    return Key(kid, rsa.generate_private_key(65537, 2048), algorithm, jwk_alg=jwk_alg)


@pytest.fixture(scope="module")
def keys() -> SimpleNamespace:
    return SimpleNamespace(
        rsa=rsa_key("rsa-1"),
        ec=Key("ec-1", ec.generate_private_key(ec.SECP256R1()), "ES256", jwk_alg="ES256"),
        pss=rsa_key("rsa-pss", "PS256", jwk_alg=None),  # no alg in the JWK: the token's counts
        rotated=rsa_key("rsa-2"),
        attacker=rsa_key("rsa-1"),  # claims the kid of the real key
    )


# --------------------------------------------------------- the provider ---


class Provider:
    """Discovery + JWKS on 127.0.0.1, with counters and an off switch."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.hits: Counter[str] = Counter()
        self.down = False
        self.discovery_issuer: str | None = None
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                provider.hits[self.path] += 1
                if provider.down:
                    self._send(500, {"error": "down"})
                elif self.path == "/realms/rescue/.well-known/openid-configuration":
                    self._send(
                        200,
                        {
                            "issuer": provider.discovery_issuer or provider.issuer,
                            "jwks_uri": provider.jwks_url,
                        },
                    )
                elif self.path == "/realms/rescue/protocol/openid-connect/certs":
                    self._send(200, provider.jwks)
                else:
                    self._send(404, {"error": "not found"})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{base}/realms/rescue"
        self.jwks_url = f"{self.issuer}/protocol/openid-connect/certs"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def publish(self, *keys: Key) -> None:
        self.jwks = {"keys": [k.jwk for k in keys]}

    @property
    def jwks_hits(self) -> int:
        return self.hits["/realms/rescue/protocol/openid-connect/certs"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider(keys) -> Iterator[Provider]:
    idp = Provider()
    idp.publish(keys.rsa, keys.ec, keys.pss)
    yield idp
    idp.close()


def claims(provider: Provider, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "worker-7",
        "station_id": "gushi",
        "roles": ["station_staff"],
        "aud": AUDIENCE,
        "iss": provider.issuer,
        "iat": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


# ------------------------------------------------------------ the service ---


def settings_for(provider: Provider | None = None, **overrides: Any) -> AuthTestSettings:
    values: dict[str, Any] = dict(database_url="x", kafka_bootstrap_servers="x")
    if provider is not None:
        values["oidc_issuer"] = provider.issuer
    return AuthTestSettings(**(values | overrides))


def service(settings: ServiceSettings) -> FastAPI:
    app = FastAPI()
    problems.install(app)
    app.state.runtime = SimpleNamespace(settings=settings)

    @app.get("/me")
    async def me(principal: PrincipalDep) -> dict[str, Any]:
        return {
            "subject": principal.subject,
            "station_id": principal.station_id,
            "roles": sorted(principal.roles),
        }

    @app.get("/leads-only", dependencies=[require_roles(Role.STATION_LEAD)])
    async def leads_only() -> dict[str, bool]:
        return {"ok": True}

    return app


def client_for(settings: ServiceSettings) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=service(settings), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://rescue.test")


async def get_me(client: httpx.AsyncClient, token: str, path: str = "/me") -> httpx.Response:
    return await client.get(path, headers={"Authorization": f"Bearer {token}"})


def assert_rejected(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"'), challenge
    assert f'error_description="{reason}"' in challenge
    body = response.json()
    assert body["status"] == 401 and "Traceback" not in response.text


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], mac_key: bytes | None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    if mac_key is None:
        return signing_input + "."
    mac = hmac.new(mac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


# ----------------------------------------------------------------- tests ---


@pytest.mark.parametrize("which", ["rsa", "ec", "pss"])
async def test_a_valid_token_opens_the_endpoint(provider, keys, which):
    key = getattr(keys, which)
    async with client_for(settings_for(provider)) as client:
        response = await get_me(client, key.sign(claims(provider)))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": "worker-7",
        "station_id": "gushi",
        "roles": ["station_staff"],
    }


async def test_the_verifier_can_be_called_directly(provider, keys):
    verifier = verifier_for(settings_for(provider))
    assert isinstance(verifier, JwksVerifier)
    principal = await verifier.verify(keys.ec.sign(claims(provider, roles=["ops", "auditor"])))
    assert (principal.subject, principal.station_id) == ("worker-7", "gushi")
    assert principal.has_any(Role.OPS) and not principal.has_any(Role.ADMIN)
    with pytest.raises(Problem) as caught:
        await verifier.verify(keys.rsa.sign(claims(provider, exp=int(time.time()) - 3600)))
    assert caught.value.status == 401 and "expired" in caught.value.detail


async def test_no_bearer_token_is_a_401_with_a_challenge(provider):
    async with client_for(settings_for(provider)) as client:
        response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("overrides", "reason", "detail"),
    [
        ({"exp": -3600}, "expired", "expired"),
        ({"aud": "someone-else"}, "audience", "audience"),
        ({"iss": "https://evil.example.org/realms/rescue"}, "issuer", "issuer"),
        ({"nbf": 3600}, "not yet valid", "not valid yet"),
        ({"iat": 3600}, "not yet valid", "not valid yet"),
        ({"exp": None}, "missing claim", "exp"),
        ({"iat": None}, "missing claim", "iat"),
        ({"sub": None}, "missing claim", "sub"),
        ({"typ": "ID"}, "invalid", "access token"),
    ],
    ids=[
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "nbf-future",
        "iat-future",
        "no-exp",
        "no-iat",
        "no-sub",
        "id-token",
    ],
)
async def test_bad_claims_get_401(provider, keys, overrides, reason, detail):
    now = int(time.time())
    relative = {k: now + v for k, v in overrides.items() if k in ("exp", "nbf", "iat") and v}
    token = keys.rsa.sign(claims(provider, **(overrides | relative)))
    async with client_for(settings_for(provider)) as client:
        response = await get_me(client, token)
    assert_rejected(response, reason)
    assert detail in response.json()["detail"]


async def test_a_little_clock_skew_is_tolerated(provider, keys):
    now = int(time.time())
    token = keys.rsa.sign(claims(provider, exp=now - 10, iat=now + 10, nbf=now + 10))
    async with client_for(settings_for(provider)) as client:
        assert (await get_me(client, token)).status_code == 200


async def test_a_token_signed_by_another_key_is_refused(provider, keys):
    async with client_for(settings_for(provider)) as client:
        same_kid = await get_me(client, keys.attacker.sign(claims(provider)))
        unknown_kid = await get_me(client, keys.attacker.sign(claims(provider), kid="evil-1"))
        no_kid = await get_me(client, keys.attacker.sign(claims(provider), kid=None))
    assert_rejected(same_kid, "signature")
    assert_rejected(unknown_kid, "unknown key")
    assert "evil-1" in unknown_kid.json()["detail"]
    assert_rejected(no_kid, "unknown key")  # several keys published: a kid is needed


async def test_algorithm_none_and_confusion_are_refused(provider, keys):
    payload = claims(provider)
    attempts = {
        "none": forged({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, payload, None),
        # HS256 "signed" with what anybody can read: the public key (PEM and JWK).
        "hs256-pem": forged({"alg": "HS256", "kid": "rsa-1"}, payload, keys.rsa.public_pem),
        "hs256-jwk": forged(
            {"alg": "HS256", "kid": "rsa-1"}, payload, json.dumps(keys.rsa.jwk).encode()
        ),
        # An EC algorithm with an RSA key, an RSA algorithm with an EC key.
        "es256-on-rsa": keys.ec.sign(payload, kid="rsa-1"),
        "rs256-on-ec": keys.rsa.sign(payload, kid="ec-1"),
        # The JWK says RS256: a PS256 token does not fit it, even with the right key.
        "ps256-on-rs256-key": keys.rsa.sign(payload, alg="PS256"),
    }
    async with client_for(settings_for(provider)) as client:
        for name, token in attempts.items():
            response = await get_me(client, token)
            assert_rejected(response, "algorithm")
            assert response.status_code == 401, name


async def test_garbage_is_a_401_not_a_500(provider):
    async with client_for(settings_for(provider)) as client:
        for token in ("not-a-jwt", "a.b.c", b64(b'{"alg":"RS256","kid":7}') + ".e30.AA"):
            response = await get_me(client, token)
            assert response.status_code == 401, (token, response.text)


async def test_a_rotated_key_is_accepted_after_one_refetch(provider, keys):
    settings = settings_for(provider, jwks_min_refresh_seconds=0)
    async with client_for(settings) as client:
        assert (await get_me(client, keys.rsa.sign(claims(provider)))).status_code == 200
        assert provider.jwks_hits == 1
        provider.publish(keys.rotated, keys.rsa)  # the provider rotates its keys
        response = await get_me(client, keys.rotated.sign(claims(provider)))
        assert response.status_code == 200, response.text
        assert provider.jwks_hits == 2
        # Both keys are cached now: no further fetch.
        assert (await get_me(client, keys.rsa.sign(claims(provider)))).status_code == 200
        assert (await get_me(client, keys.rotated.sign(claims(provider)))).status_code == 200
        assert provider.jwks_hits == 2


async def test_unknown_kids_cannot_make_every_request_refetch(provider, keys):
    async with client_for(settings_for(provider)) as client:  # 30 s between refetches
        assert (await get_me(client, keys.rsa.sign(claims(provider)))).status_code == 200
        for n in range(20):
            token = keys.attacker.sign(claims(provider), kid=f"made-up-{n}")
            assert_rejected(await get_me(client, token), "unknown key")
    assert provider.jwks_hits == 1
    discovery = "/realms/rescue/.well-known/openid-configuration"
    assert provider.hits[discovery] == 1


async def test_an_unknown_kid_refetches_once_per_interval(provider, keys):
    now = [1000.0]
    cache = JwksCache(issuer=provider.issuer, min_refresh_seconds=30, clock=lambda: now[0])
    await cache.signing_key("rsa-1", "RS256")
    assert provider.jwks_hits == 1
    for _ in range(5):
        with pytest.raises(UnknownSigningKey):
            await cache.signing_key("rsa-2", "RS256")
    assert provider.jwks_hits == 1
    provider.publish(keys.rsa, keys.rotated)
    now[0] += 31
    assert (await cache.signing_key("rsa-2", "RS256")).key_id == "rsa-2"
    assert provider.jwks_hits == 2


async def test_concurrent_requests_share_one_fetch(provider, keys):
    token = keys.rsa.sign(claims(provider))
    async with client_for(settings_for(provider)) as client:
        responses = await asyncio.gather(*(get_me(client, token) for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert provider.jwks_hits == 1


async def test_keys_unreachable_is_a_503_not_a_401(provider, keys):
    provider.down = True
    async with client_for(settings_for(provider)) as client:
        response = await get_me(client, keys.rsa.sign(claims(provider)))
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert "Traceback" not in response.text


async def test_no_provider_listening_is_a_503():
    closed = Provider()
    closed.close()  # nothing listens on its port any more
    settings = settings_for(closed, jwks_timeout_seconds=1)
    async with client_for(settings) as client:
        token = rsa_key("rsa-1").sign(claims(closed))
        first = await get_me(client, token)
        second = await get_me(client, token)  # within the back-off: no new attempt
    for response in (first, second):
        assert response.status_code == 503
        assert response.headers["retry-after"]
    assert closed.hits == Counter()


async def test_cached_keys_outlive_a_provider_outage(provider, keys):
    settings = settings_for(provider, jwks_cache_seconds=0, jwks_min_refresh_seconds=0)
    async with client_for(settings) as client:
        assert (await get_me(client, keys.rsa.sign(claims(provider)))).status_code == 200
        provider.down = True
        # The keys expired and the refetch fails: the cached ones still verify...
        assert (await get_me(client, keys.rsa.sign(claims(provider)))).status_code == 200
        # ...but a key the cache does not know might be a fine new one: 503, not 401.
        response = await get_me(client, keys.rotated.sign(claims(provider)))
        assert response.status_code == 503


async def test_a_discovery_document_naming_another_issuer_is_not_trusted(provider, keys):
    provider.discovery_issuer = "https://evil.example.org/realms/rescue"
    async with client_for(settings_for(provider)) as client:
        response = await get_me(client, keys.rsa.sign(claims(provider)))
    assert response.status_code == 503
    assert provider.jwks_hits == 0


@pytest.mark.parametrize("issuer_setting", ["jwt_issuer", "oidc_issuer"])
async def test_the_jwks_url_may_be_given_directly(provider, keys, issuer_setting):
    # E.g. an in-cluster URL for the keys while the issuer stays the public one.
    settings = settings_for(None, jwks_url=provider.jwks_url, **{issuer_setting: provider.issuer})
    async with client_for(settings) as client:
        assert (await get_me(client, keys.ec.sign(claims(provider)))).status_code == 200
    assert provider.hits["/realms/rescue/.well-known/openid-configuration"] == 0


async def test_keycloak_style_claims_are_mapped(provider, keys):
    settings = settings_for(
        provider,
        jwt_roles_claim="realm_access.roles, resource_access.rescue-network.roles",
        jwt_station_claim="rescue_station",
    )
    keycloak = claims(
        provider,
        roles=None,
        station_id=None,
        aud=[AUDIENCE, "account"],
        typ="Bearer",
        azp="rescue-web",
        preferred_username="li.wei",
        rescue_station="xinyang",
        realm_access={"roles": ["offline_access", "default-roles-rescue"]},
        resource_access={
            "rescue-network": {"roles": ["station_lead"]},
            "account": {"roles": ["manage-account"]},
        },
    )
    async with client_for(settings) as client:
        me = await get_me(client, keys.rsa.sign(keycloak))
        leads = await get_me(client, keys.rsa.sign(keycloak), "/leads-only")
        no_client_roles = dict(keycloak, resource_access={})
        staff = await get_me(client, keys.rsa.sign(no_client_roles), "/leads-only")
        no_roles = {k: v for k, v in no_client_roles.items() if k != "realm_access"}
        refused = await get_me(client, keys.rsa.sign(no_roles))
        no_station = await get_me(client, keys.rsa.sign(dict(keycloak, rescue_station=None)))
    assert me.status_code == 200, me.text
    assert me.json() == {
        "subject": "worker-7",
        "station_id": "xinyang",
        "roles": ["default-roles-rescue", "offline_access", "station_lead"],
    }
    assert leads.status_code == 200
    assert staff.status_code == 403
    assert_rejected(refused, "roles")
    assert_rejected(no_station, "station")
    assert "rescue_station" in no_station.json()["detail"]


async def test_development_mode_still_works_as_before():
    settings = settings_for(None, jwt_secret=DEV_SECRET)
    assert isinstance(verifier_for(settings), SecretVerifier)
    token = mint_token(secret=DEV_SECRET, subject="dev", station_id="center", roles=["ops"])
    async with client_for(settings) as client:
        ok = await get_me(client, token)
        wrong = await get_me(
            client, mint_token(secret="x" * 40, subject="d", station_id="c", roles=[])
        )
        expired = await get_me(
            client,
            mint_token(secret=DEV_SECRET, subject="d", station_id="c", roles=[], ttl_seconds=-60),
        )
    assert ok.status_code == 200
    assert ok.json() == {"subject": "dev", "station_id": "center", "roles": ["ops"]}
    assert_rejected(wrong, "signature")
    assert_rejected(expired, "expired")


async def test_with_oidc_configured_the_development_secret_opens_nothing(provider):
    settings = settings_for(provider, jwt_secret=DEV_SECRET)
    dev_token = mint_token(secret=DEV_SECRET, subject="dev", station_id="center", roles=["ops"])
    as_provider = mint_token(
        secret=DEV_SECRET,
        subject="dev",
        station_id="center",
        roles=["ops"],
        issuer=provider.issuer,
    )
    async with client_for(settings) as client:
        for token in (dev_token, as_provider):
            assert_rejected(await get_me(client, token), "algorithm")


# -------------------------------------------------------------- settings ---


def test_oidc_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("AUTHTEST_DATABASE_URL", "x")
    monkeypatch.setenv("AUTHTEST_KAFKA_BOOTSTRAP_SERVERS", "x")
    monkeypatch.setenv("AUTHTEST_ENVIRONMENT", "production")
    monkeypatch.setenv("AUTHTEST_OIDC_ISSUER", "https://sso.example.org/realms/rescue")
    monkeypatch.setenv("AUTHTEST_JWT_ALGORITHMS", "RS256, ES256")
    monkeypatch.setenv("AUTHTEST_JWT_ROLES_CLAIM", "realm_access.roles")
    monkeypatch.delenv("AUTHTEST_JWT_SECRET", raising=False)
    settings = AuthTestSettings()  # no secret needed: it would never be used
    assert settings.oidc_enabled and settings.jwt_secret is None
    assert settings.jwt_algorithms == ("RS256", "ES256")
    assert settings.token_issuer == "https://sso.example.org/realms/rescue"


@pytest.mark.parametrize("algorithms", ["HS256", "RS256,none", "none", "HS512,ES256", ""])
def test_oidc_refuses_symmetric_and_none_algorithms(algorithms):
    with pytest.raises(ValidationError, match="jwt_algorithms"):
        settings_for(
            None, oidc_issuer="https://sso.example.org/realms/r", jwt_algorithms=algorithms
        )


def test_oidc_settings_that_contradict_themselves_are_refused():
    with pytest.raises(ValidationError, match="differ"):
        settings_for(
            None,
            oidc_issuer="https://sso.example.org/realms/r",
            jwt_issuer="https://other.example.org/realms/r",
        )
    with pytest.raises(ValidationError, match="jwt_issuer"):
        settings_for(None, jwks_url="https://sso.example.org/certs")  # issuer unknown
    with pytest.raises(ValidationError, match="http"):
        settings_for(None, oidc_issuer="sso.example.org")


def test_without_oidc_the_secret_is_required():
    with pytest.raises(ValidationError, match="jwt_secret is required"):
        settings_for(None)
