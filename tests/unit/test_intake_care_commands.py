"""Intake's record and care use cases on an in-memory unit of work
(rescue_chassis.testing): photos, belongings, health checks, outsourced care,
the settlement procedure, incidents and the long-stay sweep."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from intake import sweeps
from intake.care_rules import MAX_PHOTO_BASE64, PhotoTooLarge
from intake.commands.care import (
    EndOutsourcedCare,
    MonitoringVisit,
    OutsourcedCareEnd,
    OutsourcedCareStart,
    RecordVisit,
    StartOutsourcedCare,
    end_outsourced_care,
    record_visit,
    start_outsourced_care,
)
from intake.commands.incidents import (
    KEPT_FOR_THE_FAMILY,
    IncidentReport,
    ReportIncident,
    report_incident,
)
from intake.commands.record import (
    AddPhoto,
    BelongingsInventory,
    HealthCheckRequest,
    PhotoUpload,
    RecordBelongings,
    RecordHealthCheck,
    add_photo,
    record_belongings,
    record_health_check,
)
from intake.commands.settlement import (
    RecordSettlementStep,
    SettlementStepRequest,
    record_settlement_step,
)
from intake.tables import Incident, Person, Stay
from intake.tables.record import (
    Belonging,
    OutsourcedCare,
    OutsourcedCareVisit,
    PersonPhoto,
    SettlementStepRecord,
)
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Forbidden, NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import (
    IncidentKind,
    IncidentReportedV1,
    LongStayReachedV1,
    PersonDischargedV1,
)
from rescue_events.contracts.intake_care import (
    BelongingsRecordedV1,
    HealthCheckRecordedV1,
    OutsourcedCareEndedV1,
    OutsourcedCareStartedV1,
    OutsourcedCareVisitedV1,
    PhotoAddedV1,
    SettlementStep,
    SettlementStepRecordedV1,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ARRIVED = NOW - timedelta(days=10)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def worker(station_id: str = "gushi") -> Principal:
    return Principal(subject="w1", station_id=station_id, roles=frozenset({"station_staff"}))


def admitted(station_id: str = "gushi", **stay_fields) -> tuple[Person, Stay]:
    person_id, stay_id = uuid.uuid4(), uuid.uuid4()
    person = Person(
        id=person_id,
        station_id=station_id,
        status="in_station",
        current_stay_id=stay_id,
        identity_status="unknown",
        sex="male",
        stated_names=[],
        stated_places=[],
        categories=[],
    )
    stay = Stay(
        id=stay_id,
        person_id=person_id,
        sequence=1,
        station_id=station_id,
        arrival_route="own_request",
        arrived_at=ARRIVED,
        admitted_at=ARRIVED,
        admitted_by="w0",
        **stay_fields,
    )
    return person, stay


def fake(*rows, actor: Principal | None = None) -> FakeUnitOfWork:
    return FakeUnitOfWork(actor=actor or worker(), rows=rows, now=NOW)


def placement(person: Person, stay: Stay, started_at: datetime = ARRIVED) -> OutsourcedCare:
    return OutsourcedCare(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id=stay.station_id,
        institution="固始县社会福利院",
        address="固始县城关镇福利路8号",
        reason="站内无护理条件",
        started_at=started_at,
        started_by="w0",
    )


# ---- photos, belongings, health checks ---------------------------------------------


async def test_a_photo_is_kept_with_its_digest_and_published_as_metadata_only():
    person, stay = admitted()
    uow = fake(person, stay)
    # not a face: only a face photo is also shared with search (test_photo_sharing.py)
    upload = PhotoUpload(kind="full_body", image=base64.b64encode(PNG).decode(), taken_at=NOW)

    view = await add_photo(AddPhoto(person_id=person.id, upload=upload), uow)

    (photo,) = uow.all(PersonPhoto)
    assert (photo.image, photo.content_type, photo.stay_id) == (PNG, "image/png", stay.id)
    assert view.sha256 == hashlib.sha256(PNG).hexdigest()
    assert view.url == f"/persons/{person.id}/photos/{photo.id}"
    (event,) = uow.events
    assert isinstance(event, PhotoAddedV1)
    assert (event.photo_id, event.sha256, event.size_bytes) == (photo.id, view.sha256, len(PNG))
    assert "image" not in type(event).model_fields


async def test_a_photo_that_is_no_image_is_refused_before_the_person_is_looked_up():
    text = base64.b64encode(b"not a photo").decode()
    upload = PhotoUpload(kind="face", image=text, taken_at=NOW)

    with pytest.raises(Refused) as refused:  # not a 404, though there is no such person
        await add_photo(AddPhoto(person_id=uuid.uuid4(), upload=upload), fake())
    assert refused.value.field == "image"


async def test_a_photo_over_the_limit_is_answered_413():
    upload = PhotoUpload(kind="face", image="A" * (MAX_PHOTO_BASE64 + 4), taken_at=NOW)

    with pytest.raises(PhotoTooLarge) as too_large:
        await add_photo(AddPhoto(person_id=uuid.uuid4(), upload=upload), fake())
    assert too_large.value.status == 413


async def test_another_stations_person_gets_no_photo():
    person, stay = admitted("gushi")
    uow = fake(person, stay, actor=worker("xixian"))
    upload = PhotoUpload(kind="face", image=base64.b64encode(PNG).decode(), taken_at=NOW)

    with pytest.raises(NotFound):
        await add_photo(AddPhoto(person_id=person.id, upload=upload), uow)
    assert uow.all(PersonPhoto) == [] and uow.events == []


async def test_belongings_are_recorded_for_the_open_stay_and_counted_in_the_event():
    person, stay = admitted()
    uow = fake(person, stay)
    inventory = BelongingsInventory(items=[{"description": "黑色双肩包"}, {"description": "手机"}])

    views = await record_belongings(RecordBelongings(person_id=person.id, inventory=inventory), uow)

    assert [v.description for v in views] == ["黑色双肩包", "手机"]
    assert {b.stay_id for b in uow.all(Belonging)} == {stay.id}
    assert all(b.received_at == NOW and b.returned_at is None for b in uow.all(Belonging))
    (event,) = uow.events
    assert isinstance(event, BelongingsRecordedV1) and event.items == 2


async def test_belongings_received_before_the_arrival_are_refused():
    person, stay = admitted()
    inventory = BelongingsInventory(
        received_at=ARRIVED - timedelta(hours=1), items=[{"description": "手机"}]
    )

    with pytest.raises(Refused) as refused:
        await record_belongings(
            RecordBelongings(person_id=person.id, inventory=inventory), fake(person, stay)
        )
    assert refused.value.field == "received_at"


async def test_belongings_after_the_stay_ended_are_a_conflict():
    person, stay = admitted(discharged_at=NOW - timedelta(days=1))
    uow = fake(person, stay)
    inventory = BelongingsInventory(items=[{"description": "手机"}])

    with pytest.raises(Conflict) as conflict:
        await record_belongings(RecordBelongings(person_id=person.id, inventory=inventory), uow)
    assert conflict.value.title == "Not in a station"
    assert uow.all(Belonging) == []


async def test_a_blood_pressure_with_the_diastolic_above_the_systolic_is_refused():
    person, stay = admitted()
    check = HealthCheckRequest(
        checked_by="站医", infectious_screening="negative", systolic_mmhg=80, diastolic_mmhg=90
    )

    with pytest.raises(Refused) as refused:
        await record_health_check(
            RecordHealthCheck(person_id=person.id, check=check), fake(person, stay)
        )
    assert refused.value.field == "diastolic_mmhg"


async def test_a_health_check_says_in_its_event_whether_injuries_were_found():
    person, stay = admitted()
    uow = fake(person, stay)
    check = HealthCheckRequest(
        checked_by="站医", infectious_screening="not_done", injuries="左小腿擦伤"
    )

    view = await record_health_check(RecordHealthCheck(person_id=person.id, check=check), uow)

    assert (view.stay_id, view.checked_at, view.injuries) == (stay.id, NOW, "左小腿擦伤")
    (event,) = uow.events
    assert isinstance(event, HealthCheckRecordedV1) and event.injuries_found is True


# ---- outsourced care -------------------------------------------------------------


def start_request(**fields) -> OutsourcedCareStart:
    return OutsourcedCareStart(
        institution="固始县社会福利院", address="城关镇福利路8号", reason="需要长期护理", **fields
    )


async def test_placing_a_person_in_station_opens_the_placement_and_says_so():
    person, stay = admitted()
    uow = fake(person, stay)

    view = await start_outsourced_care(
        StartOutsourcedCare(person_id=person.id, start=start_request()), uow
    )

    (care,) = uow.all(OutsourcedCare)
    assert (view.id, view.started_at, view.overdue, view.ended_at) == (care.id, NOW, False, None)
    (event,) = uow.events
    assert isinstance(event, OutsourcedCareStartedV1)
    assert (event.care_id, event.stay_id, event.institution) == (
        care.id,
        stay.id,
        "固始县社会福利院",
    )


async def test_a_second_placement_is_a_conflict():
    person, stay = admitted()
    uow = fake(person, stay, placement(person, stay))

    with pytest.raises(Conflict) as conflict:
        await start_outsourced_care(
            StartOutsourcedCare(person_id=person.id, start=start_request()), uow
        )
    assert conflict.value.title == "Already in outsourced care"
    assert len(uow.all(OutsourcedCare)) == 1 and uow.events == []


async def test_a_visit_entered_late_does_not_replace_the_current_health_status():
    person, stay = admitted()
    care = placement(person, stay)
    care.last_visited_at, care.health_status = NOW - timedelta(days=1), "饮食正常"
    uow = fake(person, stay, care)
    earlier = MonitoringVisit(
        visited_at=NOW - timedelta(days=5), visited_by="李明", health_status="发烧"
    )

    view = await record_visit(RecordVisit(person_id=person.id, visit=earlier), uow)

    assert (care.health_status, care.last_visited_at) == ("饮食正常", NOW - timedelta(days=1))
    assert [v.health_status for v in view.visits] == ["发烧"]
    (event,) = uow.events
    assert isinstance(event, OutsourcedCareVisitedV1) and event.health_status == "发烧"


async def test_visits_keep_the_latest_health_status_and_are_answered_latest_first():
    person, stay = admitted()
    care = placement(person, stay)
    uow = fake(person, stay, care)
    for days, status in ((3, "稳定"), (1, "好转")):
        visit = MonitoringVisit(
            visited_at=NOW - timedelta(days=days), visited_by="李明", health_status=status
        )
        view = await record_visit(RecordVisit(person_id=person.id, visit=visit), uow)

    assert care.health_status == "好转" and view.days_since_last_visit == 1
    assert [v.health_status for v in view.visits] == ["好转", "稳定"]
    assert len(uow.all(OutsourcedCareVisit)) == 2


async def test_a_visit_without_a_placement_is_a_conflict():
    person, stay = admitted()
    visit = MonitoringVisit(visited_at=NOW, visited_by="李明", health_status="稳定")

    with pytest.raises(Conflict) as conflict:
        await record_visit(RecordVisit(person_id=person.id, visit=visit), fake(person, stay))
    assert conflict.value.title == "Not in outsourced care"


async def test_a_visit_before_the_placement_started_is_refused():
    person, stay = admitted()
    care = placement(person, stay, started_at=NOW - timedelta(days=2))
    visit = MonitoringVisit(
        visited_at=NOW - timedelta(days=3), visited_by="李明", health_status="稳定"
    )

    with pytest.raises(Refused) as refused:
        await record_visit(RecordVisit(person_id=person.id, visit=visit), fake(person, stay, care))
    assert refused.value.field == "visited_at"


async def test_back_in_station_ends_the_placement_and_keeps_the_stay():
    person, stay = admitted()
    care = placement(person, stay)
    uow = fake(person, stay, care)
    end = OutsourcedCareEnd(outcome="back_in_station", note="病情好转")

    view = await end_outsourced_care(EndOutsourcedCare(person_id=person.id, end=end), uow)

    assert (view.ended_at, view.outcome, view.end_note) == (NOW, "back_in_station", "病情好转")
    assert stay.discharged_at is None and person.status == "in_station"
    (event,) = uow.events
    assert isinstance(event, OutsourcedCareEndedV1) and event.outcome == "back_in_station"


async def test_a_discharge_from_outsourced_care_needs_the_discharge():
    person, stay = admitted()
    uow = fake(person, stay, placement(person, stay))
    end = OutsourcedCareEnd(outcome="discharged")

    with pytest.raises(Refused) as refused:
        await end_outsourced_care(EndOutsourcedCare(person_id=person.id, end=end), uow)
    assert refused.value.field == "discharge"


async def test_only_the_caring_station_discharges_from_outsourced_care():
    person, stay = admitted("gushi")
    care = placement(person, stay)
    uow = fake(person, stay, care, actor=worker("center"))  # sees it, may not discharge
    end = OutsourcedCareEnd(outcome="discharged", discharge={"reason": "returned_home"})

    with pytest.raises(Forbidden):
        await end_outsourced_care(EndOutsourcedCare(person_id=person.id, end=end), uow)
    assert stay.discharged_at is None and uow.events == []


async def test_a_discharge_from_outsourced_care_ends_the_stay_when_the_placement_ends():
    person, stay = admitted("gushi")
    care = placement(person, stay)
    uow = fake(person, stay, care)
    ended_at = NOW - timedelta(hours=2)
    end = OutsourcedCareEnd(
        outcome="discharged", ended_at=ended_at, discharge={"reason": "returned_home"}
    )

    view = await end_outsourced_care(EndOutsourcedCare(person_id=person.id, end=end), uow)

    assert (view.outcome, view.ended_at) == ("discharged", ended_at)
    assert (stay.discharged_at, stay.discharge_reason) == (ended_at, "returned_home")
    assert [type(e) for e in uow.events] == [OutsourcedCareEndedV1, PersonDischargedV1]


# ---- the settlement procedure ----------------------------------------------------


def steps_done(person: Person, stay: Stay, count: int) -> list[SettlementStepRecord]:
    return [
        SettlementStepRecord(
            id=uuid.uuid4(),
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            step=step.value,
            number=number,
            done_on=date(2026, 11, number),
            done_by="固始县民政局",
            recorded_by="w0",
            recorded_at=NOW,
        )
        for number, step in enumerate(list(SettlementStep)[:count], start=1)
    ]


def step(step: SettlementStep, on: date) -> SettlementStepRequest:
    return SettlementStepRequest(step=step, date=on, by="固始县民政局")


async def test_a_settlement_step_before_the_long_stay_is_a_conflict():
    person, stay = admitted()
    uow = fake(person, stay)
    first = step(SettlementStep.REGISTRATION_APPLIED, date(2026, 12, 1))

    with pytest.raises(Conflict) as conflict:
        await record_settlement_step(RecordSettlementStep(person_id=person.id, step=first), uow)
    assert conflict.value.title == "Not a long stay"
    assert uow.all(SettlementStepRecord) == []


async def test_the_last_settlement_step_completes_the_procedure_and_says_so():
    person, stay = admitted(long_stay_reached_at=ARRIVED)
    uow = fake(person, stay, *steps_done(person, stay, 4))
    last = step(SettlementStep.PLACED_IN_INSTITUTION, date(2026, 12, 1))

    view = await record_settlement_step(RecordSettlementStep(person_id=person.id, step=last), uow)

    assert (view.complete, view.next_step, len(view.steps)) == (True, None, 5)
    (event,) = uow.events
    assert isinstance(event, SettlementStepRecordedV1)
    assert (event.number, event.complete) == (5, True)


# ---- incidents ---------------------------------------------------------------------


async def test_a_person_gone_missing_is_marked_missing_and_the_incident_goes_out():
    person, stay = admitted()
    uow = fake(person, stay)
    report = IncidentReport(kind="missing", occurred_at=NOW, description="夜间查房不在床位")

    view = await report_incident(ReportIncident(person_id=person.id, report=report), uow)

    assert person.status == "missing" and view.status == "missing"
    assert [i.kind for i in view.incidents] == ["missing"]
    (event,) = uow.events
    assert isinstance(event, IncidentReportedV1)
    assert (event.kind, event.stay_id) == (IncidentKind.MISSING, stay.id)


async def test_a_death_ends_the_stay_its_placement_and_keeps_the_belongings():
    person, stay = admitted()
    care = placement(person, stay)
    bag = Belonging(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id=stay.station_id,
        description="黑色双肩包",
        quantity=1,
        received_at=ARRIVED,
        recorded_by="w0",
        recorded_at=ARRIVED,
    )
    uow = fake(person, stay, care, bag)
    died_at = NOW - timedelta(hours=3)
    report = IncidentReport(kind="death", occurred_at=died_at, description="夜间突发心梗")

    view = await report_incident(ReportIncident(person_id=person.id, report=report), uow)

    assert (view.status, stay.discharged_at, stay.discharge_reason) == (
        "discharged",
        died_at,
        "died",
    )
    assert (care.ended_at, care.outcome) == (died_at, "discharged")
    assert bag.returned_at is None and bag.return_note == KEPT_FOR_THE_FAMILY
    assert [type(e) for e in uow.events] == [
        IncidentReportedV1,
        OutsourcedCareEndedV1,
        PersonDischargedV1,
    ]


async def test_an_incident_in_the_future_is_refused():
    person, stay = admitted()
    uow = fake(person, stay)
    report = IncidentReport(
        kind="injury", occurred_at=NOW + timedelta(minutes=1), description="摔伤"
    )

    with pytest.raises(Refused) as refused:
        await report_incident(ReportIncident(person_id=person.id, report=report), uow)
    assert refused.value.field == "occurred_at"
    assert uow.all(Incident) == []


# ---- the long-stay sweep -------------------------------------------------------------


async def test_the_long_stay_sweep_marks_each_candidate_and_says_so(monkeypatch):
    first, second = admitted(), admitted("xixian")
    uow = FakeUnitOfWork(rows=[*first, *second], now=NOW)  # a sweep has no caller

    async def candidates(uow):
        return [(first[1], first[0]), (second[1], second[0])]

    monkeypatch.setattr(sweeps, "long_stay_candidates", candidates)

    assert await sweeps.mark_long_stays(uow) == 2
    assert first[1].long_stay_reached_at == NOW == second[1].long_stay_reached_at
    assert all(isinstance(e, LongStayReachedV1) for e in uow.events)
    assert [(e.stay_id, e.station_id) for e in uow.events] == [
        (first[1].id, "gushi"),
        (second[1].id, "xixian"),
    ]
