"""A death and a move change what a notice says (issue 25), on an in-memory unit of
work: a `died` ending turns each notice up into a deceased-person notice (the old
one superseded), the burial says where the remains are, and a case that follows
its person to another station is told (`search_case_moved`) with each notice up
re-issued naming that station."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from rescue_chassis.auth import Principal
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import DischargeReason
from rescue_events.contracts.intake_care import BurialRecordedV1, RemainsHandling
from rescue_events.contracts.search import CaseMoveReason, SearchCaseMovedV1
from rescue_events.contracts.search_notices import NoticePurpose
from search import matching, notices, statements
from search.commands import cases
from search.commands import notices as notice_commands
from search.commands.endings import EndStay, RecordRemains, end_stay, ending_rule, record_remains
from search.domain import TaskKind, task_due_at
from search.notices import NoticeStatus
from search.tables import SearchCase, SearchTask
from search.tables.notices import NoticeProtection, SearchNotice

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ARRIVED = NOW - timedelta(days=3)
DIED_AT = datetime(2026, 12, 6, 18, 30, tzinfo=UTC)  # 7 December at the station (UTC+8)


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


def open_tasks(case: SearchCase) -> list[SearchTask]:
    return [
        SearchTask(
            id=uuid.uuid4(),
            case_id=case.id,
            station_id=case.station_id,
            kind=kind.value,
            status="open",
            due_at=task_due_at(kind, case.arrived_at),
        )
        for kind in TaskKind
    ]


PAYLOAD = {
    "sex": "male",
    "estimated_age": 70,
    "found_place": "信阳市",
    "arrived_on": ARRIVED.date().isoformat(),
    "stated_names": ["王建国"],
    "stated_places": [],
    "dialect": "四川话",
    "appearance": None,
}


def a_notice(case: SearchCase, status: NoticeStatus, **fields) -> SearchNotice:
    values = {
        "id": uuid.uuid4(),
        "case_id": case.id,
        "person_id": case.person_id,
        "station_id": case.station_id,
        "kind": "national",
        "status": status.value,
        "payload": dict(PAYLOAD),
        "requested_by": "w1",
        "requested_at": ARRIVED + timedelta(hours=1),
        "attempts": 1,
        "external_id": "qx-1" if status is not NoticeStatus.FAILED else None,
        **fields,
    }
    return SearchNotice(**values)


@pytest.fixture
def outside(monkeypatch):
    """What happens once the transaction commits, recorded instead of sent."""
    calls: list[tuple] = []

    monkeypatch.setattr(
        notices, "publish_once_committed", lambda uow, ids: calls.append(("publish", tuple(ids)))
    )
    monkeypatch.setattr(
        notices, "take_down_once_committed", lambda uow, case_id: calls.append(("down", case_id))
    )

    async def index(uow, case):
        return None

    async def open_case(uow, case, deadlines):
        return False  # ON CONFLICT (person_id) DO NOTHING: every person here has a case

    monkeypatch.setattr(matching, "index_case_names", index)
    monkeypatch.setattr(statements, "open_case", open_case)
    return calls


def new_ones(uow: FakeUnitOfWork, *old: SearchNotice) -> list[SearchNotice]:
    return [n for n in uow.all(SearchNotice) if n.id not in {o.id for o in old}]


def died(case: SearchCase) -> EndStay:
    return EndStay(
        person_id=case.person_id,
        station_id=case.station_id,
        reason=DischargeReason.DIED,
        discharged_at=DIED_AT,
    )


# ---- a death: the deceased-person notice -------------------------------------------


def test_only_a_death_turns_the_notices_into_deceased_notices():
    assert ending_rule(DischargeReason.DIED, False).deceased_notice
    for reason in DischargeReason:
        if reason is not DischargeReason.DIED:
            assert not ending_rule(reason, False).deceased_notice
            assert not ending_rule(reason, True).deceased_notice


async def test_a_death_replaces_the_notice_up_by_a_deceased_notice(outside):
    case = a_case()
    up = a_notice(case, NoticeStatus.PUBLISHED)
    down = a_notice(case, NoticeStatus.TAKEN_DOWN, takedown_reason="protection")
    tasks = open_tasks(case)
    uow = FakeUnitOfWork(rows=[case, up, down, *tasks], now=NOW)

    await end_stay(died(case), uow)

    (deceased,) = new_ones(uow, up, down)
    assert (deceased.status, deceased.kind, deceased.station_id) == (
        "publishing",
        "national",
        "gushi",
    )
    assert notices.purpose_of(deceased.payload) is NoticePurpose.DECEASED
    assert deceased.payload["title"] == "死亡人员寻亲公告"
    assert deceased.payload["died_on"] == "2026-12-07"  # the station's day of the death
    assert deceased.payload["died_in_care_of"] == "固始县救助管理站"
    text = deceased.payload["text"]
    assert "2026-12-07在固始县救助管理站受助期间死亡" in text
    assert "请与固始县救助管理站联系认领" in text
    assert deceased.payload["stated_names"] == ["王建国"]  # what a family recognises stays
    assert notices.marker_in(text) is None
    # the old notice comes down as superseded, once the transaction commits
    assert (up.status, up.takedown_reason) == ("takedown_pending", "superseded:deceased")
    assert (down.status, down.takedown_reason) == ("taken_down", "protection")
    assert outside == [("publish", (deceased.id,)), ("down", case.id)]
    # the search goes on: every task stays open
    assert {t.status for t in tasks} == {"open"}
    assert (case.ending, case.status) == ("died", "open")


async def test_a_failed_notice_of_a_person_who_died_is_rewritten_for_its_retry(outside):
    case = a_case()
    failed = a_notice(case, NoticeStatus.FAILED, kind="regional", region="四川省")
    uow = FakeUnitOfWork(rows=[case, failed], now=NOW)

    await end_stay(died(case), uow)

    assert uow.all(SearchNotice) == [failed] and failed.status == "failed"
    assert notices.purpose_of(failed.payload) is NoticePurpose.DECEASED
    assert outside == []  # it never went up: nothing to take down, the sweep retries it


async def test_a_death_told_twice_reissues_once(outside):
    case = a_case()
    up = a_notice(case, NoticeStatus.PUBLISHED)
    uow = FakeUnitOfWork(rows=[case, up], now=NOW)

    await end_stay(died(case), uow)
    (deceased,) = new_ones(uow, up)
    deceased.status = NoticeStatus.PUBLISHED.value
    await end_stay(died(case), uow)

    assert new_ones(uow, up) == [deceased]


async def test_a_settled_ending_leaves_the_notice_as_it_is(outside):
    case = a_case()
    up = a_notice(case, NoticeStatus.PUBLISHED)
    uow = FakeUnitOfWork(rows=[case, up, *open_tasks(case)], now=NOW)

    command = died(case).model_copy(update={"reason": DischargeReason.SETTLED})
    await end_stay(command, uow)

    assert uow.all(SearchNotice) == [up] and up.status == "published"
    assert notices.purpose_of(up.payload) is NoticePurpose.SEEKING_FAMILY
    assert outside == [] and case.ending == "settled"


async def test_a_protected_person_who_died_gets_no_public_notice(outside):
    case = a_case(categories=["domestic_violence_victim"])
    failed = a_notice(case, NoticeStatus.FAILED)
    uow = FakeUnitOfWork(rows=[case, failed], now=NOW)

    await end_stay(died(case), uow)

    assert uow.all(SearchNotice) == [failed] and failed.payload == PAYLOAD
    assert outside == []


def burial(case: SearchCase, **fields) -> RecordRemains:
    values = {
        "person_id": case.person_id,
        "stay_id": uuid.uuid4(),
        "station_id": case.station_id,
        "buried_on": date(2026, 12, 9),
        "remains": RemainsHandling.CREMATED_ASHES_KEPT,
        "funeral_home": "固始县殡仪馆",
        "certificate_reference": "豫火化〔2026〕0381号",
        "photo_kept": True,
        "dna_kept": True,
        "recorded_at": NOW,
        **fields,
    }
    return RecordRemains.of(BurialRecordedV1(**values))


async def test_the_burial_tells_where_the_remains_are(outside):
    case = a_case(ending="died", ended_at=DIED_AT)
    deceased = a_notice(
        case,
        NoticeStatus.PUBLISHED,
        payload=notices.deceased_description(
            PAYLOAD, died_at=DIED_AT, in_care_of="固始县救助管理站"
        ),
    )
    uow = FakeUnitOfWork(rows=[case, deceased], now=NOW)

    (told_id,) = await record_remains(burial(case), uow)

    told = await uow.get(SearchNotice, told_id)
    assert told.payload["remains"]["place"] == "固始县殡仪馆"
    assert "遗体已于2026-12-09火化，骨灰存放于固始县殡仪馆" in told.payload["text"]
    assert "照片、DNA样本已留存备查" in told.payload["text"]
    assert deceased.takedown_reason == "superseded:burial_recorded"
    # the same burial told again: nothing new to say
    told.status = NoticeStatus.PUBLISHED.value
    assert await record_remains(burial(case), uow) == []
    # a correction (buried in a cemetery) re-issues it again
    corrected = burial(case, remains=RemainsHandling.BURIED, cemetery="固始县公墓", corrected=True)
    (again_id,) = await record_remains(corrected, uow)
    assert "安葬于固始县公墓" in (await uow.get(SearchNotice, again_id)).payload["text"]


async def test_a_burial_leaves_a_case_without_a_death_alone(outside):
    case = a_case(ending="settled")
    up = a_notice(case, NoticeStatus.PUBLISHED)
    uow = FakeUnitOfWork(rows=[case, up], now=NOW)

    assert await record_remains(burial(case), uow) == []
    assert await record_remains(burial(a_case()), uow) == []  # no case at all
    assert uow.all(SearchNotice) == [up] and outside == []


async def test_a_notice_published_after_the_death_is_a_deceased_notice(monkeypatch):
    async def publish_recorded(uow, ids):
        return None

    async def fresh(uow, ids):
        return [await uow.get(SearchNotice, i) for i in ids]

    monkeypatch.setattr(notices, "publish_recorded", publish_recorded)
    monkeypatch.setattr(statements, "fresh_notices", fresh)
    case = a_case(ending="died", ended_at=DIED_AT)
    staff = Principal(subject="w1", station_id="gushi", roles=frozenset({"station_staff"}))
    uow = FakeUnitOfWork(actor=staff, rows=[case], now=NOW)

    (view,) = await notice_commands.publish_notices(
        notice_commands.PublishNotices(case_id=case.id, kind="national"), uow
    )

    assert view.purpose is NoticePurpose.DECEASED
    assert "受助期间死亡" in (view.text or "")


# ---- a move: told, and the notices name the station that has the person ------------


def admitted(case: SearchCase, station_id: str, **fields) -> cases.OpenSearchCase:
    return cases.OpenSearchCase(
        person_id=case.person_id, station_id=station_id, arrived_at=NOW, sex="male", **fields
    )


@pytest.mark.parametrize(
    ("ending", "transfer", "reason"),
    [
        ("transferred", True, CaseMoveReason.TRANSFER),
        ("transferred", False, CaseMoveReason.TRANSFER),  # told by the ending
        ("returned_home", False, CaseMoveReason.READMISSION),
        (None, False, CaseMoveReason.READMISSION),
    ],
)
async def test_a_case_that_moves_is_told_with_its_reason(outside, ending, transfer, reason):
    case = a_case(ending=ending)
    uow = FakeUnitOfWork(rows=[case], now=NOW)

    await cases.open_search_case(admitted(case, "xixian", transfer=transfer), uow)

    (moved,) = uow.events
    assert isinstance(moved, SearchCaseMovedV1)
    assert (moved.case_id, moved.person_id) == (case.id, case.person_id)
    assert (moved.from_station_id, moved.to_station_id) == ("gushi", "xixian")
    assert (moved.reason, moved.moved_at) == (reason, NOW)


async def test_a_case_that_stays_at_its_station_is_not_told_moved(outside):
    case = a_case()
    up = a_notice(case, NoticeStatus.PUBLISHED)
    uow = FakeUnitOfWork(rows=[case, up], now=NOW)

    await cases.open_search_case(admitted(case, "gushi"), uow)

    assert uow.events == [] and uow.all(SearchNotice) == [up] and outside == []


async def test_the_notice_up_is_reissued_naming_the_new_station(outside):
    case = a_case(ending="transferred", ended_at=NOW - timedelta(hours=2))
    up = a_notice(case, NoticeStatus.PUBLISHED)
    push = a_notice(case, NoticeStatus.PUBLISHING, kind="regional", region="四川省")
    uow = FakeUnitOfWork(rows=[case, up, push], now=NOW)

    await cases.open_search_case(admitted(case, "xixian", transfer=True), uow)

    fresh = new_ones(uow, up, push)
    assert {(n.kind, n.region, n.station_id, n.status) for n in fresh} == {
        ("national", None, "xixian", "publishing"),
        ("regional", "四川省", "xixian", "publishing"),
    }
    assert all(n.payload == PAYLOAD for n in fresh)  # the same person, another station
    assert {(o.status, o.takedown_reason) for o in (up, push)} == {
        ("takedown_pending", "superseded:case_moved")
    }
    assert ("down", case.id) in outside
    (published,) = [c for c in outside if c[0] == "publish"]
    assert set(published[1]) == {n.id for n in fresh}
    # what the site gets names xixian
    site = notices.site_payload(fresh[0], "息县救助管理站", "信阳市")
    assert site["station"] == {"id": "xixian", "name": "息县救助管理站", "city": "信阳市"}
    assert (site["purpose"], site["title"]) == ("seeking_family", "寻亲公告")


async def test_a_moved_case_with_notices_closed_or_identified_reissues_nothing(outside):
    identified = a_case(status="identified")
    closed = a_case(ending="left")
    flags = NoticeProtection(
        case_id=closed.id, endangered=False, closed_at=ARRIVED, closed_reason="identity_confirmed"
    )
    rows = [a_notice(c, NoticeStatus.PUBLISHED) for c in (identified, closed)]
    uow = FakeUnitOfWork(rows=[identified, closed, flags, *rows], now=NOW)

    await cases.open_search_case(admitted(identified, "xixian"), uow)
    await cases.open_search_case(admitted(closed, "xixian"), uow)

    assert len(uow.events) == 2  # both moves are told
    assert uow.all(SearchNotice) == rows and not [c for c in outside if c[0] == "publish"]


def test_the_notice_view_shows_its_purpose_and_a_superseded_one():
    case = a_case()
    old = a_notice(
        case,
        NoticeStatus.TAKEN_DOWN,
        takedown_reason="superseded:deceased",
        taken_down_at=NOW,
    )
    deceased = a_notice(
        case,
        NoticeStatus.PUBLISHED,
        payload=notices.deceased_description(
            PAYLOAD, died_at=DIED_AT, in_care_of="固始县救助管理站"
        ),
    )

    before, after = notice_commands.NoticeView.of(old), notice_commands.NoticeView.of(deceased)

    assert (before.purpose, before.superseded, before.text) == (
        NoticePurpose.SEEKING_FAMILY,
        True,
        None,
    )
    assert (after.purpose, after.superseded, after.station_id) == (
        NoticePurpose.DECEASED,
        False,
        "gushi",
    )
    assert after.text and after.text.startswith("该无名受助人员")
