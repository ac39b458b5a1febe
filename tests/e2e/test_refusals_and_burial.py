"""Refusals of help linked to one person and counted, and the burial of a person
who died (issue 25), on the real network."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from journeys import events_for
from support import query, station_client

pytestmark = pytest.mark.e2e

INTAKE_EVENTS = "rescue.intake.events"
CHINA = timezone(timedelta(hours=8))


def intake_events(network, person_id: str, until) -> list[tuple[str, dict]]:
    return events_for(network, person_id, until, topic=INTAKE_EVENTS, field="person_id")


def admitted(staff, urls, **body) -> dict:
    answer = staff.post(
        f"{urls['intake']}/persons", json={"arrival_route": "own_request", "sex": "male", **body}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def discharged(staff, urls, person: dict, reason: str) -> None:
    answer = staff.post(
        f"{urls['intake']}/persons/{person['id']}/discharge", json={"reason": reason}
    )
    assert answer.status_code == 200, answer.text


def refusal(**fields) -> dict:
    return {
        "found_place": "固始县火车站广场",
        "found_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
        "description": "男，约55岁，神志清楚，拒绝入站",
        "advice_given": "告知可随时到站求助并留下24小时求助热线，赠送棉衣一件",
        "recorded_by": "王晓红",
        **fields,
    }


def test_refusals_of_one_person_are_linked_to_the_person_and_counted(network, urls):
    marker = uuid.uuid4().hex[:6]
    refusals = f"{urls['intake']}/refusals"
    with station_client(network) as gushi, station_client(network, "xixian") as xixian:
        known = admitted(gushi, urls, stated_names=[f"李四{marker}"])
        discharged(gushi, urls, known, "left")

        # first night: a name only; the person record of that name is suggested
        first = gushi.post(refusals, json=refusal(name=f"李 四 {marker.upper()}"))
        assert first.status_code == 201, first.text
        first = first.json()
        assert first["person_id"] != known["id"] and first["linked_at"] is None
        assert [(m["kind"], m["person_id"]) for m in first["possible_matches"]] == [
            ("person", known["id"])
        ]

        # second night: staff recognise the person and name them
        named = gushi.post(refusals, json=refusal(name=f"李四{marker}", person_id=known["id"]))
        assert named.status_code == 201, named.text
        named = named.json()
        assert (named["person_id"], named["possible_matches"]) == (known["id"], [])
        unknown = gushi.post(refusals, json=refusal(person_id=str(uuid.uuid4())))
        assert unknown.status_code == 404, unknown.text

        # third night: a name again; the earlier unlinked refusal is suggested too
        third = gushi.post(refusals, json=refusal(name=f"李四·{marker}"))
        assert third.status_code == 201, third.text
        third = third.json()
        suggested = {(m["kind"], m["refusal_id"]) for m in third["possible_matches"]}
        assert ("refusal", first["id"]) in suggested and ("person", None) in suggested
        # ...and staff link it afterwards
        link = f"{refusals}/{third['id']}/person"
        assert gushi.post(link, json={}).json()["errors"][0]["field"] == "person_id"
        assert xixian.post(link, json={"person_id": known["id"]}).status_code == 404
        linked = gushi.post(link, json={"person_id": known["id"]})
        assert linked.status_code == 200, linked.text
        assert (linked.json()["count"], linked.json()["repeated"]) == (2, True)
        assert gushi.post(link, json={"person_id": known["id"]}).status_code == 409

        counted = gushi.get(f"{urls['intake']}/persons/{known['id']}/refusals").json()
        assert (counted["person_id"], counted["count"], counted["person_record"]) == (
            known["id"],
            2,
            True,
        )
        assert [r["id"] for r in counted["refusals"]] == [third["id"], named["id"]]
        record = gushi.get(f"{urls['intake']}/persons/{known['id']}").json()
        assert record["refusal_count"] == 2  # the person's page says it too
        listed = gushi.get(refusals, params={"person_id": known["id"]}).json()
        assert {r["id"] for r in listed} == {named["id"], third["id"]}
        unlinked = gushi.get(f"{refusals}/{first['id']}").json()
        assert unlinked["person_id"] == first["person_id"]  # the first stays unlinked

        # another station may name the person too (as a readmission may), and sees
        # the count but only its own refusal
        assert xixian.get(f"{urls['intake']}/persons/{known['id']}/refusals").status_code == 404
        theirs = xixian.post(refusals, json=refusal(person_id=known["id"]))
        assert theirs.status_code == 201, theirs.text
        seen = xixian.get(f"{urls['intake']}/persons/{known['id']}/refusals").json()
        assert (seen["count"], [r["id"] for r in seen["refusals"]]) == (3, [theirs.json()["id"]])

    found = intake_events(
        network,
        known["id"],
        lambda found: (
            sum(k == "help_refused" for k, _ in found) >= 2
            and any(k == "refusal_linked" for k, _ in found)
        ),
    )
    refused = [e for k, e in found if k == "help_refused"]
    assert [(e["refusal_id"], e["person_linked"], e["refusal_count"]) for e in refused] == [
        (named["id"], True, 1),
        (theirs.json()["id"], True, 3),
    ]
    [relinked] = [e for k, e in found if k == "refusal_linked"]
    assert (relinked["refusal_id"], relinked["previous_person_id"], relinked["refusal_count"]) == (
        third["id"],
        third["person_id"],
        2,
    )
    assert "name" not in relinked and "description" not in relinked


def test_the_burial_of_a_person_who_died_is_recorded_once_and_only_after_a_death(network, urls):
    today = datetime.now(CHINA).date().isoformat()  # the stations' day, as the death's
    record = {
        "buried_on": today,
        "remains": "cremated_ashes_kept",
        "funeral_home": "固始县殡仪馆",
        "certificate_reference": "豫火化〔2026〕0381号",
        "photo_kept": True,
        "dna_kept": True,
        "note": "骨灰寄存于殡仪馆骨灰堂，待家属认领",
    }
    with station_client(network) as gushi, station_client(network, "xixian") as xixian:
        dead = admitted(gushi, urls, estimated_age=70)
        home = admitted(gushi, urls, estimated_age=40)
        burial = f"{urls['intake']}/persons/{dead['id']}/burial"
        assert gushi.post(burial, json=record).status_code == 409  # still in the station
        discharged(gushi, urls, dead, "died")
        discharged(gushi, urls, home, "returned_home")

        nowhere = gushi.post(burial, json={**record, "funeral_home": None})
        assert nowhere.status_code == 422
        assert nowhere.json()["errors"][0]["field"] == "cemetery"
        assert xixian.post(burial, json=record).status_code == 404
        assert gushi.get(burial).status_code == 404  # none yet
        recorded = gushi.post(burial, json=record)
        assert recorded.status_code == 201, recorded.text
        assert recorded.headers["location"] == f"/persons/{dead['id']}/burial"
        kept = gushi.get(burial).json()
        assert (kept["remains"], kept["funeral_home"], kept["photo_kept"], kept["dna_kept"]) == (
            "cremated_ashes_kept",
            "固始县殡仪馆",
            True,
            True,
        )
        assert kept["stay_id"] == dead["stays"][0]["id"]
        again = gushi.post(burial, json={**record, "remains": "buried", "cemetery": "固始县公墓"})
        assert again.status_code == 409
        corrected = gushi.put(
            burial,
            json={
                **record,
                "certificate_reference": "豫火化〔2026〕0383号",
                "correction_note": "火化证明编号录入有误",
            },
        )
        assert corrected.status_code == 200, corrected.text
        assert gushi.get(burial).json()["certificate_reference"] == "豫火化〔2026〕0383号"
        page = gushi.get(f"{urls['intake']}/persons/{dead['id']}").json()
        assert page["burial"]["certificate_reference"] == "豫火化〔2026〕0383号"
        assert page["refusal_count"] == 0
        assert gushi.get(f"{urls['intake']}/persons/{home['id']}").json()["burial"] is None

        returned = gushi.post(f"{urls['intake']}/persons/{home['id']}/burial", json=record)
        assert returned.status_code == 409, returned.text
        assert "returned_home" in returned.json()["detail"]
    rows = query(
        network,
        "intake",
        "select count(*) from burials where person_id = $1",
        uuid.UUID(home["id"]),
    )
    assert rows[0][0] == 0

    found = intake_events(
        network, dead["id"], lambda found: sum(k == "burial_recorded" for k, _ in found) >= 2
    )
    buried = [e for k, e in found if k == "burial_recorded"]
    assert [(e["certificate_reference"], e["corrected"]) for e in buried] == [
        ("豫火化〔2026〕0381号", False),
        ("豫火化〔2026〕0383号", True),
    ]
    assert buried[0]["buried_on"] == today and buried[0]["remains"] == "cremated_ashes_kept"
