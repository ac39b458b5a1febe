"""Audit anchors (issue 30) on the real embedded Postgres and a real tansu broker:
intake anchors its chain's head (every so many entries, by its periodic job and on
demand), the anchors go through the broker into the summary service's store, and
a rewrite of history below an anchor by the database's owner, hashes and
checkpoints recomputed, verifies on its own but not against the anchor. No
``audit_recorded`` event per entry any more."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from types import SimpleNamespace

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from support import JWT_SECRET, eventually, migrated_database

from intake.app import service as intake_service
from intake.settings import IntakeSettings
from rescue_chassis import migrations
from rescue_chassis.app import build_runtime, create_app
from rescue_chassis.audit import GENESIS, Access, row_hash
from rescue_chassis.audit.anchors import anchor_job
from rescue_chassis.audit.checkpoints import checkpoint_job
from rescue_chassis.audit.writer import AuditTrail, ChainedEntry
from rescue_chassis.auth import Principal, mint_token
from rescue_chassis.periodic import run_once
from rescue_events.consumer import EventConsumer
from rescue_events.contracts.audit import AuditChainAnchoredV1
from rescue_events.driver import own_transaction
from rescue_events.envelope import Envelope
from rescue_localnet.postgres import owner_role
from summary import audit_anchors
from summary.app import service as summary_service
from summary.settings import SummarySettings

pytestmark = pytest.mark.integration

STAFF = Principal(subject="wang.li", station_id="gushi", roles=frozenset({"station_staff"}))


@dataclasses.dataclass(frozen=True)
class IntakeDatabase:
    runtime_url: str
    owner_dsn: str
    superuser_dsn: str


@pytest.fixture(scope="module")
def intake_database(postgres) -> IntakeDatabase:
    """intake's database as every environment has it: the owner migrates, the
    service runs as its own role."""
    name = f"anc_{uuid.uuid4().hex[:10]}"
    asyncio.run(postgres.create_service_databases([name]))
    owner = owner_role(name)
    owner_url = postgres.sqlalchemy_url(name, owner)
    runtime_url = postgres.sqlalchemy_url(name, name)
    migrations.upgrade(intake_service.migrations_dir, owner_url)
    migrations.grant_runtime_role(owner_url, runtime_url)
    return IntakeDatabase(runtime_url, postgres.dsn(name, owner), postgres.dsn(name))


def bearer(*roles: str, station: str = "center") -> dict[str, str]:
    token = mint_token(secret=JWT_SECRET, subject="auditor.li", station_id=station, roles=roles)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def background():
    tasks: list[asyncio.Task] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def intake(intake_database, broker):
    settings = IntakeSettings(
        database_url=intake_database.runtime_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        jwt_secret=JWT_SECRET,
    )
    app = create_app(intake_service, settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        http.app = app
        yield http
    await app.state.runtime.engine.dispose()


@pytest.fixture
async def summary(postgres, broker, background):
    """The summary service's app, and its anchors' consumer running on the broker."""
    url = await migrated_database(postgres, summary_service.migrations_dir)
    settings = SummarySettings(
        database_url=url, kafka_bootstrap_servers=broker.bootstrap_servers, jwt_secret=JWT_SECRET
    )
    app = create_app(summary_service, settings)
    runtime = app.state.runtime
    # Only the anchors' handler (the whole summary reads every topic), a group of its own.
    consumer = EventConsumer(
        name=f"summary-anchors-{uuid.uuid4().hex[:8]}",
        kafka=runtime.relay.kafka,
        sessions=runtime.sessions,
        tables=runtime.tables.plumbing,
        outbox=runtime.outbox,
        handlers=audit_anchors.handlers(runtime),
    )
    background.append(asyncio.create_task(consumer.run()))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://summary") as http:
        yield http
    await runtime.engine.dispose()


def an_access(n: int) -> Access:
    return Access.of(
        STAFF,
        action="read",
        method="GET",
        route="/persons/{person_id}",
        record_ids={"person_id": str(uuid.uuid4())},
        fields=["full_name"],
        purpose=f"家属来电核实 #{n}",
        status_code=200,
        correlation_id=f"corr-{n}",
    )


async def as_role(dsn: str, sql: str, *args):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def rewrite_history_as_owner(owner_dsn: str, position: int, subject: str) -> None:
    """What the database's owner can do: switch the guard off, change an entry,
    recompute every hash after it and the checkpoints, switch the guard on."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"
            )
            prev = await conn.fetchval("SELECT hash FROM audit_entries WHERE id = $1", position - 1)
            rows = await conn.fetch(
                "SELECT * FROM audit_entries WHERE id >= $1 ORDER BY id", position
            )
            prev = prev or GENESIS
            for row in rows:
                values = dict(row) | {
                    "record_ids": json.loads(row["record_ids"]),
                    "prev_hash": prev,
                }
                if row["id"] == position:
                    values["subject"] = subject
                prev = row_hash(SimpleNamespace(**values))
                await conn.execute(
                    "UPDATE audit_entries SET subject = $1, prev_hash = $2, hash = $3 "
                    "WHERE id = $4",
                    values["subject"],
                    values["prev_hash"],
                    prev,
                    row["id"],
                )
            await conn.execute(
                "UPDATE audit_checkpoints c SET hash = e.hash FROM audit_entries e "
                "WHERE e.id = c.position"
            )
            await conn.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
    finally:
        await conn.close()


