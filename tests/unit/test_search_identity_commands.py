"""Search's use cases of cases, identity, notices and clues on an in-memory unit of
work (rescue_chassis.testing); what needs search's own SQL is replaced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from rescue_chassis.audit import middleware as audit_middleware
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Forbidden, NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import EarlierStayRecognisedV1, IdentityConfirmedV1, SearchCaseOpenedV1
from rescue_events.contracts.search_evidence import ClueRecordedV1
from rescue_events.contracts.search_tasks import SearchTaskOverdueV1
from search import matching, notices, statements
from search.commands import cases, clues, identity
from search.commands import notices as notice_commands
from search.notices import NoticeStatus
from search.tables import DnaSample, SearchCase, SearchTask
from search.tables.core import EarlierStay, EarlierStaySuggestion
from search.tables.evidence import IdentityCandidate, IdentityEvidence, MissingPersonReport
from search.tables.notices import NoticeOverride, NoticeProtection, SearchNotice

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
POLICE = {"kind": "police_check", "reference": "固公核查〔2026〕1124号"}
FACE = {"kind": "face_match_with_family_confirmation", "note": "其女视频确认"}


def caller(station_id: str = "gushi", *roles: str) -> Principal:
    return Principal(
        subject="w1", station_id=station_id, roles=frozenset(roles or {"station_staff"})
    )


def specialist(station_id: str = "gushi") -> Principal:
    return caller(station_id, "search_specialist")


def a_case(station_id: str = "gushi", **fields) -> SearchCase:
    values = {
        "id": uuid.uuid4(),
        "person_id": uuid.uuid4(),
        "station_id": station_id,
        "status": "open",
        "arrived_at": NOW - timedelta(hours=2),
        "opened_at": NOW - timedelta(hours=2),
        "notice_due_at": NOW + timedelta(hours=22),
        "dialect": "四川话",
        "stated_names": "王建国",
        "sex": "male",
        "estimated_age": 60,
        "categories": [],
        **fields,
    }
    return SearchCase(**values)


@pytest.fixture
def side_effects(monkeypatch):
    """Records the calls a use case makes beyond its unit of work."""
    calls: list[tuple] = []

    async def take_down(uow, case, reason, *, close=True):
        calls.append(("take_down", case.id, reason, close))

    async def index(uow, case):
        calls.append(("index", case.id))

    async def rematch(uow, case):
        calls.append(("match", case.id))
        return 0

    monkeypatch.setattr(notices, "take_down_notices", take_down)
    monkeypatch.setattr(matching, "index_case_names", index)
    monkeypatch.setattr(matching, "match_open_case", rematch)
    return calls


def confirming(case: SearchCase, *evidence: dict, **fields) -> identity.ConfirmIdentity:
    return identity.ConfirmIdentity(
        case_id=case.id,
        evidence=list(evidence or [POLICE]),
        full_name="李建国",
        home_province="四川省",
        home_address="四川省南充市仪陇县新政镇石桥村3组",
        **fields,
    )


# ---- confirming an identity -----------------------------------------------------


async def test_confirming_an_identity_ends_the_search_and_publishes_identity_confirmed(
    side_effects,
):
    case = a_case()
    tasks = [
        SearchTask(
            id=uuid.uuid4(),
            case_id=case.id,
            station_id="gushi",
            kind=kind,
            status=status,
            due_at=NOW,
        )
        for kind, status in (("police_check", "open"), ("family_search_notice", "done"))
    ]
    uow = FakeUnitOfWork(actor=specialist(), rows=[case, *tasks], now=NOW)

    view = await identity.confirm_identity(confirming(case, FACE, POLICE), uow)

    assert (case.status, case.method, case.identified_at) == ("identified", "police_check", NOW)
    assert view.status == "identified" and view.missing_person_report_id is None
    assert [t.status for t in tasks] == ["cancelled", "done"]
    assert ("take_down", case.id, "identity_confirmed", True) in side_effects
    assert ("index", case.id) in side_effects
    (event,) = uow.events
    assert isinstance(event, IdentityConfirmedV1)
    assert event.method.value == "police_check"  # the strongest evidence names it
    assert event.cross_province is True  # 四川省, and the station is in 河南省
    assert event.evidence_kinds == ["face_match_with_family_confirmation", "police_check"]
    (record,) = uow.all(IdentityEvidence)
    assert record.confirmed_by == "w1" and len(record.evidence) == 2


async def test_an_identified_case_cannot_be_confirmed_again(side_effects):
    case = a_case(status="identified", identified_at=NOW - timedelta(days=1))
    uow = FakeUnitOfWork(actor=specialist(), rows=[case], now=NOW)

    with pytest.raises(Conflict) as refused:
        await identity.confirm_identity(confirming(case), uow)
    assert refused.value.title == "Already identified"
    assert uow.events == []


async def test_a_dna_hit_not_re_verified_is_a_conflict_of_its_own_type(side_effects):
    case = a_case()
    uow = FakeUnitOfWork(actor=specialist(), rows=[case], now=NOW)

    with pytest.raises(Conflict) as refused:
        await identity.confirm_identity(confirming(case, {"kind": "dna_reverified"}), uow)
    assert refused.value.type_ == "dna-not-reverified"
    assert case.status == "open" and uow.events == []


async def test_a_re_verified_dna_hit_confirms_with_the_dna_method(side_effects):
    case = a_case()
    sample = DnaSample(id=uuid.uuid4(), case_id=case.id, status="hit_confirmed")
    uow = FakeUnitOfWork(actor=specialist(), rows=[case, sample], now=NOW)

    await identity.confirm_identity(confirming(case, {"kind": "dna_reverified"}), uow)

    assert case.method == "dna"


async def test_a_candidate_of_another_case_is_refused_naming_candidate_id(side_effects):
    case, other = a_case(), a_case()
    candidate = IdentityCandidate(
        id=uuid.uuid4(), case_id=other.id, report_id=uuid.uuid4(), status="pending"
    )
    uow = FakeUnitOfWork(actor=specialist(), rows=[case, other, candidate], now=NOW)

    with pytest.raises(Refused) as refused:
        await identity.confirm_identity(confirming(case, candidate_id=candidate.id), uow)
    assert refused.value.field == "candidate_id"


async def test_confirming_a_candidate_closes_its_report_and_supersedes_the_other_pairs(
    side_effects,
):
    case = a_case()
    report = MissingPersonReport(id=uuid.uuid4(), station_id="xixian", status="open")
    chosen, same_case, same_report = (
        IdentityCandidate(id=uuid.uuid4(), case_id=c, report_id=r, status="pending")
        for c, r in ((case.id, report.id), (case.id, uuid.uuid4()), (uuid.uuid4(), report.id))
    )
    rows = [case, report, chosen, same_case, same_report]
    uow = FakeUnitOfWork(actor=specialist(), rows=rows, now=NOW)

    view = await identity.confirm_identity(confirming(case, candidate_id=chosen.id), uow)

    assert (report.status, report.found_case_id, report.closed_at) == ("found", case.id, NOW)
    assert chosen.status == "confirmed"
    assert same_case.status == same_report.status == "superseded"
    assert view.missing_person_report_id == report.id
    assert uow.events[0].missing_person_report_id == report.id


async def test_another_stations_case_is_not_found_for_confirmation(side_effects):
    case = a_case("xixian")
    uow = FakeUnitOfWork(actor=specialist("gushi"), rows=[case], now=NOW)

    with pytest.raises(NotFound):
        await identity.confirm_identity(confirming(case), uow)
    assert case.status == "open"


async def test_the_staff_see_a_confirmed_national_id_masked_and_the_reviewers_in_full():
    case = a_case(status="identified")
    record = IdentityEvidence(
        case_id=case.id,
        national_id_number="11010519491231002X",
        evidence=[POLICE],
        confirmed_by="w1",
        confirmed_at=NOW,
    )
    staff = FakeUnitOfWork(actor=caller(), rows=[case, record])
    reviewer = FakeUnitOfWork(actor=specialist(), rows=[case, record])

    masked = await identity.confirmed_view(staff, case, record)
    full = await identity.confirmed_view(reviewer, case, record)

    assert masked.national_id_number == "110105" + "*" * 11 + "X"
    assert full.national_id_number == "11010519491231002X"


# ---- earlier stays --------------------------------------------------------------


def recognising(case: SearchCase, earlier: uuid.UUID) -> identity.RecogniseEarlierStay:
    return identity.RecogniseEarlierStay(
        case_id=case.id, earlier_person_id=earlier, method="face_comparison", similarity=0.91
    )


async def test_recognising_an_earlier_stay_accepts_the_engines_suggestion():
    case, earlier = a_case(), uuid.uuid4()
    suggestion = EarlierStaySuggestion(
        id=uuid.uuid4(), case_id=case.id, earlier_person_id=earlier, status="pending"
    )
    uow = FakeUnitOfWork(actor=specialist(), rows=[case, suggestion], now=NOW)

    view = await identity.recognise_earlier_stay(recognising(case, earlier), uow)

    assert (view.earlier_person_id, view.recognised_at) == (earlier, NOW)
    assert (suggestion.status, suggestion.reviewed_by) == ("accepted", "w1")
    (event,) = uow.events
    assert isinstance(event, EarlierStayRecognisedV1)
    assert (event.person_id, event.earlier_person_id) == (case.person_id, earlier)


async def test_the_cases_own_person_is_no_earlier_stay():
    case = a_case()
    uow = FakeUnitOfWork(actor=specialist(), rows=[case], now=NOW)

    with pytest.raises(Refused) as refused:
        await identity.recognise_earlier_stay(recognising(case, case.person_id), uow)
    assert refused.value.field == "earlier_person_id"


async def test_an_earlier_stay_is_recognised_once():
    case, earlier = a_case(), uuid.uuid4()
    stay = EarlierStay(id=uuid.uuid4(), case_id=case.id, earlier_person_id=earlier)
    uow = FakeUnitOfWork(actor=specialist(), rows=[case, stay], now=NOW)

    with pytest.raises(Conflict):
        await identity.recognise_earlier_stay(recognising(case, earlier), uow)
    assert uow.events == []


# ---- notices ----------------------------------------------------------------------


def publishing(case: SearchCase, kind: str = "national", **fields):
    return notice_commands.PublishNotices(case_id=case.id, kind=kind, **fields)


@pytest.fixture
def endpoints(monkeypatch):
    """The notice endpoints answer: each notice sent is published."""
    sent: list[tuple[uuid.UUID, int]] = []

    async def publish_recorded(uow, ids):
        for notice_id in ids:
            sent.append((notice_id, uow.commits))
            notice = await uow.get(SearchNotice, notice_id)
            notice.status = NoticeStatus.PUBLISHED
            notice.external_id = f"ext-{notice_id}"

    async def fresh(uow, ids):
        return [await uow.get(SearchNotice, i) for i in ids]

    monkeypatch.setattr(notices, "publish_recorded", publish_recorded)
    monkeypatch.setattr(statements, "fresh_notices", fresh)
    return sent


async def test_a_notice_is_recorded_and_committed_before_it_is_sent(endpoints):
    case = a_case(categories=["elderly"])
    uow = FakeUnitOfWork(actor=caller(), rows=[case], now=NOW)

    (view,) = await notice_commands.publish_notices(publishing(case, appearance="灰色外套"), uow)

    assert endpoints == [(view.id, 1)]  # sent once the `publishing` record was committed
    assert view.status == NoticeStatus.PUBLISHED
    (notice,) = uow.all(SearchNotice)
    assert notice.payload["found_place"] == "信阳市"  # the station's city
    assert notice.payload["sex"] == "male" and "categories" not in notice.payload


class RecordedWrite:
    """The request's audited write, noting when its entry was staged and committed."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow, self.status, self.events = uow, 201, []

    async def stage(self, session, principal, status, answer) -> None:
        self.events.append(("staged", self.uow.commits, principal.subject))

    def committed(self) -> None:
        self.events.append(("committed", self.uow.commits))


