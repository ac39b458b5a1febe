"""The audit trail's anchors: every service records each read and write of
person data in its own hash-chained ``audit_entries`` table
(``rescue_chassis.audit``) and publishes the head of that chain, now and then,
as ``audit_chain_anchored``: outside its database, where its owner cannot
rewrite it (the broker, and the summary service's store).

An entry names who, when, which records, which fields, from which station and
why; never a value of the person's data. Each service's entries form one chain
(``position`` 1, 2, 3… without gaps; ``hash`` = sha256 over the entry and
``prev_hash``), so the hash at an anchored position stands for every entry up
to it. The record key is the service's name: one chain's anchors in order on
one partition.

``audit_recorded`` (one event per entry) is no longer published (since issue
30); it stays registered because a released contract does not vanish.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, Timestamp
from rescue_events.contracts.topics import AUDIT_EVENTS
from rescue_events.registry import registry

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class AuditAction(StrEnum):
    READ = "read"
    WRITE = "write"


@registry.event(
    "audit_recorded",
    1,
    topic=AUDIT_EVENTS,
    summary=(
        "Deprecated, no longer published (the chain's anchors, audit_chain_anchored, "
        "replace it): a read or write of person data was recorded in a service's audit "
        "chain: who, when, which records and fields (names only), from which station, why, "
        "and the entry's hash and chain position."
    ),
)
class AuditRecordedV1(EventContract):
    # Not every access concerns one person (a list, a case by its own id).
    person_id: UUID | None = Field(
        default=None, description="The person concerned, when the access named one."
    )
    service: str = Field(max_length=64, examples=["intake"], description="Whose chain.")
    position: int = Field(ge=1, description="The entry's place in the service's chain.")
    at: Timestamp
    subject: str = Field(max_length=200, description="Who: the token's subject.")
    station_id: str = Field(max_length=64, description="From which station.")
    roles: list[str]
    action: AuditAction
    method: str = Field(max_length=10, examples=["GET"])
    route: str = Field(max_length=300, examples=["/persons/{person_id}"])
    record_ids: dict[str, str | list[str]] = Field(
        description=(
            "Which records: path and *_id query parameters by name; for lists, "
            "listed_ids / listed_person_ids; for writes, response_id / response_person_id "
            "(the record the answer names, e.g. a newly admitted person)."
        )
    )
    fields: list[str] | None = Field(
        description="Which fields were read (response) or written (request body): names only."
    )
    purpose: str | None = Field(max_length=200, description="Why, as the caller stated it.")
    status_code: int
    correlation_id: str | None = Field(max_length=100)
    prev_hash: Sha256Hex
    hash: Sha256Hex


@registry.event(
    "audit_chain_anchored",
    1,
    topic=AUDIT_EVENTS,
    summary=(
        "The head of a service's audit chain, anchored outside its database (periodically, "
        "every so many entries, and on demand): its position and hash, which stand for "
        "every entry up to it. A chain that no longer has this hash at this position was "
        "rewritten."
    ),
)
class AuditChainAnchoredV1(EventContract):
    person_id: UUID | None = Field(
        default=None, description="Always absent: an anchor is about a chain, not a person."
    )
    service: str = Field(max_length=64, examples=["intake"], description="Whose chain.")
    position: int = Field(ge=1, description="The anchored entry's place in the chain (its head).")
    hash: Sha256Hex = Field(description="The anchored entry's hash.")
    entry_at: Timestamp = Field(description="When the anchored entry was recorded.")
    anchored_at: Timestamp = Field(description="When the anchor was taken.")
