"""The photo a family-search notice shows (issue 28): the published image derived
once from each face photo intake shared (the person's face, others cut out,
resized), the photo staff chose per case, and the image each notice was made with.

Revision ID: 0018publicationphotos
Revises: 0017policeescalation
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0018publicationphotos"
down_revision: str | None = "0017policeescalation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "search_publication_photos",
        sa.Column("photo_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("source_sha256", _text(64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("reason", _text(500), nullable=True),
        sa.Column("faces_in_photo", sa.Integer(), nullable=False),
        sa.Column("face_basis", _text(20), nullable=True),
        sa.Column("content_type", _text(40), nullable=True),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", _text(64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("photo_id"),
    )
    for column in ("person_id", "case_id"):
        op.create_index(
            op.f(f"ix_search_publication_photos_{column}"), "search_publication_photos", [column]
        )
    op.create_table(
        "search_publication_photo_choices",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("photo_id", sa.Uuid(), nullable=True),
        sa.Column("chosen_by", _text(200), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.ForeignKeyConstraint(["photo_id"], ["search_publication_photos.photo_id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.add_column("search_notices", sa.Column("publication_photo_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("search_notices", "publication_photo_id")
    op.drop_table("search_publication_photo_choices")
    for column in ("case_id", "person_id"):
        op.drop_index(
            op.f(f"ix_search_publication_photos_{column}"), table_name="search_publication_photos"
        )
    op.drop_table("search_publication_photos")