async def test_the_entry_of_a_publication_commits_with_its_publishing_record(endpoints):
    case = a_case(categories=["elderly"])
    uow = FakeUnitOfWork(actor=caller(), rows=[case], now=NOW)
    uow.session = None  # the entry is staged in the write's session; the fake has none
    write = RecordedWrite(uow)
    current = audit_middleware._CURRENT_WRITE.set(write)
    try:
        (view,) = await notice_commands.publish_notices(publishing(case), uow)
    finally:
        audit_middleware._CURRENT_WRITE.reset(current)

    # staged before the partial commit (0 commits yet), marked done by it, then sent
    assert write.events == [("staged", 0, caller().subject), ("committed", 1)]
    assert endpoints == [(view.id, 1)]


async def test_regional_pushes_go_to_the_accent_region_and_the_claimed_home(endpoints):
    case = a_case(stated_places="贵州省遵义市", dialect="湖南话")
    uow = FakeUnitOfWork(actor=caller(), rows=[case], now=NOW)

    views = await notice_commands.publish_notices(
        publishing(case, "regional", found_place="固始县人民广场"), uow
    )

    assert [(v.region, v.region_basis) for v in views] == [
        ("固始县人民广场", "found"),
        ("湖南省", "accent"),
        ("贵州省遵义市", "claimed_home"),
    ]


