"""Search tables: family-search notices, protection marks and overrides."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from search.tables.core import Base, _ts

__all__ = [
    "NoticeOverride",
    "NoticeProtection",
    "PublicationPhoto",
    "PublicationPhotoChoice",
    "SearchNotice",
]


class SearchNotice(Base, table=True):
    """One publication: the national notice or one regional push, and its state
    (publishing → published | failed; takedown_pending → taken_down)."""

    __tablename__ = "search_notices"

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    person_id: uuid.UUID = Field(index=True)
    station_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=20)  # national | regional
    region: str | None = Field(default=None, max_length=100)
    region_basis: str | None = Field(default=None, max_length=20)
    status: str = Field(max_length=20, index=True)
    # The public text exactly as sent (and re-sent on a retry): never categories.
    payload: dict = Field(sa_column=Column(JSONB, nullable=False))
    external_id: str | None = Field(default=None, max_length=200)
    requested_by: str = Field(max_length=200)
    requested_at: datetime = Field(sa_column=_ts())
    attempts: int = Field(default=0)
    published_at: datetime | None = Field(default=None, sa_column=_ts(True))
    failed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    last_error: str | None = Field(default=None, max_length=300)
    override_id: uuid.UUID | None = Field(default=None)
    takedown_reason: str | None = Field(default=None, max_length=100)
    takedown_requested_at: datetime | None = Field(default=None, sa_column=_ts(True))
    taken_down_at: datetime | None = Field(default=None, sa_column=_ts(True))
    # The published image it shows (search_publication_photos), fixed when the notice
    # is made: a retry sends the same image; None: no photo.
    publication_photo_id: uuid.UUID | None = Field(default=None)


class NoticeProtection(Base, table=True):
    """Per case: staff marked the person endangered (no public notice), and whether
    notices are closed for good (identity confirmed, person left)."""

    __tablename__ = "search_notice_protections"

    case_id: uuid.UUID = Field(primary_key=True, foreign_key="search_cases.id")
    endangered: bool = Field(default=False)
    endangered_reason: str | None = Field(default=None, max_length=1000)
    marked_by: str | None = Field(default=None, max_length=200)
    marked_at: datetime | None = Field(default=None, sa_column=_ts(True))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    closed_reason: str | None = Field(default=None, max_length=100)


class NoticeOverride(Base, table=True):
    """An authorised decision to publish for a protected person, with its reason."""

    __tablename__ = "search_notice_overrides"

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    reason: str = Field(max_length=1000)
    authorised_by: str = Field(max_length=200)
    authorised_role: str = Field(max_length=40)
    authorised_at: datetime = Field(sa_column=_ts())


class PublicationPhoto(Base, table=True):
    """The image a notice may show, derived once from a face photo intake shared
    (photo_shared_for_search, by intake's photo id): the person's face cropped with
    others' faces cut out, resized, re-encoded as JPEG (no EXIF), or why it cannot be."""

    __tablename__ = "search_publication_photos"

    photo_id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(index=True)
    case_id: uuid.UUID = Field(index=True)
    station_id: str = Field(max_length=64)
    source_sha256: str = Field(max_length=64)  # of the image as shared
    taken_at: datetime | None = Field(default=None, sa_column=_ts(True))
    status: str = Field(max_length=20)  # ready | unusable
    reason: str | None = Field(default=None, max_length=500)
    faces_in_photo: int = Field(default=0)
    face_basis: str | None = Field(default=None, max_length=20)  # only | match | largest
    content_type: str | None = Field(default=None, max_length=40)
    image: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    sha256: str | None = Field(default=None, max_length=64)  # of ``image``
    width: int | None = None
    height: int | None = None
    prepared_at: datetime = Field(sa_column=_ts())


class PublicationPhotoChoice(Base, table=True):
    """The photo staff chose for the case's notices (none chosen, or withdrawn: no
    photo), by whom and when."""

    __tablename__ = "search_publication_photo_choices"

    case_id: uuid.UUID = Field(primary_key=True, foreign_key="search_cases.id")
    # None: the choice was withdrawn (no photo)
    photo_id: uuid.UUID | None = Field(
        default=None, foreign_key="search_publication_photos.photo_id"
    )
    chosen_by: str = Field(max_length=200)
    chosen_at: datetime = Field(sa_column=_ts())
