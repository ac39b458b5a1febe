"""Search's lookups across stations and roles on the real network (issue 22): a
name, a face trail, an earlier-stay suggestion or a review candidate shows only
what opening the record it points to would show the caller (its station and the
center; another station's protected person never), and the police answer only
what was asked of their own agency."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from journeys import events_for
from support import poll, produce_raw, query, shared_testdata, station_client

from rescue_events.contracts.search_police import (
    DnaResult,
    PoliceCheckResult,
    PoliceDnaResultV1,
    PoliceIdentityCheckAnswerV1,
)
from rescue_events.envelope import Envelope
from rescue_events.registry import registry, schema_urn

pytestmark = pytest.mark.e2e

SPECIALIST = ("search_specialist",)
LEAD = ("station_lead",)
STAFF = ("station_staff",)
DV = "domestic_violence_victim"
FACES = shared_testdata() / "faces"
# Given-name characters no other test writes, so a name here matches only its own.
RARE = "鸿鹄鹭鹏鹤麒麟骥骐琨瑜璋瑾琰琮珩璐瑶琪瑛"


def a_name() -> str:
    return "欧阳" + "".join(secrets.choice(RARE) for _ in range(2))


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def admit(network, urls, station: str, **person) -> dict:
    """An unidentified person admitted at ``station``; the search case."""
    with station_client(network, station) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "female", "estimated_age": 35, **person},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        return poll(
            lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]


def names_seen(network, urls, station: str, roles, q: str) -> set[str]:
    with station_client(network, station, roles) as caller:
        found = caller.get(f"{urls['search']}/names", params={"q": q, "limit": 100})
        assert found.status_code == 200, found.text
        return {n["record_id"] for n in found.json()}


def test_a_name_lookup_shows_only_records_the_caller_may_open(network, urls):
    name = a_name()
    protected = admit(network, urls, "xixian", stated_names=[name], categories=[DV])
    ordinary = admit(network, urls, "xixian", stated_names=[name])
    with station_client(network, "xixian") as staff:
        filed = staff.post(
            f"{urls['search']}/missing-person-reports",
            json={
                "reported_name": name,
                "sex": "female",
                "age": 35,
                "last_seen_place": "河南省信阳市息县",
                "contact_name": "王某",
                "contact_phone": "13800138000",
            },
        )
        assert filed.status_code == 201, filed.text
    report = filed.json()
    xixian = {protected["id"], ordinary["id"], report["id"]}

    # another satellite's specialists and leads: none of it, least of all the DV victim
    for roles in (SPECIALIST, LEAD):
        seen = names_seen(network, urls, "gushi", roles, name)
        assert not seen & xixian, roles
        with station_client(network, "gushi", roles) as other:
            assert other.get(f"{urls['search']}/cases/{protected['id']}").status_code == 404
    # the person's own station and the center: all of it
    assert xixian <= names_seen(network, urls, "xixian", SPECIALIST, name)
    assert xixian <= names_seen(network, urls, "center", SPECIALIST, name)


# ---- face trails and earlier-stay suggestions ------------------------------------


def enrol(network, urls, case: dict, photo, roles=SPECIALIST) -> dict:
    with station_client(network, case["station_id"], roles) as caller:
        answer = caller.post(
            f"{urls['search']}/cases/{case['id']}/face-photos",
            json={"image": b64(photo), "found_place": f"{case['station_id']} 汽车站"},
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()


def suggestions(network, urls, case: dict, station: str, roles) -> list[dict]:
    with station_client(network, station, roles) as caller:
        found = caller.get(
            f"{urls['search']}/earlier-stay-suggestions", params={"case_id": case["id"]}
        )
        assert found.status_code == 200, found.text
        return found.json()


@pytest.fixture
def faces_removed_after(network):
    """Persons whose faces a test enrols; their face records go afterwards, so other
    tests' trails (first match = their own earlier person) stay as they expect."""
    persons: list[str] = []
    yield persons
    if persons:
        query(
            network,
            "search",
            "delete from face_records where person_id = any($1::uuid[])",
            persons,
        )


