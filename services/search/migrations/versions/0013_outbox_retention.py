"""The outbox keeps published events for its retention window, so what a broker
lost can be re-published (published_at, published_to); dead letters can be
discarded on record (discarded_at, discarded_by, discard_reason).

Revision ID: 0013outboxretention
Revises: 0012encryption
"""

from collections.abc import Sequence

from rescue_chassis.migrations import create_plumbing_v2, drop_plumbing_v2

revision: str = "0013outboxretention"
down_revision: str | None = "0012encryption"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_v2()


def downgrade() -> None:
    drop_plumbing_v2()
