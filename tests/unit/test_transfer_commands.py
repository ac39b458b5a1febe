"""Transfer's use cases on an in-memory unit of work (rescue_chassis.testing)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Forbidden, NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import (
    EscalationResolvedV1,
    EscortDepartedV1,
    EscortLegCompletedV1,
    EscortPlannedV1,
    HandoverRefusedV1,
    PersonHandedOverV1,
    ReturnNoticeIssuedV1,
    ReturnOpenedV1,
)
from rescue_localnet.demo import signature_png
from transfer import statements
from transfer.commands.escalations import Resolution, ResolveEscalation, resolve_escalation
from transfer.commands.escorts import (
    Arrival,
    Departure,
    EscortPlan,
    PlanEscort,
    RecordDeparture,
    RecordLegArrival,
    plan_escort,
    record_departure,
    record_leg_arrival,
)
from transfer.commands.returns import (
    Fitness,
    HandoverReceipt,
    OpenReturn,
    RecordFitness,
    RecordHandover,
    RecordRefusal,
    Refusal,
    open_return,
    record_fitness,
    record_handover,
    record_refusal,
)
from transfer.tables import Escalation, Escort, EscortLeg, Return, ReturnNotice, Traveller

# An hour behind the clock: moments sent "now" lie in the use case's future.
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
SOON = NOW + timedelta(days=2)


def worker(station_id: str) -> Principal:
    return Principal(
        subject=f"{station_id}-staff", station_id=station_id, roles=frozenset({"station_staff"})
    )


@pytest.fixture(autouse=True)
def passengers_in_memory(monkeypatch):
    """The locked read of an escort's returns, as the fake holds them."""

    async def passengers(uow, escort_id):
        return await uow.find(Return, escort_id=escort_id)

    monkeypatch.setattr(statements, "passengers", passengers)


def a_return(
    station_id: str = "gushi",
    escort_station_id: str = "center",
    status: str = "pending",
    province: str = "四川省",
    **values,
) -> Return:
    values = {"fit_to_travel": True, "medical_escort_required": False, **values}
    return Return(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=station_id,
        escort_station_id=escort_station_id,
        cross_province=escort_station_id != station_id,
        status=status,
        full_name="李建国",
        destination_province=province,
        home_address="四川省南充市仪陇县",
        home_admin_code="511324",
        opened_at=NOW - timedelta(days=3),
        opened_by="identity_confirmed",
        **values,
    )


def profile(returned: Return, sex: str = "male", categories=()) -> Traveller:
    return Traveller(
        person_id=returned.person_id,
        station_id=returned.station_id,
        sex=sex,
        estimated_age=50,
        categories=list(categories),
    )


def plan(*returns: Return, staff=None) -> PlanEscort:
    return PlanEscort(
        plan=EscortPlan(
            return_ids=[r.id for r in returns],
            staff=staff or [{"name": "赵强", "sex": "male", "role": "escort"}],
            transport_mode="train",
            legs=[
                {
                    "origin": "信阳站",
                    "destination": "成都东站",
                    "mode": "train",
                    "planned_departure_at": SOON,
                },
                {
                    "origin": "成都东站",
                    "destination": "县民政局",
                    "mode": "station_vehicle",
                    "planned_departure_at": SOON + timedelta(hours=18),
                },
            ],
        )
    )


def an_escort(*aboard: Return, status: str = "departed", legs: int = 2) -> list:
    """An escort of the center with its legs, the returns aboard it."""
    escort = Escort(
        id=uuid.uuid4(),
        escort_station_id="center",
        destination_province="四川省",
        status=status,
        transport_mode="train",
        vehicle=None,
        tickets=[],
        staff=[{"name": "赵强", "sex": "male", "role": "escort"}],
        planned_departure_at=NOW,
        departed_at=NOW if status == "departed" else None,
        planned_by="center-staff",
        created_at=NOW - timedelta(days=1),
    )
    for r in aboard:
        r.escort_id = escort.id
    stops = ["信阳站", "成都东站", "县民政局", "某镇"]
    return [
        escort,
        *(
            EscortLeg(
                id=uuid.uuid4(),
                escort_id=escort.id,
                sequence=n,
                origin=stops[n - 1],
                destination=stops[n],
                mode="train",
                planned_departure_at=NOW,
            )
            for n in range(1, legs + 1)
        ),
    ]


