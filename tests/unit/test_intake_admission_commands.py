"""Intake's admissions on an in-memory unit of work (rescue_chassis.testing):
admit, come back, discharge, leads, hospital placements, refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from intake.commands.admission import (
    AdmitPerson,
    ReadmitPerson,
    RecordConfirmedIdentity,
    admit_person,
    readmit_person,
    record_confirmed_identity,
)
from intake.commands.hospital import (
    DischargeFromHospital,
    RecordScreening,
    discharge_from_hospital,
    record_screening,
)
from intake.commands.leads import (
    CloseLead,
    ReceiveLead,
    TriageLead,
    close_lead,
    receive_lead,
    triage_lead,
)
from intake.commands.refusals import RecordRefusal, record_refusal
from intake.commands.stays import DischargePerson, discharge_person
from intake.domain import OutOfOrder
from intake.tables import HospitalPlacement, HospitalScreening, Lead, Person, Stay, StaySource
from intake.tables.record import Belonging, OutsourcedCare
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Forbidden, NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import PersonAdmittedV1, PersonDischargedV1
from rescue_events.contracts.intake_arrivals import HospitalPlacementEndedV1, LeadClosedV1
from rescue_events.contracts.intake_care import BelongingsReturnedV1, OutsourcedCareEndedV1

NOW = datetime.now(UTC).replace(microsecond=0)
PATROL = {
    "escorting_unit": "固始县城市管理局",
    "officer": "刘队长",
    "reference_number": "CG-2026-0042",
    "found_place": "固始县人民广场",
    "found_at": NOW - timedelta(hours=2),
}


def worker(station_id: str, subject: str = "w1") -> Principal:
    return Principal(subject=subject, station_id=station_id, roles=frozenset({"station_staff"}))


def person_in(station_id: str, *, discharged: bool = False) -> tuple[Person, Stay]:
    person_id = uuid.uuid4()
    stay = Stay(
        id=uuid.uuid4(),
        person_id=person_id,
        sequence=1,
        station_id=station_id,
        arrival_route="own_request",
        arrived_at=NOW - timedelta(days=3),
        admitted_at=NOW - timedelta(days=3),
        admitted_by="w0",
        discharged_at=NOW - timedelta(days=1) if discharged else None,
        discharge_reason="left" if discharged else None,
    )
    person = Person(
        id=person_id,
        station_id=station_id,
        status="discharged" if discharged else "in_station",
        current_stay_id=stay.id,
        identity_status="unknown",
        sex="male",
        stated_names=[],
        stated_places=[],
        categories=[],
    )
    return person, stay


def admission(**fields) -> AdmitPerson:
    return AdmitPerson(**{"arrival_route": "own_request", "sex": "male", **fields})


# ---- admit ---------------------------------------------------------------------------


async def test_an_admission_admits_to_the_callers_station_and_publishes_person_admitted():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)

    view = await admit_person(admission(estimated_age=61, full_name="王建国"), uow)

    [person] = uow.all(Person)
    [stay] = uow.all(Stay)
    assert (view.id, view.station_id, view.status) == (person.id, "gushi", "in_station")
    assert (stay.sequence, stay.admitted_by, person.current_stay_id) == (1, "w1", stay.id)
    # a name given at intake is a claim: only search's confirmation confirms (issue 25)
    assert (view.identity_status, view.full_name, view.claimed_name) == ("unknown", None, "王建国")
    assert person.identity_confirmed_at is None
    [event] = uow.events
    assert isinstance(event, PersonAdmittedV1)
    assert (event.person_id, event.stay_id, event.stay_sequence, event.station_id) == (
        person.id,
        stay.id,
        1,
        "gushi",
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"arrival_route": "street_patrol", "estimated_age": 45}, "handover"),
        ({"arrival_route": "street_patrol", "handover": PATROL}, "consent_given"),
        ({"arrival_route": "hotline_tip"}, "arrival_route"),
        ({"suspected_conditions": ["intoxication"]}, "suspected_conditions"),
        ({"arrival_route": "station_transfer"}, "source"),
        ({"arrived_at": NOW}, "arrived_at"),  # ahead of the use case's clock
    ],
)
async def test_an_admission_breaking_a_rule_is_refused_naming_the_field_and_writes_nothing(
    fields, field
):
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW - timedelta(minutes=10))

    with pytest.raises(Refused) as refused:
        await admit_person(admission(**fields), uow)

    assert refused.value.field == field
    assert (uow.all(Person), uow.events) == ([], [])


async def test_a_street_patrol_escort_of_a_person_with_dementia_needs_no_consent():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)

    view = await admit_person(
        admission(arrival_route="street_patrol", handover=PATROL, categories=["dementia"]), uow
    )

    assert view.stays[0].handover["reference_number"] == "CG-2026-0042"


async def test_only_an_admission_without_a_source_takes_the_single_statement_lane():
    source = {"station_name": "合肥市救助管理站", "transfer_reference": "HF-ZY-2026-031"}
    transfer = admission(arrival_route="station_transfer", source=source)
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)

    await admit_person(transfer, uow)

    assert admit_person.single_statement(admission()) is True
    assert admit_person.single_statement(transfer) is False
    [kept] = uow.all(StaySource)
    assert (kept.kind, kept.station_name, kept.stay_id) == (
        "station",
        "合肥市救助管理站",
        uow.all(Stay)[0].id,
    )


# ---- come back -----------------------------------------------------------------------


async def test_a_person_still_in_a_station_is_a_conflict_naming_it_only_to_who_sees_them():
    person, stay = person_in("gushi")
    for actor, where in ((worker("center"), "at gushi"), (worker("xixian"), "another station")):
        uow = FakeUnitOfWork(actor=actor, rows=[person, stay], now=NOW)
        with pytest.raises(Conflict) as conflict:
            await readmit_person(
                ReadmitPerson(person_id=person.id, arrival_route="own_request"), uow
            )
        assert where in conflict.value.detail
        assert uow.events == []


async def test_readmitting_nobody_is_not_found():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)
    with pytest.raises(NotFound):
        await readmit_person(
            ReadmitPerson(person_id=uuid.uuid4(), arrival_route="own_request"), uow
        )


async def test_a_discharged_person_back_elsewhere_starts_a_second_stay_there():
    person, first = person_in("gushi", discharged=True)
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[person, first], now=NOW)

    view = await readmit_person(
        ReadmitPerson(person_id=person.id, arrival_route="own_request", categories=["elderly"]),
        uow,
    )

    assert (view.station_id, view.status, view.categories) == ("xixian", "in_station", ["elderly"])
    assert [(s.sequence, s.station_id) for s in view.stays] == [(1, "gushi"), (2, "xixian")]
    [event] = uow.events
    assert (event.stay_sequence, event.station_id) == (2, "xixian")


# ---- discharge -----------------------------------------------------------------------


async def test_another_stations_person_is_not_found_and_the_center_does_not_discharge():
    person, stay = person_in("gushi")
    with pytest.raises(NotFound):
        await discharge_person(
            DischargePerson(person_id=person.id, reason="left"),
            FakeUnitOfWork(actor=worker("xixian"), rows=[person, stay]),
        )
    with pytest.raises(Forbidden):
        await discharge_person(
            DischargePerson(person_id=person.id, reason="left"),
            FakeUnitOfWork(actor=worker("center"), rows=[person, stay]),
        )
    assert (person.status, stay.discharged_at) == ("in_station", None)


async def test_an_ended_stay_is_not_discharged_twice():
    person, stay = person_in("gushi", discharged=True)
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[person, stay], now=NOW)
    with pytest.raises(Conflict):
        await discharge_person(DischargePerson(person_id=person.id, reason="left"), uow)


async def test_a_transfer_says_where_the_person_went():
    person, stay = person_in("gushi")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[person, stay], now=NOW)
    with pytest.raises(Refused) as refused:
        await discharge_person(DischargePerson(person_id=person.id, reason="transferred"), uow)
    assert refused.value.field == "transferred_to"
    assert uow.events == []


async def test_a_discharge_returns_the_belongings_and_ends_outsourced_care_with_the_stay():
    person, stay = person_in("gushi")
    coat = Belonging(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id="gushi",
        description="棉袄",
        quantity=1,
        received_at=stay.arrived_at,
        recorded_by="w0",
        recorded_at=stay.arrived_at,
    )
    care = OutsourcedCare(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id="gushi",
        institution="固始县社会福利院",
        address="固始县城关镇福利路8号",
        reason="需长期护理",
        started_at=NOW - timedelta(days=2),
        started_by="w0",
    )
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[person, stay, coat, care], now=NOW)

    view = await discharge_person(
        DischargePerson(person_id=person.id, reason="returned_home", belongings_returned=True),
        uow,
    )

    assert (view.status, view.stays[0].discharge_reason) == ("discharged", "returned_home")
    assert (coat.returned_at, coat.returned_by) == (NOW, "w1")
    assert (care.ended_at, care.outcome) == (NOW, "discharged")
    assert [type(e) for e in uow.events] == [
        OutsourcedCareEndedV1,
        BelongingsReturnedV1,
        PersonDischargedV1,
    ]
    assert uow.events[1].items == 1


async def test_belongings_not_returned_need_a_note_saying_why():
    person, stay = person_in("gushi")
    coat = Belonging(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id="gushi",
        description="棉袄",
        quantity=1,
        received_at=stay.arrived_at,
        recorded_by="w0",
        recorded_at=stay.arrived_at,
    )
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[person, stay, coat], now=NOW)
    with pytest.raises(Refused):
        await discharge_person(DischargePerson(person_id=person.id, reason="left"), uow)
    assert person.status == "in_station"


# ---- leads ---------------------------------------------------------------------------


def lead_at(station_id: str, status: str = "assigned", priority: str | None = "urgent") -> Lead:
    return Lead(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=station_id,
        status=status,
        reported="桥洞下有人过夜",
        place="固始县史河大桥",
        received_at=NOW - timedelta(hours=3),
        received_by="w0",
        priority=priority,
    )


async def test_only_the_center_hands_a_lead_to_another_station():
    report = {"reported": "桥洞下有人过夜", "place": "固始县史河大桥", "station_id": "gushi"}
    with pytest.raises(Forbidden):
        await receive_lead(ReceiveLead(**report), FakeUnitOfWork(actor=worker("xixian")))
    with pytest.raises(Refused) as refused:
        await receive_lead(
            ReceiveLead(**{**report, "station_id": "nowhere"}),
            FakeUnitOfWork(actor=worker("center")),
        )
    assert refused.value.field == "station_id"

    uow = FakeUnitOfWork(actor=worker("center"), now=NOW)
    view = await receive_lead(ReceiveLead(**report), uow)
    assert (view.station_id, view.status) == ("gushi", "received")
    assert uow.events[0].person_id == view.person_id


async def test_a_lead_step_out_of_order_is_a_conflict():
    lead = lead_at("gushi", status="assigned")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[lead], now=NOW)
    with pytest.raises(OutOfOrder) as conflict:
        await triage_lead(TriageLead(lead_id=lead.id, priority="urgent"), uow)
    assert (conflict.value.status, conflict.value.title) == (409, "Out of order")


async def test_a_closure_admitting_the_person_admits_them_under_the_leads_id():
    lead = lead_at("gushi")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[lead], now=NOW)

    view = await close_lead(
        CloseLead(lead_id=lead.id, outcome="admitted", admission={"sex": "female"}), uow
    )

    [person] = uow.all(Person)
    [stay] = uow.all(Stay)
    assert (person.id, person.station_id, stay.arrival_route) == (
        lead.person_id,
        "gushi",
        "hotline_tip",
    )
    assert (view.status, view.stay_id) == ("closed", stay.id)
    closed, admitted = uow.events
    assert isinstance(closed, LeadClosedV1) and isinstance(admitted, PersonAdmittedV1)
    assert (closed.admitted_person_id, closed.stay_id) == (person.id, stay.id)


async def test_a_refused_admission_in_a_closure_names_the_field_inside_the_admission():
    lead = lead_at("gushi")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[lead], now=NOW)
    closure = CloseLead(
        lead_id=lead.id,
        outcome="admitted",
        admission={"sex": "male", "suspected_conditions": ["intoxication"]},
    )

    with pytest.raises(Refused) as refused:
        await close_lead(closure, uow)

    assert refused.value.field == "admission.suspected_conditions"
    assert refused.value.detail.startswith("admission.suspected_conditions: ")
    assert uow.all(Person) == []


# ---- hospital placements -------------------------------------------------------------


def placement_of(station_id: str, status: str = "open") -> HospitalPlacement:
    return HospitalPlacement(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=station_id,
        status=status,
        hospital="信阳市第五人民医院",
        conditions=["intoxication"],
        placed_at=NOW - timedelta(days=5),
        sex="male",
        stated_names=["小军"],
        stated_places=["安徽省"],
        categories=[],
        placed_by="w0",
        recorded_at=NOW - timedelta(days=5),
        discharged_at=NOW - timedelta(days=1) if status == "ended" else None,
    )


def screening_of(placement: HospitalPlacement, days_ago: int, name: str | None, place: str):
    at = NOW - timedelta(days=days_ago)
    return HospitalScreening(
        id=uuid.uuid4(),
        placement_id=placement.id,
        screened_at=at,
        notes="甄别",
        full_name=name,
        stated_places=[place],
        screened_by="w0",
        recorded_at=at,
    )


async def test_a_hospital_discharge_admits_the_person_with_the_latest_name_screened():
    placement = placement_of("gushi")
    rows = [
        placement,
        screening_of(placement, 3, "刘小兵", "安徽省"),
        screening_of(placement, 2, "刘小军", "安徽省阜阳市颍上县"),
    ]
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=rows, now=NOW)

    view = await discharge_from_hospital(DischargeFromHospital(placement_id=placement.id), uow)

    # the name screened is a claim (issue 25): the identity stays unknown
    assert (view.id, view.arrival_route, view.claimed_name, view.identity_status) == (
        placement.person_id,
        "hospital_transfer",
        "刘小军",
        "unknown",
    )
    assert view.stated_places == ["安徽省", "安徽省阜阳市颍上县"]
    [source] = uow.all(StaySource)
    assert (source.kind, source.placement_id, source.discharge_reference) == (
        "hospital",
        placement.id,
        str(placement.id),
    )
    assert (placement.status, placement.stay_id) == ("ended", view.stays[0].id)
    assert [type(e) for e in uow.events] == [HospitalPlacementEndedV1, PersonAdmittedV1]


async def test_an_ended_placement_takes_no_screening_and_another_stations_is_not_found():
    ended = placement_of("gushi", status="ended")
    with pytest.raises(Conflict):
        await record_screening(
            RecordScreening(placement_id=ended.id, notes="x"),
            FakeUnitOfWork(actor=worker("gushi"), rows=[ended]),
        )
    elsewhere = placement_of("gushi")
    with pytest.raises(NotFound):
        await discharge_from_hospital(
            DischargeFromHospital(placement_id=elsewhere.id),
            FakeUnitOfWork(actor=worker("xixian"), rows=[elsewhere]),
        )
    assert elsewhere.status == "open"


async def test_a_screening_before_the_placement_is_refused():
    placement = placement_of("gushi")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[placement], now=NOW)
    with pytest.raises(Refused) as refused:
        await record_screening(
            RecordScreening(
                placement_id=placement.id, notes="x", screened_at=NOW - timedelta(days=6)
            ),
            uow,
        )
    assert refused.value.field == "screened_at"


# ---- refusals and identities ---------------------------------------------------------


async def test_a_refusal_of_help_is_recorded_at_the_callers_station_without_a_person():
    uow = FakeUnitOfWork(actor=worker("gushi", subject="night"), now=NOW)
    view = await record_refusal(
        RecordRefusal(
            found_place="固始县汽车站",
            description="男，约50岁",
            advice_given="告知求助热线",
            recorded_by="王晓红",
        ),
        uow,
    )
    assert (view.station_id, view.found_at) == ("gushi", NOW)
    assert uow.all(Person) == []
    assert uow.events[0].refusal_id == view.id


async def test_a_confirmed_identity_goes_onto_the_record_and_an_unknown_person_is_ignored():
    person, stay = person_in("gushi")
    uow = FakeUnitOfWork(rows=[person, stay])
    await record_confirmed_identity(
        RecordConfirmedIdentity(person_id=person.id, full_name="王建国", confirmed_at=NOW), uow
    )
    await record_confirmed_identity(
        RecordConfirmedIdentity(person_id=uuid.uuid4(), full_name="李四", confirmed_at=NOW), uow
    )
    assert (person.identity_status, person.full_name, person.identity_confirmed_at) == (
        "confirmed",
        "王建国",
        NOW,
    )
    assert uow.all(Person) == [person]
