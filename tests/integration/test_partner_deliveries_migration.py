"""Referral's migration 0005 takes the referrals' webhook rows over into the one
delivery table (feed "referral", the referral as source, its person as subject),
numbers them for the pull feed, and gives them back when undone."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from alembic import command

from rescue_chassis import migrations
from rescue_chassis.migrations import alembic_config

pytestmark = pytest.mark.integration

BEFORE, AFTER = "0004outboxretention", "0005partnerdeliveries"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_webhook_rows_become_referral_deliveries_and_come_back(postgres):
    service = importlib.import_module("referral.app").service
    name = f"t_{uuid.uuid4().hex[:12]}"
    await postgres.create_databases([name])
    url = postgres.sqlalchemy_url(name)
    await asyncio.to_thread(migrations.upgrade, service.migrations_dir, url, BEFORE)
    referral_id, person_id, webhook_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(postgres.dsn(name))
    try:
        await conn.execute(
            "INSERT INTO referrals (id, person_id, station_id, partner_type, reason, agency_id, "
            "mandatory, consent_required, status, opened_at, opened_by) "
            "VALUES ($1, $2, 'gushi', 'minor_protection', 'minor', 'mp-1', true, false, "
            "'sent', $3, 'rule')",
            referral_id,
            person_id,
            NOW,
        )
        await conn.execute(
            "INSERT INTO webhook_deliveries (id, referral_id, agency_id, event_type, body, "
            "status, attempts, next_attempt_at, last_error, created_at) "
            "VALUES ($1, $2, 'mp-1', 'minor_protection_referral', '{\"a\":1}', 'pending', 3, "
            "$3, 'HTTP 500', $3)",
            webhook_id,
            referral_id,
            NOW,
        )
    finally:
        await conn.close()

    await asyncio.to_thread(migrations.upgrade, service.migrations_dir, url, AFTER)
    conn = await asyncpg.connect(postgres.dsn(name))
    try:
        (row,) = await conn.fetch("SELECT * FROM partner_deliveries")
        # a delivery made now numbers after the ones taken over
        await conn.execute(
            "INSERT INTO partner_deliveries (id, agency_id, feed, event_type, body, subject_id, "
            "source_event_id, created_at, webhook_attempts) "
            "VALUES ($1, 'mp-1', 'referral', 'x', '{}', $2, $3, $4, 0)",
            uuid.uuid4(),
            person_id,
            uuid.uuid4(),
            NOW,
        )
        cursors = [r["cursor"] for r in await conn.fetch("SELECT cursor FROM partner_deliveries")]
    finally:
        await conn.close()
    assert (row["id"], row["feed"], row["subject_id"], row["source_event_id"]) == (
        webhook_id,
        "referral",
        person_id,
        referral_id,
    )
    assert (row["webhook_status"], row["webhook_attempts"], row["webhook_last_error"]) == (
        "pending",
        3,
        "HTTP 500",
    )
    assert row["body"] == '{"a":1}' and row["acknowledge_by"] is None
    assert cursors[0] == row["cursor"] < cursors[1]

    config = alembic_config(service.migrations_dir, url)
    await asyncio.to_thread(command.downgrade, config, BEFORE)
    conn = await asyncpg.connect(postgres.dsn(name))
    try:
        back = await conn.fetch("SELECT id, referral_id, status FROM webhook_deliveries")
    finally:
        await conn.close()
    assert [tuple(r) for r in back] == [(webhook_id, referral_id, "pending")]
