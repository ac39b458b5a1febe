"""Intake's events for the person's record and care: photos, belongings returned,
outsourced care and its monitoring, the settlement procedure.

Events carry the facts other services need and nothing more: a photo's metadata
(the image only on ``photo_shared_for_search``, a face for search to enrol), no
address of an outsourced-care institution (the person's whereabouts stay in
intake's record).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.topics import INTAKE_COUNTED, INTAKE_RECORDS, INTAKE_STAYS
from rescue_events.registry import registry


class PhotoKind(StrEnum):
    FACE = "face"
    FULL_BODY = "full_body"
    BELONGINGS = "belongings"


class OutsourcedCareOutcome(StrEnum):
    BACK_IN_STATION = "back_in_station"  # the person came back to the station
    DISCHARGED = "discharged"  # the stay ended while the person was outside


class RemainsHandling(StrEnum):
    """What was done with the remains of a person who died (殡葬)."""

    BURIED = "buried"
    CREMATED_ASHES_KEPT = "cremated_ashes_kept"  # ashes kept (e.g. at the 殡仪馆) for the family
    CREMATED_ASHES_SCATTERED = "cremated_ashes_scattered"
    BODY_KEPT_PENDING_IDENTIFICATION = "body_kept_pending_identification"  # 遗体暂存待认领


class SettlementStep(StrEnum):
    """The long-stay settlement procedure (落户安置), in the order it is done."""

    REGISTRATION_APPLIED = "registration_applied"  # 户籍申请
    REGISTRATION_GRANTED = "registration_granted"  # 落户
    SUPPORT_APPLIED = "support_applied"  # 特困供养申请
    SUPPORT_GRANTED = "support_granted"
    PLACED_IN_INSTITUTION = "placed_in_institution"  # 供养机构安置


@registry.event(
    "photo_added",
    1,
    topic=INTAKE_RECORDS,
    summary="A photo joined the person's record (metadata only; the image stays in intake).",
)
class PhotoAddedV1(EventContract):
    photo_id: UUID
    stay_id: UUID | None = None
    station_id: StationId
    kind: PhotoKind
    content_type: str = Field(examples=["image/jpeg"])
    size_bytes: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Of the image bytes.")
    taken_at: Timestamp


@registry.event(
    "belongings_returned",
    1,
    topic=INTAKE_RECORDS,
    summary="A stay's belongings (随身物品) were handed back to the person at discharge.",
)
class BelongingsReturnedV1(EventContract):
    stay_id: UUID
    station_id: StationId
    returned_at: Timestamp
    items: int = Field(ge=1, description="How many inventory lines were returned.")
    note: str | None = None


@registry.event(
    "outsourced_care_started",
    1,
    topic=INTAKE_COUNTED,
    summary="A person in station was placed in outsourced care (站外托养), to be monitored.",
)
class OutsourcedCareStartedV1(EventContract):
    care_id: UUID
    stay_id: UUID
    station_id: StationId
    institution: str
    started_at: Timestamp
    reason: str


@registry.event(
    "outsourced_care_visited",
    1,
    topic=INTAKE_COUNTED,
    summary="Station staff visited a person in outsourced care (monitoring visit).",
)
class OutsourcedCareVisitedV1(EventContract):
    care_id: UUID
    visit_id: UUID
    station_id: StationId
    visited_at: Timestamp
    health_status: str
    search_progress: str | None = None


@registry.event(
    "outsourced_care_ended",
    1,
    topic=INTAKE_COUNTED,
    summary="Outsourced care ended: back in station, or the stay ended.",
)
class OutsourcedCareEndedV1(EventContract):
    care_id: UUID
    stay_id: UUID
    station_id: StationId
    ended_at: Timestamp
    outcome: OutsourcedCareOutcome


@registry.event(
    "settlement_step_recorded",
    1,
    topic=INTAKE_COUNTED,
    summary="A step of a long-stay person's settlement procedure (落户安置) was done.",
)
class SettlementStepRecordedV1(EventContract):
    stay_id: UUID
    station_id: StationId
    step: SettlementStep
    number: int = Field(ge=1, le=5, description="The step's place in the procedure.")
    done_on: date
    complete: bool = Field(description="The last step: the person may be discharged as settled.")


@registry.event(
    "belongings_recorded",
    1,
    topic=INTAKE_RECORDS,
    summary="Belongings were taken into the station's keeping (how many items, not what).",
)
class BelongingsRecordedV1(EventContract):
    stay_id: UUID
    station_id: StationId
    received_at: Timestamp
    items: int = Field(ge=1)


@registry.event(
    "health_check_recorded",
    1,
    topic=INTAKE_RECORDS,
    summary="A health check was made (the findings stay in intake).",
)
class HealthCheckRecordedV1(EventContract):
    stay_id: UUID
    station_id: StationId
    checked_at: Timestamp
    injuries_found: bool


#: The largest face photo whose image travels on photo_shared_for_search: its base64
#: text (4/3 of it) and the envelope stay under the broker's 1 MiB message limit.
SHARED_PHOTO_MAX_BYTES = 640 * 1024


class PhotoWithheld(StrEnum):
    """Why a face photo was shared without its image."""

    TOO_LARGE = "too_large"  # no smaller copy could be made: staff upload it to search by hand


@registry.event(
    "photo_shared_for_search",
    1,
    topic=INTAKE_STAYS,
    summary=(
        "A face photo taken at intake, for search to enrol on the person's case: the image "
        "travels (base64) when it fits the broker, otherwise `withheld` says why."
    ),
)
class PhotoSharedForSearchV1(EventContract):
    photo_id: UUID
    stay_id: UUID | None = None
    station_id: StationId
    kind: PhotoKind
    content_type: str = Field(examples=["image/jpeg"])
    size_bytes: int = Field(ge=1)
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="Of the photo intake keeps (its bytes)."
    )
    taken_at: Timestamp
    image: str | None = Field(
        default=None,
        max_length=4 * -(-SHARED_PHOTO_MAX_BYTES // 3),
        description="The image, base64 (standard alphabet, padded); absent when withheld.",
    )
    resized_to_fit: bool = Field(
        default=False,
        description="The kept photo was larger than the broker allows: `image` is a smaller "
        "JPEG copy of it (content_type, size_bytes and sha256 still describe the kept photo).",
    )
    withheld: PhotoWithheld | None = Field(
        default=None, description="Why the image is absent: `too_large`."
    )


@registry.event(
    "burial_recorded",
    1,
    topic=INTAKE_STAYS,
    summary="The burial or remains of a person who died were recorded (or corrected), so "
    "search and civil affairs know where a family can find them later.",
)
class BurialRecordedV1(EventContract):
    stay_id: UUID = Field(description="The stay that ended in death.")
    station_id: StationId = Field(description="The station in whose care the person died.")
    buried_on: date = Field(description="The day of burial, cremation or placement in keeping.")
    remains: RemainsHandling
    cemetery: str | None = None
    funeral_home: str | None = Field(default=None, description="The 殡仪馆, if any.")
    certificate_reference: str = Field(
        description="The death certificate or the cremation/burial approval reference."
    )
    photo_kept: bool = Field(description="Photos are kept for the search (search keeps them).")
    dna_kept: bool = Field(description="A DNA sample is kept for the search (search keeps it).")
    recorded_at: Timestamp
    corrected: bool = Field(
        default=False,
        description="A correction of the person's burial record: it replaces the last.",
    )
