"""Two database roles per service, on the real embedded Postgres (issue 32): the
owner migrates; the service's role writes its rows and appends to the audit
trail, and can neither switch the trail's guard off, nor change or remove its
entries (staged ones included: only the owner's function moves them into the
chain), nor change the schema. A write's entry commits with the write, the
on-call engineer's dead-letter replays and discards included."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from support import JWT_SECRET

from intake.app import service as intake_service
from intake.settings import IntakeSettings
from rescue_chassis import migrations
from rescue_chassis.app import create_app
from rescue_chassis.auth import mint_token
from rescue_chassis.idempotency import IdempotentRequest
from rescue_chassis.periodic import run_once
from rescue_events.consumer import EventConsumer
from rescue_events.contracts import PersonAdmittedV1
from rescue_events.envelope import Envelope
from rescue_events.registry import registry
from rescue_localnet.postgres import owner_role

pytestmark = pytest.mark.integration


@dataclasses.dataclass(frozen=True)
class Roles:
    database: str
    owner_url: str
    runtime_url: str
    owner_dsn: str
    runtime_dsn: str
    superuser_dsn: str


def prepared(postgres, name: str) -> Roles:
    owner = owner_role(name)
    return Roles(
        database=name,
        owner_url=postgres.sqlalchemy_url(name, owner),
        runtime_url=postgres.sqlalchemy_url(name, name),
        owner_dsn=postgres.dsn(name, owner),
        runtime_dsn=postgres.dsn(name, name),
        superuser_dsn=postgres.dsn(name),
    )


@pytest.fixture(scope="module")
def roles(postgres) -> Roles:
    """intake's database as every environment has it: made by the superuser for
    the two roles, migrated by the owner, who grants the service's role."""
    name = f"svc_{uuid.uuid4().hex[:10]}"
    asyncio.run(postgres.create_service_databases([name]))
    database = prepared(postgres, name)
    migrations.upgrade(intake_service.migrations_dir, database.owner_url)
    migrations.grant_runtime_role(database.owner_url, database.runtime_url)
    return database


async def as_role(dsn: str, sql: str, *args):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def refused(dsn: str, sql: str) -> str:
    """The database's refusal of ``sql`` (its message), or a failed test."""
    with pytest.raises(asyncpg.PostgresError) as refusal:
        await as_role(dsn, sql)
    # "must be owner of table x" (Postgres 17) or "… of relation x" (18): one wording
    return str(refusal.value).replace("owner of relation", "owner of table")


def settings_for(url: str) -> IntakeSettings:
    return IntakeSettings(
        database_url=url, kafka_bootstrap_servers="127.0.0.1:1", jwt_secret=JWT_SECRET
    )


@pytest.fixture
async def intake(roles):
    """The real intake app, running as the service's role."""
    app = create_app(intake_service, settings_for(roles.runtime_url))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    token = mint_token(
        secret=JWT_SECRET, subject="wang.li", station_id="gushi", roles=["station_staff"]
    )
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://intake",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        http.app = app
        yield http
    await app.state.runtime.engine.dispose()


async def chain_what_is_staged(app) -> int:
    """What the audit_staged_entries sweep does at start (after a crash)."""
    job = next(j for j in app.state.runtime.periodic if j.name == "audit_staged_entries")
    return await run_once(app.state.runtime.sessions, job)