async def test_a_word_marking_a_protected_status_is_refused_in_a_notice(endpoints):
    case = a_case()
    uow = FakeUnitOfWork(actor=caller(), rows=[case], now=NOW)

    with pytest.raises(Refused) as refused:
        await notice_commands.publish_notices(publishing(case, appearance="疑似家暴受害者"), uow)
    assert refused.value.field == "appearance"
    assert endpoints == [] and uow.all(SearchNotice) == []


async def test_no_public_notice_for_a_protected_person_without_an_override(endpoints):
    case = a_case(categories=["domestic_violence_victim"])
    uow = FakeUnitOfWork(actor=caller(), rows=[case], now=NOW)

    with pytest.raises(Conflict) as refused:
        await notice_commands.publish_notices(publishing(case), uow)
    assert refused.value.type_ == "protected-person"
    assert endpoints == []


async def test_a_notice_rests_on_the_latest_override_of_a_protected_person(endpoints):
    case = a_case(categories=["domestic_violence_victim"])
    older, newer = (
        NoticeOverride(id=uuid.uuid4(), case_id=case.id, authorised_at=NOW - timedelta(days=d))
        for d in (3, 1)
    )
    uow = FakeUnitOfWork(actor=caller(), rows=[case, newer, older], now=NOW)

    (view,) = await notice_commands.publish_notices(publishing(case), uow)

    assert view.override_id == newer.id