async def verification(intake, *anchors: str, full: bool = False) -> dict:
    params = [("anchor", a) for a in anchors] + ([("full", "true")] if full else [])
    answer = await intake.get("/audit/verification", params=params, headers=bearer("auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_anchors_kept_by_the_summary_catch_the_owner_rewriting_history(
    intake, summary, intake_database, background
):
    runtime = intake.app.state.runtime
    trail = intake.app.state.audit
    background.append(asyncio.create_task(runtime.relay.run()))
    for n in range(6):
        await trail.append(an_access(n))
    await run_once(runtime.sessions, checkpoint_job(trail.table))  # the owner rewrites it too

    anchored = await intake.post("/audit/anchors", headers=bearer("auditor"))
    assert anchored.status_code == 202, anchored.text
    anchor = anchored.json()
    assert (anchor["service"], anchor["position"]) == ("intake", 6)
    await trail.settle()  # the anchoring request's own entry joins the chain (7)

    async def kept() -> list[dict]:
        answer = await summary.get("/audit/anchors/intake", headers=bearer("auditor"))
        assert answer.status_code == 200, answer.text
        return answer.json()

    (stored,) = await eventually(kept, timeout=40)
    assert (stored["position"], stored["hash"]) == (6, anchor["hash"])
    assert stored["anchor"] == f"6:{anchor['hash']}" and stored["contradicted_by"] is None
    held = await verification(intake, stored["anchor"])
    assert held["ok"] and held["anchors"] == 1

    await rewrite_history_as_owner(intake_database.owner_dsn, 3, "someone.else")

    # On its own the chain verifies: every hash and checkpoint was recomputed …
    assert (await verification(intake))["ok"]
    assert (await verification(intake, full=True))["ok"]
    # … but not against the anchor held outside the database.
    caught = await verification(intake, stored["anchor"])
    assert (caught["ok"], caught["broken_at"]) == (False, 6)
    assert "rewritten" in caught["reason"]

    # An anchor the owner forges for the rewritten chain does not replace the first.
    (head,) = await as_role(
        intake_database.superuser_dsn, "SELECT * FROM audit_entries WHERE id = 6"
    )
    async with own_transaction(runtime.engine) as driver:
        await trail.stage_anchor(
            driver, ChainedEntry(6, head["prev_hash"], head["hash"], head["at"])
        )

    async def contradicted():
        return [a for a in await kept() if a["position"] == 6 and a["contradicted_by"]]

    (both,) = await eventually(contradicted, timeout=40)
    assert (both["hash"], both["contradicted_by"]) == (anchor["hash"], head["hash"])
    assert not (await verification(intake, both["anchor"]))["ok"]


async def test_anchors_every_so_many_entries_and_at_each_sweep_and_no_event_per_entry(
    postgres,
):
    url = await migrated_database(postgres, intake_service.migrations_dir)
    settings = IntakeSettings(
        database_url=url, kafka_bootstrap_servers="127.0.0.1:1", jwt_secret=JWT_SECRET
    )
    runtime = build_runtime(intake_service, settings)
    try:
        trail = AuditTrail(runtime, anchor_every_entries=3)
        job = anchor_job(trail, interval_seconds=0)
        assert await run_once(runtime.sessions, job) == 0  # an empty chain: nothing to anchor
        for n in range(7):
            await trail.append(an_access(n))
        assert await run_once(runtime.sessions, job) == 1  # the head, 7
        assert await run_once(runtime.sessions, job) == 0  # it has not moved
        await trail.append(an_access(7))
        hourly = anchor_job(trail, interval_seconds=3600)
        assert await run_once(runtime.sessions, hourly) == 1  # the head, 8
        await trail.append(an_access(8))
        assert await run_once(runtime.sessions, hourly) == 0  # not yet: an hour apart

        async with runtime.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT topic, message_key, headers, payload FROM outbox ORDER BY id")
                )
            ).all()
            hashes = dict((await conn.execute(text("SELECT id, hash FROM audit_entries"))).all())
        types = [Envelope.from_headers(r.headers).type for r in rows]
        assert set(types) == {"audit_chain_anchored"}  # no audit_recorded per entry
        anchors = [AuditChainAnchoredV1.model_validate_json(r.payload) for r in rows]
        assert [a.position for a in anchors] == [3, 6, 7, 8, 9]  # 9: its append's, not the job's
        assert {(r.topic, r.message_key) for r in rows} == {("rescue.audit", "intake")}
        assert all(a.hash == hashes[a.position] and a.service == "intake" for a in anchors)
    finally:
        await runtime.engine.dispose()


async def test_verification_refuses_a_malformed_anchor(intake):
    answer = await intake.get(
        "/audit/verification", params={"anchor": "6:not-a-hash"}, headers=bearer("auditor")
    )
    assert answer.status_code == 422
    assert "anchor" in answer.json()["detail"]
    assert (await intake.post("/audit/anchors", headers=bearer("station_staff"))).status_code == 403
