"""Search's police, face and missing-person-report use cases on an in-memory unit of
work (rescue_chassis.testing): the rules the routes and the answers topic share."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.consumer import Rejected
from rescue_events.contracts.search_evidence import IdentityCandidateRejectedV1
from rescue_events.contracts.search_police import (
    DnaHitNotConfirmedV1,
    DnaHitReverifiedV1,
    DnaResult,
    DnaResultReportedV1,
    PoliceCheckAnsweredV1,
    PoliceCheckResult,
    PoliceDnaSampleSubmittedV1,
    PoliceIdentityCheckAnswerV1,
    PoliceIdentityCheckRequestedV1,
)
from search import police_handlers, statements
from search.commands import faces, police, reports
from search.domain import TaskKind
from search.faces.encoder import DetectedFace
from search.faces.store import TrailPerson, TrailStay
from search.tables import DnaSample, PoliceCheck, SearchCase
from search.tables.core import EarlierStaySuggestion
from search.tables.evidence import IdentityCandidate, MissingPersonReport

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
AGENCY = "gushi-police"


def staff(station_id: str = "gushi", *roles: str) -> Principal:
    return Principal(
        subject="王芳", station_id=station_id, roles=frozenset(roles or {"station_staff"})
    )


def agency(agency_id: str = AGENCY) -> Principal:
    return Principal(subject="张警官", station_id=agency_id, roles=frozenset({"partner", "police"}))


def case_at(station_id: str = "gushi", **columns) -> SearchCase:
    given = {
        "status": "open",
        "arrived_at": NOW - timedelta(days=1),
        "opened_at": NOW - timedelta(days=1),
        "notice_due_at": NOW,
        "stated_names": "李建国、李建军",
        "sex": "male",
        "estimated_age": 50,
        "categories": [],
        **columns,
    }
    return SearchCase(id=uuid.uuid4(), person_id=uuid.uuid4(), station_id=station_id, **given)


def check_of(case: SearchCase, status: str = "requested") -> PoliceCheck:
    return PoliceCheck(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        sex="male",
        requested_by="王芳",
        requested_at=NOW - timedelta(hours=2),
        status=status,
        agency_id=AGENCY,
    )


def sample_of(case: SearchCase, status: str = "submitted", **columns) -> DnaSample:
    return DnaSample(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        sample_ref=f"DNA-{uuid.uuid4().hex[:6]}",
        taken_at=NOW - timedelta(hours=5),
        taken_by="张警官",
        submitted_by="王芳",
        submitted_at=NOW - timedelta(hours=4),
        status=status,
        agency_id=AGENCY,
        **columns,
    )


@pytest.fixture
def tasks_done(monkeypatch) -> list[tuple[uuid.UUID, TaskKind]]:
    done: list[tuple[uuid.UUID, TaskKind]] = []

    async def complete_task(uow, case_id, kind):
        done.append((case_id, kind))
        return True

    async def sample_ref_taken(uow, sample_ref):
        return False

    monkeypatch.setattr(statements, "complete_task", complete_task)
    monkeypatch.setattr(statements, "sample_ref_taken", sample_ref_taken)
    return done


# ---- stations ask -----------------------------------------------------------


async def test_a_police_check_asks_with_the_admissions_names_and_completes_the_task(tasks_done):
    case = case_at()
    uow = FakeUnitOfWork(actor=staff(), rows=[case], now=NOW)

    view = await police.request_police_check(
        police.RequestPoliceCheck(case_id=case.id, agency_id=AGENCY), uow
    )

    assert (view.status, view.agency_id, view.requested_by) == ("requested", AGENCY, "王芳")
    (asked,) = uow.events
    assert isinstance(asked, PoliceIdentityCheckRequestedV1)
    assert (asked.request_id, asked.station_id, asked.stated_names) == (
        view.id,
        "gushi",
        ["李建国", "李建军"],
    )
    assert tasks_done == [(case.id, TaskKind.POLICE_CHECK)]


async def test_a_domestic_violence_victims_check_names_the_center_not_her_station(tasks_done):
    case = case_at(categories=["domestic_violence_victim"])
    uow = FakeUnitOfWork(actor=staff(), rows=[case], now=NOW)

    await police.request_police_check(
        police.RequestPoliceCheck(case_id=case.id, agency_id=AGENCY), uow
    )

    assert uow.events[0].station_id == "center"


async def test_an_identified_persons_case_takes_no_more_police_requests(tasks_done):
    case = case_at(status="identified")
    uow = FakeUnitOfWork(actor=staff(), rows=[case], now=NOW)

    with pytest.raises(Conflict) as refused:
        await police.request_police_check(
            police.RequestPoliceCheck(case_id=case.id, agency_id=AGENCY), uow
        )
    assert refused.value.title == "Not open"
    assert uow.events == [] and tasks_done == []


async def test_another_stations_case_is_not_found(tasks_done):
    case = case_at("gushi")
    uow = FakeUnitOfWork(actor=staff("xixian"), rows=[case], now=NOW)

    with pytest.raises(NotFound):
        await police.submit_dna_sample(
            police.SubmitDnaSample(
                case_id=case.id,
                agency_id=AGENCY,
                sample_ref="DNA-1",
                taken_at=NOW - timedelta(hours=1),
                taken_by="张警官",
            ),
            uow,
        )
    assert uow.all(DnaSample) == []


async def test_a_sample_reference_used_before_is_a_conflict(tasks_done, monkeypatch):
    async def taken(uow, sample_ref):
        return True

    monkeypatch.setattr(statements, "sample_ref_taken", taken)
    case = case_at()
    uow = FakeUnitOfWork(actor=staff(), rows=[case], now=NOW)

    with pytest.raises(Conflict) as refused:
        await police.submit_dna_sample(
            police.SubmitDnaSample(
                case_id=case.id,
                agency_id=AGENCY,
                sample_ref="DNA-1",
                taken_at=NOW - timedelta(hours=1),
                taken_by="张警官",
            ),
            uow,
        )
    assert refused.value.title == "Sample already submitted"


async def test_a_fresh_sample_after_an_unverified_hit_re_verifies_it(tasks_done):
    case = case_at()
    hit = sample_of(
        case, "hit_unverified", result="hit", matched_record_id="REC-1", reported_at=NOW
    )
    uow = FakeUnitOfWork(actor=staff(), rows=[case, hit], now=NOW + timedelta(hours=3))

    view = await police.submit_dna_sample(
        police.SubmitDnaSample(
            case_id=case.id,
            agency_id=AGENCY,
            sample_ref="DNA-fresh",
            taken_at=NOW + timedelta(hours=1),
            taken_by="张警官",
        ),
        uow,
    )

    assert view.reverifies_sample_id == hit.id
    (sent,) = uow.events
    assert isinstance(sent, PoliceDnaSampleSubmittedV1)
    assert (sent.sample_id, sent.reverifies_sample_id) == (view.id, hit.id)
    assert tasks_done == [(case.id, TaskKind.DNA_SAMPLE)]


async def test_a_sample_taken_before_the_hit_does_not_re_verify_it(tasks_done):
    case = case_at()
    hit = sample_of(
        case, "hit_unverified", result="hit", matched_record_id="REC-1", reported_at=NOW
    )
    uow = FakeUnitOfWork(actor=staff(), rows=[case, hit], now=NOW + timedelta(hours=3))

    view = await police.submit_dna_sample(
        police.SubmitDnaSample(
            case_id=case.id,
            agency_id=AGENCY,
            sample_ref="DNA-earlier",
            taken_at=NOW - timedelta(hours=1),
            taken_by="张警官",
        ),
        uow,
    )

    assert view.reverifies_sample_id is None


# ---- the police answer ------------------------------------------------------


async def test_the_asked_agency_answers_a_check_with_its_response_time():
    case = case_at()
    check = check_of(case)
    uow = FakeUnitOfWork(actor=agency(), rows=[check], now=NOW)

    view = await police.answer_police_check(
        police.AnswerPoliceCheck(
            request_id=check.id, result=PoliceCheckResult.IDENTIFIED, full_name="李建国"
        ),
        uow,
    )

    assert (view.status, view.result, view.response_seconds) == ("answered", "identified", 7200)
    assert (check.answered_by, check.answered_via, check.full_name) == (
        f"{AGENCY}:张警官",
        "api",
        "李建国",
    )
    (answered,) = uow.events
    assert isinstance(answered, PoliceCheckAnsweredV1)
    assert (answered.agency_id, answered.response_seconds) == (AGENCY, 7200)


async def test_another_agency_learns_nothing_of_a_check():
    check = check_of(case_at())
    uow = FakeUnitOfWork(actor=agency("guangshan-police"), rows=[check], now=NOW)

    with pytest.raises(NotFound) as refused:
        await police.answer_police_check(
            police.AnswerPoliceCheck(request_id=check.id, result=PoliceCheckResult.NO_MATCH), uow
        )
    assert refused.value.detail == "No such identity check for your agency."
    assert check.status == "requested" and uow.events == []


async def test_a_check_answered_already_is_a_conflict():
    check = check_of(case_at(), status="answered")
    uow = FakeUnitOfWork(actor=agency(), rows=[check], now=NOW)

    with pytest.raises(Conflict) as refused:
        await police.answer_police_check(
            police.AnswerPoliceCheck(request_id=check.id, result=PoliceCheckResult.NO_MATCH), uow
        )
    assert refused.value.title == "Already answered"


async def test_an_answer_on_the_topic_about_another_person_is_refused():
    check = check_of(case_at())
    uow = FakeUnitOfWork(rows=[check], now=NOW)

    with pytest.raises(NotFound):
        await police.answer_police_check(
            police.AnswerPoliceCheck(
                request_id=check.id,
                agency_id=AGENCY,
                person_id=uuid.uuid4(),
                result=PoliceCheckResult.NO_MATCH,
            ),
            uow,
        )
    assert check.status == "requested"


async def test_an_answer_from_an_agency_not_asked_is_dead_lettered(monkeypatch):
    case = case_at()
    check = check_of(case)
    uow = FakeUnitOfWork(rows=[check], now=NOW)
    monkeypatch.setattr(police_handlers, "UnitOfWork", lambda session, runtime: uow)
    handle = police_handlers.handlers(runtime=None)[PoliceIdentityCheckAnswerV1]
    answer = PoliceIdentityCheckAnswerV1(
        person_id=case.person_id,
        request_id=check.id,
        agency_id="guangshan-police",
        result=PoliceCheckResult.IDENTIFIED,
        answered_at=NOW,
    )

    with pytest.raises(Rejected, match=str(check.id)):
        await handle(None, answer, None)
    assert check.status == "requested"


async def test_an_answer_on_the_topic_is_recorded_as_the_agencys(monkeypatch):
    case = case_at()
    check = check_of(case)
    uow = FakeUnitOfWork(rows=[check], now=NOW)
    monkeypatch.setattr(police_handlers, "UnitOfWork", lambda session, runtime: uow)
    handle = police_handlers.handlers(runtime=None)[PoliceIdentityCheckAnswerV1]
    answer = PoliceIdentityCheckAnswerV1(
        person_id=case.person_id,
        request_id=check.id,
        agency_id=AGENCY,
        result=PoliceCheckResult.NO_MATCH,
        answered_at=NOW - timedelta(hours=1),
    )

    await handle(None, answer, None)

    assert (check.answered_via, check.answered_by, check.response_seconds) == (
        "topic",
        AGENCY,
        3600,
    )


async def test_a_hit_without_its_record_is_refused():
    sample = sample_of(case_at())
    uow = FakeUnitOfWork(actor=agency(), rows=[sample], now=NOW)

    with pytest.raises(Refused) as refused:
        await police.report_dna_result(
            police.ReportDnaResult(sample_id=sample.id, result=DnaResult.HIT), uow
        )
    assert refused.value.field == "matched_record_id"


async def test_a_first_hit_stays_unverified():
    sample = sample_of(case_at())
    uow = FakeUnitOfWork(actor=agency(), rows=[sample], now=NOW)

    view = await police.report_dna_result(
        police.ReportDnaResult(sample_id=sample.id, result=DnaResult.HIT, matched_record_id="R-1"),
        uow,
    )

    assert view.status == "hit_unverified"
    assert [type(e) for e in uow.events] == [DnaResultReportedV1]


async def test_a_fresh_sample_hitting_the_same_record_confirms_the_hit():
    case = case_at()
    hit = sample_of(case, "hit_unverified", result="hit", matched_record_id="R-1")
    fresh = sample_of(case, reverifies_sample_id=hit.id)
    uow = FakeUnitOfWork(actor=agency(), rows=[hit, fresh], now=NOW)

    view = await police.report_dna_result(
        police.ReportDnaResult(sample_id=fresh.id, result=DnaResult.HIT, matched_record_id="R-1"),
        uow,
    )

    assert (view.status, hit.status) == ("confirms_hit", "hit_confirmed")
    reverified, reported = uow.events
    assert isinstance(reverified, DnaHitReverifiedV1) and isinstance(reported, DnaResultReportedV1)
    assert (reverified.hit_sample_id, reverified.fresh_sample_id) == (hit.id, fresh.id)


async def test_a_fresh_sample_without_a_match_leaves_the_hit_unconfirmed():
    case = case_at()
    hit = sample_of(case, "hit_unverified", result="hit", matched_record_id="R-1")
    fresh = sample_of(case, reverifies_sample_id=hit.id)
    uow = FakeUnitOfWork(actor=agency(), rows=[hit, fresh], now=NOW)

    view = await police.report_dna_result(
        police.ReportDnaResult(sample_id=fresh.id, result=DnaResult.NO_MATCH), uow
    )

    assert (view.status, hit.status) == ("no_match", "hit_not_confirmed")
    assert isinstance(uow.events[0], DnaHitNotConfirmedV1)
    assert uow.events[0].fresh_result is DnaResult.NO_MATCH


async def test_a_sample_with_its_result_takes_no_second_one():
    sample = sample_of(case_at(), "no_match", result="no_match")
    uow = FakeUnitOfWork(actor=agency(), rows=[sample], now=NOW)

    with pytest.raises(Conflict) as refused:
        await police.report_dna_result(
            police.ReportDnaResult(sample_id=sample.id, result=DnaResult.UNUSABLE), uow
        )
    assert refused.value.title == "Result already reported"


# ---- missing-person reports and the review ----------------------------------


def report_in(**fields) -> reports.MissingPersonReportIn:
    return reports.MissingPersonReportIn(
        reported_name="李建国",
        sex="male",
        age=62,
        last_seen_place="四川省南充市仪陇县",
        contact_name="李小红",
        contact_phone="13800138000",
        **fields,
    )


@pytest.fixture
def matched(monkeypatch) -> list[MissingPersonReport]:
    ranked: list[MissingPersonReport] = []

    async def index_report(uow, report):
        pass

    async def match_report(uow, report):
        ranked.append(report)
        return 0

    monkeypatch.setattr(statements, "index_report", index_report)
    monkeypatch.setattr(statements, "match_report", match_report)
    return ranked


async def test_a_filed_report_is_open_and_matched_at_once(matched):
    uow = FakeUnitOfWork(actor=staff("xixian"), now=NOW)

    view = await reports.file_report(report_in(), uow)

    (report,) = uow.all(MissingPersonReport)
    assert (view.station_id, view.status, report.reported_by) == ("xixian", "open", "王芳")
    assert matched == [report]


async def test_a_satellite_files_reports_for_itself_only(matched):
    uow = FakeUnitOfWork(actor=staff("xixian"), now=NOW)

    with pytest.raises(Refused) as refused:
        await reports.file_report(report_in(reporting_station_id="gushi"), uow)
    assert refused.value.field == "reporting_station_id"
    assert uow.all(MissingPersonReport) == [] and matched == []


async def test_a_birth_year_to_come_is_refused(matched):
    uow = FakeUnitOfWork(actor=staff("center"), now=NOW)

    with pytest.raises(Refused) as refused:
        await reports.file_report(report_in(birth_year=NOW.year + 1), uow)
    assert refused.value.field == "birth_year"


def candidate_for(case: SearchCase, report: MissingPersonReport, status="pending"):
    return IdentityCandidate(
        id=uuid.uuid4(),
        case_id=case.id,
        report_id=report.id,
        station_id=case.station_id,
        report_station_id=report.station_id,
        status=status,
        score=0.8,
        reasons=["name"],
        explanation=[],
        proposed_at=NOW,
    )


def filed_report(station_id: str) -> MissingPersonReport:
    return MissingPersonReport(
        id=uuid.uuid4(),
        station_id=station_id,
        status="open",
        reported_name="李建国",
        sex="male",
        age=62,
        last_seen_place="四川",
        contact_name="李小红",
        contact_phone="13800138000",
        reported_by="x",
        reported_at=NOW,
    )


def protection(monkeypatch, protected: bool) -> None:
    async def is_protected(uow, case_id):
        return protected

    monkeypatch.setattr(statements, "is_protected", is_protected)


async def test_a_rejected_candidate_says_why_and_is_published(monkeypatch):
    protection(monkeypatch, False)
    case, report = case_at("gushi"), filed_report("xixian")
    candidate = candidate_for(case, report)
    uow = FakeUnitOfWork(
        actor=staff("xixian", "search_specialist"), rows=[case, report, candidate], now=NOW
    )

    view = await reports.reject_candidate(
        reports.RejectCandidate(candidate_id=candidate.id, reason="不是本人"), uow
    )

    assert (view.status, candidate.rejection_reason, candidate.reviewed_at) == (
        "rejected",
        "不是本人",
        NOW,
    )
    (rejected,) = uow.events
    assert isinstance(rejected, IdentityCandidateRejectedV1)
    assert (rejected.candidate_id, rejected.missing_person_report_id) == (candidate.id, report.id)


async def test_the_reporting_station_cannot_see_a_protected_persons_candidate(monkeypatch):
    protection(monkeypatch, True)
    case, report = case_at("gushi"), filed_report("xixian")
    candidate = candidate_for(case, report)
    uow = FakeUnitOfWork(actor=staff("xixian", "search_specialist"), rows=[case, report, candidate])

    with pytest.raises(NotFound):
        await reports.reject_candidate(
            reports.RejectCandidate(candidate_id=candidate.id, reason="不是"), uow
        )
    assert candidate.status == "pending" and uow.events == []


async def test_a_reviewed_candidate_is_a_conflict(monkeypatch):
    protection(monkeypatch, False)
    case, report = case_at("gushi"), filed_report("gushi")
    candidate = candidate_for(case, report, status="rejected")
    uow = FakeUnitOfWork(actor=staff("gushi", "search_specialist"), rows=[case, report, candidate])

    with pytest.raises(Conflict):
        await reports.reject_candidate(
            reports.RejectCandidate(candidate_id=candidate.id, reason="again"), uow
        )


def test_a_stations_figures_count_the_cases_opened_in_the_period_and_identified_by_its_end():
    start, end = NOW - timedelta(days=30), NOW
    row = SimpleNamespace
    rows = [
        row(
            station_id="gushi",
            arrived_at=start,
            opened_at=start,
            identified_at=start + timedelta(hours=10),
        ),
        row(
            station_id="gushi",
            arrived_at=start,
            opened_at=start,
            identified_at=end + timedelta(hours=1),
        ),
        row(
            station_id="gushi",
            arrived_at=start - timedelta(days=60),
            opened_at=start - timedelta(days=60),
            identified_at=start + timedelta(days=1),
        ),
        row(station_id="xixian", arrived_at=start, opened_at=start, identified_at=None),
    ]

    figures = reports.station_figures("gushi", rows, start, end)

    assert (figures.cases_opened, figures.identified, figures.identification_rate) == (2, 1, 0.5)
    assert (figures.median_hours_to_identify, figures.identified_in_period) == (10.0, 2)


# ---- faces ------------------------------------------------------------------


class FakeEncoder:
    name = "fake"

    def __init__(self, found: list[DetectedFace]) -> None:
        self.found = found

    def encode(self, image: bytes) -> list[DetectedFace]:
        return self.found


def detected(left: int = 0) -> DetectedFace:
    return DetectedFace(top=0, right=left + 50, bottom=50, left=left, embedding=(0.0,) * 128)


def earlier_person(station_id: str = "xixian") -> TrailPerson:
    stay = TrailStay(
        record_id=uuid.uuid4(),
        station_id=station_id,
        source="admission",
        case_id=uuid.uuid4(),
        report_id=None,
        when=NOW - timedelta(days=300),
        photographed_at=None,
        enrolled_at=NOW - timedelta(days=300),
        found_place="息县汽车站",
        distance=0.3,
        similarity=0.75,
    )
    return TrailPerson(person_id=uuid.uuid4(), similarity=0.75, distance=0.3, stays=(stay,))


@pytest.fixture
def face_world(monkeypatch):
    """One face found, one earlier person with it; what the use case stored."""
    world = {"faces": [detected()], "trails": [earlier_person()], "suggested": [], "enrolled": []}
    monkeypatch.setattr(faces, "default_encoder", lambda: FakeEncoder(world["faces"]))

    async def enrol(uow, face, **record):
        world["enrolled"].append(record)
        return uuid.uuid4()

    async def trails(uow, face, **_):
        return world["trails"]

    async def suggest_earlier_stay(uow, **suggestion):
        world["suggested"].append(suggestion)
        return uuid.uuid4()

    async def match_case(uow, case):
        return 0

    async def trail_rule(uow, case_ids):
        return lambda station_id, case_id: faces.may_see_trails(uow.actor)

    for name, fake in {
        "enrol": enrol,
        "trails": trails,
        "suggest_earlier_stay": suggest_earlier_stay,
        "match_case": match_case,
        "trail_rule": trail_rule,
    }.items():
        monkeypatch.setattr(statements, name, fake)
    return world


PHOTO = base64.b64encode(b"a photo").decode()


async def test_each_earlier_person_with_the_face_becomes_a_suggestion_the_staff_do_not_see(
    face_world,
):
    case = case_at("gushi")
    uow = FakeUnitOfWork(actor=staff("gushi"), rows=[case], now=NOW)

    view = await faces.enrol_case_photo(faces.EnrolCasePhoto(case_id=case.id, image=PHOTO), uow)

    (suggested,) = face_world["suggested"]
    assert suggested["earlier_person_id"] == face_world["trails"][0].person_id
    assert (suggested["case_id"], suggested["method"]) == (case.id, "face_comparison")
    assert len(view.suggestions) == 1
    assert view.trail == [] and view.reports == []
    assert face_world["enrolled"][0]["source"] == "admission"


async def test_a_photo_of_several_faces_needs_one_chosen(face_world):
    face_world["faces"] = [detected(0), detected(100)]
    case = case_at("gushi")
    uow = FakeUnitOfWork(actor=staff("gushi"), rows=[case], now=NOW)

    with pytest.raises(Refused) as refused:
        await faces.enrol_case_photo(faces.EnrolCasePhoto(case_id=case.id, image=PHOTO), uow)
    assert refused.value.field == "image" and "2 faces" in refused.value.reason
    with pytest.raises(Refused) as refused:
        await faces.enrol_case_photo(
            faces.EnrolCasePhoto(case_id=case.id, image=PHOTO, face=2), uow
        )
    assert refused.value.field == "face"
    assert face_world["enrolled"] == []


def suggestion_at(station_id: str, status: str = "pending") -> EarlierStaySuggestion:
    return EarlierStaySuggestion(
        id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        station_id=station_id,
        earlier_person_id=uuid.uuid4(),
        method="face_comparison",
        similarity=0.7,
        trail=[{"station_id": "xixian", "case_id": None}],
        status=status,
        suggested_at=NOW,
    )


async def test_a_rejected_suggestion_keeps_its_reason(face_world):
    suggestion = suggestion_at("gushi")
    uow = FakeUnitOfWork(actor=staff("gushi", "search_specialist"), rows=[suggestion], now=NOW)

    view = await faces.reject_suggestion(
        faces.RejectSuggestion(suggestion_id=suggestion.id, reason="口音不符"), uow
    )

    assert (view.status, view.rejection_reason, view.reviewed_by) == (
        "rejected",
        "口音不符",
        "王芳",
    )
    assert view.trail == [{"station_id": "xixian", "case_id": None}]


async def test_a_reviewed_suggestion_or_another_stations_is_not_rejected(face_world):
    reviewed, elsewhere = suggestion_at("gushi", "accepted"), suggestion_at("xixian")
    uow = FakeUnitOfWork(actor=staff("gushi", "search_specialist"), rows=[reviewed, elsewhere])

    with pytest.raises(Conflict):
        await faces.reject_suggestion(
            faces.RejectSuggestion(suggestion_id=reviewed.id, reason="x"), uow
        )
    with pytest.raises(NotFound):
        await faces.reject_suggestion(
            faces.RejectSuggestion(suggestion_id=elsewhere.id, reason="x"), uow
        )
    assert elsewhere.status == "pending"