def test_the_staff_see_a_suggestion_but_not_the_trail_in_it(network, urls, faces_removed_after):
    earlier = admit(network, urls, "gushi", sex="male")
    faces_removed_after.append(earlier["person_id"])
    enrol(network, urls, earlier, FACES / "train" / "biden" / "biden.jpg")
    case = admit(network, urls, "xixian", sex="male")
    faces_removed_after.append(case["person_id"])
    enrolled = enrol(network, urls, case, FACES / "train" / "biden" / "biden2.jpg", roles=STAFF)
    assert enrolled["trail"] == [] and enrolled["suggestions"]

    # the staff's list: that there are suggestions, not where and when the person was
    listed = suggestions(network, urls, case, "xixian", STAFF)
    assert earlier["person_id"] in {s["earlier_person_id"] for s in listed}
    assert all(s["trail"] == [] for s in listed)
    # the specialists see the trail: the same rule as the enrolment's answer
    shown = suggestions(network, urls, case, "xixian", SPECIALIST)
    trail = next(s for s in shown if s["earlier_person_id"] == earlier["person_id"])["trail"]
    assert trail and {r["station_id"] for r in trail} == {"gushi"}
    assert trail[0]["case_id"] == earlier["id"] and trail[0]["found_place"] == "gushi 汽车站"


def test_another_stations_protected_person_stays_out_of_face_trails(
    network, urls, faces_removed_after
):
    victim = admit(network, urls, "guangshan", categories=[DV])
    faces_removed_after.append(victim["person_id"])
    enrol(network, urls, victim, FACES / "train" / "rose_leslie" / "img1.jpg")

    # a new arrival elsewhere with her face: the trail and the suggestion hide her stay
    case = admit(network, urls, "xixian")
    faces_removed_after.append(case["person_id"])
    enrolled = enrol(network, urls, case, FACES / "train" / "rose_leslie" / "img2.jpg")
    assert victim["person_id"] not in {p["person_id"] for p in enrolled["trail"]}
    for s in suggestions(network, urls, case, "xixian", SPECIALIST):
        assert all(r["case_id"] != victim["id"] for r in s["trail"])
        assert "guangshan" not in {r["station_id"] for r in s["trail"]}

    # a one-off face search (a family's photo, perhaps the abuser's): not her either
    photo = {"image": b64(FACES / "train" / "rose_leslie" / "img2.jpg")}

    def persons_found(station: str) -> set[str]:
        with station_client(network, station, SPECIALIST) as caller:
            answer = caller.post(f"{urls['search']}/face-searches", json=photo, timeout=60)
            assert answer.status_code == 200, answer.text
            return {m["person_id"] for f in answer.json()["faces"] for m in f["matches"]}

    assert victim["person_id"] not in persons_found("xixian")
    # her own station and the center still find her
    assert victim["person_id"] in persons_found("guangshan")
    assert victim["person_id"] in persons_found("center")
    center = suggestions(network, urls, case, "center", SPECIALIST)
    assert any(r["case_id"] == victim["id"] for s in center for r in s["trail"])


# ---- the review queue --------------------------------------------------------------


def test_a_report_elsewhere_does_not_show_where_a_protected_person_is(network, urls):
    name = a_name()
    victim = admit(network, urls, "gushi", stated_names=[name], categories=[DV])
    with station_client(network, "xixian") as staff:
        filed = staff.post(
            f"{urls['search']}/missing-person-reports",
            json={
                "reported_name": name,
                "sex": "female",
                "age": 35,
                "last_seen_place": "河南省信阳市息县",
                "contact_name": "她丈夫",
                "contact_phone": "13800138000",
            },
        )
        assert filed.status_code == 201, filed.text
    report = filed.json()
    params = {"report_id": report["id"], "case_id": victim["id"]}

    # her station sees the candidate (the match is worth a look there) …
    with station_client(network, "gushi", SPECIALIST) as gushi:
        queue = poll(lambda: gushi.get(f"{urls['search']}/review-queue", params=params).json())
    candidate = queue[0]
    # … the center too; the report's station not: it would learn where she is
    with station_client(network, "center", SPECIALIST) as center:
        assert center.get(f"{urls['search']}/review-queue", params=params).json()
    with station_client(network, "xixian", SPECIALIST) as xixian:
        assert xixian.get(f"{urls['search']}/review-queue", params=params).json() == []
        refused = xixian.post(
            f"{urls['search']}/candidates/{candidate['id']}/rejection", json={"reason": "不是"}
        )
        assert refused.status_code == 404


# ---- the police answer what was asked of them ----------------------------------------

ASKED = "gushi-police"
OTHER = "guangshan-police"