def receipt(**values) -> HandoverReceipt:
    return HandoverReceipt(
        **{
            "receiver_kind": "family",
            "received_by": "王秀英",
            "relation": "wife",
            "id_document_type": "resident_id_card",
            "id_document_number": "511324196501010027",
            "place": "四川省某县某镇",
            "signature_png": signature_png(),
            **values,
        }
    )


# ---- opening a return ------------------------------------------------------------------


async def test_a_satellites_cross_province_return_is_escorted_by_the_center():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)
    person_id = uuid.uuid4()

    view = await open_return(
        OpenReturn(
            person_id=person_id,
            full_name="李建国",
            home_province="四川省",
            home_address="四川省南充市仪陇县",
        ),
        uow,
    )

    assert (view.station_id, view.escort_station_id, view.cross_province) == (
        "gushi",
        "center",
        True,
    )
    assert (view.status, view.opened_by, view.opened_at) == ("pending", "gushi-staff", NOW)
    [event] = uow.events
    assert isinstance(event, ReturnOpenedV1)
    assert (event.person_id, event.return_id, event.escort_station_id) == (
        person_id,
        view.id,
        "center",
    )


async def test_a_return_home_in_the_same_province_stays_with_the_caring_station():
    uow = FakeUnitOfWork(actor=worker("gushi"), now=NOW)

    view = await open_return(
        OpenReturn(
            person_id=uuid.uuid4(),
            full_name="王芳",
            home_province="河南省",
            home_address="河南省信阳市固始县",
        ),
        uow,
    )

    assert (view.escort_station_id, view.cross_province) == ("gushi", False)


async def test_a_confirmed_identity_opens_the_return_for_the_station_the_event_names():
    uow = FakeUnitOfWork(now=NOW)  # a consumer: no caller

    view = await open_return(
        OpenReturn(
            person_id=uuid.uuid4(),
            station_id="xixian",
            full_name="李建国",
            home_province="四川省",
            home_address="四川省南充市仪陇县",
        ),
        uow,
    )

    assert (view.station_id, view.escort_station_id) == ("xixian", "center")
    assert view.opened_by == "identity_confirmed"


async def test_a_person_gets_one_return_only():
    held = a_return()
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held], now=NOW)

    with pytest.raises(Conflict) as conflict:
        await open_return(
            OpenReturn(
                person_id=held.person_id,
                full_name="李建国",
                home_province="四川省",
                home_address="四川省南充市仪陇县",
            ),
            uow,
        )

    assert conflict.value.title == "Return exists"
    assert uow.events == [] and uow.all(Return) == [held]


# ---- fitness ---------------------------------------------------------------------------


async def test_the_caring_station_records_fitness_for_travel():
    held = a_return(fit_to_travel=None)
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held], now=NOW)

    view = await record_fitness(
        RecordFitness(
            return_id=held.id,
            fitness=Fitness(fit_to_travel=False, medical_escort_required=True, note="发烧"),
        ),
        uow,
    )

    assert (view.fit_to_travel, view.medical_escort_required, view.fitness_note) == (
        False,
        True,
        "发烧",
    )


async def test_the_center_records_no_fitness_for_a_return_it_neither_cares_for_nor_escorts():
    local = a_return(escort_station_id="gushi")
    uow = FakeUnitOfWork(actor=worker("center"), rows=[local], now=NOW)

    with pytest.raises(Forbidden):
        await record_fitness(
            RecordFitness(return_id=local.id, fitness=Fitness(fit_to_travel=False)), uow
        )
    assert local.fit_to_travel is True


