"""Police partners: identity checks and DNA samples.

The rules (pure), then the queries; the use cases (asking, the police's answers
by the partner API or the answers topic) are search.commands.police.

A DNA hit is not trusted until re-verified with a fresh sample (DOMAIN.md): a
`hit` marks the sample `hit_unverified`; a NEW sample (another sample reference,
taken after the hit was reported) re-verifies it. Its `hit` on the same record
confirms the hit (`dna_hit_reverified`); its `no_match`, or a hit on another
record, means the hit is not confirmed. An unusable fresh sample decides nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.network import Network
from rescue_events.contracts import PersonCategory
from rescue_events.contracts.search_police import DnaResult
from search.tables import DnaSample, PoliceCheck

# ---- rules ------------------------------------------------------------------


class SampleStatus(StrEnum):
    SUBMITTED = "submitted"
    NO_MATCH = "no_match"
    UNUSABLE = "unusable"
    HIT_UNVERIFIED = "hit_unverified"
    HIT_CONFIRMED = "hit_confirmed"  # a hit a fresh sample confirmed
    HIT_NOT_CONFIRMED = "hit_not_confirmed"  # a hit a fresh sample contradicted
    CONFIRMS_HIT = "confirms_hit"  # the fresh sample that confirmed a hit


class Reverification(StrEnum):
    CONFIRMED = "confirmed"
    NOT_CONFIRMED = "not_confirmed"
    UNDECIDED = "undecided"  # the fresh sample was unusable


def contact_station(network: Network, station_id: str, categories: list[str]) -> str:
    """The station named to the police: a domestic-violence victim's whereabouts stay
    protected, so the police are pointed to the center."""
    if PersonCategory.DOMESTIC_VIOLENCE_VICTIM.value in categories:
        return network.center.id
    return station_id


def addressed_to(asked: PoliceCheck | DnaSample, agency_id: str) -> bool:
    """Whether this agency was asked (a check or a sample): only its answer counts."""
    return asked.agency_id is not None and asked.agency_id == agency_id


def may_reverify(
    hit_sample_ref: str, hit_reported_at: datetime, fresh_sample_ref: str, fresh_taken_at: datetime
) -> bool:
    """A fresh sample re-verifies a hit only if it is another sample taken after the hit."""
    return fresh_sample_ref.strip() != hit_sample_ref.strip() and fresh_taken_at > hit_reported_at


def reverification(
    hit_record_id: str, fresh_result: DnaResult, fresh_record_id: str | None
) -> Reverification:
    """What a fresh sample's result says about the hit it re-verifies."""
    if fresh_result is DnaResult.UNUSABLE:
        return Reverification.UNDECIDED
    if fresh_result is DnaResult.HIT and fresh_record_id == hit_record_id:
        return Reverification.CONFIRMED
    return Reverification.NOT_CONFIRMED


def fresh_sample_status(outcome: Reverification, fresh_result: DnaResult) -> SampleStatus:
    if outcome is Reverification.CONFIRMED:
        return SampleStatus.CONFIRMS_HIT
    return first_result_status(fresh_result)  # another record's hit needs its own check


def first_result_status(result: DnaResult) -> SampleStatus:
    return {
        DnaResult.HIT: SampleStatus.HIT_UNVERIFIED,
        DnaResult.NO_MATCH: SampleStatus.NO_MATCH,
        DnaResult.UNUSABLE: SampleStatus.UNUSABLE,
    }[result]


def response_seconds(asked_at: datetime, answered_at: datetime) -> float:
    """Seconds from asking to the answer (never negative when clocks disagree)."""
    return max(0.0, (answered_at - asked_at).total_seconds())


# ---- queries ----------------------------------------------------------------


async def hit_to_reverify(
    uow: UnitOfWork, case_id: uuid.UUID, sample_ref: str, taken_at: datetime
) -> DnaSample | None:
    """The case's latest unverified hit that a new sample (ref, taken_at) may re-verify."""
    hits = await uow.find(
        DnaSample,
        case_id=case_id,
        status=SampleStatus.HIT_UNVERIFIED.value,
        order_by=DnaSample.reported_at,
    )
    for hit in reversed(hits):
        if may_reverify(hit.sample_ref, hit.reported_at, sample_ref, taken_at):
            return hit
    return None


@dataclass(frozen=True)
class Answerer:
    """Who answers for the police: the agency, who in it, and how (api | topic)."""

    agency_id: str  # the police agency (a partner token's station_id claim)
    by: str  # who in the agency, or the agency for answers on the topic
    via: str  # api | topic
