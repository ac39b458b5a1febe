"""The chassis's input bounds (rescue_chassis.limits) on a small app, in process."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from rescue_chassis import problems
from rescue_chassis.app import CorrelationMiddleware
from rescue_chassis.auth import PrincipalDep, SecretVerifier, mint_token
from rescue_chassis.limits import InputLimits, TokenBuckets, body_limit

SECRET = "limits-test-secret-" + "x" * 32
LIMIT = 1000


class Note(BaseModel):
    text: str


def small_app(*, rate: float = 1000.0, burst: int = 1000) -> FastAPI:
    app = FastAPI()
    problems.install(app)
    app.state.token_verifier = SecretVerifier(
        secret=SECRET, audience="rescue-network", issuer="rescue-network-dev"
    )

    @app.post("/notes")
    async def notes(note: Note) -> dict:
        return {"length": len(note.text)}

    @app.post("/photos", openapi_extra=body_limit(5 * LIMIT))
    async def photos(note: Note) -> dict:
        return {"length": len(note.text)}

    @app.get("/me")
    async def me(principal: PrincipalDep) -> dict:
        return {"subject": principal.subject}

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("password=hunter2 in /srv/secret/module.py line 42")

    @app.get("/health/live")
    async def live() -> dict:
        return {"status": "live"}

    app.add_middleware(
        InputLimits,
        max_body_bytes=LIMIT,
        max_upload_bytes=10 * LIMIT,
        max_url_bytes=512,
        rate_per_second=rate,
        burst=burst,
    )
    app.add_middleware(CorrelationMiddleware)
    return app


def client(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def token(subject: str) -> dict[str, str]:
    value = mint_token(secret=SECRET, subject=subject, station_id="gushi", roles=["station_staff"])
    return {"Authorization": f"Bearer {value}"}


def note_of(size: int) -> bytes:
    """A JSON body of exactly ``size`` bytes."""
    return b'{"text": "' + b"a" * (size - 12) + b'"}'


def chunks(body: bytes, size: int = 300):
    async def stream():
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return stream()


async def test_a_body_within_the_limit_is_served():
    async with client(small_app()) as http:
        answer = await http.post(
            "/notes", content=note_of(LIMIT), headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 200
    assert answer.json() == {"length": LIMIT - 12}


async def test_a_declared_content_length_over_the_limit_is_refused_unread():
    async with client(small_app()) as http:
        answer = await http.post(
            "/notes", content=note_of(LIMIT + 1), headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == problems.PROBLEM_JSON
    body = answer.json()
    assert body["status"] == 413 and body["title"] == "Payload too large"
    assert str(LIMIT) in body["detail"]
    assert answer.headers["x-correlation-id"]


async def test_a_streamed_body_without_length_is_cut_off_at_the_limit():
    async with client(small_app()) as http:
        answer = await http.post(
            "/notes",
            content=chunks(note_of(3 * LIMIT)),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in answer.request.headers
        assert answer.status_code == 413
        assert answer.headers["content-type"] == problems.PROBLEM_JSON
        assert answer.json()["title"] == "Payload too large"

        small = await http.post(
            "/notes", content=chunks(note_of(LIMIT)), headers={"Content-Type": "application/json"}
        )
        assert small.status_code == 200


async def test_a_route_may_declare_a_larger_allowance():
    async with client(small_app()) as http:
        by_length = await http.post(
            "/photos", content=note_of(4 * LIMIT), headers={"Content-Type": "application/json"}
        )
        streamed = await http.post(
            "/photos",
            content=chunks(note_of(4 * LIMIT)),
            headers={"Content-Type": "application/json"},
        )
        over = await http.post(
            "/photos", content=note_of(5 * LIMIT + 1), headers={"Content-Type": "application/json"}
        )
        over_streamed = await http.post(
            "/photos",
            content=chunks(note_of(6 * LIMIT)),
            headers={"Content-Type": "application/json"},
        )
    assert by_length.status_code == 200 and streamed.status_code == 200
    assert over.status_code == 413 and over_streamed.status_code == 413
    assert str(5 * LIMIT) in over.json()["detail"]


async def test_past_the_burst_a_subject_gets_429_with_retry_after():
    async with client(small_app(rate=0.5, burst=3)) as http:
        ada = token("ada")
        answers = [await http.get("/me", headers=ada) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.headers["content-type"] == problems.PROBLEM_JSON
    assert refused.json()["title"] == "Too many requests"
    assert int(refused.headers["retry-after"]) >= 1


async def test_subjects_have_buckets_of_their_own():
    async with client(small_app(rate=0.5, burst=2)) as http:
        ada, bo = token("ada"), token("bo")
        for _ in range(2):
            assert (await http.get("/me", headers=ada)).status_code == 200
        assert (await http.get("/me", headers=ada)).status_code == 429
        # another subject from the same address is not held back …
        assert (await http.get("/me", headers=bo)).status_code == 200
        # … and a new token for the same subject is the same bucket
        assert (await http.get("/me", headers=token("ada"))).status_code == 429


async def test_a_forged_token_counts_against_the_address_not_the_subject():
    app = small_app(rate=0.5, burst=2)
    forged = mint_token(
        secret="another-secret-" + "y" * 32, subject="ada", station_id="gushi", roles=[]
    )
    async with client(app, "10.0.0.9") as attacker, client(app) as http:
        for _ in range(3):
            await attacker.get("/me", headers={"Authorization": f"Bearer {forged}"})
        assert (await http.get("/me", headers=token("ada"))).status_code == 200
        unauthenticated = await attacker.get("/me")
    assert unauthenticated.status_code == 429  # the attacker's address is spent


async def test_health_is_never_limited():
    async with client(small_app(rate=0.5, burst=1)) as http:
        answers = [await http.get("/health/live") for _ in range(5)]
    assert all(a.status_code == 200 for a in answers)


async def test_an_overlong_url_is_refused():
    async with client(small_app()) as http:
        answer = await http.get("/notes", params={"q": "x" * 1000})
    assert answer.status_code == 414
    assert answer.headers["content-type"] == problems.PROBLEM_JSON
    assert len(answer.text) < 600  # the URL is not echoed back


async def test_an_unexpected_error_is_a_500_without_trace_or_exception_text(caplog):
    async with client(small_app()) as http:
        answer = await http.get("/boom", headers={"X-Correlation-ID": "corr-123"})
    assert answer.status_code == 500
    assert answer.headers["content-type"] == problems.PROBLEM_JSON
    assert answer.headers["x-correlation-id"] == "corr-123"
    body = answer.json()
    assert body["title"] == "Internal error"
    assert body["correlation_id"] == "corr-123"
    for leak in ("Traceback", "RuntimeError", "hunter2", "module.py", 'File "'):
        assert leak not in answer.text
    assert "RuntimeError" in caplog.text  # logged for the operators, not sent


async def test_validation_errors_do_not_echo_huge_input():
    async with client(small_app()) as http:
        key = "k" * 600
        answer = await http.post(
            "/notes",
            content=b'{"text": 1, "' + key.encode() + b'": 2}',
            headers={"Content-Type": "application/json"},
        )
        many = await http.post(
            "/notes", json=[1] * 400, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 422
    assert key not in answer.text
    assert many.status_code == 422
    assert len(many.json().get("errors", [])) <= problems.MAX_ERRORS + 1


def test_token_bucket_refills_at_its_rate():
    buckets = TokenBuckets(rate=2.0, burst=2)
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == pytest.approx(0.5)
    assert buckets.take("a", now=0.5) == 0.0  # one token back after 1/rate seconds
    assert buckets.take("b", now=0.5) == 0.0


def test_token_buckets_stay_bounded():
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=100)
    for i in range(1000):
        buckets.take(f"k{i}", now=float(i) / 1000)
    assert len(buckets) <= 100


def test_every_operation_documents_its_problem_answers():
    schema = small_app().openapi()
    me = schema["paths"]["/me"]["get"]["responses"]
    assert {"401", "403", "429"} <= set(me)
    assert not {"404", "413", "422"} & set(me)  # no path parameter, no body, no query
    notes = schema["paths"]["/notes"]["post"]["responses"]
    assert {"413", "415", "422"} <= set(notes)
    assert notes["422"] == {"$ref": "#/components/responses/ValidationError"}
    live = schema["paths"]["/health/live"]["get"]["responses"]
    assert set(live) == {"200"}  # no token taken, no input, no rate limit: nothing refused
    problem = schema["components"]["responses"]["TooManyRequests"]
    assert problems.PROBLEM_JSON in problem["content"] and "Retry-After" in problem["headers"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["paths"]["/photos"]["post"]["x-max-body-bytes"] == 5 * LIMIT


async def test_nul_is_refused_in_the_url_and_in_json_text():
    async with client(small_app()) as http:
        in_query = await http.get("/me", params={"q": "a\0b"})
        in_body = await http.post(
            "/notes", content=b'{"text": "a\\u0000b"}', headers={"Content-Type": "application/json"}
        )
        across_chunks = await http.post(
            "/notes",
            content=chunks(b'{"text": "' + b"a" * 287 + b'\\u0000"}', size=300),
            headers={"Content-Type": "application/json"},
        )
        escaped_backslash_is_fine = await http.post(
            "/notes", content=b'{"text": "a\\\\b"}', headers={"Content-Type": "application/json"}
        )
    assert in_query.status_code == 400
    assert in_body.status_code == 422 and across_chunks.status_code == 422
    assert in_body.headers["content-type"] == problems.PROBLEM_JSON
    assert escaped_backslash_is_fine.status_code == 200


async def test_405_allows_every_method_of_the_path():
    async with client(small_app()) as http:
        answer = await http.delete("/notes")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


def test_a_value_the_database_refuses_is_the_clients_422_or_409_not_a_500():
    import asyncpg.exceptions as pg
    from asyncpg.exceptions._base import DataError as UnsendableValue
    from sqlalchemy.exc import DBAPIError

    def wrapped(cause: BaseException) -> DBAPIError:
        return DBAPIError("INSERT …", {}, cause)

    too_long = problems.database_problem(wrapped(pg.StringDataRightTruncationError("too long")))
    nul = problems.database_problem(wrapped(pg.CharacterNotInRepertoireError("0x00")))
    huge = problems.database_problem(wrapped(UnsendableValue("out of int64 range")))
    duplicate = problems.database_problem(wrapped(pg.UniqueViolationError("dup")))
    assert too_long.status == 422 and nul.status == 422 and huge.status == 422
    assert "0x00" not in nul.detail
    assert duplicate.status == 409
    assert problems.database_problem(wrapped(pg.ConnectionDoesNotExistError("gone"))) is None
    assert problems.database_problem(wrapped(pg.NotNullViolationError("bug"))) is None
