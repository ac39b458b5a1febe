"""How people arrive, consent and refusal, medical first (issue 3), on the real
network: hotline leads, the data of each arrival route, refusals of help, hospital
placements and their discharge, idempotent retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from journeys import events_for
from support import query, station_client

pytestmark = pytest.mark.e2e

INTAKE_EVENTS = "rescue.intake.events"
PATROL = {
    "escorting_unit": "固始县城市管理局",
    "officer": "刘队长",
    "reference_number": "CG-2026-0042",
    "found_place": "固始县人民广场",
    "found_at": "2026-11-23T06:10:00+08:00",
}
HOSPITAL = "信阳市第五人民医院"


def intake_events(network, person_id: str, until) -> list[tuple[str, dict]]:
    return events_for(network, person_id, until, topic=INTAKE_EVENTS, field="person_id")


def kinds(found) -> list[str]:
    return [kind for kind, _ in found]


def count(network, table: str) -> int:
    return query(network, "intake", f"select count(*) from {table}")[0][0]  # noqa: S608


def a_lead(staff, urls, **overrides) -> dict:
    body = {
        "caller_name": "张女士",
        "caller_phone": "13800138000",
        "reported": "一名老年男子在桥洞下过夜，衣着单薄",
        "place": "固始县史河大桥东侧桥洞",
        "seen_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
        **overrides,
    }
    received = staff.post(f"{urls['intake']}/leads", json=body)
    assert received.status_code == 201, received.text
    return received.json()


def step(staff, urls, lead: dict, what: str, body: dict, status: int = 200) -> dict:
    answer = staff.post(f"{urls['intake']}/leads/{lead['id']}/{what}", json=body)
    assert answer.status_code == status, answer.text
    return answer.json()


# ---- hotline leads (线索) -------------------------------------------------------------


def test_a_lead_is_triaged_assigned_and_closed_without_an_admission(network, urls):
    with station_client(network) as gushi, station_client(network, "xixian") as xixian:
        lead = a_lead(gushi, urls)
        assert (lead["status"], lead["station_id"]) == ("received", "gushi")
        triaged = step(gushi, urls, lead, "triage", {"priority": "urgent", "note": "气温低"})
        assert (triaged["status"], triaged["priority"]) == ("triaged", "urgent")
        assigned = step(gushi, urls, lead, "assignment", {"assigned_to": "外展巡查二组"})
        assert (assigned["status"], assigned["assigned_to"]) == ("assigned", "外展巡查二组")
        closed = step(
            gushi, urls, lead, "closure", {"outcome": "not_found", "note": "到场未发现当事人"}
        )
        assert (closed["status"], closed["outcome"], closed["stay_id"]) == (
            "closed",
            "not_found",
            None,
        )
        assert gushi.get(f"{urls['intake']}/leads/{lead['id']}").json() == closed
        listed = gushi.get(f"{urls['intake']}/leads", params={"status": "closed"}).json()
        assert lead["id"] in {found["id"] for found in listed}
        assert all(found["status"] == "closed" for found in listed)
        open_leads = gushi.get(f"{urls['intake']}/leads", params={"status": "received"}).json()
        assert lead["id"] not in {found["id"] for found in open_leads}
        # another satellite does not see it; nobody was admitted
        assert xixian.get(f"{urls['intake']}/leads/{lead['id']}").status_code == 404
        assert lead["id"] not in {
            found["id"] for found in xixian.get(f"{urls['intake']}/leads").json()
        }
        assert gushi.get(f"{urls['intake']}/persons/{lead['person_id']}").status_code == 404

    found = intake_events(network, lead["person_id"], lambda found: "lead_closed" in kinds(found))
    assert kinds(found) == ["lead_received", "lead_triaged", "lead_assigned", "lead_closed"]
    assert found[1][1]["priority"] == "urgent"
    assert found[0][1]["lead_id"] == lead["id"] and found[0][1]["place"] == lead["place"]
    assert "caller_phone" not in found[0][1] and "caller_name" not in found[0][1]
    assert found[3][1]["outcome"] == "not_found"
    assert found[3][1]["admitted_person_id"] is None


def test_lead_steps_out_of_order_are_refused_with_409(network, urls):
    with station_client(network) as gushi:
        lead = a_lead(gushi, urls)
        early = step(gushi, urls, lead, "assignment", {"assigned_to": "李明"}, status=409)
        assert early["title"] == "Out of order"
        step(gushi, urls, lead, "closure", {"outcome": "not_found"}, status=409)
        step(gushi, urls, lead, "triage", {"priority": "normal"})
        step(gushi, urls, lead, "triage", {"priority": "urgent"}, status=409)
        step(gushi, urls, lead, "closure", {"outcome": "duplicate"}, status=409)  # not assigned
        step(gushi, urls, lead, "assignment", {"assigned_to": "李明"})
        step(gushi, urls, lead, "closure", {"outcome": "duplicate"})
        step(gushi, urls, lead, "closure", {"outcome": "duplicate"}, status=409)
        step(gushi, urls, lead, "assignment", {"assigned_to": "王刚"}, status=409)
        assert gushi.get(f"{urls['intake']}/leads/{lead['id']}").json()["assigned_to"] == "李明"

        # a lead triaged no_action is closed from triage, never assigned
        idle = a_lead(gushi, urls, reported="来电称有人乞讨，核实为街头艺人")
        step(gushi, urls, idle, "triage", {"priority": "no_action"})
        step(gushi, urls, idle, "assignment", {"assigned_to": "李明"}, status=409)
        closed = step(gushi, urls, idle, "closure", {"outcome": "referred_elsewhere"}, status=422)
        assert closed["errors"][0]["field"] == "note"
        step(gushi, urls, idle, "closure", {"outcome": "referred_elsewhere", "note": "转城管"})


def test_a_lead_closed_with_an_admission_admits_the_person_under_the_leads_id(network, urls):
    admission = {"sex": "male", "estimated_age": 70, "dialect": "固始话", "categories": ["elderly"]}
    with station_client(network) as gushi:
        lead = a_lead(gushi, urls)
        step(gushi, urls, lead, "triage", {"priority": "urgent"})
        step(gushi, urls, lead, "assignment", {"assigned_to": "外展巡查一组"})
        # an admitted closure carries its admission; the admission rules apply inside it
        bare = step(gushi, urls, lead, "closure", {"outcome": "admitted"}, status=422)
        assert bare["errors"][0]["field"] == "admission"
        drunk = step(
            gushi,
            urls,
            lead,
            "closure",
            {
                "outcome": "admitted",
                "admission": {**admission, "suspected_conditions": ["intoxication"]},
            },
            status=422,
        )
        assert drunk["errors"][0]["field"] == "admission.suspected_conditions"
        other_route = step(
            gushi,
            urls,
            lead,
            "closure",
            {"outcome": "admitted", "admission": {**admission, "arrival_route": "own_request"}},
            status=422,
        )
        assert other_route["errors"][0]["field"] == "admission.arrival_route"
        # nothing of the refused closures was written
        assert gushi.get(f"{urls['intake']}/leads/{lead['id']}").json()["status"] == "assigned"
        assert gushi.get(f"{urls['intake']}/persons/{lead['person_id']}").status_code == 404

        closed = step(gushi, urls, lead, "closure", {"outcome": "admitted", "admission": admission})
        assert (closed["status"], closed["outcome"]) == ("closed", "admitted")
        person = gushi.get(f"{urls['intake']}/persons/{lead['person_id']}")
        assert person.status_code == 200, person.text
    record = person.json()
    assert (record["station_id"], record["status"], record["arrival_route"]) == (
        "gushi",
        "in_station",
        "hotline_tip",
    )
    assert record["stays"][0]["id"] == closed["stay_id"]
    assert record["dialect"] == "固始话" and record["categories"] == ["elderly"]

    found = intake_events(
        network, lead["person_id"], lambda found: "person_admitted" in kinds(found)
    )
    assert kinds(found)[0] == "lead_received"
    assert kinds(found)[-2:] == ["lead_closed", "person_admitted"]
    lead_closed, admitted = found[-2][1], found[-1][1]
    assert lead_closed["outcome"] == "admitted"
    assert lead_closed["admitted_person_id"] == lead["person_id"]
    assert lead_closed["stay_id"] == closed["stay_id"]
    assert admitted["arrival_route"] == "hotline_tip"
    assert admitted["stay_id"] == closed["stay_id"]


def test_the_center_hotline_hands_a_lead_to_a_satellite(network, urls):
    with (
        station_client(network, "center") as center,
        station_client(network) as gushi,
        station_client(network, "xixian") as xixian,
    ):
        lead = a_lead(center, urls, station_id="gushi")
        assert lead["station_id"] == "gushi"
        assert gushi.get(f"{urls['intake']}/leads/{lead['id']}").status_code == 200
        assert xixian.get(f"{urls['intake']}/leads/{lead['id']}").status_code == 404
        elsewhere = xixian.post(
            f"{urls['intake']}/leads",
            json={"reported": "x", "place": "y", "station_id": "gushi"},
        )
        assert elsewhere.status_code == 403
        unknown = center.post(
            f"{urls['intake']}/leads",
            json={"reported": "x", "place": "y", "station_id": "nowhere"},
        )
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "station_id"


# ---- arrival routes and their data ---------------------------------------------------


def test_a_hotline_tip_is_never_admitted_directly(network, urls):
    with station_client(network) as gushi:
        before = count(network, "persons")
        direct = gushi.post(
            f"{urls['intake']}/persons", json={"arrival_route": "hotline_tip", "sex": "female"}
        )
        assert direct.status_code == 422
        assert direct.headers["content-type"] == "application/problem+json"
        assert direct.json()["errors"][0]["field"] == "arrival_route"
        assert "/leads/" in direct.json()["errors"][0]["reason"]
        assert count(network, "persons") == before


def test_transfers_carry_their_source_and_the_stay_keeps_it(network, urls):
    persons = f"{urls['intake']}/persons"
    with station_client(network) as gushi:
        before = count(network, "persons")
        body = {"arrival_route": "hospital_transfer", "sex": "male", "estimated_age": 52}
        missing = gushi.post(persons, json=body)
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "source"
        half = gushi.post(persons, json={**body, "source": {"hospital": HOSPITAL}})
        assert half.status_code == 422
        assert half.json()["errors"][0]["field"] == "source.discharge_reference"
        stray = gushi.post(
            persons,
            json={"arrival_route": "own_request", "sex": "male", "source": {"hospital": HOSPITAL}},
        )
        assert stray.status_code == 422 and stray.json()["errors"][0]["field"] == "source"
        unknown = gushi.post(
            persons,
            json={
                "arrival_route": "station_transfer",
                "sex": "male",
                "source": {"station_id": "nowhere", "transfer_reference": "R-1"},
            },
        )
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "source.station_id"
        assert count(network, "persons") == before

        from_hospital = gushi.post(
            persons,
            json={**body, "source": {"hospital": HOSPITAL, "discharge_reference": "XY5Y-1187"}},
        )
        assert from_hospital.status_code == 201, from_hospital.text
        from_station = gushi.post(
            persons,
            json={
                "arrival_route": "station_transfer",
                "sex": "female",
                "source": {"station_name": "合肥市救助管理站", "transfer_reference": "HF-031"},
            },
        )
        assert from_station.status_code == 201, from_station.text

        sources = gushi.get(f"{persons}/{from_hospital.json()['id']}/sources").json()
        assert [(s["kind"], s["hospital"], s["discharge_reference"]) for s in sources] == [
            ("hospital", HOSPITAL, "XY5Y-1187")
        ]
        assert sources[0]["stay_id"] == from_hospital.json()["stays"][0]["id"]
        sources = gushi.get(f"{persons}/{from_station.json()['id']}/sources").json()
        assert [(s["kind"], s["station_name"], s["transfer_reference"]) for s in sources] == [
            ("station", "合肥市救助管理站", "HF-031")
        ]


# ---- consent and refusal (劝导记录) ----------------------------------------------------


def test_a_refusal_of_help_is_recorded_and_nobody_is_admitted(network, urls):
    with station_client(network) as gushi, station_client(network, "xixian") as xixian:
        no_consent = gushi.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "street_patrol",
                "sex": "male",
                "estimated_age": 50,
                "handover": PATROL,
                "consent_given": False,
            },
        )
        assert no_consent.status_code == 422
        error = no_consent.json()["errors"][0]
        assert error["field"] == "consent_given"
        assert "POST /refusals" in error["reason"]

        persons_before = count(network, "persons")
        record = {
            "found_place": "固始县人民广场东门",
            "found_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "description": "男，约50岁，神志清楚，自称在此等工作",
            "advice_given": "告知可随时到站求助并留下24小时求助热线，赠送棉被一条",
            "recorded_by": "王晓红",
            "escorting_unit": "固始县城市管理局",
        }
        no_advice = gushi.post(
            f"{urls['intake']}/refusals",
            json={k: v for k, v in record.items() if k != "advice_given"},
        )
        assert no_advice.status_code == 422
        assert no_advice.json()["errors"][0]["field"] == "advice_given"
        refused = gushi.post(f"{urls['intake']}/refusals", json=record)
        assert refused.status_code == 201, refused.text
        refusal = refused.json()
        assert (refusal["station_id"], refusal["advice_given"]) == ("gushi", record["advice_given"])
        assert count(network, "persons") == persons_before
        assert gushi.get(f"{urls['intake']}/persons/{refusal['person_id']}").status_code == 404
        listed = gushi.get(f"{urls['intake']}/refusals").json()
        assert refusal["id"] in {r["id"] for r in listed}
        assert xixian.get(f"{urls['intake']}/refusals/{refusal['id']}").status_code == 404

    found = intake_events(network, refusal["person_id"], lambda found: len(found) >= 1)
    assert kinds(found) == ["help_refused"]
    assert found[0][1]["refusal_id"] == refusal["id"]
    assert found[0][1]["escorting_unit"] == "固始县城市管理局"
    assert "description" not in found[0][1] and "name" not in found[0][1]


# ---- medical first (先救治,后救助) ------------------------------------------------------


def test_a_suspected_mental_illness_is_placed_in_hospital_not_admitted(network, urls):
    with station_client(network) as gushi:
        before = count(network, "persons")
        refused = gushi.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "street_patrol",
                "sex": "female",
                "handover": PATROL,
                "categories": ["mental_illness"],
                "suspected_conditions": ["mental_illness"],
            },
        )
        assert refused.status_code == 422
        error = refused.json()["errors"][0]
        assert error["field"] == "suspected_conditions"
        assert "hospital" in error["reason"]
        assert count(network, "persons") == before


def test_placement_screening_and_discharge_admit_the_person_from_the_hospital(network, urls):
    placements = f"{urls['intake']}/hospital-placements"
    placed_at = datetime.now(UTC) - timedelta(days=3)
    with station_client(network) as gushi, station_client(network, "xixian") as xixian:
        placed = gushi.post(
            placements,
            json={
                "hospital": HOSPITAL,
                "conditions": ["mental_illness"],
                "placed_at": placed_at.isoformat(),
                "escorting_unit": "固始县公安局城关派出所",
                "sex": "male",
                "estimated_age": 35,
                "stated_names": ["小刘"],
                "stated_places": ["阜阳"],
                "dialect": "皖北口音",
                "categories": [],
            },
        )
        assert placed.status_code == 201, placed.text
        placement = placed.json()
        assert placement["status"] == "open"
        url = f"{placements}/{placement['id']}"
        assert placement["id"] in {p["id"] for p in gushi.get(placements).json()}
        assert placement["id"] not in {p["id"] for p in xixian.get(placements).json()}
        assert xixian.post(f"{url}/screening", json={"notes": "x"}).status_code == 404

        early = gushi.post(
            f"{url}/discharge",
            json={"discharged_at": (placed_at - timedelta(days=1)).isoformat()},
        )
        assert early.status_code == 422
        assert early.json()["errors"][0]["field"] == "discharged_at"

        screened = gushi.post(
            f"{url}/screening",
            json={
                "notes": "清醒后自述姓名刘小军，安徽阜阳颍上人",
                "full_name": "刘小军",
                "stated_places": ["安徽省阜阳市颍上县"],
            },
        )
        assert screened.status_code == 201, screened.text
        assert [s["full_name"] for s in screened.json()["screenings"]] == ["刘小军"]

        discharged = gushi.post(
            f"{url}/discharge",
            json={"discharge_reference": "XY5Y-2026-1187", "categories": ["mental_illness"]},
        )
        assert discharged.status_code == 201, discharged.text
        assert discharged.json()["id"] == placement["person_id"]

        again = gushi.post(f"{url}/discharge", json={})
        assert again.status_code == 409
        assert gushi.post(f"{url}/screening", json={"notes": "x"}).status_code == 409
        assert placement["id"] not in {p["id"] for p in gushi.get(placements).json()}
        ended = gushi.get(url).json()
        assert (ended["status"], ended["stay_id"]) == (
            "ended",
            discharged.json()["stays"][0]["id"],
        )

        person = gushi.get(f"{urls['intake']}/persons/{placement['person_id']}").json()
        sources = gushi.get(f"{urls['intake']}/persons/{placement['person_id']}/sources").json()
    assert (person["station_id"], person["status"], person["arrival_route"]) == (
        "gushi",
        "in_station",
        "hospital_transfer",
    )
    # the name screened is a claim (issue 25): search confirms identities, on evidence
    assert (person["claimed_name"], person["full_name"], person["identity_status"]) == (
        "刘小军",
        None,
        "unknown",
    )
    assert "刘小军" in person["stated_names"]
    assert person["stated_places"] == ["阜阳", "安徽省阜阳市颍上县"]
    assert person["categories"] == ["mental_illness"]
    assert [(s["hospital"], s["discharge_reference"], s["placement_id"]) for s in sources] == [
        (HOSPITAL, "XY5Y-2026-1187", placement["id"])
    ]

    found = intake_events(network, placement["person_id"], lambda found: len(found) >= 4)
    assert kinds(found) == [
        "hospital_placement_made",
        "hospital_screening_recorded",
        "hospital_placement_ended",
        "person_admitted",
    ]
    assert found[0][1]["conditions"] == ["mental_illness"]
    assert found[0][1]["hospital"] == HOSPITAL
    assert found[1][1]["name_found"] is True
    assert found[2][1]["stay_id"] == person["stays"][0]["id"]
    admitted = found[3][1]
    assert (admitted["arrival_route"], admitted["identity_status"], admitted["station_id"]) == (
        "hospital_transfer",
        "unknown",
        "gushi",
    )
    assert admitted["full_name"] is None and "刘小军" in admitted["stated_names"]


# ---- idempotent retries ------------------------------------------------------------------


def test_a_retried_post_with_the_same_idempotency_key_creates_one_record(network, urls):
    marker = f"重试测试 {uuid.uuid4().hex[:8]}"
    with station_client(network) as gushi:

        def retried(path: str, body: dict) -> tuple[dict, dict]:
            headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
            first = gushi.post(f"{urls['intake']}{path}", json=body, headers=headers)
            second = gushi.post(f"{urls['intake']}{path}", json=body, headers=headers)
            assert first.status_code == 201, first.text
            assert second.status_code == 201, second.text
            return first.json(), second.json()

        first, second = retried("/leads", {"reported": marker, "place": "固始县汽车站"})
        assert first == second
        assert (
            query(network, "intake", "select count(*) from leads where reported = $1", marker)[0][0]
            == 1
        )

        first, second = retried(
            "/refusals",
            {
                "found_place": "固始县汽车站",
                "description": marker,
                "advice_given": "告知求助热线",
                "recorded_by": "王晓红",
            },
        )
        assert first == second
        assert (
            query(
                network, "intake", "select count(*) from refusals where description = $1", marker
            )[0][0]
            == 1
        )

        first, second = retried(
            "/hospital-placements",
            {
                "hospital": HOSPITAL,
                "conditions": ["intoxication"],
                "sex": "male",
                "physical_description": marker,
            },
        )
        assert first == second
        assert (
            query(
                network,
                "intake",
                "select count(*) from hospital_placements where physical_description = $1",
                marker,
            )[0][0]
            == 1
        )

        # a lead's admission, retried: one person, one stay
        lead = a_lead(gushi, urls)
        step(gushi, urls, lead, "triage", {"priority": "urgent"})
        step(gushi, urls, lead, "assignment", {"assigned_to": "外展巡查一组"})
        closure = {"outcome": "admitted", "admission": {"sex": "female", "estimated_age": 30}}
        headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
        answers = [
            gushi.post(
                f"{urls['intake']}/leads/{lead['id']}/closure", json=closure, headers=headers
            )
            for _ in range(2)
        ]
        assert [a.status_code for a in answers] == [200, 200]
        assert answers[0].json() == answers[1].json()
        assert (
            query(
                network,
                "intake",
                "select count(*) from stays where person_id = $1::uuid",
                lead["person_id"],
            )[0][0]
            == 1
        )
