"""Police partners: identity checks and DNA samples.

The rules (pure), then the queries; the use cases (asking, the police's answers
by the partner API or the answers topic) are search.commands.police.

A DNA hit is not trusted until re-verified with a fresh sample (DOMAIN.md): a
`hit` marks the sample `hit_unverified`; a NEW sample (another sample reference,
taken after the hit was reported) re-verifies it. Its `hit` on the same record
confirms the hit (`dna_hit_reverified`); its `no_match`, or a hit on another
record, means the hit is not confirmed. An unusable fresh sample decides nothing.

An identity check the asked agency answers `unverifiable` (beyond its level's
population data) is passed up (逐级上报) to the next level of the configured chain
(county → city → province, ``SEARCH_POLICE_ESCALATION_CHAIN``) as a new request
naming the first; at the top of the chain it is flagged for the station.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.network import Network
from rescue_events.contracts import PersonCategory
from rescue_events.contracts.search_police import DnaResult, PoliceCheckResult
from search.tables import DnaSample, PoliceCheck, SearchCase, SharedPhoto
from search.visibility import case_stations

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


class Escalation(StrEnum):
    """Where an `unverifiable` answer went."""

    ESCALATED = "escalated"  # asked of the next level
    TOP_LEVEL = "top_level"  # no level above: flagged for the station


# County police → city → province, for the packaged network (rescue_chassis/network.yaml).
DEFAULT_ESCALATION_CHAIN = (
    "gushi-police>xinyang-police>henan-police;"
    "guangshan-police>xinyang-police>henan-police;"
    "xixian-police>xinyang-police>henan-police"
)


def escalation_chain(text: str) -> dict[str, str]:
    """Each agency's next level, from chains "county>city>province" separated by ";".
    ValueError for an agency given two next levels, or a loop."""
    above: dict[str, str] = {}
    for chain in text.split(";"):
        levels = [level.strip() for level in chain.split(">") if level.strip()]
        for lower, upper in zip(levels, levels[1:], strict=False):
            if lower == upper:
                raise ValueError(f"{lower} cannot pass a check up to itself")
            if above.setdefault(lower, upper) != upper:
                raise ValueError(f"{lower} has two levels above it: {above[lower]}, {upper}")
    for start in above:
        seen, agency = {start}, start
        while (agency := above.get(agency)) is not None:
            if agency in seen:
                raise ValueError(f"the chain from {start} loops back to {agency}")
            seen.add(agency)
    return above


def next_level(chain: dict[str, str], agency_id: str) -> str | None:
    """The agency a check this agency cannot verify goes to; None at the top."""
    return chain.get(agency_id)


def escalation_of(
    result: PoliceCheckResult, chain: dict[str, str], agency_id: str
) -> tuple[Escalation, str | None] | None:
    """(Escalation, next agency) for an answer; None when the answer is not passed up:
    only `unverifiable` is (`inconclusive`: the agency looked and cannot say, a
    matter for a DNA sample, not for the level above)."""
    if result is not PoliceCheckResult.UNVERIFIABLE:
        return None
    upper = next_level(chain, agency_id)
    return (Escalation.ESCALATED, upper) if upper else (Escalation.TOP_LEVEL, None)


def chosen_face_photo(
    photos: list[SharedPhoto], chosen: uuid.UUID | None
) -> tuple[uuid.UUID | None, bool]:
    """The face photo the police are asked about, of the person's shared photos:
    the one staff chose (found: True, else False), or the latest with a face search
    enrolled, or the latest of any; None when intake shared none."""
    if chosen is not None:
        return (chosen, True) if any(p.photo_id == chosen for p in photos) else (None, False)
    if not photos:
        return None, True
    latest = sorted(photos, key=lambda p: p.received_at, reverse=True)
    enrolled = [p for p in latest if p.status == "enrolled"]
    return (enrolled or latest)[0].photo_id, True


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


async def unverifiable_checks(uow: UnitOfWork, limit: int) -> list[PoliceCheck]:
    """Checks even the top police level could not verify, of open cases in the
    caller's stations (by where the case is now), newest first."""
    query = (
        select(PoliceCheck)
        .join(SearchCase, SearchCase.id == PoliceCheck.case_id)
        .where(PoliceCheck.escalation == Escalation.TOP_LEVEL.value, SearchCase.status == "open")
        .order_by(PoliceCheck.answered_at.desc())
        .limit(limit)
    )
    if (stations := case_stations(uow.actor, uow.network)) is not None:
        query = query.where(SearchCase.station_id.in_(stations))
    return list((await uow.session.scalars(query)).all())


async def shared_face_photos(uow: UnitOfWork, person_id: uuid.UUID) -> list[SharedPhoto]:
    """The person's face photos intake shared with search (photo_shared_for_search)."""
    return await uow.find(SharedPhoto, person_id=person_id)


@dataclass(frozen=True)
class Answerer:
    """Who answers for the police: the agency, who in it, and how (api | topic)."""

    agency_id: str  # the police agency (a partner token's station_id claim)
    by: str  # who in the agency, or the agency for answers on the topic
    via: str  # api | topic
