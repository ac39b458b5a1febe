"""The sealing migration's body, once (rescue_chassis.sealed_migrations): it emits the
very SQL the six applied ``*_sealed_fields`` migrations emit for their columns, up
and down, so a later migration calling it seals a column as they did. The six now
call it too; ``RECORDED`` is the SQL they ran before that (their inline bodies),
so applied history cannot drift."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import op
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql

from rescue_chassis.sealed_migrations import seal_columns_v1, unseal_columns_v1

ROOT = Path(__file__).resolve().parents[2]
APPLIED = sorted(ROOT.glob("services/*/migrations/versions/*_sealed_fields.py"))

_RESPONSE_UP = "ALTER TABLE idempotency_keys ALTER COLUMN response TYPE TEXT USING response::text"
_RESPONSE_DOWN = (
    "ALTER TABLE idempotency_keys ALTER COLUMN response TYPE JSONB USING response::jsonb"
)
_CREATED = "-- create_audit_checkpoints_v1"
_DROPPED = "-- drop_audit_checkpoints_v1"
_ONLY_RESPONSE = ([_RESPONSE_UP, _CREATED], [_DROPPED, _RESPONSE_DOWN])

#: service -> (upgrade, downgrade) statements, as the inline bodies emitted them
#: (offline, checkpoint calls marked); recorded once, never regenerated
RECORDED = {
    "intake": (
        [
            _RESPONSE_UP,
            "ALTER TABLE stays ALTER COLUMN handover TYPE TEXT USING handover::text",
            _CREATED,
        ],
        [
            _DROPPED,
            _RESPONSE_DOWN,
            "ALTER TABLE stays ALTER COLUMN handover TYPE JSONB USING handover::jsonb",
        ],
    ),
    "referral": (
        [
            _RESPONSE_UP,
            "ALTER TABLE agencies ALTER COLUMN contacts TYPE TEXT USING contacts::text",
            "ALTER TABLE agencies ALTER COLUMN webhook_secret TYPE TEXT USING webhook_secret::text",
            _CREATED,
        ],
        [
            _DROPPED,
            _RESPONSE_DOWN,
            "ALTER TABLE agencies ALTER COLUMN contacts TYPE JSONB USING contacts::jsonb",
            "ALTER TABLE agencies ALTER COLUMN webhook_secret TYPE VARCHAR(200)",
        ],
    ),
    "search": _ONLY_RESPONSE,
    "transfer": _ONLY_RESPONSE,
    "followup": _ONLY_RESPONSE,
    "summary": _ONLY_RESPONSE,
}


def offline_sql(run) -> str:
    """The SQL alembic would send to Postgres (offline mode: no database)."""
    out = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": out}
    )
    with Operations.context(context):
        run()
    return out.getvalue()


def statements(sql: str) -> list[str]:
    """Each statement on one line, whitespace collapsed."""
    return [" ".join(part.split()) for part in sql.split(";") if part.strip()]


def applied(path: Path):
    spec = importlib.util.spec_from_file_location(f"sealed_{path.parents[2].name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_six_are_found():
    assert {p.parents[2].name for p in APPLIED} == {
        "intake", "search", "transfer", "referral", "followup", "summary"
    }  # fmt: skip


@pytest.mark.parametrize("path", APPLIED, ids=lambda p: p.parents[2].name)
def test_an_applied_sealing_migration_runs_the_sql_it_ran_when_applied(path, monkeypatch):
    module = applied(path)
    # the checkpoints' own DDL is theirs to pin; here only where the calls fall
    monkeypatch.setattr(module, "create_audit_checkpoints_v1", lambda: op.execute(_CREATED))
    monkeypatch.setattr(module, "drop_audit_checkpoints_v1", lambda: op.execute(_DROPPED))

    up, down = RECORDED[path.parents[2].name]
    assert statements(offline_sql(module.upgrade)) == up
    assert statements(offline_sql(module.downgrade)) == down


@pytest.mark.parametrize("path", APPLIED, ids=lambda p: p.parents[2].name)
def test_the_same_sql_as_an_applied_sealing_migration(path):
    up, down = RECORDED[path.parents[2].name]
    sealed = applied(path).SEALED

    assert statements(offline_sql(lambda: seal_columns_v1(sealed))) == up[:-1]
    assert statements(offline_sql(lambda: unseal_columns_v1(sealed))) == down[1:]


def test_a_json_column_is_parsed_back_and_a_text_one_only_retyped():
    sealed = [
        ("agencies", "contacts", postgresql.JSONB(astext_type=sa.Text())),
        ("agencies", "webhook_secret", sa.String(200)),
    ]
    up = offline_sql(lambda: seal_columns_v1(sealed))
    assert "ALTER COLUMN contacts TYPE TEXT USING contacts::text" in up
    assert "ALTER COLUMN webhook_secret TYPE TEXT USING webhook_secret::text" in up
    down = offline_sql(lambda: unseal_columns_v1(sealed))
    assert "ALTER COLUMN contacts TYPE JSONB USING contacts::jsonb" in down
    assert "ALTER COLUMN webhook_secret TYPE VARCHAR(200)" in down
    assert "webhook_secret::" not in down
