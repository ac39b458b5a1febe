"""Escalations to the center (issue 25) on an in-memory unit of work: search's
overdue tasks and intake's long stays go on the center's list once each, with
`deadline_escalated`; a center coordinator acknowledges them; intake's sweep
flags a hospital placement open too long once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from intake import sweeps as intake_sweeps
from intake.tables.arrivals import HospitalPlacement
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Forbidden, NotFound
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import LongStayReachedV1
from rescue_events.contracts.intake_arrivals import LongHospitalStayReachedV1
from rescue_events.contracts.search_escalations import DeadlineEscalatedV1
from rescue_events.contracts.topics import SEARCH_ESCALATIONS
from rescue_events.registry import registry
from search import escalation_handlers
from search.commands.escalations import (
    AcknowledgeEscalation,
    Escalate,
    EscalateOverdueTasks,
    acknowledge_escalation,
    escalate,
    escalate_overdue_tasks,
)
from search.escalations import EscalationKind, overdue_task_kind
from search.tables import SearchCase, SearchTask
from search.tables.escalations import Escalation

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def coordinator(station_id: str = "center") -> Principal:
    return Principal(
        subject="赵主任", station_id=station_id, roles=frozenset({"center_coordinator"})
    )


def a_case(station_id: str = "gushi") -> SearchCase:
    return SearchCase(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=station_id,
        status="open",
        arrived_at=NOW - timedelta(days=2),
        opened_at=NOW - timedelta(days=2),
        notice_due_at=NOW - timedelta(days=1),
        sex="male",
        categories=[],
    )


def task_of(case: SearchCase, kind: str, overdue_at: datetime | None = NOW) -> SearchTask:
    return SearchTask(
        id=uuid.uuid4(),
        case_id=case.id,
        station_id=case.station_id,
        kind=kind,
        status="open",
        due_at=NOW - timedelta(hours=1),
        overdue_at=overdue_at,
    )


# ---- the rules -------------------------------------------------------------------------


def test_each_search_task_escalates_under_its_own_kind():
    assert overdue_task_kind("family_search_notice") is EscalationKind.NOTICE_OVERDUE
    assert overdue_task_kind("police_check") is EscalationKind.POLICE_CHECK_OVERDUE
    assert overdue_task_kind("dna_sample") is EscalationKind.DNA_OVERDUE
    assert overdue_task_kind("something_else") is None


def test_deadline_escalated_is_a_search_event_partners_can_read():
    contract = registry.lookup("deadline_escalated", 1)
    assert contract.model is DeadlineEscalatedV1
    assert contract.topic == SEARCH_ESCALATIONS  # read by referral (issue 30's layout)


# ---- the sweep's overdue tasks -----------------------------------------------------------


async def test_the_tasks_the_sweep_raised_now_go_on_the_list_once():
    case = a_case("gushi")
    notice = task_of(case, "family_search_notice")
    dna = task_of(case, "dna_sample")
    earlier = task_of(case, "police_check", overdue_at=NOW - timedelta(days=1))  # raised before
    uow = FakeUnitOfWork(rows=[case, notice, dna, earlier], now=NOW)

    assert await escalate_overdue_tasks(EscalateOverdueTasks(raised_at=NOW), uow) == 2

    listed = {(e.kind, e.source_id) for e in uow.all(Escalation)}
    assert listed == {("notice_overdue", notice.id), ("dna_overdue", dna.id)}
    assert all(e.status == "open" and e.case_id == case.id for e in uow.all(Escalation))
    assert all(e.station_id == "gushi" and e.due_at == notice.due_at for e in uow.all(Escalation))
    assert [type(e) for e in uow.events] == [DeadlineEscalatedV1, DeadlineEscalatedV1]
    assert {e.kind for e in uow.events} == {"notice_overdue", "dna_overdue"}
    assert {e.person_id for e in uow.events} == {case.person_id}

    # looked at again (a second sweep, a replica): nothing new
    assert await escalate_overdue_tasks(EscalateOverdueTasks(raised_at=NOW), uow) == 0
    assert len(uow.all(Escalation)) == 2 and len(uow.events) == 2


# ---- intake's long stays ------------------------------------------------------------------


class _Handlers:
    def __init__(self, monkeypatch, uow: FakeUnitOfWork) -> None:
        monkeypatch.setattr(escalation_handlers, "UnitOfWork", lambda session, runtime: uow)
        self.handlers = escalation_handlers.handlers(SimpleNamespace())

    async def deliver(self, event) -> None:
        await self.handlers[type(event)](None, event, None)


async def test_a_long_stay_is_escalated_once_with_the_persons_case(monkeypatch):
    case = a_case("xixian")
    uow = FakeUnitOfWork(rows=[case], now=NOW)
    stay_id = uuid.uuid4()
    event = LongStayReachedV1(
        person_id=case.person_id,
        stay_id=stay_id,
        station_id="xixian",
        arrived_at=NOW - timedelta(days=91),
        reached_at=NOW - timedelta(minutes=1),
    )
    handlers = _Handlers(monkeypatch, uow)

    await handlers.deliver(event)
    await handlers.deliver(event)  # sent again under another id: still one escalation

    (escalation,) = uow.all(Escalation)
    assert (escalation.kind, escalation.source_id, escalation.case_id) == (
        "long_stay",
        stay_id,
        case.id,
    )
    assert escalation.due_at == event.reached_at and escalation.opened_at == NOW
    (published,) = uow.events
    assert (published.escalation_id, published.kind) == (escalation.id, "long_stay")


async def test_a_long_hospital_stay_is_escalated_even_without_a_case(monkeypatch):
    uow = FakeUnitOfWork(now=NOW)
    event = LongHospitalStayReachedV1(
        person_id=uuid.uuid4(),
        placement_id=uuid.uuid4(),
        station_id="gushi",
        hospital="信阳市第五人民医院",
        placed_at=NOW - timedelta(days=31),
        reached_at=NOW,
        days=30,
    )

    await _Handlers(monkeypatch, uow).deliver(event)

    (escalation,) = uow.all(Escalation)
    assert (escalation.kind, escalation.source_id) == ("long_hospital_stay", event.placement_id)
    assert escalation.case_id is None and escalation.station_id == "gushi"
    assert uow.events[0].case_id is None


# ---- the center's acknowledgement -----------------------------------------------------------


async def an_escalation(uow: FakeUnitOfWork, station_id: str = "gushi") -> uuid.UUID:
    view = await escalate(
        Escalate(
            kind=EscalationKind.POLICE_CHECK_OVERDUE,
            source_id=uuid.uuid4(),
            person_id=uuid.uuid4(),
            station_id=station_id,
            due_at=NOW - timedelta(hours=1),
        ),
        uow,
    )
    return view.id


async def test_the_center_acknowledges_an_escalation_once():
    uow = FakeUnitOfWork(actor=coordinator("center"), now=NOW)
    escalation_id = await an_escalation(uow)

    view = await acknowledge_escalation(
        AcknowledgeEscalation(escalation_id=escalation_id, note="已督促固始站"), uow
    )

    assert (view.status, view.acknowledged_by, view.acknowledged_at) == (
        "acknowledged",
        "赵主任",
        NOW,
    )
    assert view.acknowledgement_note == "已督促固始站"
    with pytest.raises(Conflict):
        await acknowledge_escalation(AcknowledgeEscalation(escalation_id=escalation_id), uow)


async def test_only_the_center_acknowledges_and_an_unknown_escalation_is_not_found():
    uow = FakeUnitOfWork(actor=coordinator("gushi"), now=NOW)
    escalation_id = await an_escalation(uow, "gushi")

    with pytest.raises(Forbidden):
        await acknowledge_escalation(AcknowledgeEscalation(escalation_id=escalation_id), uow)
    assert uow.all(Escalation)[0].status == "open"

    uow.actor = coordinator("center")
    with pytest.raises(NotFound):
        await acknowledge_escalation(AcknowledgeEscalation(escalation_id=uuid.uuid4()), uow)


def test_only_a_center_coordinator_may_call_the_acknowledgement():
    from rescue_chassis.access import business_routes
    from rescue_chassis.auth import Role
    from search.api import routers

    roles = {(r.path, m): r.roles for r in business_routes(routers) for m in r.methods}
    assert roles[("/escalations/{escalation_id}/acknowledgement", "POST")] == {
        Role.CENTER_COORDINATOR
    }
    assert Role.STATION_STAFF in roles[("/escalations", "GET")]


# ---- intake: a hospital placement open too long ------------------------------------------


def a_placement(days_ago: int) -> HospitalPlacement:
    return HospitalPlacement(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id="gushi",
        status="open",
        hospital="信阳市第五人民医院",
        conditions=["mental_illness"],
        placed_at=NOW - timedelta(days=days_ago),
        sex="female",
        stated_names=[],
        stated_places=[],
        categories=[],
        placed_by="w1",
        recorded_at=NOW - timedelta(days=days_ago),
    )


async def test_a_placement_open_too_long_is_flagged_once(monkeypatch):
    placement = a_placement(31)
    uow = FakeUnitOfWork(now=NOW, settings=SimpleNamespace(long_hospital_stay_days=30))
    asked = []

    async def candidates(uow, days):
        asked.append(days)
        return [p for p in [placement] if p.long_stay_reached_at is None]

    monkeypatch.setattr(intake_sweeps, "long_hospital_stay_candidates", candidates)

    assert await intake_sweeps.mark_long_hospital_stays(uow) == 1
    assert await intake_sweeps.mark_long_hospital_stays(uow) == 0  # marked: not again

    assert placement.long_stay_reached_at == NOW and asked == [30, 30]
    (event,) = uow.events
    assert isinstance(event, LongHospitalStayReachedV1)
    assert (event.person_id, event.placement_id, event.days) == (
        placement.person_id,
        placement.id,
        30,
    )


def test_the_long_hospital_stay_limit_is_a_setting_of_30_days_by_default():
    from intake.settings import IntakeSettings

    assert IntakeSettings.model_fields["long_hospital_stay_days"].default == 30
    with_setting = FakeUnitOfWork(settings=SimpleNamespace(long_hospital_stay_days=7))
    assert intake_sweeps.long_hospital_stay_days(with_setting) == 7
    assert intake_sweeps.long_hospital_stay_days(FakeUnitOfWork()) == 30
