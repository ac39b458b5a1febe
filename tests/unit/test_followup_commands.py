"""Followup's use cases on an in-memory unit of work (rescue_chassis.testing)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from followup import statements
from followup.commands.help_tasks import CompleteHelpTask, complete_help_task
from followup.commands.register import AddToRegister, Registration, add_to_register
from followup.commands.repeat import (
    CheckAdmission,
    RecogniseEarlierStay,
    check_admission,
    recognise_earlier_stay,
)
from followup.commands.stabilisations import (
    Assessment,
    AssessRisk,
    CloseStabilisation,
    Closing,
    MakeHelpPlan,
    OpenStabilisation,
    Plan,
    RecordRevisit,
    RecordSocialWorkService,
    RevisitReport,
    Service,
    assess_risk,
    close_stabilisation,
    make_help_plan,
    open_stabilisation,
    record_revisit,
    record_social_work_service,
)
from followup.domain import revisit_schedule
from followup.tables import (
    AtRiskEntry,
    HelpTask,
    Person,
    RepeatWandering,
    Revisit,
    StabilisationRecord,
)
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Forbidden, NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import (
    AtRiskRegisteredV1,
    HelpTaskOpenedV1,
    PartnerType,
    PersonHandedOverV1,
    RepeatWanderingFlaggedV1,
    RevisitRecordedV1,
    RiskAssessedV1,
    StabilisationClosedV1,
    StabilisationOpenedV1,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def worker(station_id: str) -> Principal:
    return Principal(subject="w1", station_id=station_id, roles=frozenset({"station_staff"}))


def record(station_id: str, escort_station_id: str) -> StabilisationRecord:
    return StabilisationRecord(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        return_id=uuid.uuid4(),
        station_id=station_id,
        escort_station_id=escort_station_id,
        home_province="河南省",
        home_address="河南省信阳市固始县城关镇",
        received_by="李村长",
        handed_over_at=NOW,
        opened_at=NOW,
        status="active",
    )


def task_of(record: StabilisationRecord, status: str = "open") -> HelpTask:
    return HelpTask(
        id=uuid.uuid4(),
        record_id=record.id,
        revisit_sequence=1,
        difficulty="no_income",
        status=status,
        opened_at=NOW,
    )


async def test_completing_a_help_task_closes_it_with_its_outcome():
    held = record("gushi", "guangshan")
    task = task_of(held)
    uow = FakeUnitOfWork(actor=worker("guangshan"), rows=[held, task], now=NOW)

    view = await complete_help_task(CompleteHelpTask(task_id=task.id, outcome="已纳入低保"), uow)

    assert (view.status, view.outcome, view.closed_at) == ("done", "已纳入低保", NOW)
    assert task.status == "done"


async def test_a_closed_help_task_is_a_conflict():
    held = record("gushi", "gushi")
    task = task_of(held, status="done")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, task])

    with pytest.raises(Conflict):
        await complete_help_task(CompleteHelpTask(task_id=task.id, outcome="x"), uow)


async def test_another_stations_help_task_is_not_found():
    held = record("gushi", "gushi")
    task = task_of(held)
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[held, task])

    with pytest.raises(NotFound):
        await complete_help_task(CompleteHelpTask(task_id=task.id, outcome="x"), uow)
    assert task.status == "open"


# ---- the record's work -------------------------------------------------------------------

HANDED_OVER = datetime(2025, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in the home town


@pytest.fixture(autouse=True)
def stored(monkeypatch):
    """The service's own SQL (followup.statements), as the fake's rows."""

    async def revisit_of(uow, record_id, sequence):
        found = await uow.find(Revisit, record_id=record_id, sequence=sequence)
        return found[0] if found else None

    async def register_entry(uow, person_id):
        found = await uow.find(AtRiskEntry, person_id=person_id)
        return found[0] if found else None

    monkeypatch.setattr(statements, "revisit_of", revisit_of)
    monkeypatch.setattr(statements, "register_entry", register_entry)


def ledger(station_id: str = "gushi", escort_station_id: str | None = None, status="scheduled"):
    """A record handed over a year ago, its six revisits with ``status``."""
    held = record(station_id, escort_station_id or station_id)
    held.handed_over_at = HANDED_OVER
    held.jurisdiction_code = "411525105"
    held.full_name = "张某"
    revisits = [
        Revisit(
            id=uuid.uuid4(),
            record_id=held.id,
            sequence=i,
            due_on=due,
            assigned_to=held.jurisdiction_code,
            status=status,
            situation="stable" if status == "done" else None,
        )
        for i, due in enumerate(revisit_schedule(date(2025, 12, 1)), start=1)
    ]
    return held, revisits


def report(situation: str = "stable", visited_on: date = date(2026, 1, 30)) -> RevisitReport:
    return RevisitReport(
        mode="visit", visited_on=visited_on, visited_by="城关镇民政办 张敏", situation=situation
    )


async def test_a_difficulty_found_on_a_revisit_opens_a_help_task_for_its_partner():
    held, revisits = ledger()
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits], now=NOW)

    view = await record_revisit(
        RecordRevisit(record_id=held.id, sequence=1, report=report("living_difficulty")), uow
    )

    assert (revisits[0].status, revisits[0].recorded_by) == ("done", "w1")
    recorded, opened = uow.events
    assert isinstance(recorded, RevisitRecordedV1) and recorded.late is False  # due 2026-02-01
    assert isinstance(opened, HelpTaskOpenedV1) and opened.refer_to is PartnerType.CIVIL_AFFAIRS
    (task,) = view.help_tasks
    assert (task.id, task.refer_to, task.status) == (opened.task_id, "civil_affairs", "open")


async def test_a_revisit_after_its_due_day_is_recorded_as_late():
    held, revisits = ledger()
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits], now=NOW)

    await record_revisit(
        RecordRevisit(record_id=held.id, sequence=1, report=report(visited_on=date(2026, 2, 2))),
        uow,
    )

    assert uow.events[0].late is True


@pytest.mark.parametrize(
    ("visited_on", "reason"),
    [(date(2025, 11, 30), "is before the handover"), (NOW.date(), "lies in the future")],
)
async def test_a_revisit_day_outside_the_handover_and_today_is_refused(visited_on, reason):
    held, revisits = ledger()
    earlier = NOW - timedelta(days=3)  # the request's today, in the home town
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits], now=earlier)

    with pytest.raises(Refused) as refused:
        await record_revisit(
            RecordRevisit(record_id=held.id, sequence=1, report=report(visited_on=visited_on)),
            uow,
        )
    assert (refused.value.field, refused.value.reason) == ("visited_on", reason)
    assert revisits[0].status == "scheduled" and uow.events == []


async def test_a_revisit_made_already_is_a_conflict_and_one_not_planned_is_not_found():
    held, revisits = ledger(status="done")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits], now=NOW)

    with pytest.raises(Conflict) as conflict:
        await record_revisit(RecordRevisit(record_id=held.id, sequence=2, report=report()), uow)
    assert conflict.value.title == "Already made"
    with pytest.raises(NotFound) as missing:
        await record_revisit(RecordRevisit(record_id=held.id, sequence=7, report=report()), uow)
    assert missing.value.detail == "The record has no revisit 7."


async def test_a_person_found_gone_again_enters_the_at_risk_register():
    held, revisits = ledger()
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits], now=NOW)

    await record_revisit(
        RecordRevisit(record_id=held.id, sequence=1, report=report("left_home_again")), uow
    )

    (entry,) = uow.all(AtRiskEntry)
    assert (entry.reasons, entry.added_by, entry.jurisdiction_code) == (
        ["repeat_wandering"],
        "w1",
        "411525105",
    )
    assert isinstance(uow.events[-1], AtRiskRegisteredV1)


async def test_a_death_found_on_a_revisit_closes_the_record_and_then_no_work_is_taken():
    held, revisits = ledger()
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits], now=NOW)

    view = await record_revisit(
        RecordRevisit(record_id=held.id, sequence=1, report=report("deceased")), uow
    )

    assert (view.status, view.outcome, view.closed_at) == ("closed", "deceased", NOW)
    assert isinstance(uow.events[-1], StabilisationClosedV1)
    with pytest.raises(Conflict) as conflict:
        await record_revisit(RecordRevisit(record_id=held.id, sequence=2, report=report()), uow)
    assert conflict.value.title == "Record closed"


async def test_only_the_center_assesses_the_risk():
    held, revisits = ledger()
    assessment = Assessment(level="high", reasons=["无固定收入"], owner="市站 王强")
    command = AssessRisk(record_id=held.id, assessment=assessment)

    satellite = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits])
    with pytest.raises(Forbidden):
        await assess_risk(command, satellite)
    center = FakeUnitOfWork(actor=worker("center"), rows=[held, *revisits], now=NOW)
    view = await assess_risk(command, center)

    assert [a.level for a in view.risk_assessments] == ["high"]
    (assessed,) = center.events
    assert isinstance(assessed, RiskAssessedV1) and assessed.assessed_by == "w1"


async def test_the_escorting_station_plans_help_another_station_does_not_see_the_record():
    held, revisits = ledger("gushi", escort_station_id="guangshan")
    command = MakeHelpPlan(record_id=held.id, plan=Plan(measures=["纳入低保"], owner="县民政局"))

    view = await make_help_plan(command, FakeUnitOfWork(actor=worker("guangshan"), rows=[held]))
    assert [(p.county_code, p.measures) for p in view.help_plans] == [("411525", ["纳入低保"])]
    with pytest.raises(NotFound):
        await make_help_plan(command, FakeUnitOfWork(actor=worker("xixian"), rows=[held]))


async def test_a_social_work_service_delivered_tomorrow_is_refused():
    held, _ = ledger()
    service = Service(service="心理疏导", owner="社工 李华", delivered_on=NOW.date())
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held], now=NOW - timedelta(days=1))

    with pytest.raises(Refused) as refused:
        await record_social_work_service(
            RecordSocialWorkService(record_id=held.id, service=service), uow
        )
    assert refused.value.field == "delivered_on"


async def test_a_stable_year_closes_only_once_the_year_has_passed():
    held, revisits = ledger(status="done")
    command = CloseStabilisation(record_id=held.id, closing=Closing(outcome="stable_year"))

    early = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits], now=NOW - timedelta(7))
    with pytest.raises(Refused, match="year"):
        await close_stabilisation(command, early)
    assert held.status == "active"
    later = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # a year after, in the home town
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits], now=later)
    view = await close_stabilisation(command, uow)

    assert (view.status, view.outcome) == ("closed", "stable_year")
    (closed,) = uow.events
    assert (closed.outcome, closed.closed_at) == ("stable_year", later)


async def test_a_settled_person_closes_at_once_with_the_settlement_on_record():
    held, revisits = ledger()
    settled = Closing(outcome="settled", settlement="户籍地民政局安置至县特困供养中心")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, *revisits], now=NOW)

    view = await close_stabilisation(CloseStabilisation(record_id=held.id, closing=settled), uow)

    assert view.settlement == uow.events[0].settlement == "户籍地民政局安置至县特困供养中心"


async def test_the_register_announces_only_reasons_it_did_not_have():
    held, _ = ledger()
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held], now=NOW)
    registration = Registration(record_id=held.id, reasons=["dementia"])
    await add_to_register(AddToRegister(registration=registration), uow)
    await add_to_register(AddToRegister(registration=registration), uow)

    more = Registration(record_id=held.id, reasons=["disabled", "dementia"])
    view = await add_to_register(AddToRegister(registration=more), uow)

    assert view.reasons == ["dementia", "disabled"]
    assert [e.reasons for e in uow.events] == [["dementia"], ["dementia", "disabled"]]
    assert len(uow.all(AtRiskEntry)) == 1


# ---- what the consumers run --------------------------------------------------------------


def handover(person_id: uuid.UUID) -> PersonHandedOverV1:
    return PersonHandedOverV1(
        person_id=person_id,
        return_id=uuid.uuid4(),
        station_id="gushi",
        escort_station_id="center",
        handed_over_at=HANDED_OVER,
        receiver_kind="family",
        received_by="李村长",
        destination_province="河南省",
        home_address="河南省信阳市固始县城关镇某村",
        home_admin_code="411525105201",
        full_name="张某",
    )


async def test_a_handover_opens_a_record_with_its_revisits_once():
    admitted = Person(person_id=uuid.uuid4(), station_id="gushi", categories=["dementia"])
    uow = FakeUnitOfWork(rows=[admitted], now=NOW)

    held = await open_stabilisation(OpenStabilisation(handover=handover(admitted.person_id)), uow)
    again = await open_stabilisation(OpenStabilisation(handover=handover(admitted.person_id)), uow)

    assert again is None and uow.all(StabilisationRecord) == [held]
    assert held.jurisdiction_code == "411525105"  # the village's town revisits
    revisits = uow.all(Revisit)
    assert [r.due_on for r in revisits] == revisit_schedule(date(2025, 12, 1))
    assert {r.assigned_to for r in revisits} == {"411525105"}
    opened, registered = uow.events
    assert isinstance(opened, StabilisationOpenedV1) and registered.reasons == ["dementia"]


async def test_a_returned_person_admitted_again_is_flagged_once_per_stay():
    held, _ = ledger()
    uow = FakeUnitOfWork(rows=[held], now=NOW)
    admission = CheckAdmission(
        person_id=held.person_id, station_id="xixian", admitted_at=NOW, categories=[]
    )

    assert await check_admission(admission, uow) is True
    assert await check_admission(admission, uow) is False

    (flag,) = uow.all(RepeatWandering)
    assert (flag.origin_station_id, flag.admitting_station_id, flag.basis) == (
        "gushi",
        "xixian",
        "same_person",
    )
    flagged, registered = uow.events
    assert isinstance(flagged, RepeatWanderingFlaggedV1)
    assert registered.reasons == ["repeat_wandering"]


async def test_an_earlier_stay_of_someone_never_returned_home_flags_nothing():
    uow = FakeUnitOfWork(rows=[], now=NOW)
    command = RecogniseEarlierStay(
        person_id=uuid.uuid4(),
        earlier_person_id=uuid.uuid4(),
        station_id="xixian",
        basis="face_comparison",
    )

    assert await recognise_earlier_stay(command, uow) is False
    assert uow.events == [] and uow.all(RepeatWandering) == []
