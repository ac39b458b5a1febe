"""Identification on the real network (issue 4): clues, missing-person reports
matched both ways into the review queue, rejecting candidates, confirming an
identity on evidence, and the identification figures."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from support import poll, station_client

from rescue_divisions.national_id import national_id_check_character

pytestmark = pytest.mark.e2e

SPECIALIST = ("search_specialist",)


def a_name() -> str:
    return f"寻亲{secrets.token_hex(3)}"


def admit(network, urls, *, names=(), places=(), dialect=None, station="gushi", sex="male") -> dict:
    """Admit an unidentified person; return the search case."""
    with station_client(network, station) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": sex,
                "estimated_age": 60,
                "stated_names": list(names),
                "stated_places": list(places),
                "dialect": dialect,
            },
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        return poll(
            lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]


def report_for(name: str, **extra) -> dict:
    return {
        "reported_name": name,
        "sex": "male",
        "age": 61,
        "description": "偏瘦,左眉有痣",
        "last_seen_place": "四川省南充市仪陇县新政镇",
        "last_seen_at": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
        "contact_name": "李小红",
        "contact_phone": "13800138000",
        **extra,
    }


def file_report(network, urls, body: dict, station="gushi") -> dict:
    with station_client(network, station) as staff:
        filed = staff.post(f"{urls['search']}/missing-person-reports", json=body)
        assert filed.status_code == 201, filed.text
        return filed.json()


def queue_for(
    network, urls, report_id: str, station="gushi", status="pending", case_id=None
) -> list[dict]:
    """The review queue of one report (and one case: other tests' open cases may
    match the same report)."""
    params = {"report_id": report_id, "status": status}
    if case_id:
        params["case_id"] = case_id
    with station_client(network, station) as staff:
        answer = staff.get(f"{urls['search']}/review-queue", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()


def valid_national_id() -> str:
    first17 = f"511324196405{secrets.randbelow(28) + 1:02d}{secrets.randbelow(1000):03d}"
    return first17 + national_id_check_character(first17)


def confirmation(**overrides) -> dict:
    return {
        "evidence": [{"kind": "police_check", "reference": "固公核查〔2026〕1123号"}],
        "full_name": "李建国",
        "national_id_number": valid_national_id(),
        "home_province": "四川省",
        "home_address": "四川省南充市仪陇县新政镇石桥村3组",
        "home_admin_code": "511324",
        **overrides,
    }


def test_clues_are_recorded_in_the_order_they_were_noted(network, urls):
    case = admit(network, urls)
    url = f"{urls['search']}/cases/{case['id']}/clues"
    now = datetime.now(UTC)
    with station_client(network) as staff:
        later = staff.post(
            url,
            json={
                "changes": "情绪稳定后改口说家在南充",
                "places": ["南充"],
                "noted_at": now.isoformat(),
            },
        )
        earlier = staff.post(
            url,
            json={
                "observed": "右手虎口有旧伤疤",
                "dialect_heard": "川北口音",
                "person_said": "说自己叫老李",
                "group_judgment": "判断为四川人",
                "author": "社工 张敏",
                "apparent_sex": "male",
                "apparent_age": 60,
                "noted_at": (now - timedelta(days=2)).isoformat(),
            },
            headers={"Idempotency-Key": f"clue-{case['id']}"},
        )
        assert later.status_code == 201, later.text
        assert earlier.status_code == 201, earlier.text
        again = staff.post(
            url,
            json={
                "observed": "右手虎口有旧伤疤",
                "dialect_heard": "川北口音",
                "person_said": "说自己叫老李",
                "group_judgment": "判断为四川人",
                "author": "社工 张敏",
                "apparent_sex": "male",
                "apparent_age": 60,
                "noted_at": (now - timedelta(days=2)).isoformat(),
            },
            headers={"Idempotency-Key": f"clue-{case['id']}"},
        )
        assert again.json()["id"] == earlier.json()["id"]

        empty = staff.post(url, json={"author": "张敏"})
        assert empty.status_code == 422
        assert empty.headers["content-type"] == "application/problem+json"
        assert "at least one of observed" in empty.text

        listed = staff.get(url).json()
        assert [c["id"] for c in listed] == [earlier.json()["id"], later.json()["id"]]
        assert listed[0]["author"] == "社工 张敏" and listed[0]["dialect_heard"] == "川北口音"
        assert listed[1]["places"] == ["南充"]

    with station_client(network, "xixian") as other:
        assert other.get(url).status_code == 404


def test_a_report_filed_first_meets_the_person_admitted_later(network, urls):
    name = a_name()
    report = file_report(network, urls, report_for(name))
    assert report["status"] == "open"

    case = admit(network, urls, names=[name], places=["南充"], dialect="四川话")

    found = poll(lambda: queue_for(network, urls, report["id"], case_id=case["id"]))
    assert [c["case_id"] for c in found] == [case["id"]]
    assert found[0]["score"] > 0.5 and any(name in r for r in found[0]["reasons"])
    # nothing merged: the case stays open, the report too
    with station_client(network) as staff:
        assert staff.get(f"{urls['search']}/cases/{case['id']}").json()["status"] == "open"
        reports = staff.get(f"{urls['search']}/missing-person-reports").json()
        assert {r["id"]: r["status"] for r in reports}[report["id"]] == "open"


def test_a_person_admitted_first_meets_the_report_filed_later_and_can_be_rejected(network, urls):
    name = a_name()
    case = admit(network, urls, names=[name])
    # the family reports at another station; the person's station sees the candidate
    report = file_report(network, urls, report_for(name), station="xixian")

    pending = queue_for(network, urls, report["id"], station="gushi", case_id=case["id"])
    assert [c["case_id"] for c in pending] == [case["id"]]
    assert queue_for(network, urls, report["id"], station="xixian", case_id=case["id"]) == pending
    assert queue_for(network, urls, report["id"], station="guangshan", case_id=case["id"]) == []
    candidate = pending[0]

    url = f"{urls['search']}/candidates/{candidate['id']}/rejection"
    with station_client(network) as staff:
        assert staff.post(url, json={"reason": "不是本人"}).status_code == 403
    with station_client(network, roles=SPECIALIST) as specialist:
        assert specialist.post(url, json={}).status_code == 422
        rejected = specialist.post(url, json={"reason": "家属看照片后确认不是本人"})
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["status"] == "rejected"
        assert specialist.post(url, json={"reason": "again"}).status_code == 409

    assert queue_for(network, urls, report["id"], case_id=case["id"]) == []
    assert [c["id"] for c in queue_for(network, urls, report["id"], status="rejected")] == [
        candidate["id"]
    ]
    # a new clue matches again, but a rejected pair is not proposed again
    with station_client(network) as staff:
        clue = staff.post(
            f"{urls['search']}/cases/{case['id']}/clues",
            json={"person_said": f"又说自己叫{name}", "names": [name]},
        )
        assert clue.status_code == 201
    assert queue_for(network, urls, report["id"], case_id=case["id"]) == []


def test_only_a_reviewer_confirms_and_a_dna_hit_must_be_re_verified(network, urls):
    case = admit(network, urls)
    url = f"{urls['search']}/cases/{case['id']}/identity-confirmation"

    with station_client(network) as staff:
        refused = staff.post(url, json=confirmation())
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"

    with station_client(network, roles=SPECIALIST) as specialist:
        dna_only = specialist.post(
            url, json=confirmation(evidence=[{"kind": "dna_reverified", "reference": "DNA-1"}])
        )
        assert dna_only.status_code == 409, dna_only.text
        assert "not trusted until it is re-verified" in dna_only.json()["detail"]

        face = specialist.post(
            url, json=confirmation(evidence=[{"kind": "face_match_with_family_confirmation"}])
        )
        assert face.status_code == 422
        assert face.json()["errors"][0]["field"].startswith("evidence.0")

        bad_id = confirmation()
        bad_id["national_id_number"] = bad_id["national_id_number"][:17] + (
            "0" if bad_id["national_id_number"][17] != "0" else "1"
        )
        wrong = specialist.post(url, json=bad_id)
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["field"] == "national_id_number"
        assert "check character" in wrong.json()["errors"][0]["reason"]

        short = specialist.post(url, json=confirmation(national_id_number="51132419640501"))
        assert short.json()["errors"][0]["field"] == "national_id_number"

        no_province = specialist.post(url, json=confirmation(home_admin_code="991324"))
        assert no_province.status_code == 422
        assert no_province.json()["errors"][0]["field"] == "home_admin_code"

        assert specialist.get(f"{urls['search']}/cases/{case['id']}").json()["status"] == "open"


def test_a_confirmed_candidate_reaches_transfer_and_ends_the_search(network, urls):
    name = a_name()
    case = admit(network, urls, names=[name], places=["南充"])
    report = file_report(network, urls, report_for(name))
    candidate = poll(lambda: queue_for(network, urls, report["id"], case_id=case["id"]))[0]
    national_id = valid_national_id()

    with station_client(network, roles=("station_lead",)) as lead:
        confirmed = lead.post(
            f"{urls['search']}/cases/{case['id']}/identity-confirmation",
            json=confirmation(
                candidate_id=candidate["id"],
                full_name=name,
                national_id_number=national_id.lower(),
                evidence=[
                    {"kind": "face_match_with_family_confirmation", "note": "其女视频确认"},
                    {"kind": "police_check", "reference": "固公核查〔2026〕1124号"},
                ],
            ),
        )
        assert confirmed.status_code == 200, confirmed.text
        body = confirmed.json()
        assert body["status"] == "identified" and body["method"] == "police_check"
        assert body["national_id_number"] == national_id.upper()
        assert body["missing_person_report_id"] == report["id"]

        again = lead.post(
            f"{urls['search']}/cases/{case['id']}/identity-confirmation", json=confirmation()
        )
        assert again.status_code == 409

    returned = poll(
        lambda: (
            station_client(network)
            .get(f"{urls['transfer']}/returns", params={"person_id": case["person_id"]})
            .json()
        )
    )
    assert returned[0]["cross_province"] is True

    with station_client(network) as staff:
        tasks = staff.get(f"{urls['search']}/cases/{case['id']}/tasks").json()
        assert tasks and {t["status"] for t in tasks} <= {"cancelled", "done"}
        assert "cancelled" in {t["status"] for t in tasks}
        reports = staff.get(f"{urls['search']}/missing-person-reports").json()
        closed = {r["id"]: r for r in reports}[report["id"]]
        assert (closed["status"], closed["found_case_id"]) == ("found", case["id"])
        kept = staff.get(f"{urls['search']}/cases/{case['id']}/identity-confirmation").json()
        # the staff see the number masked; the reviewers in full (access.SENSITIVE)
        assert (
            kept["national_id_number"]
            == national_id.upper()[:6] + "*" * 11 + national_id.upper()[-1]
        )
    with station_client(network, roles=SPECIALIST) as specialist:
        full = specialist.get(f"{urls['search']}/cases/{case['id']}/identity-confirmation")
        assert full.json()["national_id_number"] == national_id.upper()
    with station_client(network) as staff:
        kept = staff.get(f"{urls['search']}/cases/{case['id']}/identity-confirmation").json()
        assert [e["kind"] for e in kept["evidence"]] == [
            "face_match_with_family_confirmation",
            "police_check",
        ]
    assert queue_for(network, urls, report["id"], status="confirmed")[0]["id"] == candidate["id"]


def test_identification_figures_per_station(network, urls):
    start = datetime.now(UTC) - timedelta(minutes=1)
    open_case = admit(network, urls, station="guangshan")
    found = admit(network, urls, station="guangshan")
    with station_client(network, "guangshan", roles=("center_coordinator",)) as coordinator:
        confirmed = coordinator.post(
            f"{urls['search']}/cases/{found['id']}/identity-confirmation",
            json=confirmation(national_id_number=None),
        )
        assert confirmed.status_code == 200, confirmed.text
    end = datetime.now(UTC) + timedelta(minutes=1)
    params = {"period_start": start.isoformat(), "period_end": end.isoformat()}

    with station_client(network, "guangshan") as staff:
        figures = staff.get(f"{urls['search']}/figures/identification", params=params).json()
    assert [f["station_id"] for f in figures] == ["guangshan"]
    mine = figures[0]
    assert mine["cases_opened"] >= 2 and mine["identified"] >= 1
    assert 0 < mine["identification_rate"] <= 1
    assert mine["median_hours_to_identify"] is not None
    assert open_case["id"] != found["id"]

    with station_client(network, "center") as center:
        every = center.get(f"{urls['search']}/figures/identification", params=params).json()
        assert {"center", "gushi", "guangshan", "xixian"} <= {f["station_id"] for f in every}
        backwards = center.get(
            f"{urls['search']}/figures/identification",
            params={"period_start": end.isoformat(), "period_end": start.isoformat()},
        )
        assert backwards.status_code == 422