async def test_another_satellites_return_is_not_found():
    held = a_return()
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[held], now=NOW)

    with pytest.raises(NotFound) as missing:
        await record_fitness(
            RecordFitness(return_id=held.id, fitness=Fitness(fit_to_travel=True)), uow
        )
    assert missing.value.detail == "No such return."


async def test_fitness_is_too_late_once_the_person_is_on_the_way():
    held = a_return(status="in_transit")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held], now=NOW)

    with pytest.raises(Conflict) as conflict:
        await record_fitness(
            RecordFitness(return_id=held.id, fitness=Fitness(fit_to_travel=True)), uow
        )
    assert conflict.value.title == "Too late"


# ---- planning an escort ----------------------------------------------------------------


async def test_two_persons_to_one_province_travel_on_one_escort():
    man, woman = a_return(), a_return(province="四川")
    uow = FakeUnitOfWork(
        actor=worker("center"),
        rows=[man, woman, profile(man), profile(woman)],
        now=NOW,
    )

    view = await plan_escort(plan(man, woman), uow)

    assert view.destination_province == "四川省"  # spelled as the first return's
    assert set(view.return_ids) == {man.id, woman.id}
    assert [leg.sequence for leg in view.legs] == [1, 2]
    assert (man.status, man.escort_id, woman.status) == ("planned", view.id, "planned")
    assert all(isinstance(e, EscortPlannedV1) for e in uow.events)
    assert {(e.return_id, e.escort_id, e.batch_size) for e in uow.events} == {
        (man.id, view.id, 2),
        (woman.id, view.id, 2),
    }


async def test_another_stations_return_is_refused_as_a_made_up_id_is():
    theirs = a_return(station_id="gushi", escort_station_id="gushi")
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[theirs, profile(theirs)], now=NOW)

    with pytest.raises(Refused) as refused:
        await plan_escort(plan(theirs), uow)

    assert refused.value.field == "return_ids"
    assert refused.value.reason == f"no such return: {theirs.id}"
    assert theirs.status == "pending" and uow.events == []


async def test_a_return_listed_twice_is_refused():
    held = a_return()
    uow = FakeUnitOfWork(actor=worker("center"), rows=[held, profile(held)], now=NOW)

    with pytest.raises(Refused) as refused:
        await plan_escort(plan(held, held), uow)
    assert (refused.value.field, refused.value.reason) == ("return_ids", "lists a return twice")


async def test_a_woman_travelling_needs_a_female_escort_and_nothing_is_planned_without():
    woman = a_return()
    uow = FakeUnitOfWork(actor=worker("center"), rows=[woman, profile(woman, "female")], now=NOW)

    with pytest.raises(Refused) as refused:
        await plan_escort(plan(woman), uow)

    assert refused.value.field == "staff" and "female escort" in refused.value.reason
    assert (woman.status, woman.escort_id) == ("pending", None)
    assert uow.all(Escort) == [] and uow.events == []


async def test_no_escort_is_planned_before_the_admission_record_reached_transfer():
    held = a_return()
    uow = FakeUnitOfWork(actor=worker("center"), rows=[held], now=NOW)  # no traveller row

    with pytest.raises(Refused) as refused:
        await plan_escort(plan(held), uow)
    assert "has not reached transfer" in refused.value.reason


# ---- running an escort -----------------------------------------------------------------


async def test_a_departure_puts_everyone_aboard_on_the_way():
    first, second = a_return(status="planned"), a_return(status="planned")
    escort, *legs = an_escort(first, second, status="planned")
    uow = FakeUnitOfWork(actor=worker("center"), rows=[first, second, escort, *legs], now=NOW)

    view = await record_departure(RecordDeparture(escort_id=escort.id, departure=Departure()), uow)

    assert (view.status, view.departed_at) == ("departed", NOW)
    assert (first.status, second.status) == ("in_transit", "in_transit")
    assert {(type(e), e.return_id, e.departed_at) for e in uow.events} == {
        (EscortDepartedV1, first.id, NOW),
        (EscortDepartedV1, second.id, NOW),
    }


