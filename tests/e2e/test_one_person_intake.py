"""One person across stations and endings, on the real network (issue 25): a
transfer inside the network keeps the person and moves their search case, the
family's handover ends the stay as returned home, and a 12-year-old admitted
without the `minor` tick is referred to minor protection."""

from __future__ import annotations

import pytest
from journeys import events_for, handed_over
from support import a_real_county, poll, station_client

pytestmark = pytest.mark.e2e

INTAKE_EVENTS = "rescue.intake.events"
PATROL = {
    "escorting_unit": "固始县城市管理局",
    "officer": "刘队长",
    "reference_number": "CG-2026-0099",
    "found_place": "固始县汽车站",
    "found_at": "2026-11-23T06:10:00+08:00",
}


def intake_events(network, person_id: str, until) -> list[tuple[str, dict]]:
    return events_for(network, person_id, until, topic=INTAKE_EVENTS, field="person_id")


def test_a_transfer_from_gushi_to_xixian_keeps_the_person_and_moves_the_case(network, urls):
    persons = f"{urls['intake']}/persons"
    with station_client(network, "gushi") as gushi, station_client(network, "xixian") as xixian:
        admitted = gushi.post(
            persons,
            json={
                "arrival_route": "own_request",
                "sex": "male",
                "estimated_age": 55,
                "stated_names": ["老周"],
            },
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        case = poll(
            lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]
        assert case["station_id"] == "gushi"

        # gushi sends him to xixian: the discharge names the network station
        sent = gushi.post(
            f"{persons}/{person_id}/discharge",
            json={"reason": "transferred", "transferred_to_station_id": "xixian"},
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["stays"][0]["transferred_to_station_id"] == "xixian"

        # xixian cannot mint a new person for him ...
        transfer = {
            "arrival_route": "station_transfer",
            "source": {"station_id": "gushi", "transfer_reference": "GS-ZY-2026-007"},
        }
        minted = xixian.post(persons, json={**transfer, "sex": "male", "estimated_age": 55})
        assert minted.status_code == 422
        assert minted.headers["content-type"] == "application/problem+json"
        error = minted.json()["errors"][0]
        assert error["field"] == "source.station_id"
        assert "POST /persons/{person_id}/stays" in error["reason"]

        # ... it admits the same person for a second stay
        arrived = xixian.post(f"{persons}/{person_id}/stays", json=transfer)
        assert arrived.status_code == 201, arrived.text
        person = arrived.json()
        assert (person["id"], person["station_id"], person["status"]) == (
            person_id,
            "xixian",
            "in_station",
        )
        assert [(s["sequence"], s["station_id"]) for s in person["stays"]] == [
            (1, "gushi"),
            (2, "xixian"),
        ]
        sources = xixian.get(f"{persons}/{person_id}/sources").json()
        assert [(s["station_id"], s["transfer_reference"]) for s in sources] == [
            ("gushi", "GS-ZY-2026-007")
        ]

        # the one search case follows him to xixian; gushi still reads what it did
        def moved():
            found = xixian.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
            return found if found and found[0]["station_id"] == "xixian" else None

        [now_at_xixian] = poll(moved)
        assert now_at_xixian["id"] == case["id"]
        still = gushi.get(f"{urls['search']}/cases/{case['id']}")
        assert still.status_code == 200
        # ... and intake's record of the stay it had, which another station does not
        record = gushi.get(f"{persons}/{person_id}")
        assert record.status_code == 200, record.text
        assert record.json()["station_id"] == "xixian"
        with station_client(network, "guangshan") as guangshan:
            assert guangshan.get(f"{persons}/{person_id}").status_code == 404

    found = intake_events(network, person_id, lambda found: len(found) >= 3)
    assert [kind for kind, _ in found] == [
        "person_admitted",
        "person_discharged",
        "person_admitted",
    ]
    discharged, again = found[1][1], found[2][1]
    assert (discharged["reason"], discharged["transferred_to_station_id"]) == (
        "transferred",
        "xixian",
    )
    assert (again["person_id"], again["stay_sequence"], again["station_id"]) == (
        person_id,
        2,
        "xixian",
    )


def test_the_familys_handover_discharges_the_stay_as_returned_home(network, urls):
    home = a_real_county("51")  # Sichuan: the center escorts him home
    returned = handed_over(network, urls, province="四川省", home_admin_code=home)
    person_id = returned["person_id"]

    with station_client(network, "gushi") as gushi:

        def discharged():
            person = gushi.get(f"{urls['intake']}/persons/{person_id}").json()
            return person if person["status"] == "discharged" else None

        person = poll(discharged)
        [stay] = person["stays"]
        assert stay["discharge_reason"] == "returned_home"
        assert "王秀英" in stay["discharge_note"]  # the receiver who signed
        assert (person["registered_home_admin_code"], person["registered_home_province"]) == (
            home,
            "四川省",
        )
        assert person["identity_status"] == "confirmed"
        # staff find the stay ended: nothing left to discharge by hand
        late = gushi.post(
            f"{urls['intake']}/persons/{person_id}/discharge", json={"reason": "returned_home"}
        )
        assert late.status_code == 409

    found = intake_events(
        network, person_id, lambda found: "person_discharged" in {k for k, _ in found}
    )
    endings = [payload for kind, payload in found if kind == "person_discharged"]
    assert [e["reason"] for e in endings] == ["returned_home"]  # once


def test_a_twelve_year_old_without_the_tick_is_escorted_and_referred_to_minor_protection(
    network, urls
):
    home = a_real_county()
    agency_id = f"minor-protection-{home}-one-person"
    with station_client(network, "center", ["admin"]) as admin:
        registered = admin.put(
            f"{urls['referral']}/partners/{agency_id}",
            json={
                "name": f"{home} 未成年人保护",
                "partner_type": "minor_protection",
                "jurisdiction_code": home,
                "contacts": [{"name": "值班室", "phone": "0376-0000000"}],
            },
        )
        assert registered.status_code == 200, registered.text

    with station_client(network, "gushi") as gushi:
        # street patrol, no consent, no `minor` tick: the age says minor
        admitted = gushi.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "street_patrol",
                "sex": "male",
                "estimated_age": 12,
                "handover": PATROL,
                "registered_home_admin_code": home,
            },
        )
        assert admitted.status_code == 201, admitted.text
        child = admitted.json()
        assert child["categories"] == ["minor"]
        assert child["stays"][0]["consent_given"] is None

        def referred():
            found = gushi.get(
                f"{urls['referral']}/referrals", params={"person_id": child["id"]}
            ).json()
            return [r for r in found if r["partner_type"] == "minor_protection"]

        [referral] = poll(referred)
    assert (referral["reason"], referral["agency_id"], referral["mandatory"]) == (
        "minor",
        agency_id,
        True,
    )
    admitted_event = intake_events(network, child["id"], lambda found: found)[0][1]
    assert admitted_event["categories"] == ["minor"]