async def test_a_notice_already_up_is_a_conflict(endpoints):
    case = a_case()
    up = SearchNotice(
        id=uuid.uuid4(), case_id=case.id, kind="national", region=None, status="published"
    )
    uow = FakeUnitOfWork(actor=caller(), rows=[case, up], now=NOW)

    with pytest.raises(Conflict) as refused:
        await notice_commands.publish_notices(publishing(case), uow)
    assert refused.value.title == "Already published"
    assert uow.commits == 0


async def test_marking_a_person_endangered_takes_the_live_notices_down(monkeypatch):
    case = a_case()
    up, failed = (
        SearchNotice(
            id=uuid.uuid4(), case_id=case.id, kind="regional", status=status, external_id=ext
        )
        for status, ext in (("published", "ext-1"), ("failed", None))
    )
    after_commit = []
    monkeypatch.setattr(notices, "take_down_once_committed", lambda uow, i: after_commit.append(i))
    uow = FakeUnitOfWork(actor=caller(), rows=[case, up, failed], now=NOW)

    view = await notice_commands.mark_protection(
        notice_commands.MarkProtection(case_id=case.id, endangered=True, reason="有人打听下落"),
        uow,
    )

    assert view.reasons == ["endangered"] and not view.public_notice_allowed
    assert (up.status, up.takedown_reason) == (NoticeStatus.TAKEDOWN_PENDING, "protection")
    assert failed.status == NoticeStatus.TAKEN_DOWN  # never went up: nothing to call
    assert after_commit == [case.id]
    assert (await uow.get(NoticeProtection, case.id)).closed_at is None  # open for later


