"""One person, one case (issue 25), search's side, on an in-memory unit of work: the
case follows its person from station to station, every ending has its rules, a task
that can no longer be done closes with its reason, a hospital placement opens the
case."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from rescue_chassis.auth import Principal
from rescue_chassis.refusals import NotFound
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import DischargeReason, SearchCaseOpenedV1
from rescue_events.contracts.intake_arrivals import HospitalPlacementMadeV1
from search import matching, notices, statements, visibility
from search.commands import cases
from search.commands import notices as notice_commands
from search.commands.endings import EndStay, end_stay, ending_rule
from search.domain import TaskKind, task_due_at
from search.notices import NoticeStatus
from search.tables import SearchCase, SearchTask
from search.tables.core import CaseStation
from search.tables.notices import NoticeProtection, SearchNotice

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ARRIVED = NOW - timedelta(days=3)


def caller(station_id: str, *roles: str) -> Principal:
    return Principal(
        subject="w1", station_id=station_id, roles=frozenset(roles or {"station_staff"})
    )


def a_case(station_id: str = "gushi", **fields) -> SearchCase:
    values = {
        "id": uuid.uuid4(),
        "person_id": uuid.uuid4(),
        "station_id": station_id,
        "status": "open",
        "arrived_at": ARRIVED,
        "opened_at": ARRIVED,
        "notice_due_at": ARRIVED + timedelta(hours=24),
        "stated_names": "王建国",
        "sex": "male",
        "categories": [],
        **fields,
    }
    return SearchCase(**values)


def tasks_of(case: SearchCase, status: str = "open", **fields) -> list[SearchTask]:
    return [
        SearchTask(
            id=uuid.uuid4(),
            case_id=case.id,
            station_id=case.station_id,
            kind=kind.value,
            status=status,
            due_at=task_due_at(kind, case.arrived_at),
            **fields,
        )
        for kind in TaskKind
    ]


def a_notice(case: SearchCase, status: NoticeStatus, **fields) -> SearchNotice:
    values = {
        "id": uuid.uuid4(),
        "case_id": case.id,
        "person_id": case.person_id,
        "station_id": case.station_id,
        "kind": "national",
        "status": status.value,
        "payload": {"sex": "male"},
        "requested_by": "w1",
        "requested_at": ARRIVED + timedelta(hours=1),
        "attempts": 1,
        "external_id": "qx-1",
        **fields,
    }
    return SearchNotice(**values)


def opening_records_tasks(monkeypatch):
    """statements.open_case on the fake: ON CONFLICT (person_id) DO NOTHING."""

    async def open_case(uow, case, deadlines):
        if any(c.person_id == case["person_id"] for c in uow.all(SearchCase)):
            return False
        uow.add(SearchCase(**case))
        for kind, due_at in deadlines:
            uow.add(
                SearchTask(
                    id=uuid.uuid4(),
                    case_id=case["id"],
                    station_id=case["station_id"],
                    kind=kind,
                    status="open",
                    due_at=due_at,
                )
            )
        return True

    async def index(*args, **kwargs):
        return None

    async def no_report_open(uow):
        return False

    async def match_new_case(uow, case, *, any_report):
        return 0

    monkeypatch.setattr(statements, "open_case", open_case)
    monkeypatch.setattr(matching, "index_person_names", index)
    # the new case is matched in the transaction that opens it (search.matching's SQL)
    monkeypatch.setattr(statements, "any_open_report", no_report_open)
    monkeypatch.setattr(matching, "match_new_case", match_new_case)


@pytest.fixture
def outside(monkeypatch):
    """What the use cases do beyond their unit of work, recorded."""
    calls: list[tuple] = []

    async def take_down(uow, case, reason, *, close=True):
        calls.append(("take_down", case.id, reason))

    async def index(uow, case):
        calls.append(("index", case.id, case.station_id))

    def publish_later(uow, ids):
        calls.append(("publish", tuple(ids)))

    def take_down_later(uow, case_id):
        calls.append(("take_down_later", case_id))

    monkeypatch.setattr(notices, "take_down_notices", take_down)
    monkeypatch.setattr(notices, "take_down_once_committed", take_down_later)
    monkeypatch.setattr(matching, "index_case_names", index)
    monkeypatch.setattr(notices, "publish_once_committed", publish_later)
    opening_records_tasks(monkeypatch)
    return calls


def by_kind(uow: FakeUnitOfWork) -> dict[str, tuple[str, str | None]]:
    return {t.kind: (t.status, t.closed_reason) for t in uow.all(SearchTask)}


# ---- every ending has its rules ---------------------------------------------------


def test_each_ending_closes_what_can_no_longer_be_done():
    every = set(TaskKind)
    home = ending_rule(DischargeReason.RETURNED_HOME, False)
    assert (set(home.closes), home.closed_reason, home.notices_down) == (
        every,
        "returned_home",
        True,
    )
    left = ending_rule(DischargeReason.LEFT, False)
    assert (set(left.closes), left.notices_down) == ({TaskKind.DNA_SAMPLE}, False)
    out = ending_rule(DischargeReason.TRANSFERRED, False)
    assert (set(out.closes), out.closed_reason, out.notices_down) == (
        every,
        "transferred_out",
        False,
    )
    for going_on in (
        ending_rule(DischargeReason.TRANSFERRED, True),
        ending_rule(DischargeReason.SETTLED, False),
        ending_rule(DischargeReason.DIED, False),
    ):
        assert (going_on.closes, going_on.notices_down) == (frozenset(), False)


def discharged(case: SearchCase, reason: DischargeReason, **fields) -> EndStay:
    return EndStay(
        person_id=case.person_id,
        station_id=case.station_id,
        reason=reason,
        discharged_at=NOW,
        **fields,
    )


async def test_returned_home_closes_the_tasks_with_the_reason_and_takes_notices_down(outside):
    case = a_case()
    uow = FakeUnitOfWork(rows=[case, *tasks_of(case)], now=NOW)

    view = await end_stay(discharged(case, DischargeReason.RETURNED_HOME), uow)

    assert set(by_kind(uow).values()) == {("cancelled", "returned_home")}
    assert outside == [("take_down", case.id, "person_discharged:returned_home")]
    assert (view.ending, view.ended_at, view.status) == ("returned_home", NOW, "open")


@pytest.mark.parametrize("reason", [DischargeReason.DIED, DischargeReason.SETTLED])
async def test_an_unidentified_person_who_died_or_was_settled_is_still_searched_for(
    outside, reason
):
    case = a_case()
    uow = FakeUnitOfWork(rows=[case, *tasks_of(case)], now=NOW)

    await end_stay(discharged(case, reason), uow)

    assert set(by_kind(uow).values()) == {("open", None)}
    assert outside == []  # the notice stays up
    assert (case.ending, case.ended_at) == (reason.value, NOW)


async def test_a_person_who_left_keeps_the_notice_and_the_dna_task_closes(outside):
    case = a_case()
    uow = FakeUnitOfWork(rows=[case, *tasks_of(case)], now=NOW)

    await end_stay(discharged(case, DischargeReason.LEFT), uow)

    assert by_kind(uow) == {
        "family_search_notice": ("open", None),
        "police_check": ("open", None),
        "dna_sample": ("cancelled", "left"),
    }
    assert outside == []


async def test_a_transfer_outside_the_network_closes_the_tasks_and_keeps_the_notice(outside):
    case = a_case()
    uow = FakeUnitOfWork(rows=[case, *tasks_of(case)], now=NOW)

    command = discharged(case, DischargeReason.TRANSFERRED, transferred_to="信阳市精神病医院")
    await end_stay(command, uow)

    assert set(by_kind(uow).values()) == {("cancelled", "transferred_out")}
    assert outside == []


@pytest.mark.parametrize(
    "where", [{"transferred_to_station_id": "xixian"}, {"transferred_to": "xixian"}]
)
async def test_a_transfer_to_a_station_of_the_network_closes_nothing(outside, where):
    case = a_case()
    uow = FakeUnitOfWork(rows=[case, *tasks_of(case)], now=NOW)

    await end_stay(discharged(case, DischargeReason.TRANSFERRED, **where), uow)

    assert set(by_kind(uow).values()) == {("open", None)}
    assert case.ending == "transferred"


async def test_an_ending_leaves_an_identified_case_and_a_case_gone_elsewhere_alone(outside):
    identified = a_case(status="identified")
    moved = a_case("xixian")
    uow = FakeUnitOfWork(rows=[identified, moved, *tasks_of(moved)], now=NOW)

    await end_stay(discharged(identified, DischargeReason.RETURNED_HOME), uow)
    late = discharged(moved, DischargeReason.RETURNED_HOME).model_copy(
        update={"station_id": "gushi"}  # the stay the person had before
    )
    await end_stay(late, uow)

    assert set(by_kind(uow).values()) == {("open", None)}
    assert outside == [] and identified.ending is None and moved.ending is None


async def test_a_discharge_of_a_person_without_a_case_does_nothing(outside):
    uow = FakeUnitOfWork(now=NOW)
    command = EndStay(
        person_id=uuid.uuid4(),
        station_id="gushi",
        reason=DischargeReason.RETURNED_HOME,
        discharged_at=NOW,
    )
    assert await end_stay(command, uow) is None


# ---- the case follows the person ------------------------------------------------------


def admitted_again(case: SearchCase, station_id: str, **fields) -> cases.OpenSearchCase:
    return cases.OpenSearchCase(
        person_id=case.person_id,
        station_id=station_id,
        arrived_at=NOW,
        sex="male",
        **fields,
    )


async def test_a_readmission_elsewhere_moves_the_one_case_and_keeps_its_clock(outside):
    case = a_case()
    live = a_notice(case, NoticeStatus.PUBLISHED)
    done = tasks_of(case, status="done")
    uow = FakeUnitOfWork(rows=[case, live, *done], now=NOW)

    case_id = await cases.open_search_case(
        admitted_again(case, "xixian", stated_names=["老王"], dialect="豫南话"), uow
    )

    assert case_id == case.id and uow.all(SearchCase) == [case]
    # no second case opened; the move is told (tests/unit/test_search_case_moves.py)
    assert [type(e).__name__ for e in uow.events] == ["SearchCaseMovedV1"]
    assert (case.station_id, case.notice_due_at) == ("xixian", ARRIVED + timedelta(hours=24))
    assert (case.stated_names, case.dialect) == ("王建国、老王", "豫南话")
    periods = sorted(uow.all(CaseStation), key=lambda p: p.from_at)
    assert [(p.station_id, p.from_at, p.to_at) for p in periods] == [
        ("gushi", ARRIVED, NOW),
        ("xixian", NOW, None),
    ]
    assert live.station_id == "xixian"
    assert {t.station_id for t in done} == {"gushi"}  # what gushi did stays gushi's
    # the notice up is re-issued naming xixian (tests/unit/test_search_case_moves.py)
    (reissued,) = [n for n in uow.all(SearchNotice) if n.id != live.id]
    assert outside == [
        ("publish", (reissued.id,)),
        ("take_down_later", case.id),
        ("index", case.id, "xixian"),
    ]


async def test_a_second_move_closes_the_period_at_the_station_before(outside):
    case = a_case("xixian")
    history = [
        CaseStation(id=uuid.uuid4(), case_id=case.id, station_id="gushi", from_at=ARRIVED),
        CaseStation(id=uuid.uuid4(), case_id=case.id, station_id="xixian", from_at=ARRIVED),
    ]
    history[0].to_at = ARRIVED
    uow = FakeUnitOfWork(rows=[case, *history], now=NOW)

    await cases.open_search_case(admitted_again(case, "guangshan"), uow)

    assert {(p.station_id, p.to_at) for p in uow.all(CaseStation)} == {
        ("gushi", ARRIVED),
        ("xixian", NOW),
        ("guangshan", None),
    }


async def test_the_person_back_resumes_the_search_an_ending_stopped(outside):
    case = a_case(ending="returned_home", ended_at=NOW - timedelta(days=1))
    closed = tasks_of(case, status="cancelled", closed_reason="returned_home")
    down = a_notice(
        case,
        NoticeStatus.TAKEN_DOWN,
        takedown_reason="person_discharged:returned_home",
        taken_down_at=NOW - timedelta(days=1),
    )
    flags = NoticeProtection(
        case_id=case.id,
        endangered=False,
        closed_at=NOW - timedelta(days=1),
        closed_reason="person_discharged:returned_home",
    )
    uow = FakeUnitOfWork(rows=[case, *closed, down, flags], now=NOW)

    await cases.open_search_case(admitted_again(case, "xixian"), uow)

    assert {(t.status, t.station_id) for t in closed} == {("open", "xixian")}
    # the first deadlines: the clock is not restarted
    assert {t.due_at for t in closed} == {task_due_at(k, ARRIVED) for k in TaskKind}
    assert (flags.closed_at, case.ending) == (None, None)
    (again,) = [n for n in uow.all(SearchNotice) if n.id != down.id]
    assert (again.status, again.station_id, again.kind, again.payload) == (
        "publishing",
        "xixian",
        "national",
        down.payload,
    )
    assert ("publish", (again.id,)) in outside


async def test_an_identified_case_stays_identified_when_the_person_comes_back(outside):
    case = a_case(status="identified")
    closed = tasks_of(case, status="cancelled", closed_reason="identified")
    flags = NoticeProtection(
        case_id=case.id, endangered=False, closed_at=ARRIVED, closed_reason="identity_confirmed"
    )
    uow = FakeUnitOfWork(rows=[case, *closed, flags], now=NOW)

    await cases.open_search_case(admitted_again(case, "xixian"), uow)

    assert (case.status, case.station_id) == ("identified", "xixian")
    assert {t.status for t in closed} == {"cancelled"}
    assert flags.closed_at == ARRIVED
    assert not [c for c in outside if c[0] == "publish"]


async def test_a_protected_person_back_gets_no_notice_again(outside):
    case = a_case(categories=["domestic_violence_victim"])
    down = a_notice(
        case, NoticeStatus.TAKEN_DOWN, takedown_reason="person_discharged:returned_home"
    )
    flags = NoticeProtection(
        case_id=case.id,
        endangered=False,
        closed_at=ARRIVED,
        closed_reason="person_discharged:returned_home",
    )
    uow = FakeUnitOfWork(rows=[case, down, flags], now=NOW)

    await cases.open_search_case(admitted_again(case, "gushi"), uow)

    assert uow.all(SearchNotice) == [down]


# ---- visibility: the station now works, the earlier one reads ------------------------


async def moved_case(**fields) -> tuple[SearchCase, list]:
    case = a_case("xixian", **fields)
    history = [
        CaseStation(
            id=uuid.uuid4(), case_id=case.id, station_id="gushi", from_at=ARRIVED, to_at=NOW
        ),
        CaseStation(id=uuid.uuid4(), case_id=case.id, station_id="xixian", from_at=NOW),
    ]
    return case, history


async def test_the_earlier_station_reads_the_case_and_another_does_not():
    case, history = await moved_case()
    for station, reads in (
        ("gushi", True),
        ("xixian", True),
        ("center", True),
        ("guangshan", False),
    ):
        uow = FakeUnitOfWork(actor=caller(station), rows=[case, *history], now=NOW)
        if reads:
            assert await visibility.readable_case(uow, case.id) is case
        else:
            with pytest.raises(NotFound):
                await visibility.readable_case(uow, case.id)


async def test_only_the_station_now_and_the_center_work_on_the_case(outside):
    case, history = await moved_case()
    command = notice_commands.MarkProtection(
        case_id=case.id, endangered=True, reason="有人在站外打听其下落"
    )
    earlier = FakeUnitOfWork(actor=caller("gushi"), rows=[case, *history], now=NOW)
    with pytest.raises(NotFound):
        await notice_commands.mark_protection(command, earlier)
    now = FakeUnitOfWork(actor=caller("xixian"), rows=[case, *history], now=NOW)
    assert (await notice_commands.mark_protection(command, now)).endangered


async def test_a_protected_persons_case_is_not_read_where_she_was_before():
    case, history = await moved_case(categories=["domestic_violence_victim"])
    uow = FakeUnitOfWork(actor=caller("gushi"), rows=[case, *history], now=NOW)
    with pytest.raises(NotFound):
        await visibility.readable_case(uow, case.id)


# ---- tasks that can no longer be done close with their reason ------------------------


async def test_marking_a_person_endangered_closes_the_notice_task_and_lifting_reopens_it(
    outside,
):
    case = a_case()
    rows = tasks_of(case)
    uow = FakeUnitOfWork(actor=caller("gushi", "station_lead"), rows=[case, *rows], now=NOW)

    def mark(endangered: bool):
        return notice_commands.MarkProtection(
            case_id=case.id, endangered=endangered, reason="有人在站外打听其下落"
        )

    await notice_commands.mark_protection(mark(True), uow)
    assert by_kind(uow) == {
        "family_search_notice": ("cancelled", "protected"),
        "police_check": ("open", None),
        "dna_sample": ("open", None),
    }

    await notice_commands.mark_protection(mark(False), uow)
    assert set(by_kind(uow).values()) == {("open", None)}


async def test_a_domestic_violence_victim_admitted_has_no_notice_task_to_miss(outside):
    uow = FakeUnitOfWork(now=NOW)
    command = cases.OpenSearchCase(
        person_id=uuid.uuid4(),
        station_id="gushi",
        arrived_at=NOW,
        sex="female",
        categories=["domestic_violence_victim"],
    )

    await cases.open_search_case(command, uow)

    assert by_kind(uow)["family_search_notice"] == ("cancelled", "protected")
    assert by_kind(uow)["dna_sample"] == ("open", None)


# ---- a hospital placement opens the case -----------------------------------------------


async def test_a_hospital_placement_opens_the_case_with_the_clock_from_the_placement(outside):
    placed_at = NOW - timedelta(days=5)
    placed = HospitalPlacementMadeV1(
        person_id=uuid.uuid4(),
        placement_id=uuid.uuid4(),
        station_id="gushi",
        hospital="信阳市第四人民医院",
        conditions=["mental_illness"],
        placed_at=placed_at,
    )
    uow = FakeUnitOfWork(now=NOW)

    case_id = await cases.open_search_case(cases.OpenSearchCase.of_placement(placed), uow)

    (case,) = uow.all(SearchCase)
    assert (case.id, case.person_id, case.station_id) == (case_id, placed.person_id, "gushi")
    assert (case.arrived_at, case.notice_due_at) == (placed_at, placed_at + timedelta(hours=24))
    (opened,) = uow.events
    assert isinstance(opened, SearchCaseOpenedV1)

    # the admission on discharge, same person: the same case learns what it says
    admission = cases.OpenSearchCase(
        person_id=placed.person_id,
        station_id="gushi",
        arrived_at=NOW,
        sex="female",
        estimated_age=40,
        stated_names=["李秀英"],
        unidentified=False,  # a name the hospital screening found: a claim
    )
    assert await cases.open_search_case(admission, uow) == case_id
    assert uow.all(SearchCase) == [case] and len(uow.events) == 1
    assert (case.sex, case.estimated_age, case.stated_names) == ("female", 40, "李秀英")
    assert (case.station_id, case.notice_due_at) == ("gushi", placed_at + timedelta(hours=24))
    assert uow.all(CaseStation) == []  # it did not move


async def test_an_identified_admission_without_a_case_opens_none(outside):
    uow = FakeUnitOfWork(now=NOW)
    command = cases.OpenSearchCase(
        person_id=uuid.uuid4(), station_id="gushi", arrived_at=NOW, unidentified=False
    )
    assert await cases.open_search_case(command, uow) is None
    assert uow.all(SearchCase) == [] and uow.events == []
