"""Police partners: identity checks and DNA samples.

The rules (pure) come first, then applying the police's answers, shared by the
partner API and the answers topic.

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

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.network import Network
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import PersonCategory
from rescue_events.contracts.search_police import (
    DnaHitNotConfirmedV1,
    DnaHitReverifiedV1,
    DnaResult,
    DnaResultReportedV1,
    PoliceCheckAnsweredV1,
    PoliceCheckResult,
)
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


class PoliceRefused(Exception):
    """An answer that cannot be applied (answered already, missing what it needs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


async def dna_hit_reverified(session: AsyncSession, case_id: uuid.UUID) -> bool:
    """Whether a DNA hit for the case was re-verified with a fresh sample."""
    found = await session.scalar(
        select(DnaSample.id)
        .where(
            DnaSample.case_id == case_id,
            DnaSample.status == SampleStatus.HIT_CONFIRMED.value,
        )
        .limit(1)
    )
    return found is not None


async def hit_to_reverify(
    session: AsyncSession, case_id: uuid.UUID, sample_ref: str, taken_at: datetime
) -> DnaSample | None:
    """The case's latest unverified hit that a new sample (ref, taken_at) may re-verify."""
    hits = (
        await session.scalars(
            select(DnaSample)
            .where(
                DnaSample.case_id == case_id,
                DnaSample.status == SampleStatus.HIT_UNVERIFIED.value,
            )
            .order_by(DnaSample.reported_at.desc())
        )
    ).all()
    for hit in hits:
        if may_reverify(hit.sample_ref, hit.reported_at, sample_ref, taken_at):
            return hit
    return None


# ---- applying the police's answers ------------------------------------------


@dataclass(frozen=True)
class Answerer:
    agency_id: str  # the police agency (a partner token's station_id claim)
    by: str  # who in the agency, or the agency for answers on the topic
    via: str  # api | topic


async def answer_check(
    session: AsyncSession,
    runtime: Runtime,
    check: PoliceCheck,
    answerer: Answerer,
    *,
    result: PoliceCheckResult,
    answered_at: datetime,
    full_name: str | None = None,
    id_record_ref: str | None = None,
    home_province: str | None = None,
    home_address: str | None = None,
    note: str | None = None,
) -> None:
    if check.status != "requested":
        raise PoliceRefused(f"identity check {check.id} was answered already by {check.agency_id}")
    answered_at = max(answered_at, check.requested_at)
    check.status = "answered"
    check.result = result.value
    check.agency_id = answerer.agency_id
    check.answered_by = answerer.by
    check.answered_via = answerer.via
    check.answered_at = answered_at
    check.response_seconds = response_seconds(check.requested_at, answered_at)
    check.full_name = full_name
    check.id_record_ref = id_record_ref
    check.home_province = home_province
    check.home_address = home_address
    check.note = note
    await runtime.outbox.stage(
        session,
        PoliceCheckAnsweredV1(
            person_id=check.person_id,
            case_id=check.case_id,
            request_id=check.id,
            station_id=check.station_id,
            agency_id=answerer.agency_id,
            result=result,
            requested_at=check.requested_at,
            answered_at=answered_at,
            response_seconds=check.response_seconds,
        ),
    )


async def report_dna_result(
    session: AsyncSession,
    runtime: Runtime,
    sample: DnaSample,
    answerer: Answerer,
    *,
    result: DnaResult,
    reported_at: datetime,
    matched_record_id: str | None = None,
    note: str | None = None,
) -> None:
    if sample.status != SampleStatus.SUBMITTED.value:
        raise PoliceRefused(f"sample {sample.id} has its result already ({sample.result})")
    if result is DnaResult.HIT and not matched_record_id:
        raise PoliceRefused("a hit names the matched record (matched_record_id)")
    reported_at = max(reported_at, sample.submitted_at)
    sample.result = result.value
    sample.matched_record_id = matched_record_id if result is DnaResult.HIT else None
    sample.agency_id = answerer.agency_id
    sample.reported_by = answerer.by
    sample.reported_via = answerer.via
    sample.reported_at = reported_at
    sample.response_seconds = response_seconds(sample.submitted_at, reported_at)
    sample.note = note
    sample.status = first_result_status(result).value

    hit = None
    if sample.reverifies_sample_id is not None:
        hit = await session.get(DnaSample, sample.reverifies_sample_id, with_for_update=True)
    if hit is not None and hit.status == SampleStatus.HIT_UNVERIFIED.value:
        outcome = reverification(hit.matched_record_id, result, sample.matched_record_id)
        sample.status = fresh_sample_status(outcome, result).value
        if outcome is Reverification.CONFIRMED:
            hit.status = SampleStatus.HIT_CONFIRMED.value
            await runtime.outbox.stage(
                session,
                DnaHitReverifiedV1(
                    person_id=sample.person_id,
                    case_id=sample.case_id,
                    station_id=sample.station_id,
                    hit_sample_id=hit.id,
                    fresh_sample_id=sample.id,
                    reverified_at=reported_at,
                ),
            )
        elif outcome is Reverification.NOT_CONFIRMED:
            hit.status = SampleStatus.HIT_NOT_CONFIRMED.value
            await runtime.outbox.stage(
                session,
                DnaHitNotConfirmedV1(
                    person_id=sample.person_id,
                    case_id=sample.case_id,
                    station_id=sample.station_id,
                    hit_sample_id=hit.id,
                    fresh_sample_id=sample.id,
                    fresh_result=result,
                    decided_at=reported_at,
                ),
            )
    await runtime.outbox.stage(
        session,
        DnaResultReportedV1(
            person_id=sample.person_id,
            case_id=sample.case_id,
            sample_id=sample.id,
            station_id=sample.station_id,
            agency_id=answerer.agency_id,
            result=result,
            sample_status=sample.status,
            reverifies_sample_id=sample.reverifies_sample_id,
            submitted_at=sample.submitted_at,
            reported_at=reported_at,
            response_seconds=sample.response_seconds,
        ),
    )