async def test_lifting_a_protection_needs_a_lead():
    case = a_case()
    uow = FakeUnitOfWork(actor=caller(), rows=[case], now=NOW)

    with pytest.raises(Forbidden):
        await notice_commands.mark_protection(
            notice_commands.MarkProtection(case_id=case.id, endangered=False, reason="风险已解除"),
            uow,
        )
    assert uow.all(NoticeProtection) == []


async def test_an_override_is_for_a_lead_and_a_protected_person_only():
    ordinary, protected = a_case(), a_case(categories=["domestic_violence_victim"])
    reason = "本人要求寻找子女,经评估风险可控"

    def overriding(case):
        return notice_commands.OverrideProtection(case_id=case.id, reason=reason)

    staff = FakeUnitOfWork(actor=caller(), rows=[protected], now=NOW)
    with pytest.raises(Forbidden):
        await notice_commands.override_protection(overriding(protected), staff)
    lead = FakeUnitOfWork(actor=caller("gushi", "station_lead"), rows=[ordinary, protected])
    with pytest.raises(Conflict):
        await notice_commands.override_protection(overriding(ordinary), lead)

    view = await notice_commands.override_protection(overriding(protected), lead)

    assert view.authorised_role == "station_lead"
    assert [o.case_id for o in lead.all(NoticeOverride)] == [protected.id]


async def test_a_discharge_closes_the_persons_notices_with_its_reason(monkeypatch):
    case = a_case()
    monkeypatch.setattr(notices, "take_down_once_committed", lambda uow, i: None)
    uow = FakeUnitOfWork(rows=[case], now=NOW)  # a consumer: no caller

    command = notice_commands.TakeNoticesDown(
        person_id=case.person_id, reason="person_discharged:left"
    )
    await notice_commands.take_notices_down(command, uow)

    flags = await uow.get(NoticeProtection, case.id)
    assert (flags.closed_at, flags.closed_reason) == (NOW, "person_discharged:left")


# ---- clues --------------------------------------------------------------------


async def test_a_clue_publishes_its_parts_and_the_case_is_matched_again(side_effects):
    case = a_case()
    uow = FakeUnitOfWork(actor=caller(), rows=[case], now=NOW)

    view = await clues.record_clue(
        clues.RecordClue(case_id=case.id, person_said="说自己叫老李", names=["老李"]), uow
    )

    assert (view.author, view.noted_at, view.names) == ("w1", NOW, ["老李"])
    (event,) = uow.events
    assert isinstance(event, ClueRecordedV1)
    assert [p.value for p in event.parts] == ["person_said"]
    assert side_effects == [("index", case.id), ("match", case.id)]


async def test_a_clue_noted_after_now_is_refused(side_effects):
    case = a_case()
    now = datetime.now(UTC) - timedelta(hours=1)
    uow = FakeUnitOfWork(actor=caller(), rows=[case], now=now)
    later = now + timedelta(minutes=30)

    with pytest.raises(Refused) as refused:
        await clues.record_clue(
            clues.RecordClue(case_id=case.id, observed="右手有疤", noted_at=later), uow
        )
    assert refused.value.field == "noted_at"
    assert uow.events == [] and side_effects == []


# ---- cases ----------------------------------------------------------------------