def police(network, agency: str) -> httpx.Client:
    token = network.token(agency, ["partner", "police"])
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)


def publish_as_police(network, event) -> None:
    event_type = registry.for_model(type(event))
    envelope = Envelope(
        type=event_type.name,
        source=f"/partners/{event.agency_id}",
        subject=str(event.person_id),
        dataschema=schema_urn(event_type.name, event_type.version),
    )
    asyncio.run(
        produce_raw(
            network.broker.bootstrap_servers,
            "rescue.partner.answers",
            value=event.model_dump_json().encode(),
            key=str(event.person_id).encode(),
            headers=[(k, v.encode()) for k, v in envelope.to_headers()],
        )
    )


def dead_letter_about(network, urls, event_type: str, record_id: str) -> list[dict]:
    with station_client(network, "center", ["ops"]) as ops:
        return poll(
            lambda: [
                d
                for d in ops.get(f"{urls['search']}/ops/dead-letters").json()
                if d["event_type"] == event_type and record_id in d["error"]
            ]
        )


def test_only_the_police_agency_asked_answers_a_check(network, urls):
    case = admit(network, urls, "gushi", sex="male")
    checks = f"{urls['search']}/cases/{case['id']}/police-checks"
    with station_client(network, "gushi") as staff:
        unaddressed = staff.post(checks, json={})
        assert unaddressed.status_code == 422
        assert unaddressed.json()["errors"][0]["field"] == "agency_id"
        asked = staff.post(checks, json={"agency_id": ASKED})
        assert asked.status_code == 201, asked.text
    check = asked.json()
    assert check["agency_id"] == ASKED
    sent = events_for(
        network, case["person_id"], bool, topic="rescue.partner.police", field="person_id"
    )
    assert sent[0][1]["agency_id"] == ASKED

    answer_url = f"{urls['search']}/police/checks/{check['id']}/answer"
    with police(network, OTHER) as other:
        refused = other.post(answer_url, json={"result": "identified", "full_name": "张三"})
    # as for a referral sent to another agency: no such check for this one
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    # nor on the answers topic
    publish_as_police(
        network,
        PoliceIdentityCheckAnswerV1(
            person_id=case["person_id"],
            request_id=check["id"],
            agency_id=OTHER,
            result=PoliceCheckResult.IDENTIFIED,
            full_name="张三",
            answered_at=datetime.now(UTC),
        ),
    )
    assert dead_letter_about(network, urls, "police_identity_check_answer", check["id"])
    with station_client(network, "gushi") as staff:
        view = staff.get(f"{urls['search']}/cases/{case['id']}/police").json()
    assert view["checks"][0]["status"] == "requested"

    with police(network, ASKED) as asked_agency:
        answered = asked_agency.post(answer_url, json={"result": "no_match"})
    assert answered.status_code == 200, answered.text
    assert (answered.json()["result"], answered.json()["agency_id"]) == ("no_match", ASKED)


def test_only_the_police_agency_asked_reports_a_dna_result(network, urls):
    case = admit(network, urls, "gushi", sex="male")
    samples = f"{urls['search']}/cases/{case['id']}/dna-samples"
    body = {"taken_at": datetime.now(UTC).isoformat(), "taken_by": "张警官"}
    with station_client(network, "gushi", SPECIALIST) as staff:
        ref = f"DNA-{uuid.uuid4().hex[:8]}"
        unaddressed = staff.post(samples, json={"sample_ref": ref, **body})
        assert unaddressed.status_code == 422
        sent = staff.post(samples, json={"sample_ref": ref, "agency_id": ASKED, **body})
        assert sent.status_code == 201, sent.text
    sample = sent.json()

    result_url = f"{urls['search']}/police/dna-samples/{sample['id']}/result"
    with police(network, OTHER) as other:
        forged = other.post(result_url, json={"result": "hit", "matched_record_id": "REC-X"})
    assert forged.status_code == 404
    publish_as_police(
        network,
        PoliceDnaResultV1(
            person_id=case["person_id"],
            sample_id=sample["id"],
            agency_id=OTHER,
            result=DnaResult.HIT,
            matched_record_id="REC-X",
            reported_at=datetime.now(UTC),
        ),
    )
    assert dead_letter_about(network, urls, "police_dna_result", sample["id"])
    with police(network, ASKED) as asked_agency:
        reported = asked_agency.post(result_url, json={"result": "no_match"})
    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "no_match"
