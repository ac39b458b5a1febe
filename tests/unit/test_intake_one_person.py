"""One person across stations and endings, in intake (issue 25): an in-network
transfer is a new stay of the same person, the handover at home ends the stay,
minors derive from a known age, and a name given at intake is only a claim."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from intake.commands.admission import (
    AdmitPerson,
    ReadmitPerson,
    RecordConfirmedIdentity,
    admit_person,
    readmit_person,
    record_confirmed_identity,
)
from intake.commands.stays import (
    HANDOVER,
    DischargeOnHandover,
    DischargePerson,
    discharge_on_handover,
    discharge_person,
)
from intake.domain import age_on, categories_by_age, minor_by_age
from intake.tables import Person, Stay, StaySource
from intake.tables.record import Belonging
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import PersonAdmittedV1, PersonCategory, PersonDischargedV1

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in the stations' calendar
TODAY = date(2026, 12, 7)
PATROL = {
    "escorting_unit": "固始县城市管理局",
    "officer": "刘队长",
    "reference_number": "CG-2026-0042",
    "found_place": "固始县人民广场",
    "found_at": NOW - timedelta(hours=2),
}
MINOR = PersonCategory.MINOR


def worker(station_id: str) -> Principal:
    return Principal(subject="w1", station_id=station_id, roles=frozenset({"station_staff"}))


def admission(**fields) -> AdmitPerson:
    return AdmitPerson(**{"arrival_route": "own_request", "sex": "male", **fields})


def person_in(station_id: str, *, discharged: bool = False, **record) -> tuple[Person, Stay]:
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
        discharge_reason="transferred" if discharged else None,
    )
    person = Person(
        id=person_id,
        station_id=station_id,
        status="discharged" if discharged else "in_station",
        current_stay_id=stay.id,
        identity_status="unknown",
        sex="male",
        stated_names=["老王"],
        stated_places=[],
        categories=[],
        **record,
    )
    return person, stay


async def admitted(uow: FakeUnitOfWork, **fields) -> tuple[Person, PersonAdmittedV1]:
    await admit_person(admission(**fields), uow)
    [person] = uow.all(Person)
    [event] = uow.events
    return person, event


# ---- a transfer inside the network keeps the person --------------------------------


async def test_a_new_person_from_a_network_station_is_refused_toward_the_readmission():
    uow = FakeUnitOfWork(actor=worker("xixian"), now=NOW)
    transfer = admission(
        arrival_route="station_transfer",
        source={"station_id": "gushi", "transfer_reference": "GS-ZY-2026-007"},
    )

    with pytest.raises(Refused) as refused:
        await admit_person(transfer, uow)

    assert refused.value.field == "source.station_id"
    assert "POST /persons/{person_id}/stays" in refused.value.reason
    assert (uow.all(Person), uow.all(StaySource), uow.events) == ([], [], [])


async def test_a_station_outside_the_network_still_admits_a_new_person():
    uow = FakeUnitOfWork(actor=worker("xixian"), now=NOW)
    source = {"station_name": "合肥市救助管理站", "transfer_reference": "HF-ZY-2026-031"}

    view = await admit_person(admission(arrival_route="station_transfer", source=source), uow)

    assert view.stays[0].arrival_route == "station_transfer"


async def test_the_sending_station_discharges_as_transferred_naming_the_network_station():
    person, stay = person_in("gushi")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[person, stay], now=NOW)

    view = await discharge_person(
        DischargePerson(
            person_id=person.id, reason="transferred", transferred_to_station_id="xixian"
        ),
        uow,
    )

    assert (view.stays[0].transferred_to_station_id, view.stays[0].transferred_to) == (
        "xixian",
        "息县救助管理站",  # the network's name for it, as none was typed
    )
    [event] = uow.events
    assert isinstance(event, PersonDischargedV1)
    assert (event.reason, event.transferred_to_station_id) == ("transferred", "xixian")
    assert event.transferred_to == "息县救助管理站"


@pytest.mark.parametrize(
    ("reason", "station"),
    [
        ("transferred", "nowhere"),  # not a station of the network
        ("transferred", "gushi"),  # the discharging station itself
        ("left", "xixian"),  # only a transfer names a receiving station
    ],
)
async def test_a_receiving_station_is_a_station_of_the_network_on_a_transfer_only(reason, station):
    person, stay = person_in("gushi")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[person, stay], now=NOW)

    with pytest.raises(Refused) as refused:
        await discharge_person(
            DischargePerson(person_id=person.id, reason=reason, transferred_to_station_id=station),
            uow,
        )

    assert refused.value.field == "transferred_to_station_id"
    assert (stay.discharged_at, uow.events) == (None, [])


async def test_the_receiving_station_readmits_the_same_person_as_a_second_stay():
    person, first = person_in("gushi", discharged=True)
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[person, first], now=NOW)
    transfer = ReadmitPerson(
        person_id=person.id,
        arrival_route="station_transfer",
        source={"station_id": "gushi", "transfer_reference": "GS-ZY-2026-007"},
    )

    view = await readmit_person(transfer, uow)

    assert (view.id, view.station_id, view.status) == (person.id, "xixian", "in_station")
    assert [(s.sequence, s.station_id) for s in view.stays] == [(1, "gushi"), (2, "xixian")]
    [source] = uow.all(StaySource)
    assert (source.kind, source.station_id, source.stay_id) == (
        "station",
        "gushi",
        view.stays[1].id,
    )
    [event] = uow.events
    assert isinstance(event, PersonAdmittedV1)
    assert (event.person_id, event.stay_sequence, event.station_id) == (person.id, 2, "xixian")
    assert event.arrival_route == "station_transfer"


async def test_a_readmission_names_the_station_of_the_last_stay_as_its_sender():
    person, first = person_in("gushi", discharged=True)
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[person, first], now=NOW)
    elsewhere = ReadmitPerson(
        person_id=person.id,
        arrival_route="station_transfer",
        source={"station_id": "guangshan", "transfer_reference": "GS-1"},
    )

    with pytest.raises(Refused) as refused:
        await readmit_person(elsewhere, uow)

    assert refused.value.field == "source.station_id"
    assert (person.status, uow.all(Stay), uow.events) == ("discharged", [first], [])


# ---- the handover ends the stay -----------------------------------------------------


def handover(person: Person, **fields) -> DischargeOnHandover:
    return DischargeOnHandover(
        **{
            "person_id": person.id,
            "handed_over_at": NOW - timedelta(hours=1),
            "received_by": "王秀英",
            "relation": "wife",
            "home_admin_code": "511324",
            "home_province": "四川省",
            "home_address": "四川省南充市仪陇县某镇",
            **fields,
        }
    )


async def test_the_handover_discharges_the_open_stay_as_returned_home_once():
    person, stay = person_in("gushi", registered_home_admin_code="411525")
    uow = FakeUnitOfWork(rows=[person, stay], now=NOW)  # a consumer: no staff member

    await discharge_on_handover(handover(person), uow)
    await discharge_on_handover(handover(person), uow)  # delivered twice

    assert (stay.discharge_reason, stay.discharged_at, stay.discharged_by) == (
        "returned_home",
        NOW - timedelta(hours=1),
        HANDOVER,
    )
    assert "王秀英 (wife)" in stay.discharge_note
    assert person.status == "discharged"
    assert (
        person.registered_home_admin_code,
        person.registered_home_province,
        person.registered_home_address,
    ) == ("511324", "四川省", "四川省南充市仪陇县某镇")
    [event] = uow.events
    assert isinstance(event, PersonDischargedV1)
    assert (event.reason, event.stay_id, event.station_id) == ("returned_home", stay.id, "gushi")


async def test_a_stay_staff_ended_already_keeps_its_ending_but_the_home_is_learnt():
    person, stay = person_in("gushi", discharged=True)
    uow = FakeUnitOfWork(rows=[person, stay], now=NOW)

    await discharge_on_handover(handover(person, home_admin_code=None), uow)

    assert (stay.discharge_reason, uow.events) == ("transferred", [])
    assert (person.registered_home_admin_code, person.registered_home_province) == (None, "四川省")


async def test_the_handover_leaves_belongings_nobody_saw_returned_open_with_a_note():
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
    uow = FakeUnitOfWork(rows=[person, stay, coat], now=NOW)

    await discharge_on_handover(handover(person), uow)

    assert stay.discharge_reason == "returned_home"
    assert coat.returned_at is None and "handover" in coat.return_note
    assert [type(e) for e in uow.events] == [PersonDischargedV1]


async def test_a_handover_of_nobody_in_the_records_changes_nothing():
    stranger, _ = person_in("gushi")
    uow = FakeUnitOfWork(now=NOW)
    await discharge_on_handover(handover(stranger), uow)
    assert (uow.all(Person), uow.events) == ([], [])


# ---- minors derive from a known age -------------------------------------------------


def test_the_age_counts_full_years_and_a_birthday_on_its_day():
    assert age_on(date(2008, 12, 7), TODAY) == 18
    assert age_on(date(2008, 12, 8), TODAY) == 17
    assert minor_by_age(estimated_age=None, birth_date=date(2008, 12, 8), on=TODAY) is True
    assert minor_by_age(estimated_age=12, birth_date=date(1990, 1, 1), on=TODAY) is False
    assert minor_by_age(estimated_age=17, birth_date=None, on=TODAY) is True
    assert minor_by_age(estimated_age=None, birth_date=None, on=TODAY) is None


def test_without_a_known_age_the_tick_is_staffs_judgement():
    ticked = categories_by_age([MINOR], estimated_age=None, birth_date=None, on=TODAY)
    untouched = categories_by_age([], estimated_age=None, birth_date=None, on=TODAY)
    assert (ticked, untouched) == ([MINOR], [])


async def test_a_twelve_year_old_without_the_tick_is_escorted_without_consent_as_a_minor():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)

    person, event = await admitted(
        uow, arrival_route="street_patrol", handover=PATROL, estimated_age=12
    )

    assert person.categories == ["minor"]
    assert event.categories == [MINOR]  # referral and transfer get it


async def test_an_adult_by_estimate_without_the_tick_still_needs_consent():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)
    with pytest.raises(Refused) as refused:
        await admit_person(
            admission(arrival_route="street_patrol", handover=PATROL, estimated_age=19), uow
        )
    assert refused.value.field == "consent_given"


async def test_a_birth_date_outweighs_the_estimate():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)

    person, event = await admitted(
        uow, estimated_age=20, birth_date=date(2010, 5, 1), categories=["elderly"]
    )

    assert (person.birth_date, person.categories) == (date(2010, 5, 1), ["elderly", "minor"])
    assert MINOR in event.categories


@pytest.mark.parametrize(
    "age", [{"estimated_age": 30}, {"birth_date": "1990-01-01"}, {"birth_date": "2008-12-07"}]
)
async def test_a_minor_tick_on_a_known_adult_is_refused_on_categories(age):
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)
    with pytest.raises(Refused) as refused:
        await admit_person(admission(categories=["minor"], **age), uow)
    assert refused.value.field == "categories"
    assert (uow.all(Person), uow.events) == ([], [])


async def test_a_birth_date_after_the_arrival_is_refused():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)
    with pytest.raises(Refused) as refused:
        await admit_person(
            admission(arrived_at=NOW - timedelta(days=3), birth_date=TODAY - timedelta(days=1)),
            uow,
        )
    assert refused.value.field == "birth_date"


async def test_a_minor_of_an_earlier_stay_who_came_of_age_comes_back_an_adult():
    person, first = person_in("gushi", discharged=True, birth_date=date(2008, 12, 1))
    person.categories = ["minor", "disabled"]  # derived at the first stay, years ago
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[person, first], now=NOW)

    view = await readmit_person(
        ReadmitPerson(person_id=person.id, arrival_route="own_request"), uow
    )

    assert view.categories == ["disabled"]
    assert uow.events[0].categories == [PersonCategory.DISABLED]


async def test_a_readmitted_child_stays_a_minor_without_the_tick():
    person, first = person_in("gushi", discharged=True, estimated_age=9)
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[person, first], now=NOW)

    view = await readmit_person(
        ReadmitPerson(
            person_id=person.id, arrival_route="street_patrol", handover=PATROL, categories=[]
        ),
        uow,
    )

    assert view.categories == ["minor"]


# ---- a name given at intake is a claim ----------------------------------------------


async def test_a_name_given_at_intake_is_a_claim_and_search_still_opens_a_case():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)

    person, event = await admitted(uow, full_name="王建国", stated_names=["老王", "王建国"])

    assert (person.identity_status, person.full_name, person.claimed_name) == (
        "unknown",
        None,
        "王建国",
    )
    assert person.identity_confirmed_at is None
    assert person.stated_names == ["王建国", "老王"]  # searched as the person's words
    assert (event.identity_status, event.full_name) == ("unknown", None)
    assert "王建国" in event.stated_names


async def test_only_searchs_confirmation_confirms_and_brings_the_registered_home():
    person, stay = person_in("gushi", claimed_name="王建国")
    uow = FakeUnitOfWork(rows=[person, stay], now=NOW)

    await record_confirmed_identity(
        RecordConfirmedIdentity(
            person_id=person.id,
            full_name="王建国",
            confirmed_at=NOW,
            home_admin_code="411525",
            home_province="河南省",
            home_address="河南省信阳市固始县城关镇",
        ),
        uow,
    )

    assert (person.identity_status, person.full_name, person.identity_confirmed_at) == (
        "confirmed",
        "王建国",
        NOW,
    )
    assert (
        person.registered_home_admin_code,
        person.registered_home_province,
        person.registered_home_address,
    ) == ("411525", "河南省", "河南省信阳市固始县城关镇")
