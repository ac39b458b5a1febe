"""Police partners: a station asks for an identity check or sends a DNA sample; the
police answer, by the partner API (role `partner`, the token's station_id names the
agency) or on rescue.partner.answers: the same use cases either way."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from rescue_chassis.access import ensure_known_station, may_see
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Conflict, NotFound, Refused
from rescue_events.contracts import Sex
from rescue_events.contracts.search_police import (
    DnaHitNotConfirmedV1,
    DnaHitReverifiedV1,
    DnaResult,
    DnaResultReportedV1,
    PoliceCheckAnsweredV1,
    PoliceCheckEscalatedV1,
    PoliceCheckResult,
    PoliceCheckUnverifiableAtTopV1,
    PoliceDnaSampleSubmittedV1,
    PoliceIdentityCheckRequestedV1,
)
from search import statements
from search.domain import TaskKind
from search.police import (
    Answerer,
    Escalation,
    Reverification,
    SampleStatus,
    addressed_to,
    chosen_face_photo,
    contact_station,
    escalation_of,
    first_result_status,
    fresh_sample_status,
    hit_to_reverify,
    response_seconds,
    reverification,
    shared_face_photos,
)
from search.tables import DnaSample, PoliceCheck, SearchCase

# ---- views ------------------------------------------------------------------


class PoliceCheckView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    status: str
    face_photo_ref: str | None = Field(description="Deprecated free text; see face_photo_id.")
    face_photo_id: uuid.UUID | None = Field(
        default=None,
        description="Intake's face photo the police are shown (through a short-lived link).",
    )
    stated_names: str | None
    description: str | None
    requested_by: str
    requested_at: datetime
    result: str | None
    agency_id: str | None = Field(description="The police agency asked: it alone answers.")
    answered_by: str | None
    answered_via: str | None
    answered_at: datetime | None
    response_seconds: float | None = Field(description="answered_at − requested_at.")
    full_name: str | None
    id_record_ref: str | None
    home_province: str | None
    home_address: str | None
    note: str | None
    escalates_request_id: uuid.UUID | None = Field(
        default=None,
        description="The check the level below answered `unverifiable`, passed up to this one.",
    )
    escalated_to_request_id: uuid.UUID | None = Field(
        default=None, description="Where this check went when answered `unverifiable`."
    )
    escalation: str | None = Field(
        default=None,
        description="escalated (asked of the next level) or top_level (no level above: "
        "flagged for the station, the search goes on).",
    )


class DnaSampleView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    sample_ref: str
    taken_at: datetime
    taken_by: str
    submitted_by: str
    submitted_at: datetime
    reverifies_sample_id: uuid.UUID | None
    status: str
    result: str | None
    matched_record_id: str | None
    agency_id: str | None
    reported_via: str | None
    reported_at: datetime | None
    response_seconds: float | None = Field(description="reported_at − submitted_at.")
    note: str | None

    @model_validator(mode="after")
    def _by_role(self) -> DnaSampleView:
        """DNA sample references and matches in full for the search specialists and
        the center (rescue_chassis.access.SENSITIVE); the others see the status."""
        if not may_see("dna"):
            self.sample_ref = "•••" + self.sample_ref[-4:]
            self.matched_record_id = None if self.matched_record_id is None else "•••"
        return self


class PoliceAnswerView(BaseModel):
    """What the police see back: their answer as recorded, nothing of the case."""

    id: uuid.UUID
    status: str
    result: str | None
    agency_id: str | None
    answered_at: datetime | None
    response_seconds: float | None


# ---- stations ask -----------------------------------------------------------


class DnaSampleSubmission(Command):
    agency_id: str = Field(
        min_length=1,
        max_length=64,
        description="The police agency the sample goes to: only its result is taken.",
        examples=["gushi-police"],
    )
    sample_ref: str = Field(
        min_length=1,
        max_length=100,
        description="The sample's label or barcode; a re-verification needs a new one.",
        examples=["DNA-411500-2026-00042"],
    )
    taken_at: PastInstant = Field(
        description="When the sample was taken (with an offset).",
        examples=["2026-11-23T09:30:00+08:00"],
    )
    taken_by: str = Field(
        min_length=1,
        max_length=200,
        description="Who took it (police officer or medical staff).",
        examples=["固始县公安局 张警官"],
    )


class RequestPoliceCheck(Command):
    """What the police are asked (the route's ``PoliceCheckRequest``)."""

    case_id: uuid.UUID
    agency_id: str
    sex: Sex | None = None  # as seen; the admission's when None
    estimated_age: int | None = None  # as seen; the admission's when None
    stated_names: list[str] | None = None  # as said; the admission's when None
    description: str | None = None
    face_photo_ref: str | None = None  # deprecated free text
    face_photo_id: uuid.UUID | None = None  # staff's choice; the latest face photo when None
    requested_by: str | None = None  # the caller when None


class SubmitDnaSample(DnaSampleSubmission):
    case_id: uuid.UUID


async def open_case(uow: UnitOfWork, case_id: uuid.UUID) -> SearchCase:
    """The caller's case, locked, while its search goes on."""
    ensure_known_station(uow.actor, uow.network)
    case = await uow.load(SearchCase, case_id, what="search case", lock=True)
    if case.status != "open":
        raise Conflict("Not open", "This person is identified: the search has ended.")
    return case


async def request_police_check(command: RequestPoliceCheck, uow: UnitOfWork) -> PoliceCheckView:
    case = await open_case(uow, command.case_id)
    names = (
        command.stated_names
        if command.stated_names is not None
        else [n for n in (case.stated_names or "").split("、") if n]
    )
    sex = command.sex or Sex(case.sex or Sex.UNKNOWN.value)
    estimated_age = case.estimated_age if command.estimated_age is None else command.estimated_age
    photos = await shared_face_photos(uow, case.person_id)
    face_photo_id, found = chosen_face_photo(photos, command.face_photo_id)
    if not found:
        raise Refused("face_photo_id", "is not a face photo intake shared for this person")
    check = PoliceCheck(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        sex=sex.value,
        estimated_age=estimated_age,
        stated_names="、".join(names) or None,
        description=command.description,
        face_photo_ref=command.face_photo_ref,
        face_photo_id=face_photo_id,
        requested_by=command.requested_by or uow.actor.subject,
        requested_at=uow.now,
        status="requested",
        agency_id=command.agency_id,
    )
    uow.add(check)
    await uow.flush()
    await statements.complete_task(uow, case.id, TaskKind.POLICE_CHECK)
    await uow.publish(
        PoliceIdentityCheckRequestedV1(
            person_id=case.person_id,
            request_id=check.id,
            case_id=case.id,
            station_id=contact_station(uow.network, case.station_id, case.categories),
            agency_id=check.agency_id,
            sex=sex,
            estimated_age=estimated_age,
            stated_names=names,
            description=command.description,
            face_photo_ref=command.face_photo_ref,
            face_photo_id=face_photo_id,
            requested_at=uow.now,
        )
    )
    return PoliceCheckView.model_validate(check, from_attributes=True)


async def submit_dna_sample(command: SubmitDnaSample, uow: UnitOfWork) -> DnaSampleView:
    case = await open_case(uow, command.case_id)
    if command.taken_at > uow.now:
        raise Refused("taken_at", "is in the future")
    if await statements.sample_ref_taken(uow, command.sample_ref):
        raise Conflict(
            "Sample already submitted",
            f"Sample {command.sample_ref!r} was submitted before; a fresh sample needs a "
            "new reference.",
        )
    hit = await hit_to_reverify(uow, case.id, command.sample_ref, command.taken_at)
    sample = DnaSample(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        sample_ref=command.sample_ref,
        taken_at=command.taken_at,
        taken_by=command.taken_by,
        submitted_by=uow.actor.subject,
        submitted_at=uow.now,
        reverifies_sample_id=hit.id if hit else None,
        status=SampleStatus.SUBMITTED.value,
        agency_id=command.agency_id,
    )
    uow.add(sample)
    await uow.flush()
    await statements.complete_task(uow, case.id, TaskKind.DNA_SAMPLE)
    await uow.publish(
        PoliceDnaSampleSubmittedV1(
            person_id=case.person_id,
            sample_id=sample.id,
            case_id=case.id,
            station_id=contact_station(uow.network, case.station_id, case.categories),
            agency_id=sample.agency_id,
            sample_ref=sample.sample_ref,
            taken_at=sample.taken_at,
            taken_by=sample.taken_by,
            submitted_at=uow.now,
            reverifies_sample_id=sample.reverifies_sample_id,
        )
    )
    return DnaSampleView.model_validate(sample, from_attributes=True)


# ---- the police answer ------------------------------------------------------


class PoliceAnswer(Command):
    """Who answers: through the partner API the caller's token names the agency; an
    answer on the topic names its agency (and the person it is about) itself."""

    agency_id: str | None = None
    person_id: uuid.UUID | None = None


def answerer(command: PoliceAnswer, uow: UnitOfWork) -> Answerer:
    if uow.actor is None:
        return Answerer(agency_id=command.agency_id, by=command.agency_id, via="topic")
    agency = uow.actor.station_id
    return Answerer(agency_id=agency, by=f"{agency}:{uow.actor.subject}", via="api")


class AnswerPoliceCheck(PoliceAnswer):
    request_id: uuid.UUID
    result: PoliceCheckResult
    full_name: str | None = None
    id_record_ref: str | None = None
    home_province: str | None = None
    home_address: str | None = None
    note: str | None = None
    answered_at: datetime | None = Field(default=None, description="The topic's; else now.")


async def answer_police_check(command: AnswerPoliceCheck, uow: UnitOfWork) -> PoliceAnswerView:
    """A police agency answers an identity check; the response time is recorded."""
    by = answerer(command, uow)
    check = await uow.get(PoliceCheck, command.request_id, lock=True)
    if (
        check is None
        or command.person_id not in (None, check.person_id)
        or not addressed_to(check, by.agency_id)
    ):
        # as referral's partner API: another agency learns nothing of the check
        raise NotFound("identity check for your agency")
    if check.status != "requested":
        raise Conflict(
            "Already answered",
            f"identity check {check.id} was answered already by {check.agency_id}",
        )
    answered_at = max(command.answered_at or uow.now, check.requested_at)
    check.status = "answered"
    check.result = command.result.value
    check.agency_id = by.agency_id
    check.answered_by = by.by
    check.answered_via = by.via
    check.answered_at = answered_at
    check.response_seconds = response_seconds(check.requested_at, answered_at)
    check.full_name = command.full_name
    check.id_record_ref = command.id_record_ref
    check.home_province = command.home_province
    check.home_address = command.home_address
    check.note = command.note
    await uow.publish(
        PoliceCheckAnsweredV1(
            person_id=check.person_id,
            case_id=check.case_id,
            request_id=check.id,
            station_id=check.station_id,
            agency_id=by.agency_id,
            result=command.result,
            requested_at=check.requested_at,
            answered_at=answered_at,
            response_seconds=check.response_seconds,
        )
    )
    outcome = escalation_of(command.result, _police_levels(uow), by.agency_id)
    if outcome is not None:
        await _pass_up(uow, check, *outcome)
    return PoliceAnswerView.model_validate(check, from_attributes=True)


def _police_levels(uow: UnitOfWork) -> dict[str, str]:
    return getattr(uow.settings, "police_levels", None) or {}


async def _pass_up(
    uow: UnitOfWork, check: PoliceCheck, escalation: Escalation, upper: str | None
) -> None:
    """逐级上报: a check the agency cannot verify is asked again of the level above,
    naming the first; at the top it stays unverified, flagged for the station."""
    case = await uow.get(SearchCase, check.case_id, lock=True)
    if case is None or case.status != "open":
        return  # identified meanwhile: nothing left to ask
    check.escalation = escalation.value
    if escalation is Escalation.TOP_LEVEL or upper is None:
        await uow.publish(
            PoliceCheckUnverifiableAtTopV1(
                person_id=check.person_id,
                case_id=check.case_id,
                station_id=check.station_id,
                request_id=check.id,
                agency_id=check.agency_id,
                flagged_at=uow.now,
            )
        )
        return
    passed_up = PoliceCheck(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        sex=check.sex,
        estimated_age=check.estimated_age,
        stated_names=check.stated_names,
        description=check.description,
        face_photo_ref=check.face_photo_ref,
        face_photo_id=check.face_photo_id,
        requested_by=check.requested_by,
        requested_at=uow.now,
        status="requested",
        agency_id=upper,
        escalates_request_id=check.id,
    )
    uow.add(passed_up)
    await uow.flush()
    check.escalated_to_request_id = passed_up.id
    await uow.publish(
        PoliceIdentityCheckRequestedV1(
            person_id=case.person_id,
            request_id=passed_up.id,
            case_id=case.id,
            station_id=contact_station(uow.network, case.station_id, case.categories),
            agency_id=upper,
            sex=Sex(passed_up.sex),
            estimated_age=passed_up.estimated_age,
            stated_names=[n for n in (passed_up.stated_names or "").split("、") if n],
            description=passed_up.description,
            face_photo_ref=passed_up.face_photo_ref,
            face_photo_id=passed_up.face_photo_id,
            escalates_request_id=check.id,
            requested_at=uow.now,
        )
    )
    await uow.publish(
        PoliceCheckEscalatedV1(
            person_id=case.person_id,
            case_id=case.id,
            station_id=case.station_id,
            request_id=check.id,
            from_agency_id=check.agency_id,
            escalated_request_id=passed_up.id,
            to_agency_id=upper,
            escalated_at=uow.now,
        )
    )


class ReportDnaResult(PoliceAnswer):
    sample_id: uuid.UUID
    result: DnaResult
    matched_record_id: str | None = None
    note: str | None = None
    reported_at: datetime | None = Field(default=None, description="The topic's; else now.")


async def report_dna_result(command: ReportDnaResult, uow: UnitOfWork) -> PoliceAnswerView:
    """A police agency reports a sample's DNA database result. A first hit stays
    unverified; a fresh sample's result confirms the hit it re-verifies, or not."""
    if command.result is DnaResult.HIT and not command.matched_record_id:
        raise Refused("matched_record_id", "is required with a hit")
    by = answerer(command, uow)
    sample = await uow.get(DnaSample, command.sample_id, lock=True)
    if (
        sample is None
        or command.person_id not in (None, sample.person_id)
        or not addressed_to(sample, by.agency_id)
    ):
        raise NotFound("DNA sample for your agency")
    if sample.status != SampleStatus.SUBMITTED.value:
        raise Conflict(
            "Result already reported",
            f"sample {sample.id} has its result already ({sample.result})",
        )
    reported_at = max(command.reported_at or uow.now, sample.submitted_at)
    sample.result = command.result.value
    is_hit = command.result is DnaResult.HIT
    sample.matched_record_id = command.matched_record_id if is_hit else None
    sample.agency_id = by.agency_id
    sample.reported_by = by.by
    sample.reported_via = by.via
    sample.reported_at = reported_at
    sample.response_seconds = response_seconds(sample.submitted_at, reported_at)
    sample.note = command.note
    sample.status = first_result_status(command.result).value
    await _reverify(uow, sample, command.result, reported_at)
    await uow.publish(
        DnaResultReportedV1(
            person_id=sample.person_id,
            case_id=sample.case_id,
            sample_id=sample.id,
            station_id=sample.station_id,
            agency_id=by.agency_id,
            result=command.result,
            sample_status=sample.status,
            reverifies_sample_id=sample.reverifies_sample_id,
            submitted_at=sample.submitted_at,
            reported_at=reported_at,
            response_seconds=sample.response_seconds,
        )
    )
    return PoliceAnswerView(
        id=sample.id,
        status=sample.status,
        result=sample.result,
        agency_id=sample.agency_id,
        answered_at=sample.reported_at,
        response_seconds=sample.response_seconds,
    )


async def _reverify(
    uow: UnitOfWork, sample: DnaSample, result: DnaResult, reported_at: datetime
) -> None:
    """A fresh sample's result decides the unverified hit it re-verifies, if any."""
    if sample.reverifies_sample_id is None:
        return
    hit = await uow.get(DnaSample, sample.reverifies_sample_id, lock=True)
    if hit is None or hit.status != SampleStatus.HIT_UNVERIFIED.value:
        return
    outcome = reverification(hit.matched_record_id, result, sample.matched_record_id)
    sample.status = fresh_sample_status(outcome, result).value
    if outcome is Reverification.CONFIRMED:
        hit.status = SampleStatus.HIT_CONFIRMED.value
        await uow.publish(
            DnaHitReverifiedV1(
                person_id=sample.person_id,
                case_id=sample.case_id,
                station_id=sample.station_id,
                hit_sample_id=hit.id,
                fresh_sample_id=sample.id,
                reverified_at=reported_at,
            )
        )
    elif outcome is Reverification.NOT_CONFIRMED:
        hit.status = SampleStatus.HIT_NOT_CONFIRMED.value
        await uow.publish(
            DnaHitNotConfirmedV1(
                person_id=sample.person_id,
                case_id=sample.case_id,
                station_id=sample.station_id,
                hit_sample_id=hit.id,
                fresh_sample_id=sample.id,
                fresh_result=result,
                decided_at=reported_at,
            )
        )
