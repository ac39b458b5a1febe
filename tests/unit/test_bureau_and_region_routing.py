"""Who hears of what (issue 28): the civil-affairs bureau over the station gets every
incident and escalation with its acknowledgement window, a death fastest and a
protected person's station never; the home region's station gets the return notice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from referral.deliveries import civil_affairs, regions, store
from referral.tables import Agency, PartnerDelivery, Person
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import (
    HandoverRefusedV1,
    IncidentKind,
    IncidentReportedV1,
    ReturnNoticeIssuedV1,
)
from rescue_events.contracts.civil_affairs import (
    BureauEscalationV1,
    BureauIncidentV1,
    HomeRegionReturnNoticeV1,
)
from rescue_events.contracts.search_escalations import DeadlineEscalatedV1
from rescue_events.envelope import Envelope

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def published(monkeypatch) -> list[tuple[str, object]]:
    """The agency topics' outbox, as a list."""
    sent: list[tuple[str, object]] = []

    async def publish_on(uow, event, topic):
        sent.append((topic, event))

    monkeypatch.setattr(store, "publish_on", publish_on)
    return sent


def agency(partner_type: str, code: str, name: str = "机构") -> Agency:
    return Agency(
        id=f"{partner_type.replace('_', '-')}-{code}-{uuid.uuid4().hex[:4]}",
        name=name,
        partner_type=partner_type,
        jurisdiction_code=code,
        contacts=[],
        active=True,
        created_at=NOW,
    )


def person(station_id: str = "gushi", categories=()) -> Person:
    return Person(
        person_id=uuid.uuid4(),
        station_id=station_id,
        sex="female",
        estimated_age=41,
        categories=list(categories),
        full_name="李某",
    )


def envelope() -> Envelope:
    return Envelope(type="t", source="test", subject="s", dataschema="urn:x", id=str(uuid.uuid4()))


def incident(held: Person, kind: IncidentKind, station_id: str = "gushi") -> IncidentReportedV1:
    return IncidentReportedV1(
        person_id=held.person_id,
        incident_id=uuid.uuid4(),
        stay_id=uuid.uuid4(),
        station_id=station_id,
        kind=kind,
        occurred_at=NOW,
        description="凌晨在站内东院摔倒",
    )


def deliveries(uow: FakeUnitOfWork) -> list[PartnerDelivery]:
    return list(uow.all(PartnerDelivery))


# ---- the bureau -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "within"),
    [
        (IncidentKind.DEATH, timedelta(hours=1)),
        (IncidentKind.MISSING, timedelta(hours=2)),
        (IncidentKind.INJURY, timedelta(hours=4)),
    ],
)
async def test_an_incident_goes_to_the_county_bureau_over_the_station_a_death_fastest(
    kind, within, published
):
    county, city = agency("civil_affairs", "411525"), agency("civil_affairs", "4115")
    federation = agency("womens_federation", "411525")
    held = person()
    uow = FakeUnitOfWork(rows=[county, city, federation, held], now=NOW)

    await civil_affairs.report_incident(uow, incident(held, kind), envelope())

    (delivery,) = deliveries(uow)
    assert (delivery.agency_id, delivery.feed) == (county.id, "incident")
    assert delivery.acknowledge_by == NOW + within
    ((topic, message),) = published
    assert topic == f"rescue.partner.agency.{county.id}"
    assert isinstance(message, BureauIncidentV1)
    assert (message.kind, message.contact_station_id, message.full_name) == (kind, "gushi", "李某")
    assert message.description == "凌晨在站内东院摔倒"


async def test_the_center_station_is_covered_by_the_city_bureau():
    county, city = agency("civil_affairs", "411525"), agency("civil_affairs", "4115")
    held = person("center")
    uow = FakeUnitOfWork(rows=[county, city, held], now=NOW)

    await civil_affairs.report_incident(
        uow, incident(held, IncidentKind.MISSING, "center"), envelope()
    )

    assert [d.agency_id for d in deliveries(uow)] == [city.id]


async def test_a_protected_persons_incident_names_the_center_and_withholds_the_words(published):
    bureau = agency("civil_affairs", "411525")
    held = person(categories=["domestic_violence_victim", "mental_illness"])
    uow = FakeUnitOfWork(rows=[bureau, held], now=NOW)

    await civil_affairs.report_incident(uow, incident(held, IncidentKind.INJURY), envelope())

    ((_, message),) = published
    assert (message.contact_station_id, message.description) == ("center", None)
    assert "gushi" not in message.model_dump_json()
    assert "mental_illness" not in message.model_dump_json()


