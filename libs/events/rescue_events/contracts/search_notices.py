"""Search events: family-search notices (寻亲公告) on the national family-search
website and targeted regional pushes.

They carry ids, the kind of notice, its region and the station: never a
description of the person, a category or anything that marks a protected person.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.topics import SEARCH_COUNTED, SEARCH_RECORDS
from rescue_events.registry import registry


class NoticeKind(StrEnum):
    NATIONAL = "national"  # 全国救助寻亲网
    REGIONAL = "regional"  # targeted push to phones in one region (头条寻人-style)


class NoticePurpose(StrEnum):
    """What a notice seeks: the family of a person in a station's care, or the family
    of an unidentified person who died there (DOMAIN.md, 7)."""

    SEEKING_FAMILY = "seeking_family"  # 寻亲公告
    DECEASED = "deceased"  # 死亡人员寻亲公告 (无名遗体认领)


_REGION = Field(
    default=None,
    max_length=100,
    description="For a regional push: the region it went to. None for the national notice.",
    examples=["四川省"],
)
_PURPOSE = Field(
    default=NoticePurpose.SEEKING_FAMILY,
    description="seeking_family (a person in a station's care) or deceased (the person died "
    "unidentified; the notice seeks the family to claim the remains).",
    examples=["deceased"],
)


@registry.event(
    "notice_published",
    1,
    topic=SEARCH_COUNTED,
    summary="A family-search notice went up: on the national website or as a regional push.",
)
class NoticePublishedV1(EventContract):
    case_id: UUID
    notice_id: UUID
    station_id: StationId
    kind: NoticeKind
    region: str | None = _REGION
    published_at: Timestamp
    purpose: NoticePurpose = _PURPOSE
    with_photo: bool = Field(
        default=False,
        description="The notice shows the photo staff chose for publication (the person's "
        "face alone, resized); false: no photo.",
    )


@registry.event(
    "notice_publication_failed",
    1,
    topic=SEARCH_RECORDS,
    summary="Publishing a family-search notice failed after its retries.",
)
class NoticePublicationFailedV1(EventContract):
    case_id: UUID
    notice_id: UUID
    station_id: StationId
    kind: NoticeKind
    region: str | None = _REGION
    failed_at: Timestamp
    purpose: NoticePurpose = _PURPOSE
    error: str = Field(
        max_length=300,
        description="What the endpoint answered (status or connection error); no personal data.",
        examples=["HTTP 503"],
    )


@registry.event(
    "notice_taken_down",
    1,
    topic=SEARCH_RECORDS,
    summary="A published family-search notice was taken down (family found, person left, "
    "or the person needs protection).",
)
class NoticeTakenDownV1(EventContract):
    case_id: UUID
    notice_id: UUID
    station_id: StationId
    kind: NoticeKind
    region: str | None = _REGION
    taken_down_at: Timestamp
    reason: str = Field(
        max_length=100,
        description="Why: identity_confirmed, person_discharged:<reason>, protection, "
        "superseded:<why> (replaced by a re-issued notice: superseded:deceased, "
        "superseded:case_moved, superseded:burial_recorded), …",
        examples=["identity_confirmed"],
    )
    purpose: NoticePurpose = _PURPOSE
