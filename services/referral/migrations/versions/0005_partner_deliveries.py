"""One delivery mechanism for every partner feed: partner_deliveries (agency, feed,
message, cursor for the pull feed, webhook channel, acknowledgement) replaces
webhook_deliveries, whose rows it takes over (feed "referral").

Revision ID: 0005partnerdeliveries
Revises: 0004outboxretention
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0005partnerdeliveries"
down_revision: str | None = "0004outboxretention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURSOR = sa.Sequence("partner_deliveries_cursor_seq")
String = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(CURSOR))
    op.create_table(
        "partner_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "cursor",
            sa.BigInteger(),
            server_default=sa.text("nextval('partner_deliveries_cursor_seq')"),
            nullable=False,
        ),
        sa.Column("agency_id", String(length=64), nullable=False),
        sa.Column("feed", String(length=40), nullable=False),
        sa.Column("event_type", String(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("webhook_status", String(length=20), nullable=True),
        sa.Column("webhook_attempts", sa.Integer(), nullable=False),
        sa.Column("webhook_next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("webhook_delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("webhook_last_error", String(length=500), nullable=True),
        sa.Column("acknowledge_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", String(length=200), nullable=True),
        sa.Column("overdue_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cursor"),
        sa.UniqueConstraint("agency_id", "source_event_id"),
    )
    op.execute("ALTER SEQUENCE partner_deliveries_cursor_seq OWNED BY partner_deliveries.cursor")
    for column in ("agency_id", "subject_id", "webhook_status"):
        op.create_index(
            op.f(f"ix_partner_deliveries_{column}"), "partner_deliveries", [column], unique=False
        )
    # The webhook rows so far: referrals (a referral is sent once: its id is the source).
    op.execute(
        """
        INSERT INTO partner_deliveries (
            id, agency_id, feed, event_type, body, subject_id, source_event_id, created_at,
            webhook_status, webhook_attempts, webhook_next_attempt_at, webhook_delivered_at,
            webhook_last_error
        )
        SELECT DISTINCT ON (w.agency_id, w.referral_id)
            w.id, w.agency_id, 'referral', w.event_type, w.body, r.person_id, w.referral_id,
            w.created_at, w.status, w.attempts, w.next_attempt_at, w.delivered_at, w.last_error
        FROM webhook_deliveries w JOIN referrals r ON r.id = w.referral_id
        ORDER BY w.agency_id, w.referral_id, w.created_at
        """
    )
    op.execute(
        "SELECT setval('partner_deliveries_cursor_seq', "
        "(SELECT coalesce(max(cursor), 0) + 1 FROM partner_deliveries), false)"
    )
    op.drop_index(op.f("ix_webhook_deliveries_status"), table_name="webhook_deliveries")
    op.drop_index(op.f("ix_webhook_deliveries_referral_id"), table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")


def downgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", String(length=64), nullable=False),
        sa.Column("event_type", String(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_referral_id"),
        "webhook_deliveries",
        ["referral_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_deliveries_status"), "webhook_deliveries", ["status"], unique=False
    )
    # Back to the referrals' webhook rows; the other feeds had none before.
    op.execute(
        """
        INSERT INTO webhook_deliveries (
            id, referral_id, agency_id, event_type, body, status, attempts, next_attempt_at,
            delivered_at, last_error, created_at
        )
        SELECT id, source_event_id, agency_id, event_type, body, webhook_status,
            webhook_attempts, coalesce(webhook_next_attempt_at, created_at),
            webhook_delivered_at, webhook_last_error, created_at
        FROM partner_deliveries
        WHERE feed = 'referral' AND webhook_status IS NOT NULL
        """
    )
    for column in ("webhook_status", "subject_id", "agency_id"):
        op.drop_index(op.f(f"ix_partner_deliveries_{column}"), table_name="partner_deliveries")
    op.drop_table("partner_deliveries")
    op.execute(sa.schema.DropSequence(CURSOR, if_exists=True))