async def test_the_same_event_twice_is_delivered_once_and_no_bureau_means_no_delivery():
    bureau = agency("civil_affairs", "411525")
    held = person()
    uow = FakeUnitOfWork(rows=[bureau, held], now=NOW)
    event, once = incident(held, IncidentKind.DEATH), envelope()

    await civil_affairs.report_incident(uow, event, once)
    await civil_affairs.report_incident(uow, event, once)
    assert len(deliveries(uow)) == 1

    elsewhere = FakeUnitOfWork(rows=[agency("civil_affairs", "411522"), held], now=NOW)
    await civil_affairs.report_incident(elsewhere, event, envelope())
    assert deliveries(elsewhere) == []


async def test_a_missed_deadline_and_a_refused_return_are_escalations_for_a_day(published):
    bureau = agency("civil_affairs", "4115")
    held = person("xixian")
    uow = FakeUnitOfWork(rows=[bureau, held], now=NOW)
    missed = DeadlineEscalatedV1(
        person_id=held.person_id,
        escalation_id=uuid.uuid4(),
        kind="dna_overdue",
        station_id="xixian",
        source_id=uuid.uuid4(),
        due_at=NOW - timedelta(hours=3),
        escalated_at=NOW,
    )
    refused = HandoverRefusedV1(
        person_id=held.person_id,
        return_id=uuid.uuid4(),
        escalation_id=uuid.uuid4(),
        station_id="xixian",
        escort_station_id="center",
        refused_at=NOW,
        refused_by="某镇人民政府",
        reason="户籍已注销",
        escalated_to="市民政局",
    )

    await civil_affairs.escalate_deadline(uow, missed, envelope())
    await civil_affairs.escalate_refusal(uow, refused, envelope())

    assert [(d.feed, d.acknowledge_by) for d in deliveries(uow)] == [
        ("escalation", NOW + timedelta(hours=24))
    ] * 2
    messages = [m for _, m in published]
    assert all(isinstance(m, BureauEscalationV1) for m in messages)
    assert [(m.kind, m.escalation_id) for m in messages] == [
        ("dna_overdue", missed.escalation_id),
        ("handover_refused", refused.escalation_id),
    ]
    assert (messages[1].refused_by, messages[1].reason) == ("某镇人民政府", "户籍已注销")


# ---- notices between regions --------------------------------------------------------------


def notice_issued(held: Person, home: str | None, province: str = "山东省") -> ReturnNoticeIssuedV1:
    return ReturnNoticeIssuedV1(
        person_id=held.person_id,
        notice_id=uuid.uuid4(),
        return_id=uuid.uuid4(),
        addressed_to="滨州市民政局",
        home_province=province,
        home_admin_code=home,
        issued_at=NOW,
    )


def provinces(name: str) -> str | None:
    return {"山东省": "37", "河南省": "41"}.get(name)


async def test_the_return_notice_goes_to_the_home_regions_station_for_a_days_acknowledgement(
    published,
):
    binzhou = agency("rescue_station", "3716", "滨州市救助管理站")
    shandong = agency("rescue_station", "37", "山东省救助管理站")
    bureau = agency("civil_affairs", "3716")
    held = person("center", categories=["dementia", "domestic_violence_victim"])
    uow = FakeUnitOfWork(rows=[binzhou, shandong, bureau, held], now=NOW)
    event = notice_issued(held, "371602001")

    await regions.send_return_notice(uow, event, envelope(), provinces)

    (delivery,) = deliveries(uow)
    assert (delivery.agency_id, delivery.feed) == (binzhou.id, "return_notice")
    assert delivery.acknowledge_by == NOW + timedelta(hours=24)
    ((_, message),) = published
    assert isinstance(message, HomeRegionReturnNoticeV1)
    assert message.reference == str(event.notice_id)
    assert (message.sending_station, message.sending_region) == ("信阳市救助管理站", "河南省信阳市")
    assert message.categories == ["dementia"]


async def test_without_a_home_code_the_provinces_station_gets_it_and_none_within_the_network():
    shandong = agency("rescue_station", "37")
    held = person()
    uow = FakeUnitOfWork(rows=[shandong, held], now=NOW)

    await regions.send_return_notice(uow, notice_issued(held, None), envelope(), provinces)
    assert [d.agency_id for d in deliveries(uow)] == [shandong.id]

    at_home = FakeUnitOfWork(rows=[shandong, held], now=NOW)
    event = notice_issued(held, "411525101", "河南省")
    await regions.send_return_notice(at_home, event, envelope(), provinces)
    assert deliveries(at_home) == []