async def test_the_service_role_cannot_switch_the_audit_guard_off(roles):
    for statement in (
        "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
        "ALTER TABLE audit_entries DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_entries_append_only ON audit_entries",
    ):
        assert "must be owner of table audit_entries" in await refused(roles.runtime_dsn, statement)
    # replica mode skips ordinary triggers: a superuser's setting only
    assert "permission denied to set parameter" in await refused(
        roles.runtime_dsn, "SET session_replication_role = replica"
    )
    # nor make the guard's function a no-op
    assert "permission denied for schema public" in await refused(
        roles.runtime_dsn,
        "CREATE OR REPLACE FUNCTION rescue_audit_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    )
    trigger = await as_role(
        roles.superuser_dsn,
        "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'audit_entries_append_only'",
    )
    assert [row["tgenabled"] for row in trigger] == ["O"]  # still on


async def test_the_service_role_cannot_change_or_remove_audit_entries(roles, intake):
    admitted = await intake.post("/persons", json={"arrival_route": "own_request", "sex": "male"})
    assert admitted.status_code == 201, admitted.text
    await chain_what_is_staged(intake.app)
    assert await as_role(roles.runtime_dsn, "SELECT id FROM audit_entries")  # it reads them

    # Refused by the role's rights, before the append-only trigger is reached.
    for statement in (
        "UPDATE audit_entries SET purpose = 'tidied'",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "UPDATE audit_pending SET entry = '{}'",
        "DELETE FROM audit_pending",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_checkpoints SET position = 0",
        "UPDATE alembic_version SET version_num = 'x'",
    ):
        assert "permission denied for table" in await refused(roles.runtime_dsn, statement)
    rights = await as_role(
        roles.superuser_dsn,
        "SELECT privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = $1 AND table_name = 'audit_entries' ORDER BY 1",
        roles.database,
    )
    assert [row["privilege_type"] for row in rights] == ["INSERT", "SELECT"]
    staged_rights = await as_role(
        roles.superuser_dsn,
        "SELECT privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = $1 AND table_name = 'audit_pending' ORDER BY 1",
        roles.database,
    )
    assert [row["privilege_type"] for row in staged_rights] == ["INSERT", "SELECT"]


async def test_staged_entries_join_the_chain_only_through_the_owners_function(roles, intake):
    (function,) = await as_role(
        roles.superuser_dsn,
        "SELECT pg_get_userbyid(proowner) AS owner, prosecdef, "
        "has_function_privilege($1, oid, 'EXECUTE') AS service, "
        "has_function_privilege('public', oid, 'EXECUTE') AS anyone "
        "FROM pg_proc WHERE proname = 'rescue_audit_chain_staged'",
        roles.database,
    )
    assert (function["owner"], function["prosecdef"]) == (owner_role(roles.database), True)
    assert (function["service"], function["anyone"]) == (True, False)

    await chain_what_is_staged(intake.app)
    staged = await as_role(
        roles.runtime_dsn,
        "INSERT INTO audit_pending (at, entry, trace_context) "
        "SELECT now(), entry, '{}' FROM (SELECT jsonb_build_object("
        "'subject', 'wang.li', 'station_id', 'gushi', 'roles', jsonb_build_array('station_staff'),"
        "'action', 'write', 'method', 'POST', 'route', '/persons', 'record_ids', '{}'::jsonb,"
        "'fields', null, 'purpose', null, 'status_code', 201, 'correlation_id', 'c-1') AS entry) e "
        "RETURNING id",
    )
    # Nothing but what is staged: an id that is not refuses the whole call.
    with pytest.raises(asyncpg.PostgresError, match="is not staged"):
        await as_role(
            roles.runtime_dsn,
            "SELECT rescue_audit_chain_staged($1, $2)",
            [staged[0]["id"], staged[0]["id"] + 1000],
            ["0" * 64, "1" * 64],
        )
    assert await as_role(roles.runtime_dsn, "SELECT id FROM audit_pending")  # still staged
    # The sweep, as the service's role, chains it through the function.
    assert await chain_what_is_staged(intake.app) == 1
    assert await as_role(roles.superuser_dsn, "SELECT id FROM audit_pending") == []
    (last,) = await as_role(
        roles.superuser_dsn,
        "SELECT route, status_code, roles, fields FROM audit_entries ORDER BY id DESC LIMIT 1",
    )
    assert (last["route"], last["status_code"], last["roles"]) == (
        "/persons",
        201,
        ["station_staff"],
    )
    assert last["fields"] is None
    assert (await intake.app.state.audit.verify()).ok


async def test_the_service_role_changes_no_schema(roles):
    for statement, refusal in (
        ("CREATE TABLE shadow (id int)", "permission denied for schema public"),
        ("CREATE SCHEMA shadow", "permission denied for database"),
        ("DROP TABLE audit_entries", "must be owner of table audit_entries"),
        ("DROP TABLE persons", "must be owner of table persons"),
        ("ALTER TABLE persons ADD COLUMN shadow text", "must be owner of table persons"),
        ("CREATE INDEX shadow ON persons (sex)", "must be owner of table persons"),
        (
            "CREATE TRIGGER shadow BEFORE INSERT ON persons "
            "FOR EACH ROW EXECUTE FUNCTION rescue_audit_append_only()",
            "permission denied for table persons",
        ),
    ):
        assert refusal in await refused(roles.runtime_dsn, statement), statement
    # The owner can: it migrates.
    await as_role(roles.owner_dsn, "CREATE TABLE owners_own (id int)")
    await as_role(roles.owner_dsn, "DROP TABLE owners_own")


async def test_a_table_the_owner_adds_later_is_open_to_the_service(roles):
    await as_role(roles.owner_dsn, "CREATE TABLE later_rows (id bigserial PRIMARY KEY, note text)")
    await as_role(roles.runtime_dsn, "INSERT INTO later_rows (note) VALUES ('x')")
    rows = await as_role(roles.runtime_dsn, "SELECT id, note FROM later_rows")
    assert [(r["id"], r["note"]) for r in rows] == [(1, "x")]
    await as_role(roles.owner_dsn, "DROP TABLE later_rows")


async def test_writes_commit_with_their_entries_as_the_service_role(roles, intake, monkeypatch):
    trail = intake.app.state.audit
    await chain_what_is_staged(intake.app)
    before = len(await as_role(roles.runtime_dsn, "SELECT id FROM audit_entries"))
    # As if the process died right after each commit: nothing chained after it.
    monkeypatch.setattr(trail, "chain_staged", lambda: None)

    # the fast lane (one statement) and a write through the session
    admitted = await intake.post(
        "/persons", json={"arrival_route": "own_request", "sex": "female", "estimated_age": 80}
    )
    assert admitted.status_code == 201, admitted.text
    person_id = admitted.json()["id"]
    left = await intake.post(f"/persons/{person_id}/discharge", json={"reason": "left"})
    assert left.status_code == 200, left.text
    # refused: nothing written, so nothing staged (its attempt is recorded later)
    refused_write = await intake.post(f"/persons/{person_id}/discharge", json={"reason": "left"})
    assert refused_write.status_code == 409

    staged = await as_role(roles.superuser_dsn, "SELECT entry FROM audit_pending ORDER BY id")
    assert len(staged) == 2
    assert await chain_what_is_staged(intake.app) == 2
    assert await as_role(roles.superuser_dsn, "SELECT id FROM audit_pending") == []
    entries = await as_role(
        roles.superuser_dsn,
        "SELECT route, status_code, record_ids::text AS ids FROM audit_entries "
        "WHERE id > $1 AND action = 'write' AND status_code < 300 ORDER BY id",
        before,
    )
    assert [(e["route"], e["status_code"]) for e in entries] == [
        ("/persons", 201),
        ("/persons/{person_id}/discharge", 200),
    ]
    assert all(person_id in e["ids"] for e in entries)
    assert (await trail.verify()).ok


async def test_a_write_that_fails_before_its_commit_leaves_no_entry(roles, intake, monkeypatch):
    await chain_what_is_staged(intake.app)
    monkeypatch.setattr(intake.app.state.audit, "chain_staged", lambda: None)
    admitted = await intake.post("/persons", json={"arrival_route": "own_request", "sex": "male"})
    assert admitted.status_code == 201, admitted.text
    person_id = admitted.json()["id"]

    async def lost_before_commit(self, session, status, response):
        raise ConnectionError("the database went away before the commit")

    # the session path's last step before its commit (the fast lane has no such step)
    monkeypatch.setattr(IdempotentRequest, "remember", lost_before_commit)
    left = await intake.post(f"/persons/{person_id}/discharge", json={"reason": "left"})
    assert left.status_code == 500

    staged = await as_role(
        roles.superuser_dsn, "SELECT entry->>'route' AS route FROM audit_pending"
    )
    assert [row["route"] for row in staged] == ["/persons"]  # the admission's only
    persons = await as_role(
        roles.superuser_dsn, "SELECT status FROM persons WHERE id = $1", uuid.UUID(person_id)
    )
    assert [p["status"] for p in persons] == ["in_station"]  # no discharge either
    await chain_what_is_staged(intake.app)


async def test_a_database_made_before_the_two_roles_is_handed_to_its_owner(postgres):
    name = f"old_{uuid.uuid4().hex[:10]}"
    await postgres.create_databases([name])  # as it was: the superuser's
    await asyncio.to_thread(
        migrations.upgrade, intake_service.migrations_dir, postgres.sqlalchemy_url(name)
    )

    await postgres.create_service_databases([name])
    database = prepared(postgres, name)
    await asyncio.to_thread(migrations.grant_runtime_role, database.owner_url, database.runtime_url)

    owners = await as_role(
        database.superuser_dsn,
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
    )
    assert [row["tableowner"] for row in owners] == [owner_role(name)]
    assert "must be owner of table audit_entries" in await refused(
        database.runtime_dsn, "ALTER TABLE audit_entries DISABLE TRIGGER ALL"
    )
    await as_role(database.runtime_dsn, "SELECT count(*) FROM persons")


# -- dead letters: the on-call engineer's replay and discard commit with their entries


def a_dead_letter_row(consumer: str) -> tuple:
    """A person_admitted record as the consumer stored it when its handler failed."""
    event = PersonAdmittedV1(
        person_id=uuid.uuid4(),
        station_id="gushi",
        arrived_at=datetime.now(UTC),
        admitted_at=datetime.now(UTC),
        arrival_route="own_request",
        identity_status="unknown",
        sex="male",
    )
    kind = registry.for_model(PersonAdmittedV1)
    envelope = Envelope(
        type=kind.name,
        source="/rescue-network/intake",
        subject=str(event.person_id),
        dataschema=kind.dataschema,
    )
    headers = [[n, base64.b64encode(v.encode()).decode()] for n, v in envelope.to_headers()]
    return (consumer, json.dumps(headers), event.model_dump_json().encode(), envelope.id)


async def a_dead_letter(roles, consumer: str) -> tuple[int, str]:
    consumer_name, headers, payload, event_id = a_dead_letter_row(consumer)
    (row,) = await as_role(
        roles.superuser_dsn,
        'INSERT INTO dead_letters (consumer, topic, partition, "offset", event_id, event_type, '
        "headers, payload, reason, error, attempts) VALUES ($1, 'rescue.intake.events', 0, "
        "(SELECT coalesce(max(\"offset\"), 0) + 1 FROM dead_letters), $2, 'person_admitted', "
        "$3::jsonb, $4, 'handler_failed', 'boom', 5) RETURNING id",
        consumer_name,
        event_id,
        headers,
        payload,
    )
    return row["id"], event_id


@pytest.fixture
def on_call(intake):
    """intake's app as the on-call engineer calls it, its consumer's handler for
    person_admitted staging one outbox row (the replay's visible change)."""
    runtime = intake.app.state.runtime

    async def admitted(session, event, envelope) -> None:
        await runtime.outbox.stage(session, event)

    runtime.consumer = EventConsumer(
        name="intake",
        kafka=runtime.relay.kafka,
        sessions=runtime.sessions,
        tables=runtime.tables.plumbing,
        outbox=runtime.outbox,
        handlers={PersonAdmittedV1: admitted},
    )
    token = mint_token(secret=JWT_SECRET, subject="zhao.ops", station_id="center", roles=["ops"])
    intake.headers["Authorization"] = f"Bearer {token}"
    return intake


async def replay_state(roles, letter: int, event_id: str) -> tuple:
    """(replayed?, inbox rows, outbox rows, staged entries) of one dead letter's replay."""
    (dead,) = await as_role(
        roles.superuser_dsn,
        "SELECT replayed_at, discarded_at FROM dead_letters WHERE id = $1",
        letter,
    )
    inbox = await as_role(roles.superuser_dsn, "SELECT 1 FROM inbox WHERE event_id = $1", event_id)
    outbox = await as_role(roles.superuser_dsn, "SELECT 1 FROM outbox")
    staged = await as_role(
        roles.superuser_dsn,
        "SELECT 1 FROM audit_pending WHERE entry->'record_ids'->>'response_id' = $1",
        str(letter),
    )
    return (dead["replayed_at"] is not None, len(inbox), len(outbox), len(staged))


async def test_a_replay_and_its_entry_commit_together_or_not_at_all(roles, on_call, monkeypatch):
    await chain_what_is_staged(on_call.app)
    await as_role(roles.superuser_dsn, "DELETE FROM outbox")
    trail = on_call.app.state.audit
    monkeypatch.setattr(trail, "chain_staged", lambda: None)  # the entries stay staged
    letter, event_id = await a_dead_letter(roles, "intake")

    async def unrecordable(session, access) -> None:
        raise ConnectionError("the entry could not be written")

    monkeypatch.setattr(trail, "stage", unrecordable)
    failed = await on_call.post(f"/ops/dead-letters/{letter}/replay")
    assert failed.status_code == 409, failed.text  # it still fails: nothing applied
    assert await replay_state(roles, letter, event_id) == (False, 0, 0, 0)

    monkeypatch.undo()
    monkeypatch.setattr(trail, "chain_staged", lambda: None)
    replayed = await on_call.post(f"/ops/dead-letters/{letter}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["outcome"] == "applied"
    # the change (inbox, the handler's row, the letter marked) and its entry, together
    assert await replay_state(roles, letter, event_id) == (True, 1, 1, 1)

    # a bulk replay: one entry per letter replayed, each in its replay's transaction
    letters = [await a_dead_letter(roles, "intake") for _ in range(2)]
    bulk = await on_call.post("/ops/dead-letters/replay", json={"limit": 10})
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["replayed"] == 2
    for other, other_event in letters:
        assert (await replay_state(roles, other, other_event))[::3] == (True, 1)
    assert await chain_what_is_staged(on_call.app) == 3
    assert (await trail.verify()).ok


async def test_a_discard_and_its_entry_commit_together_or_not_at_all(roles, on_call, monkeypatch):
    await chain_what_is_staged(on_call.app)
    trail = on_call.app.state.audit
    monkeypatch.setattr(trail, "chain_staged", lambda: None)
    letter, _ = await a_dead_letter(roles, "intake")

    async def unrecordable(session, access) -> None:
        raise ConnectionError("the entry could not be written")

    monkeypatch.setattr(trail, "stage", unrecordable)
    reason = {"reason": "a test record from the police sandbox"}
    failed = await on_call.post(f"/ops/dead-letters/{letter}/discard", json=reason)
    assert failed.status_code == 500
    (dead,) = await as_role(
        roles.superuser_dsn, "SELECT discarded_at FROM dead_letters WHERE id = $1", letter
    )
    assert dead["discarded_at"] is None  # the discard went with its entry

    monkeypatch.undo()
    monkeypatch.setattr(trail, "chain_staged", lambda: None)
    discarded = await on_call.post(f"/ops/dead-letters/{letter}/discard", json=reason)
    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["discarded_by"] == "zhao.ops"
    staged = await as_role(
        roles.superuser_dsn,
        "SELECT entry->>'route' AS route, entry->>'fields' AS fields FROM audit_pending",
    )
    assert [row["route"] for row in staged] == ["/ops/dead-letters/{dead_letter_id}/discard"]
    assert "reason" in staged[0]["fields"]
    await chain_what_is_staged(on_call.app)
