"""The audit trail on the real embedded Postgres (issue 9): entries chain, the
chain survives concurrent appends, the database refuses changes, tampering made
around the database's guard is detected, no entry leaves as an event of its own,
and the middleware records reads before their data leaves."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from support import JWT_SECRET, migrated_database

from intake.app import service as intake_service
from intake.settings import IntakeSettings
from rescue_chassis import audit
from rescue_chassis.access import STATION_WORK
from rescue_chassis.app import build_runtime, create_app
from rescue_chassis.audit import GENESIS, Access, AuditTrail, row_hash
from rescue_chassis.auth import Principal, PrincipalDep, mint_token, require_roles
from rescue_chassis.problems import Problem
from rescue_events.driver import run
from rescue_events.envelope import Envelope

pytestmark = pytest.mark.integration

STAFF = Principal(subject="wang.li", station_id="gushi", roles=frozenset({"station_staff"}))


def settings_for(url: str) -> IntakeSettings:
    # No broker: the outbox keeps the events, which is what these tests read.
    return IntakeSettings(
        database_url=url, kafka_bootstrap_servers="127.0.0.1:1", jwt_secret=JWT_SECRET
    )


@pytest.fixture
async def runtime(postgres):
    url = await migrated_database(postgres, intake_service.migrations_dir)
    runtime = build_runtime(intake_service, settings_for(url))
    yield runtime
    await runtime.engine.dispose()


@pytest.fixture
def trail(runtime) -> AuditTrail:
    return AuditTrail(runtime)


def an_access(n: int = 0, person_id: uuid.UUID | None = None, **changes) -> Access:
    values = dict(
        action="read",
        method="GET",
        route="/persons/{person_id}",
        record_ids={"person_id": str(person_id or uuid.uuid4())},
        fields=["full_name", "id", "station_id"],
        purpose=f"家属来电核实 #{n}",
        status_code=200,
        correlation_id=f"corr-{n}",
    )
    return Access.of(STAFF, **(values | changes))


async def rows(runtime, sql: str = "SELECT * FROM audit_entries ORDER BY id", **params):
    async with runtime.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).all()


async def as_superuser_bypassing_the_guard(runtime, sql: str, **params) -> None:
    """What only someone with the database's keys could do: switch the
    append-only trigger off (replica mode skips ordinary triggers)."""
    async with runtime.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(sql), params)


async def test_entries_form_one_hash_chain(runtime, trail):
    person = uuid.uuid4()
    events = [await trail.append(an_access(n, person)) for n in range(3)]

    assert [e.position for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    stored = await rows(runtime)
    assert [r.id for r in stored] == [1, 2, 3]
    assert all(row_hash(r) == r.hash for r in stored)
    first = stored[0]
    assert (first.subject, first.station_id, first.roles) == ("wang.li", "gushi", ["station_staff"])
    assert (first.action, first.method, first.route) == ("read", "GET", "/persons/{person_id}")
    assert first.record_ids == {"person_id": str(person)}
    assert first.fields == ["full_name", "id", "station_id"]
    assert first.purpose == "家属来电核实 #0"
    assert (first.status_code, first.correlation_id) == (200, "corr-0")
    assert first.record_values == [str(person)]

    verification = await trail.verify()
    assert verification.ok and verification.entries == 3
    assert (verification.last_position, verification.last_hash) == (3, events[-1].hash)


async def test_concurrent_appends_keep_one_chain(runtime, trail):
    events = await asyncio.gather(*(trail.append(an_access(n)) for n in range(40)))

    assert sorted(e.position for e in events) == list(range(1, 41))
    by_position = sorted(events, key=lambda e: e.position)
    assert [e.prev_hash for e in by_position] == [GENESIS] + [e.hash for e in by_position[:-1]]
    assert (await trail.verify()).ok


async def test_an_empty_chain_verifies(trail):
    verification = await trail.verify()
    assert verification.ok and verification.entries == 0 and verification.last_hash is None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET purpose = 'nothing to see' WHERE id = 2",
        "DELETE FROM audit_entries WHERE id = 2",
        "TRUNCATE audit_entries",
    ],
)
async def test_the_database_refuses_to_change_the_trail(runtime, trail, statement):
    for n in range(3):
        await trail.append(an_access(n))

    with pytest.raises(DBAPIError, match="append-only"):
        async with runtime.engine.begin() as conn:
            await conn.execute(text(statement))
    assert [r.purpose for r in await rows(runtime)] == [f"家属来电核实 #{n}" for n in range(3)]
    assert (await trail.verify()).ok


async def test_an_altered_entry_is_detected(runtime, trail):
    for n in range(5):
        await trail.append(an_access(n))
    await as_superuser_bypassing_the_guard(
        runtime, "UPDATE audit_entries SET subject = 'someone.else' WHERE id = 3"
    )

    verification = await trail.verify()
    assert not verification.ok
    assert verification.broken_at == 3
    assert "altered" in verification.reason
    assert (verification.entries, verification.last_position) == (2, 2)


async def test_an_altered_entry_with_a_recomputed_hash_breaks_the_next_link(runtime, trail):
    for n in range(5):
        await trail.append(an_access(n))
    (third,) = await rows(runtime, "SELECT * FROM audit_entries WHERE id = 3")
    forged = third._asdict() | {"fields": ["id"]}
    forged_hash = row_hash(type("Row", (), forged))
    await as_superuser_bypassing_the_guard(
        runtime,
        "UPDATE audit_entries SET fields = ARRAY['id'], hash = :h WHERE id = 3",
        h=forged_hash,
    )

    verification = await trail.verify()
    assert (verification.ok, verification.broken_at) == (False, 4)
    assert "prev_hash" in verification.reason


async def test_a_deleted_entry_is_detected(runtime, trail):
    for n in range(5):
        await trail.append(an_access(n))
    await as_superuser_bypassing_the_guard(runtime, "DELETE FROM audit_entries WHERE id = 2")

    verification = await trail.verify()
    assert (verification.ok, verification.broken_at) == (False, 2)
    assert "missing" in verification.reason


# Issue 30: entries are no longer published one by one (audit_recorded doubled
# intake's relay output and nothing consumed it); the chain's head is anchored
# instead (tests/integration/test_audit_anchors.py).
async def test_entries_are_not_published_one_by_one(runtime, trail):
    await trail.append(an_access(0, uuid.uuid4()))
    await trail.append(an_access(1, record_ids={"case_id": str(uuid.uuid4())}))

    assert len(await rows(runtime)) == 2
    assert await rows(runtime, "SELECT * FROM outbox ORDER BY id") == []


async def test_an_entry_and_the_anchor_it_takes_are_one_transaction(runtime, monkeypatch):
    trail = AuditTrail(runtime, anchor_every_entries=1)  # every append anchors its entry
    stage_anchor = trail.stage_anchor

    async def unstageable(driver, head):  # the database refuses the anchor's row
        await run("SELECT 1/0", driver.execute("SELECT 1/0"))
        await stage_anchor(driver, head)

    monkeypatch.setattr(trail, "stage_anchor", unstageable)
    with pytest.raises(DBAPIError):
        await trail.append(an_access())
    assert await rows(runtime) == []
    monkeypatch.undo()
    assert (await trail.append(an_access())).position == 1
    (anchor,) = await rows(runtime, "SELECT * FROM outbox")
    assert Envelope.from_headers(anchor.headers).type == "audit_chain_anchored"


# -- through the chassis' app: the middleware and the auditors' routes ---------------
# A small service of its own on intake's schema: the middleware is what is under
# test here, not intake's handlers (tests/e2e/test_audit.py runs the real ones).

PEOPLE: dict[str, dict] = {}
# like the services' routers, it says who may call it (the app factory insists)
people = APIRouter(dependencies=[require_roles(*STATION_WORK)])


class Admission(BaseModel):
    full_name: str | None = None
    sex: str
    estimated_age: int | None = None


@people.post("/persons", status_code=201)
async def admit(body: Admission, principal: PrincipalDep) -> dict:
    person = {"id": str(uuid.uuid4()), "station_id": principal.station_id, **body.model_dump()}
    PEOPLE[person["id"]] = person
    return person


@people.get("/persons/{person_id}")
async def read_person(person_id: str, principal: PrincipalDep) -> dict:
    if person_id not in PEOPLE:
        raise Problem(404, "Not found", "No such person.")
    return PEOPLE[person_id]


@people.get("/persons")
async def list_persons(principal: PrincipalDep) -> list[dict]:
    return [p for p in PEOPLE.values() if p["station_id"] == principal.station_id]


@people.get("/persons/{person_id}/fails")
async def fails(person_id: str, principal: PrincipalDep) -> dict:
    raise RuntimeError("a bug")


def bearer(station: str, *roles: str, subject: str = "wang.li") -> dict[str, str]:
    token = mint_token(secret=JWT_SECRET, subject=subject, station_id=station, roles=list(roles))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(postgres):
    url = await migrated_database(postgres, intake_service.migrations_dir)
    definition = dataclasses.replace(
        intake_service, routers=[people], handlers=None, periodic=None, work_metrics=()
    )
    app = create_app(definition, settings_for(url))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        http.app = app
        yield http
    await app.state.runtime.engine.dispose()


async def audited(client) -> list:
    await audit.drain()  # the entries of answered writes follow their answers
    return await rows(client.app.state.runtime)


async def admit_one(client, headers, **body) -> str:
    admitted = await client.post("/persons", json={"sex": "male", **body}, headers=headers)
    assert admitted.status_code == 201, admitted.text
    return admitted.json()["id"]


async def test_writes_and_reads_are_recorded_with_who_what_and_why(client):
    staff = bearer("gushi", "station_staff")
    person_id = await admit_one(
        client,
        staff | {"X-Purpose": "接收入站".encode()},
        full_name="李某",
        estimated_age=60,
    )
    purpose = "家属来电核实身份".encode()
    read = await client.get(f"/persons/{person_id}", headers=staff | {"X-Purpose": purpose})
    assert read.status_code == 200
    await client.get("/persons", headers=staff)
    await client.get("/health/live")
    await client.get(f"/persons/{person_id}")  # no token: 401, nobody to record

    # a write's entry follows its answer: the chain may hold it after the next read
    entries = await audited(client)
    write = next(e for e in entries if e.action == "write")
    single, listing = (e for e in entries if e.action == "read")
    assert (write.action, write.method, write.route) == ("write", "POST", "/persons")
    assert write.record_ids == {"response_id": person_id}
    assert write.fields == ["estimated_age", "full_name", "sex"]  # names, never values
    assert (write.status_code, write.purpose, write.subject) == (201, "接收入站", "wang.li")
    assert (single.action, single.route) == ("read", "/persons/{person_id}")
    assert single.record_ids == {"person_id": person_id}
    assert single.fields == sorted(read.json())
    assert single.purpose == "家属来电核实身份"
    assert single.correlation_id == read.headers["X-Correlation-ID"]
    assert listing.route == "/persons" and person_id in listing.record_ids["listed_ids"]
    assert listing.purpose is None
    assert "李某" not in str([tuple(r) for r in await audited(client)])


async def test_denied_failed_and_unknown_accesses_are_recorded_as_attempts(client):
    missing = str(uuid.uuid4())
    staff = bearer("gushi", "station_staff")
    assert (await client.get(f"/persons/{missing}", headers=staff)).status_code == 404
    assert (await client.get("/audit/entries", headers=staff)).status_code == 403
    assert (await client.get(f"/persons/{missing}/fails", headers=staff)).status_code == 500

    not_found, forbidden, failed = await audited(client)
    assert (not_found.status_code, not_found.record_ids) == (404, {"person_id": missing})
    assert not_found.fields is None  # a problem document is no person data
    assert (forbidden.status_code, forbidden.route) == (403, "/audit/entries")
    assert (failed.status_code, failed.route) == (500, "/persons/{person_id}/fails")


async def test_a_read_is_withheld_when_it_cannot_be_recorded(client, monkeypatch):
    staff = bearer("gushi", "station_staff")
    person_id = await admit_one(client, staff, full_name="张某")

    async def audit_down(access):
        raise ConnectionError("database away")

    monkeypatch.setattr(client.app.state.audit, "append", audit_down)
    answer = await client.get(f"/persons/{person_id}", headers=staff)

    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Audit trail unavailable"
    assert "张某" not in answer.text and "full_name" not in answer.text
    # A write is already done when it is recorded: its answer still goes out.
    await admit_one(client, staff)


async def test_auditors_query_the_trail_and_verify_it(client):
    staff = bearer("gushi", "station_staff")
    person_ids = []
    for _ in range(2):
        person_ids.append(await admit_one(client, staff))
        await client.get(f"/persons/{person_ids[-1]}", headers=staff)
    auditor = bearer("center", "auditor", subject="auditor.zhao")
    await audit.drain()

    about_one = await client.get(
        "/audit/entries", params={"record_id": person_ids[0]}, headers=auditor
    )
    assert about_one.status_code == 200, about_one.text
    # The admission names the person by the id its answer carries.
    assert sorted(e["action"] for e in about_one.json()) == ["read", "write"]
    assert sorted(e["position"] for e in about_one.json()) == [1, 2]
    written = next(e for e in about_one.json() if e["action"] == "write")
    assert written["record_ids"] == {"response_id": person_ids[0]}
    page = await client.get(
        "/audit/entries", params={"subject": "wang.li", "limit": 2, "after": 1}, headers=auditor
    )
    assert [e["position"] for e in page.json()] == [2, 3]
    reads = await client.get("/audit/entries", params={"action": "read"}, headers=auditor)
    # two reads of persons, then the auditor's own two (positions in append order)
    assert len(reads.json()) == 4
    assert [e["route"] for e in reads.json()][2:] == ["/audit/entries"] * 2
    admin = bearer("center", "admin", subject="admin.qian")
    assert (await client.get("/audit/entries", headers=admin)).status_code == 200

    verification = await client.get("/audit/verification", headers=auditor)
    assert verification.status_code == 200
    body = verification.json()
    assert body["ok"] is True and body["service"] == "intake" and body["broken_at"] is None
    assert body["entries"] == body["last_position"] == 8
    # Reading the trail is on the trail.
    recorded = await audited(client)
    assert [r.subject for r in recorded[4:]] == ["auditor.zhao"] * 3 + ["admin.qian"] + [
        "auditor.zhao"
    ]
    assert recorded[4].record_ids == {"record_id": person_ids[0]}
    assert recorded[-1].route == "/audit/verification"
