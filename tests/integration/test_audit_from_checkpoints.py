"""The audit chain verified from checkpoints, and auditors scoped by station (issue
32), on the real Postgres through the chassis's auditors' routes."""

from __future__ import annotations

import logging
import uuid

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url
from support import JWT_SECRET, migrated_database

from intake.app import service as intake_service
from intake.settings import IntakeSettings
from rescue_chassis import audit
from rescue_chassis.app import create_app
from rescue_chassis.audit import Access, AuditTrail
from rescue_chassis.audit.checkpoints import ChainBroken
from rescue_chassis.auth import Principal, mint_token
from rescue_chassis.periodic import run_once

pytestmark = pytest.mark.integration


def bearer(station: str, *roles: str) -> dict[str, str]:
    token = mint_token(
        secret=JWT_SECRET, subject=f"aud-{station}", station_id=station, roles=list(roles)
    )
    return {"Authorization": f"Bearer {token}"}


def an_access(station: str, n: int) -> Access:
    staff = Principal(
        subject=f"w-{station}", station_id=station, roles=frozenset({"station_staff"})
    )
    return Access.of(
        staff,
        action="read",
        method="GET",
        route="/persons/{person_id}",
        record_ids={"person_id": str(uuid.uuid4())},
        fields=["full_name"],
        purpose=f"核实 #{n}",
        status_code=200,
        correlation_id=f"c-{station}-{n}",
    )


@pytest.fixture
async def service(postgres):
    url = await migrated_database(postgres, intake_service.migrations_dir)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        app = create_app(
            intake_service,
            IntakeSettings(
                database_url=url, kafka_bootstrap_servers="127.0.0.1:1", jwt_secret=JWT_SECRET
            ),
        )
    finally:
        root.handlers[:], root.level = handlers, level
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        client.app = app
        client.url = url
        yield client
    await audit.drain()
    await app.state.runtime.engine.dispose()


async def as_superuser(postgres, url: str, sql: str) -> None:
    """What only the database's owner could do: switch the append-only trigger off."""
    conn = await asyncpg.connect(postgres.dsn(make_url(url).database))
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(sql)
    finally:
        await conn.close()


def checkpoint_job(client):
    (job,) = [j for j in client.app.state.runtime.periodic if j.name == "audit-checkpoint"]
    return job


async def test_verification_walks_on_from_the_latest_checkpoint(service, postgres):
    trail = AuditTrail(service.app.state.runtime)
    for n in range(6):
        await trail.append(an_access("gushi", n))
    job = checkpoint_job(service)
    assert await run_once(service.app.state.runtime.sessions, job) == 1
    assert await run_once(service.app.state.runtime.sessions, job) == 0  # nothing new
    for n in range(6, 9):
        await trail.append(an_access("gushi", n))

    auditor = bearer("center", "auditor")
    checked = (await service.get("/audit/verification", headers=auditor)).json()
    assert checked["ok"] and checked["checkpoint"] == 6
    assert (checked["entries"], checked["last_position"]) == (3, 9)
    full = (await service.get("/audit/verification?full=true", headers=auditor)).json()
    assert full["ok"] and full["checkpoint"] is None and full["entries"] >= 9

    # changed behind the database's guard: before the checkpoint only the full walk
    # finds it; the checkpointed entry itself, any walk
    await as_superuser(postgres, service.url, "UPDATE audit_entries SET purpose = 'x' WHERE id = 2")
    assert (await service.get("/audit/verification", headers=auditor)).json()["ok"]
    full = (await service.get("/audit/verification?full=true", headers=auditor)).json()
    assert (full["ok"], full["broken_at"]) == (False, 2)
    await as_superuser(postgres, service.url, "UPDATE audit_entries SET purpose = 'x' WHERE id = 6")
    checked = (await service.get("/audit/verification", headers=auditor)).json()
    assert (checked["ok"], checked["broken_at"], checked["checkpoint"]) == (False, 6, 6)
    with pytest.raises(ChainBroken):
        await run_once(service.app.state.runtime.sessions, job)


async def test_a_stations_auditor_sees_its_station_and_the_centers_the_network(service):
    trail = AuditTrail(service.app.state.runtime)
    for n in range(2):
        await trail.append(an_access("gushi", n))
        await trail.append(an_access("xixian", n))

    gushi = await service.get("/audit/entries", headers=bearer("gushi", "auditor"))
    assert gushi.status_code == 200, gushi.text
    assert {e["station_id"] for e in gushi.json()} == {"gushi"}
    assert len([e for e in gushi.json() if e["subject"] == "w-gushi"]) == 2
    other = await service.get(
        "/audit/entries", params={"station_id": "xixian"}, headers=bearer("gushi", "auditor")
    )
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    unknown = await service.get("/audit/entries", headers=bearer("nowhere", "auditor"))
    assert unknown.status_code == 403

    center = await service.get("/audit/entries", headers=bearer("center", "auditor"))
    assert {"gushi", "xixian"} <= {e["station_id"] for e in center.json()}
    asked = await service.get(
        "/audit/entries", params={"station_id": "xixian"}, headers=bearer("center", "auditor")
    )
    assert {e["station_id"] for e in asked.json()} == {"xixian"}
