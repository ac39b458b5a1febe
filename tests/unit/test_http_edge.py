"""What a client sees at the HTTP edge: auth, problem+json. No database is touched."""

import logging
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from intake.app import service
from intake.settings import IntakeSettings
from rescue_chassis.app import create_app
from rescue_chassis.auth import mint_token

SECRET = "unit-test-secret-" + "y" * 32


@pytest.fixture(scope="module")
def client():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    settings = IntakeSettings(
        database_url="postgresql+asyncpg://nobody@/nowhere?host=/nonexistent",
        kafka_bootstrap_servers="127.0.0.1:1",
        jwt_secret=SECRET,
    )
    # No `with`: the lifespan (relay, consumer) does not start; nothing connects.
    yield TestClient(create_app(service, settings), raise_server_exceptions=False)
    # create_app configured JSON logging for a service process; give pytest its own back.
    root.handlers[:], root.level = handlers, level


def bearer(**overrides) -> dict[str, str]:
    args = dict(secret=SECRET, subject="worker-1", station_id="gushi", roles=["station_staff"])
    return {"Authorization": f"Bearer {mint_token(**(args | overrides))}"}


def test_health_and_docs_need_no_token(client):
    assert client.get("/health/live").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_business_endpoints_need_a_bearer_token(client):
    response = client.get("/persons")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "headers",
    [
        bearer(secret="another-secret-" + "z" * 32),
        bearer(audience="someone-else"),
        bearer(ttl_seconds=-10),
        {"Authorization": "Bearer not-a-jwt"},
    ],
    ids=["wrong-signature", "wrong-audience", "expired", "garbage"],
)
def test_bad_tokens_get_401(client, headers):
    assert client.get("/persons", headers=headers).status_code == 401


def test_a_token_without_station_is_refused(client):
    claims = {
        "sub": "u",
        "roles": [],
        "aud": "rescue-network",
        "iss": "rescue-network-dev",
        "exp": int(time.time()) + 60,
    }
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    response = client.get("/persons", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "station" in response.json()["detail"]


def test_invalid_admission_names_field_and_reason(client):
    response = client.post(
        "/persons",
        headers=bearer(),
        json={"arrival_route": "by_balloon", "sex": "male", "estimated_age": 300},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert set(fields) == {"arrival_route", "estimated_age"}
    assert "120" in fields["estimated_age"]


def test_unknown_fields_are_refused_not_dropped(client):
    response = client.post(
        "/persons",
        headers=bearer(),
        json={"arrival_route": "own_request", "sex": "male", "nmae": "x"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "nmae"


def test_ops_endpoints_need_the_ops_role(client):
    response = client.get("/ops/dead-letters", headers=bearer())
    assert response.status_code == 403


def test_settings_refuse_placeholder_secrets_in_production():
    with pytest.raises(ValidationError, match="placeholder"):
        IntakeSettings(
            database_url="x",
            kafka_bootstrap_servers="x",
            environment="production",
            jwt_secret="change-me-change-me-change-me-change-me",
        )


def test_settings_refuse_the_development_token_issuer_in_production():
    with pytest.raises(ValidationError, match="development issuer"):
        IntakeSettings(
            database_url="x",
            kafka_bootstrap_servers="x",
            environment="production",
            jwt_secret="k3Jq9vLw0pXz7RtYb2Nc5Hs8Gd1Fm4Ae6Ui",
        )
    production = IntakeSettings(
        database_url="x",
        kafka_bootstrap_servers="x",
        environment="production",
        jwt_secret="k3Jq9vLw0pXz7RtYb2Nc5Hs8Gd1Fm4Ae6Ui",
        jwt_issuer="https://sso.example.org/r",
    )
    assert production.jwt_issuer == "https://sso.example.org/r"


def test_settings_fail_fast_without_a_database_url(monkeypatch):
    monkeypatch.delenv("INTAKE_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="database_url"):
        IntakeSettings(kafka_bootstrap_servers="x", jwt_secret=SECRET)


def test_the_correlation_id_is_echoed_or_minted(client):
    given = client.get("/health/live", headers={"X-Correlation-ID": "station-app-42"})
    assert given.headers["X-Correlation-ID"] == "station-app-42"
    minted = client.get("/health/live")
    assert len(minted.headers["X-Correlation-ID"]) == 36  # a new UUID
    odd = client.get("/health/live", headers={"X-Correlation-ID": "x" * 101})
    assert odd.headers["X-Correlation-ID"] != "x" * 101


def test_requests_are_counted_by_route_template_on_metrics(client):
    client.get("/health/live")
    metrics = client.get("/metrics").text
    assert 'route="/health/live"' in metrics and 'status="200"' in metrics
    assert 'route="/metrics"' not in metrics
