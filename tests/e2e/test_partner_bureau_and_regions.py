"""The civil-affairs bureau and other regions on the real network (issue 28): the
bureau over a station gets its incidents at once on its own pull feed, acknowledges
one, and the other is flagged overdue; the written return notice reaches the home
region's station, which acknowledges it; another region's station's notice over
HTTP opens the returnee's stabilisation here and is answered with a receipt."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from journeys import handed_over
from support import a_real_county, a_real_town, poll, query, station_client

from rescue_divisions import division_codes

pytestmark = pytest.mark.e2e

CHINA = ZoneInfo("Asia/Shanghai")
GUANGSHAN = "411522"  # the county guangshan station serves
GUSHI = "411525"


def register_agency(network, urls, partner_type: str, jurisdiction: str) -> str:
    agency_id = f"{partner_type.replace('_', '-')}-{jurisdiction}-{secrets.token_hex(3)}"
    with station_client(network, "center", ["admin"]) as admin:
        put = admin.put(
            f"{urls['referral']}/partners/{agency_id}",
            json={
                "name": f"{jurisdiction} {partner_type}",
                "partner_type": partner_type,
                "jurisdiction_code": jurisdiction,
                "contacts": [{"name": "值班室", "phone": "0376-0000000"}],
            },
        )
        assert put.status_code == 200, put.text
    return agency_id


def partner(network, agency_id: str, partner_type: str):
    return station_client(network, agency_id, ["partner", partner_type])


def admit(network, urls, station: str, **person) -> str:
    with station_client(network, station) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons", json={"arrival_route": "own_request", **person}
        )
        assert admitted.status_code == 201, admitted.text
        return admitted.json()["id"]


def report(network, urls, station: str, person_id: str, kind: str, description: str) -> None:
    with station_client(network, station) as staff:
        made = staff.post(
            f"{urls['intake']}/persons/{person_id}/incidents",
            json={
                "kind": kind,
                "occurred_at": datetime.now(UTC).isoformat(),
                "description": description,
            },
        )
        assert made.status_code == 201, made.text


def feed_items(client, urls, feed: str, person_ids: set[str]) -> dict[str, dict]:
    """The agency's pull feed, read on from its cursor until it has these persons'."""
    seen: dict[str, dict] = {}
    cursor = 0

    def more():
        nonlocal cursor
        page = client.get(
            f"{urls['referral']}/partner/feed", params={"since": cursor, "feed": feed}
        )
        assert page.status_code == 200, page.text
        for item in page.json()["items"]:
            seen[item["person_id"]] = item
        cursor = page.json()["next"]
        return person_ids <= set(seen)

    poll(more)
    return seen


def window(item: dict) -> timedelta:
    return datetime.fromisoformat(item["acknowledge_by"]) - datetime.fromisoformat(
        item["created_at"]
    )


def test_the_bureau_acknowledges_a_death_and_an_unacknowledged_injury_is_flagged_overdue(
    network, urls
):
    bureau = register_agency(network, urls, "civil_affairs", GUANGSHAN)
    dead = admit(network, urls, "guangshan", sex="male", estimated_age=79, full_name="周某")
    hurt = admit(
        network,
        urls,
        "guangshan",
        sex="female",
        estimated_age=36,
        categories=["domestic_violence_victim"],
    )
    report(network, urls, "guangshan", dead, "death", "突发心梗，抢救无效")
    report(network, urls, "guangshan", hurt, "injury", "在站内东院摔伤左臂")

    with partner(network, bureau, "civil_affairs") as office:
        items = feed_items(office, urls, "incident", {dead, hurt})
        death, injury = items[dead], items[hurt]
        # a name claimed at intake is no identity: the bureau gets one once confirmed
        assert [death["body"][f] for f in ("kind", "full_name", "sex", "estimated_age")] == [
            "death",
            None,
            "male",
            79,
        ]
        assert death["body"]["contact_station_id"] == "guangshan"
        assert death["body"]["description"] == "突发心梗，抢救无效"
        # a death is acknowledged fastest; an injury within the half-day
        assert (window(death), window(injury)) == (timedelta(hours=1), timedelta(hours=4))
        # a domestic-violence victim's station and the staff's words stay in the network
        assert injury["body"]["contact_station_id"] == "center"
        assert injury["body"]["description"] is None
        assert "categories" not in injury["body"]

        acknowledged = office.post(
            f"{urls['referral']}/partner/feed/{death['delivery_id']}/acknowledgement"
        )
        assert acknowledged.status_code == 200, acknowledged.text
        assert acknowledged.json()["acknowledged_at"] is not None

    # both windows pass at once: only the unacknowledged one is flagged
    query(
        network,
        "referral",
        "update partner_deliveries set acknowledge_by = $2 where id = any($1::uuid[])",
        [death["delivery_id"], injury["delivery_id"]],
        datetime.now(UTC) - timedelta(minutes=1),
    )
    with station_client(network, "center", ["ops"]) as ops:

        def listed(status: str) -> set[str]:
            found = ops.get(
                f"{urls['referral']}/deliveries", params={"agency_id": bureau, "status": status}
            )
            assert found.status_code == 200, found.text
            return {d["id"] for d in found.json()}

        assert poll(lambda: listed("overdue")) == {injury["delivery_id"]}
        assert listed("acknowledged") == {death["delivery_id"]}
    flagged = query(
        network,
        "referral",
        "select id::text, overdue_flagged_at from partner_deliveries where id = any($1::uuid[])",
        [death["delivery_id"], injury["delivery_id"]],
    )
    assert {r["id"]: r["overdue_flagged_at"] is not None for r in flagged} == {
        death["delivery_id"]: False,
        injury["delivery_id"]: True,
    }


def test_the_return_notice_reaches_the_home_regions_station_which_acknowledges_it(network, urls):
    county = a_real_county()
    town = a_real_town(county)
    province = division_codes().province_of(town)
    station = register_agency(network, urls, "rescue_station", county[:4])
    returned = handed_over(network, urls, province=province, home_admin_code=town)

    with partner(network, station, "rescue_station") as home_station:
        items = feed_items(home_station, urls, "return_notice", {returned["person_id"]})
        notice = items[returned["person_id"]]
        body = notice["body"]
        assert (body["home_province"], body["home_admin_code"]) == (province, town)
        assert (body["sending_station"], body["sending_region"]) == (
            "固始县救助管理站",
            "河南省信阳市",
        )
        assert body["full_name"] and body["reference"] == body["notice_id"]
        assert window(notice) == timedelta(hours=24)

        answered = home_station.post(
            f"{urls['referral']}/partner/feed/{notice['delivery_id']}/acknowledgement"
        )
        assert answered.status_code == 200, answered.text
    # nobody else's feed has it: the bureau of this network is not the home region
    with station_client(network, "center", ["ops"]) as ops:
        mine = ops.get(
            f"{urls['referral']}/deliveries",
            params={"agency_id": station, "status": "acknowledged"},
        ).json()
        assert [(d["id"], d["feed"]) for d in mine] == [(notice["delivery_id"], "return_notice")]
        everywhere = ops.get(
            f"{urls['referral']}/deliveries", params={"feed": "return_notice", "limit": 500}
        ).json()
        assert [d["agency_id"] for d in everywhere if d["subject_id"] == returned["person_id"]] == [
            station
        ]


def test_another_regions_notice_over_http_opens_the_returnees_stabilisation(network, urls):
    followup = urls["followup"]
    town = a_real_town(GUSHI)
    notice = {
        "sending_station": "滨州市救助管理站",
        "sending_region": "山东省滨州市",
        "reference": f"滨救返〔2026〕{secrets.token_hex(4)}号",
        "full_name": f"王{secrets.token_hex(2)}",
        "sex": "male",
        "age": 67,
        "home_province": "河南省",
        "home_admin_code": town,
        "home_address": "河南省信阳市固始县某镇某村",
        "expected_arrival_on": str(datetime.now(CHINA).date()),
        "categories": ["dementia"],
    }
    key = {"Idempotency-Key": secrets.token_hex(8)}
    with partner(network, "rescue-station-3716-binzhou", "rescue_station") as binzhou:
        sent = binzhou.post(f"{followup}/inbound/returns", json=notice, headers=key)
        assert sent.status_code == 201, sent.text
        receipt = sent.json()
        assert (receipt["reference"], receipt["receiving_station_id"]) == (
            notice["reference"],
            "gushi",
        )
        assert receipt["receiving_station"] == "固始县救助管理站"
        assert notice["full_name"] not in sent.text  # the receipt echoes no person data
        # a retry with the same key is the same receipt, not a second returnee
        again = binzhou.post(f"{followup}/inbound/returns", json=notice, headers=key)
        assert (again.status_code, again.json()) == (201, receipt)
        bad = binzhou.post(f"{followup}/inbound/returns", json={**notice, "home_admin_code": GUSHI})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["errors"][0]["field"] == "home_admin_code"
    # only another region's station sends these
    with station_client(network, "gushi") as gushi:
        assert gushi.post(f"{followup}/inbound/returns", json=notice).status_code == 403
    with partner(network, "civil-affairs-4115-x", "civil_affairs") as bureau:
        assert bureau.post(f"{followup}/inbound/returns", json=notice).status_code == 403

    with station_client(network, "gushi") as gushi:
        (received,) = gushi.get(
            f"{followup}/inbound-returns", params={"reference": notice["reference"]}
        ).json()
        assert received["id"] == receipt["receipt_id"]
        assert (received["channel"], received["notified_by"]) == (
            "partner",
            "rescue-station-3716-binzhou",
        )
        record = gushi.get(f"{followup}/stabilisations/{received['record_id']}").json()
        assert (record["source"], record["station_id"]) == ("inbound_return", "gushi")
        assert [r["sequence"] for r in record["revisits"]] == [1, 2, 3, 4, 5, 6]
        register = gushi.get(
            f"{followup}/at-risk-register", params={"person_id": received["person_id"]}
        ).json()
        assert [e["reasons"] for e in register] == [["dementia"]]
