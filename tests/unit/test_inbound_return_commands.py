"""Returns home from elsewhere (issue 25): another region's return notice opens a
stabilisation record here, by API or by event; a town official sees and revisits
only the records of its town or village."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from followup import statements
from followup.commands.inbound import (
    InboundReturnNotice,
    NotifyInboundReturn,
    notify_inbound_return,
)
from followup.commands.records import load_record
from followup.commands.stabilisations import RecordRevisit, RevisitReport, record_revisit
from followup.domain import CHINA, revisit_schedule, serving_station
from followup.handlers import handlers
from followup.tables import AtRiskEntry, InboundReturn, Revisit, StabilisationRecord
from rescue_chassis.access import business_routes
from rescue_chassis.auth import Principal, Role
from rescue_chassis.network import load_network
from rescue_chassis.refusals import Conflict, Forbidden, NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.consumer import Rejected
from rescue_events.contracts import (
    AtRiskRegisteredV1,
    RevisitRecordedV1,
    StabilisationOpenedV1,
)
from rescue_events.contracts.followup import InboundReturnNotifiedV1
from rescue_events.envelope import Envelope
from rescue_localnet.__main__ import main as localnet

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in the home town
TODAY = NOW.astimezone(CHINA).date()
TOWN = "411525101"  # 陈淋子镇, 固始县 (gushi's county)
VILLAGE = "411525101001"  # a village of that town
OTHER_TOWN = "411525002"  # 番城街道, also gushi's county
GUANGSHAN_TOWN = "411522001"  # 弦山街道, guangshan's county
NATIONAL_ID = "11010519491231002X"  # a valid GB 11643 number


def staff(station_id: str = "gushi", role: str = "station_staff") -> Principal:
    return Principal(subject="staff-1", station_id=station_id, roles=frozenset({role}))


def town(area: str) -> Principal:
    return Principal(subject="马鞍镇 张敏", station_id=area, roles=frozenset({"town_official"}))


def notice(**extra) -> InboundReturnNotice:
    body = {
        "sending_station": "滨州市救助管理站",
        "sending_region": "山东省滨州市",
        "reference": f"滨救返{uuid.uuid4().hex[:8]}",
        "full_name": "王德福",
        "sex": "male",
        "age": 67,
        "home_province": "河南省",
        "home_admin_code": TOWN,
        "home_address": "河南省信阳市固始县陈淋子镇王营村",
        "expected_arrival_on": str(TODAY + timedelta(days=3)),
        "escort": "滨州市救助管理站 王强、李军，K1234次",
        **extra,
    }
    return InboundReturnNotice.model_validate(body)


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


async def notified(uow: FakeUnitOfWork, **extra) -> StabilisationRecord:
    view = await notify_inbound_return(NotifyInboundReturn(notice=notice(**extra)), uow)
    (held,) = await uow.find(StabilisationRecord, id=view.record_id)
    return held


# ---- the notice opens a record ------------------------------------------------------


async def test_a_notice_opens_a_record_with_six_revisits_from_the_arrival_day():
    uow = FakeUnitOfWork(actor=staff(), now=NOW)
    view = await notify_inbound_return(NotifyInboundReturn(notice=notice()), uow)

    (inbound,) = uow.all(InboundReturn)
    (held,) = uow.all(StabilisationRecord)
    assert view.record_id == held.id and view.person_id == held.person_id == inbound.person_id
    assert (held.source, held.inbound_return_id, held.return_id) == (
        "inbound_return",
        inbound.id,
        None,
    )
    assert (held.station_id, held.jurisdiction_code, held.full_name) == ("gushi", TOWN, "王德福")
    assert held.identity_key == f"王德福|{TOWN}"  # recognised if found wandering again here
    arrival = TODAY + timedelta(days=3)
    assert held.handed_over_at.astimezone(CHINA).date() == arrival
    revisits = sorted(uow.all(Revisit), key=lambda r: r.sequence)
    assert [r.due_on for r in revisits] == revisit_schedule(arrival)
    assert {r.assigned_to for r in revisits} == {TOWN}
    (opened,) = uow.events
    assert isinstance(opened, StabilisationOpenedV1) and opened.person_id == held.person_id
    assert (inbound.channel, inbound.notified_by) == ("api", "staff-1")


async def test_what_the_sending_station_found_may_put_the_person_on_the_register():
    uow = FakeUnitOfWork(actor=staff(), now=NOW)
    held = await notified(uow, categories=["dementia", "elderly"])

    (entry,) = uow.all(AtRiskEntry)
    assert (entry.record_id, entry.reasons, entry.added_by) == (held.id, ["dementia"], "automatic")
    assert [type(e) for e in uow.events] == [StabilisationOpenedV1, AtRiskRegisteredV1]


async def test_the_national_id_is_kept_and_shown_masked_but_to_reviewers():
    lead = FakeUnitOfWork(actor=staff(role="station_lead"), now=NOW)
    shown = await notify_inbound_return(
        NotifyInboundReturn(notice=notice(national_id_number=NATIONAL_ID)), lead
    )
    assert shown.national_id_number == NATIONAL_ID
    assert lead.all(InboundReturn)[0].national_id_number == NATIONAL_ID  # encrypted by its column

    uow = FakeUnitOfWork(actor=staff(), now=NOW)
    masked = await notify_inbound_return(
        NotifyInboundReturn(notice=notice(national_id_number=NATIONAL_ID)), uow
    )
    assert masked.national_id_number == "110105***********X"


async def test_the_same_notice_twice_is_a_conflict_and_opens_nothing_more():
    uow = FakeUnitOfWork(actor=staff(), now=NOW)
    first = notice()
    await notify_inbound_return(NotifyInboundReturn(notice=first), uow)
    again = first.model_copy(update={"sending_station": " 滨州市救助管理站 "})
    with pytest.raises(Conflict) as refused:
        await notify_inbound_return(NotifyInboundReturn(notice=again), uow)
    assert refused.value.errors == [{"field": "reference", "reason": refused.value.reason}]
    assert len(uow.all(StabilisationRecord)) == 1


async def test_the_record_goes_to_the_station_serving_the_home():
    center = FakeUnitOfWork(actor=staff("center", "center_coordinator"), now=NOW)
    held = await notified(center, home_admin_code=GUANGSHAN_TOWN, home_address="光山县弦山街道")
    assert held.station_id == "guangshan"

    gushi = FakeUnitOfWork(actor=staff(), now=NOW)
    with pytest.raises(Refused) as refused:
        await notified(gushi, home_admin_code=GUANGSHAN_TOWN)
    assert refused.value.field == "home_admin_code" and "guangshan" in refused.value.reason

    with pytest.raises(Refused) as outside:
        await notified(center, home_province="贵州省", home_admin_code="520102016")
    assert outside.value.field == "home_admin_code"


def test_the_serving_station_is_the_countys_satellite_else_the_citys_center():
    network = load_network()
    assert serving_station(network, VILLAGE).id == "gushi"
    assert serving_station(network, "411502001").id == "center"  # a district of the city
    assert serving_station(network, "520102016") is None


@pytest.mark.parametrize(
    ("days", "field"), [(91, "expected_arrival_on"), (-370, "expected_arrival_on")]
)
async def test_an_arrival_far_ahead_or_over_a_year_ago_is_refused(days, field):
    uow = FakeUnitOfWork(actor=staff(), now=NOW)
    with pytest.raises(Refused) as refused:
        await notified(uow, expected_arrival_on=str(TODAY + timedelta(days=days)))
    assert refused.value.field == field
    assert uow.all(StabilisationRecord) == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"home_admin_code": "411525"}, "home_admin_code"),  # a county: no town to revisit
        ({"home_admin_code": "411525999"}, "home_admin_code"),  # no such town
        ({"home_province": "山东省"}, "home_admin_code"),  # not in that province
        ({"age": None}, "age"),
        ({"age": "67"}, "age"),
        ({"national_id_number": "110105194912310021"}, "national_id_number"),
        ({"expected_arrival_on": 20261210}, "expected_arrival_on"),
        ({"shoe_size": 42}, "shoe_size"),
    ],
)
def test_a_notice_names_what_is_wrong(extra, field):
    with pytest.raises(ValidationError) as refused:
        notice(**extra)
    assert field in str(refused.value)


# ---- by event -----------------------------------------------------------------------


def inbound_event(**extra) -> InboundReturnNotifiedV1:
    fields = {
        "sending_station": "滨州市救助管理站",
        "sending_region": "山东省滨州市",
        "reference": "滨救返〔2026〕309号",
        "full_name": "王德福",
        "sex": "male",
        "birth_year": 1959,
        "home_province": "河南省",
        "home_admin_code": TOWN,
        "home_address": "河南省信阳市固始县陈淋子镇王营村",
        "expected_arrival_on": TODAY,
        "notified_at": NOW,
    }
    return InboundReturnNotifiedV1(**{**fields, **extra})


def test_the_event_carries_no_person_id_of_this_network():
    event = inbound_event()
    assert event.person_id is None
    notice_fields = set(InboundReturnNotice.model_fields)
    assert notice_fields <= set(InboundReturnNotifiedV1.model_fields)


@pytest.mark.parametrize(
    "extra",
    [
        {"home_admin_code": "411525"},  # a county code: valid on the wire, not for a notice
        {"national_id_number": "110105194912310021"},  # fails its check character
    ],
)
async def test_an_event_the_api_would_refuse_is_rejected_for_the_dead_letters(extra):
    handle = handlers(runtime=None)[InboundReturnNotifiedV1]
    envelope = Envelope(
        type="inbound_return_notified",
        source="/partners/binzhou",
        subject="",  # the person has no id here yet
        dataschema="urn:rescue-network:events:inbound_return_notified:v1",
    )
    with pytest.raises(Rejected, match="inbound return notice refused"):
        await handle(None, inbound_event(**extra), envelope)


# ---- the town official -----------------------------------------------------------


def report(**extra) -> RevisitReport:
    body = {
        "mode": "visit",
        "visited_on": str(TODAY),
        "visited_by": "陈淋子镇民政所 张敏",
        "situation": "stable",
        **extra,
    }
    return RevisitReport.model_validate(body)


async def arrived_today(home_admin_code: str = TOWN) -> tuple[FakeUnitOfWork, StabilisationRecord]:
    uow = FakeUnitOfWork(actor=staff(), now=NOW)
    held = await notified(uow, home_admin_code=home_admin_code, expected_arrival_on=str(TODAY))
    return uow, held


async def test_a_town_official_of_the_home_town_records_a_revisit_said_to_be_the_towns():
    uow, held = await arrived_today(VILLAGE)
    uow.actor = town(TOWN)
    uow.events.clear()

    view = await record_revisit(RecordRevisit(record_id=held.id, sequence=1, report=report()), uow)

    first = view.revisits[0]
    assert (first.status, first.recorded_by, first.recorded_by_role) == (
        "done",
        "马鞍镇 张敏",
        "town_official",
    )
    (recorded,) = uow.events
    assert isinstance(recorded, RevisitRecordedV1) and recorded.recorded_by_role == "town_official"


async def test_station_staff_revisits_say_so_too():
    uow, held = await arrived_today()
    view = await record_revisit(RecordRevisit(record_id=held.id, sequence=1, report=report()), uow)
    assert view.revisits[0].recorded_by_role == "station_staff"


@pytest.mark.parametrize(
    ("home", "area", "sees"),
    [
        (TOWN, TOWN, True),
        (VILLAGE, TOWN, True),  # the village lies in the town
        (VILLAGE, VILLAGE, True),
        (TOWN, VILLAGE, False),  # known by its town only: not the village's
        (TOWN, OTHER_TOWN, False),
        ("411525101002", VILLAGE, False),  # the next village
    ],
)
async def test_a_town_official_sees_only_the_records_of_its_area(home, area, sees):
    uow, held = await arrived_today(home)
    uow.actor = town(area)
    if sees:
        assert await load_record(uow, held.id) is held
        return
    with pytest.raises(NotFound):
        await load_record(uow, held.id)
    with pytest.raises(NotFound):
        await record_revisit(RecordRevisit(record_id=held.id, sequence=1, report=report()), uow)


async def test_a_town_token_naming_no_town_or_village_is_forbidden():
    uow, held = await arrived_today()
    for named in ("gushi", "411525", "41152510100"):
        uow.actor = town(named)
        with pytest.raises(Forbidden):
            await load_record(uow, held.id)


async def test_station_staff_keep_their_access_and_no_more():
    uow, held = await arrived_today()
    uow.actor = staff("xixian")
    with pytest.raises(NotFound):
        await load_record(uow, held.id)
    uow.actor = staff("center", "center_coordinator")
    assert await load_record(uow, held.id) is held


def test_town_officials_reach_only_the_ledger_the_revisits_and_the_overdue_list():
    followup = importlib.import_module("followup.app").service
    towns = {
        (method, route.path)
        for route in business_routes(followup.routers)
        if Role.TOWN_OFFICIAL in route.roles
        for method in route.methods
    }
    assert towns == {
        ("GET", "/stabilisations"),
        ("GET", "/stabilisations/{record_id}"),
        ("POST", "/stabilisations/{record_id}/revisits/{sequence}"),
        ("GET", "/revisits/overdue"),
    }
    for name in ("intake", "search", "transfer", "referral"):
        service = importlib.import_module(f"{name}.app").service
        assert not any(Role.TOWN_OFFICIAL in r.roles for r in business_routes(service.routers))


def test_a_local_town_token_must_name_a_town_or_village(tmp_path, capsys):
    refused = localnet(
        ["--data-dir", str(tmp_path), "token", "--station", "gushi", "--roles", "town_official"]
    )
    assert refused == 2 and "town or village code" in capsys.readouterr().err
    assert (
        localnet(
            ["--data-dir", str(tmp_path), "token", "--station", TOWN, "--roles", "town_official"]
        )
        == 0
    )
    assert capsys.readouterr().out.count(".") == 2  # a JWT