async def test_an_escort_departs_once():
    escort, *legs = an_escort(a_return(status="in_transit"), status="departed")
    uow = FakeUnitOfWork(actor=worker("center"), rows=[escort, *legs], now=NOW)

    with pytest.raises(Conflict) as conflict:
        await record_departure(RecordDeparture(escort_id=escort.id, departure=Departure()), uow)
    assert conflict.value.title == "Already departed"


async def test_a_departure_in_the_future_is_refused():
    aboard = a_return(status="planned")
    escort, *legs = an_escort(aboard, status="planned")
    uow = FakeUnitOfWork(actor=worker("center"), rows=[aboard, escort, *legs], now=NOW)
    later = Departure(departed_at=NOW + timedelta(minutes=30))

    with pytest.raises(Refused) as refused:
        await record_departure(RecordDeparture(escort_id=escort.id, departure=later), uow)

    assert refused.value.field == "departed_at"
    assert (escort.status, aboard.status) == ("planned", "planned")


async def test_a_satellite_does_not_see_the_centers_escort():
    escort, *legs = an_escort(a_return(status="planned"), status="planned")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[escort, *legs], now=NOW)

    with pytest.raises(NotFound):
        await record_departure(RecordDeparture(escort_id=escort.id, departure=Departure()), uow)
    assert escort.status == "planned"


async def test_legs_arrive_in_their_order():
    aboard = a_return(status="in_transit")
    escort, *legs = an_escort(aboard)
    uow = FakeUnitOfWork(actor=worker("center"), rows=[aboard, escort, *legs], now=NOW)

    with pytest.raises(Conflict) as skipped:
        await record_leg_arrival(
            RecordLegArrival(escort_id=escort.id, sequence=2, arrival=Arrival()), uow
        )
    assert skipped.value.detail == "Leg 1 has not arrived yet."

    with pytest.raises(NotFound):
        await record_leg_arrival(
            RecordLegArrival(escort_id=escort.id, sequence=9, arrival=Arrival()), uow
        )

    view = await record_leg_arrival(
        RecordLegArrival(escort_id=escort.id, sequence=1, arrival=Arrival()), uow
    )
    assert [leg.arrived_at for leg in view.legs] == [NOW, None]
    [event] = uow.events
    assert isinstance(event, EscortLegCompletedV1)
    assert (event.return_id, event.sequence, event.destination) == (aboard.id, 1, "成都东站")


# ---- the handover, the refusal, the escalation ------------------------------------------


async def test_a_handover_records_the_receipt_issues_the_notice_and_ends_the_escort():
    aboard = a_return(status="in_transit")
    escort, *legs = an_escort(aboard)
    uow = FakeUnitOfWork(
        actor=worker("center"),
        rows=[aboard, profile(aboard, categories=["dementia"]), escort, *legs],
        now=NOW,
    )

    view = await record_handover(RecordHandover(return_id=aboard.id, receipt=receipt()), uow)

    assert (view.status, view.handed_over_at, view.received_by) == ("handed_over", NOW, "王秀英")
    assert aboard.signature_png.startswith(b"\x89PNG")
    assert [type(e) for e in uow.events] == [PersonHandedOverV1, ReturnNoticeIssuedV1]
    [notice] = uow.all(ReturnNotice)
    assert uow.events[1].notice_id == notice.id
    assert notice.addressed_to.startswith("四川省") and "认知症" in notice.html
    assert (escort.status, escort.completed_at) == ("completed", NOW)


async def test_only_the_escorting_station_records_the_handover():
    aboard = a_return(status="in_transit")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[aboard], now=NOW)

    with pytest.raises(Forbidden) as forbidden:
        await record_handover(RecordHandover(return_id=aboard.id, receipt=receipt()), uow)
    assert forbidden.value.title == "Not the escorting station"


