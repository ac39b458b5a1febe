"""Returns home from elsewhere on the real network (issue 25): another region's
return notice, by API and on the inbound topic, opens a stabilisation record
here; the home town's official records a revisit; another town's official
neither sees the record nor can revisit it."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from journeys import events_for
from support import _real_codes, a_real_town, poll, produce_raw, query, station_client

from rescue_events.contracts.followup import InboundReturnNotifiedV1
from rescue_events.envelope import Envelope
from rescue_events.registry import registry, schema_urn

pytestmark = pytest.mark.e2e

CHINA = ZoneInfo("Asia/Shanghai")
GUSHI = "411525"  # the county gushi station serves
INBOUND = "rescue.inbound.returns"


def two_towns_of_gushi() -> tuple[str, str]:
    town = a_real_town(GUSHI)
    other = a_real_town(GUSHI)
    while other == town:
        other = a_real_town(GUSHI)
    return town, other


def a_village_of(town: str) -> str:
    return next(code for code in _real_codes("villages.csv") if code.startswith(town))


def today() -> str:
    return str(datetime.now(CHINA).date())


def notice(town: str, **extra) -> dict:
    return {
        "sending_station": "滨州市救助管理站",
        "sending_region": "山东省滨州市",
        "reference": f"滨救返〔2026〕{secrets.token_hex(4)}号",
        "full_name": f"王{secrets.token_hex(2)}",
        "sex": "male",
        "age": 67,
        "national_id_number": "11010519491231002X",
        "home_province": "河南省",
        "home_admin_code": town,
        "home_address": "河南省信阳市固始县某镇某村",
        "expected_arrival_on": today(),
        "escort": "滨州市救助管理站 王强、李军",
        **extra,
    }


def publish_inbound(network, fields: dict) -> None:
    """A partner region's system puts a notice on the inbound topic: no person id of
    this network, so no ce_subject; keyed by its reference."""
    event_type = registry.for_model(InboundReturnNotifiedV1)
    envelope = Envelope(
        type=event_type.name,
        source="/partners/binzhou-rescue",
        subject="",
        dataschema=schema_urn(event_type.name, event_type.version),
    )
    asyncio.run(
        produce_raw(
            network.broker.bootstrap_servers,
            INBOUND,
            value=json.dumps(fields, ensure_ascii=False).encode(),
            key=fields["reference"].encode(),
            headers=[(k, v.encode()) for k, v in envelope.to_headers()],
        )
    )


def town_client(network, area: str):
    return station_client(network, area, roles=("town_official",))


def test_inbound_returnees_are_revisited_by_their_town_and_hidden_from_another(network, urls):
    followup = urls["followup"]
    town, other_town = two_towns_of_gushi()
    village = a_village_of(town)

    # ---- by API: gushi's staff enter Binzhou's notice ---------------------------
    by_api = notice(town, categories=["dementia"])
    with station_client(network, "gushi") as gushi:
        made = gushi.post(f"{followup}/inbound-returns", json=by_api)
        assert made.status_code == 201, made.text
        inbound = made.json()
        assert inbound["national_id_number"] == "110105***********X"  # staff see it masked
        again = gushi.post(f"{followup}/inbound-returns", json=by_api)
        assert again.status_code == 409
        assert again.json()["errors"][0]["field"] == "reference"
        county_only = gushi.post(f"{followup}/inbound-returns", json=notice(GUSHI))
        assert county_only.status_code == 422
        assert county_only.json()["errors"][0]["field"] == "home_admin_code"

        api_record = gushi.get(f"{followup}/stabilisations/{inbound['record_id']}").json()
        assert (api_record["source"], api_record["inbound_return_id"]) == (
            "inbound_return",
            inbound["id"],
        )
        assert api_record["person_id"] == inbound["person_id"]
        assert api_record["station_id"] == "gushi"
        assert [r["sequence"] for r in api_record["revisits"]] == [1, 2, 3, 4, 5, 6]
        assert {r["assigned_to"] for r in api_record["revisits"]} == {town}
        # what Binzhou found puts the person on the at-risk register
        register = gushi.get(
            f"{followup}/at-risk-register", params={"person_id": inbound["person_id"]}
        ).json()
        assert [(e["record_id"], e["reasons"]) for e in register] == [
            (api_record["id"], ["dementia"])
        ]

    # ---- by event: another notice on the inbound topic, home a village of the town
    by_event = notice(village, categories=[])
    del by_event["age"]
    by_event |= {"birth_year": 1958, "notified_at": datetime.now(UTC).isoformat()}
    publish_inbound(network, by_event)
    # and one the rules refuse (a county code): dead-lettered, not applied
    refused = notice(GUSHI, notified_at=datetime.now(UTC).isoformat())
    publish_inbound(network, refused)

    with station_client(network, "gushi") as gushi:
        received = poll(
            lambda: gushi.get(
                f"{followup}/inbound-returns", params={"reference": by_event["reference"]}
            ).json()
        )
        assert [(r["channel"], r["notified_by"]) for r in received] == [
            ("event", "/partners/binzhou-rescue")
        ]
        event_record_id = received[0]["record_id"]
        event_record = gushi.get(f"{followup}/stabilisations/{event_record_id}").json()
        assert (event_record["home_admin_code"], event_record["jurisdiction_code"]) == (
            village,
            town,
        )
    letters = poll(
        lambda: query(
            network,
            "followup",
            "select reason, error from dead_letters where topic = $1 and error like $2",
            INBOUND,
            "%inbound return notice refused%",
        )
    )
    assert [row["reason"] for row in letters] == ["rejected"]
    assert not query(
        network,
        "followup",
        "select 1 from inbound_returns where reference = $1",
        refused["reference"],
    )

    # ---- the town's official sees both and records a revisit --------------------
    revisit = {
        "mode": "visit",
        "visited_on": today(),
        "visited_by": "镇民政所 张敏",
        "situation": "stable",
    }
    with town_client(network, town) as official:
        listed = {r["id"] for r in official.get(f"{followup}/stabilisations").json()}
        assert {api_record["id"], event_record_id} <= listed
        assert all(
            r["home_admin_code"].startswith(town)
            for r in official.get(f"{followup}/stabilisations").json()
        )
        done = official.post(
            f"{followup}/stabilisations/{api_record['id']}/revisits/1", json=revisit
        )
        assert done.status_code == 200, done.text
        first = done.json()["revisits"][0]
        assert (first["status"], first["recorded_by_role"]) == ("done", "town_official")
        assert official.get(f"{followup}/stabilisations/{event_record_id}").status_code == 200
        # the stations' work stays theirs
        assert official.post(f"{followup}/inbound-returns", json=notice(town)).status_code == 403
        assessment = {"level": "low", "reasons": ["x"], "owner": "x"}
        url = f"{followup}/stabilisations/{api_record['id']}/risk-assessments"
        assert official.post(url, json=assessment).status_code == 403

    # ---- another town's official: 404, and absent from its lists ----------------
    with town_client(network, other_town) as stranger:
        for record_id in (api_record["id"], event_record_id):
            assert stranger.get(f"{followup}/stabilisations/{record_id}").status_code == 404
            refused_revisit = stranger.post(
                f"{followup}/stabilisations/{record_id}/revisits/2", json=revisit
            )
            assert refused_revisit.status_code == 404
        listed = {r["id"] for r in stranger.get(f"{followup}/stabilisations").json()}
        assert not listed & {api_record["id"], event_record_id}
        overdue = {r["record_id"] for r in stranger.get(f"{followup}/revisits/overdue").json()}
        assert not overdue & {api_record["id"], event_record_id}
    with town_client(network, "gushi") as misnamed:  # a town token naming a station
        assert misnamed.get(f"{followup}/stabilisations").status_code == 403

    # the revisit on the wire says who recorded it
    recorded = [
        p
        for kind, p in events_for(
            network,
            inbound["person_id"],
            lambda found: any(k == "revisit_recorded" for k, _ in found),
            topic="rescue.followup.events",
            field="person_id",
        )
        if kind == "revisit_recorded"
    ]
    assert recorded[0]["recorded_by_role"] == "town_official"
