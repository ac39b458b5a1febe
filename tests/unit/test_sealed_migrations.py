"""The sealing migration's body, once (rescue_chassis.sealed_migrations): it emits the
very SQL the six applied ``*_sealed_fields`` migrations emit for their columns, up
and down, so a later migration calling it seals a column as they did."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql

from rescue_chassis.sealed_migrations import seal_columns_v1, unseal_columns_v1

ROOT = Path(__file__).resolve().parents[2]
APPLIED = sorted(ROOT.glob("services/*/migrations/versions/*_sealed_fields.py"))


def offline_sql(run) -> str:
    """The SQL alembic would send to Postgres (offline mode: no database)."""
    out = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": out}
    )
    with Operations.context(context):
        run()
    return out.getvalue()


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
def test_the_same_sql_as_an_applied_sealing_migration(path, monkeypatch):
    module = applied(path)
    # only the columns: the audit checkpoints they also created are another matter
    monkeypatch.setattr(module, "create_audit_checkpoints_v1", lambda: None)
    monkeypatch.setattr(module, "drop_audit_checkpoints_v1", lambda: None)

    up = offline_sql(module.upgrade)
    assert "ALTER TABLE" in up and "TYPE TEXT" in up
    assert offline_sql(lambda: seal_columns_v1(module.SEALED)) == up
    down = offline_sql(module.downgrade)
    assert offline_sql(lambda: unseal_columns_v1(module.SEALED)) == down


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