async def test_a_handover_before_the_departure_is_a_conflict():
    planned = a_return(status="planned")
    uow = FakeUnitOfWork(actor=worker("center"), rows=[planned], now=NOW)

    with pytest.raises(Conflict) as conflict:
        await record_handover(RecordHandover(return_id=planned.id, receipt=receipt()), uow)
    assert conflict.value.title == "Not on the way"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"signature_png": "aGVsbG8gd29ybGQ="}, "signature_png"),
        ({"id_document_number": None}, "id_document_number"),
    ],
)
async def test_a_bad_receipt_is_refused_whole(values, field):
    aboard = a_return(status="in_transit")
    uow = FakeUnitOfWork(actor=worker("center"), rows=[aboard], now=NOW)

    with pytest.raises(Refused) as refused:
        await record_handover(RecordHandover(return_id=aboard.id, receipt=receipt(**values)), uow)

    assert refused.value.field == field
    assert aboard.status == "in_transit" and uow.events == [] and uow.all(ReturnNotice) == []


async def test_a_refusal_is_escalated_to_the_higher_level_and_ends_the_escort():
    aboard = a_return(status="in_transit")
    escort, *legs = an_escort(aboard)
    uow = FakeUnitOfWork(actor=worker("center"), rows=[aboard, escort, *legs], now=NOW)
    refusal = Refusal(refused_by="某镇人民政府", reason="户籍地称无亲属可接收")

    view = await record_refusal(RecordRefusal(return_id=aboard.id, refusal=refusal), uow)

    assert view.status == "refused"
    [escalation] = uow.all(Escalation)
    assert (escalation.status, escalation.escalated_to[:6]) == ("open", "上级民政部门")
    [event] = uow.events
    assert isinstance(event, HandoverRefusedV1)
    assert (event.escalation_id, event.refused_at, event.reason) == (
        escalation.id,
        NOW,
        "户籍地称无亲属可接收",
    )
    assert escort.status == "completed"


async def test_a_handed_over_return_cannot_be_refused():
    done = a_return(status="handed_over")
    uow = FakeUnitOfWork(actor=worker("center"), rows=[done], now=NOW)
    refusal = Refusal(refused_by="某镇人民政府", reason="x")

    with pytest.raises(Conflict):
        await record_refusal(RecordRefusal(return_id=done.id, refusal=refusal), uow)
    assert uow.all(Escalation) == []


def an_escalation(refused: Return) -> Escalation:
    return Escalation(
        id=uuid.uuid4(),
        return_id=refused.id,
        person_id=refused.person_id,
        escort_station_id=refused.escort_station_id,
        refused_by="某镇人民政府",
        reason="户籍地称无亲属可接收",
        escalated_to="上级民政部门",
        status="open",
        opened_at=NOW - timedelta(days=1),
    )


async def test_a_home_area_that_accepts_puts_the_return_back_into_planning():
    refused = a_return(status="refused", escort_id=uuid.uuid4())
    escalation = an_escalation(refused)
    uow = FakeUnitOfWork(actor=worker("center"), rows=[refused, escalation], now=NOW)
    answer = Resolution(outcome="home_area_accepts", resolution="省民政厅协调，户籍地同意接收")

    view = await resolve_escalation(
        ResolveEscalation(escalation_id=escalation.id, resolution=answer), uow
    )

    assert (view.status, view.resolved_at, view.outcome) == ("resolved", NOW, "home_area_accepts")
    assert (refused.status, refused.escort_id) == ("pending", None)
    [event] = uow.events
    assert isinstance(event, EscalationResolvedV1)
    assert (event.escalation_id, event.return_id) == (escalation.id, refused.id)

    with pytest.raises(Conflict):
        await resolve_escalation(
            ResolveEscalation(escalation_id=escalation.id, resolution=answer), uow
        )


async def test_the_caring_satellite_does_not_resolve_the_centers_escalation():
    refused = a_return(status="refused")
    escalation = an_escalation(refused)
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[refused, escalation], now=NOW)
    answer = Resolution(outcome="settled_locally", resolution="就地安置")

    with pytest.raises(NotFound):
        await resolve_escalation(
            ResolveEscalation(escalation_id=escalation.id, resolution=answer), uow
        )
    assert escalation.status == "open"