def admitted(**fields) -> cases.OpenSearchCase:
    return cases.OpenSearchCase(
        person_id=uuid.uuid4(),
        station_id="gushi",
        arrived_at=NOW,
        sex="male",
        stated_names=["王建国", "老王"],
        **fields,
    )


@pytest.fixture
def opening(monkeypatch):
    """Search's SQL of opening a case, recorded: the case, its names, its matching."""
    calls: dict[str, list] = {"opened": [], "indexed": [], "matched": []}
    open_reports = {"any": False}

    async def open_case(uow, case, tasks):
        calls["opened"].append((case, tasks))
        return True

    async def index(uow, case_id, station_id, person_id, names, *, replacing):
        calls["indexed"].append((case_id, names, replacing))

    async def any_open_report(uow):
        return open_reports["any"]

    async def match_new_case(uow, case, *, any_report):
        calls["matched"].append((case.id, case.stated_names, case.sex, any_report))
        return 0

    monkeypatch.setattr(statements, "open_case", open_case)
    monkeypatch.setattr(matching, "index_person_names", index)
    monkeypatch.setattr(statements, "any_open_report", any_open_report)
    monkeypatch.setattr(matching, "match_new_case", match_new_case)
    return calls, open_reports


async def test_an_unidentified_admission_opens_a_case_with_its_deadlines(opening):
    calls, _ = opening
    uow = FakeUnitOfWork(now=NOW)

    case_id = await cases.open_search_case(admitted(), uow)

    ((case, tasks),) = calls["opened"]
    assert case["id"] == case_id and case["stated_names"] == "王建国、老王"
    assert dict(tasks)["family_search_notice"] == NOW + timedelta(hours=24)
    assert calls["indexed"] == [(case_id, ["王建国", "老王"], False)]
    (event,) = uow.events
    assert isinstance(event, SearchCaseOpenedV1)
    assert (event.case_id, event.notice_due_at) == (case_id, NOW + timedelta(hours=24))


async def test_a_person_admitted_again_keeps_their_one_case(monkeypatch):
    async def already_open(uow, case, tasks):
        return False

    monkeypatch.setattr(statements, "open_case", already_open)
    uow = FakeUnitOfWork(now=NOW)

    assert await cases.open_search_case(admitted(), uow) is None
    assert uow.events == []


@pytest.mark.parametrize("any_report", [False, True])
async def test_a_new_case_is_matched_in_the_transaction_that_opens_it(opening, any_report):
    # issue 30: no `search_case_opened` sent back to search itself to match it later
    calls, open_reports = opening
    open_reports["any"] = any_report
    uow = FakeUnitOfWork(now=NOW)

    case_id = await cases.open_search_case(admitted(), uow)

    assert calls["matched"] == [(case_id, "王建国、老王", "male", any_report)]


def test_search_does_not_consume_its_own_search_case_opened():
    from search.handlers import handlers

    assert SearchCaseOpenedV1 not in handlers(runtime=None)


async def test_an_overdue_task_is_raised_once_with_its_person(monkeypatch):
    case = a_case()
    task = SearchTask(
        id=uuid.uuid4(),
        case_id=case.id,
        station_id="gushi",
        kind="police_check",
        status="open",
        due_at=NOW - timedelta(hours=1),
    )

    async def overdue(uow, limit):
        return [(task, case.person_id)] if task.overdue_at is None else []

    monkeypatch.setattr(statements, "overdue_tasks", overdue)
    uow = FakeUnitOfWork(now=NOW)

    assert await cases.raise_overdue_tasks(cases.RaiseOverdueTasks(), uow) == 1
    assert await cases.raise_overdue_tasks(cases.RaiseOverdueTasks(), uow) == 0
    (event,) = uow.events
    assert isinstance(event, SearchTaskOverdueV1)
    assert (event.person_id, event.task_id, event.noticed_at) == (case.person_id, task.id, NOW)
    assert task.overdue_at == NOW
