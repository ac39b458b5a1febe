"""A return notice from another region's station over HTTP (issue 28): it opens the
returnee's stabilisation at whichever station serves the home, as the inbound topic
does, and answers with a receipt that echoes none of the person's details."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from followup import statements
from followup.commands.inbound import (
    InboundReturnNotice,
    ReceiveReturnNotice,
    receive_return_notice,
)
from followup.domain import CHINA
from followup.tables import AtRiskEntry, InboundReturn, Revisit, StabilisationRecord
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Forbidden, Refused
from rescue_chassis.testing import FakeUnitOfWork

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
TODAY = NOW.astimezone(CHINA).date()
GUANGSHAN_TOWN = "411522001"  # 弦山街道, guangshan's county


def other_region(agency: str = "rescue-station-3716") -> Principal:
    return Principal(
        subject="binzhou-system", station_id=agency, roles=frozenset({"partner", "rescue_station"})
    )


def notice(**extra) -> InboundReturnNotice:
    body = {
        "sending_station": "滨州市救助管理站",
        "sending_region": "山东省滨州市",
        "reference": f"滨救返{uuid.uuid4().hex[:8]}",
        "full_name": "王德福",
        "sex": "male",
        "age": 67,
        "home_province": "河南省",
        "home_admin_code": GUANGSHAN_TOWN,
        "home_address": "河南省信阳市光山县弦山街道",
        "expected_arrival_on": str(TODAY + timedelta(days=1)),
        "categories": ["dementia"],
        **extra,
    }
    return InboundReturnNotice.model_validate(body)


@pytest.fixture(autouse=True)
def stored(monkeypatch):
    async def register_entry(uow, person_id):
        found = await uow.find(AtRiskEntry, person_id=person_id)
        return found[0] if found else None

    monkeypatch.setattr(statements, "register_entry", register_entry)


async def test_another_regions_station_opens_the_stabilisation_at_home_and_keeps_a_receipt():
    uow = FakeUnitOfWork(actor=other_region(), now=NOW)
    sent = notice()

    receipt = await receive_return_notice(ReceiveReturnNotice(notice=sent), uow)

    (inbound,) = uow.all(InboundReturn)
    (held,) = uow.all(StabilisationRecord)
    assert (receipt.receipt_id, receipt.reference) == (inbound.id, sent.reference)
    assert (receipt.receiving_station_id, receipt.receiving_station) == (
        "guangshan",
        "光山县救助管理站",
    )
    assert (inbound.channel, inbound.notified_by) == ("partner", "rescue-station-3716")
    assert (held.station_id, held.source, held.inbound_return_id) == (
        "guangshan",
        "inbound_return",
        inbound.id,
    )
    assert len(uow.all(Revisit)) == 6 and len(uow.all(AtRiskEntry)) == 1
    assert "王德福" not in receipt.model_dump_json()


async def test_the_same_reference_again_is_a_conflict_and_a_home_elsewhere_is_refused():
    uow = FakeUnitOfWork(actor=other_region(), now=NOW)
    sent = notice()
    await receive_return_notice(ReceiveReturnNotice(notice=sent), uow)

    with pytest.raises(Conflict):
        await receive_return_notice(ReceiveReturnNotice(notice=sent), uow)
    with pytest.raises(Refused) as refused:
        await receive_return_notice(
            ReceiveReturnNotice(
                notice=notice(
                    home_province="山东省", home_admin_code="371602001", home_address="滨城区"
                )
            ),
            uow,
        )
    assert "home_admin_code" in refused.value.detail


async def test_a_station_of_the_network_or_another_partner_is_not_another_regions_station():
    staff = Principal(subject="s", station_id="gushi", roles=frozenset({"station_staff"}))
    bureau = Principal(
        subject="b", station_id="civil-affairs-4115", roles=frozenset({"partner", "civil_affairs"})
    )
    for actor in (staff, bureau):
        with pytest.raises(Forbidden):
            await receive_return_notice(
                ReceiveReturnNotice(notice=notice()), FakeUnitOfWork(actor=actor, now=NOW)
            )
