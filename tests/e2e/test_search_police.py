"""Police partners on the real network (issue 4): identity checks and DNA samples go
out on rescue.partner.police with only what the police need; the police answer by
API or on rescue.partner.answers; response times are recorded; a DNA hit is only
trusted once a fresh sample re-verifies it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from journeys import events_for
from support import poll, produce_raw, query, station_client

from rescue_events.contracts.search_police import (
    DnaResult,
    PoliceCheckResult,
    PoliceDnaResultV1,
    PoliceIdentityCheckAnswerV1,
)
from rescue_events.envelope import Envelope
from rescue_events.registry import registry, schema_urn

pytestmark = pytest.mark.e2e

POLICE_TOPIC = "rescue.partner.police"
SEARCH_TOPIC = "rescue.search.events"
POLICE = "xinyang-police"


def police_client(network, agency: str = POLICE) -> httpx.Client:
    token = network.token(agency, ["partner", "police"])
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)


def unidentified_case(network, urls, station="gushi", **person) -> dict:
    with station_client(network, station) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", **person},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        return poll(
            lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]


def police_view(network, urls, case_id: str, until=bool, station="gushi") -> dict:
    with station_client(network, station) as staff:

        def current():
            found = staff.get(f"{urls['search']}/cases/{case_id}/police")
            assert found.status_code == 200, found.text
            return found.json() if until(found.json()) else None

        return poll(current)


def task_status(network, case_id: str, kind: str) -> str:
    rows = query(
        network,
        "search",
        "select status from search_tasks where case_id = $1::uuid and kind = $2",
        case_id,
        kind,
    )
    return rows[0]["status"]


def request_check(network, urls, case_id: str, **body) -> dict:
    with station_client(network) as staff:
        asked = staff.post(
            f"{urls['search']}/cases/{case_id}/police-checks",
            json={"sex": "male", "estimated_age": 50, "agency_id": POLICE, **body},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert asked.status_code == 201, asked.text
        return asked.json()


def submit_sample(network, urls, case_id: str, ref: str, taken_at: datetime) -> dict:
    # DNA references show in full to the search specialists (access.SENSITIVE)
    with station_client(network, roles=("search_specialist",)) as staff:
        sent = staff.post(
            f"{urls['search']}/cases/{case_id}/dna-samples",
            json={
                "sample_ref": ref,
                "taken_at": taken_at.isoformat(),
                "taken_by": "张警官",
                "agency_id": POLICE,
            },
        )
        assert sent.status_code == 201, sent.text
        return sent.json()


def report(network, urls, sample_id: str, **body) -> dict:
    with police_client(network) as police:
        reported = police.post(f"{urls['search']}/police/dna-samples/{sample_id}/result", json=body)
        assert reported.status_code == 200, reported.text
        return reported.json()


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


def test_a_police_check_goes_out_without_what_the_police_must_not_see_and_is_answered(
    network, urls
):
    case = unidentified_case(
        network,
        urls,
        estimated_age=50,
        stated_names=["李建国"],
        stated_places=["南充"],
        dialect="四川话",
        categories=["domestic_violence_victim", "elderly"],
    )
    assert task_status(network, case["id"], "police_check") == "open"
    check = request_check(
        network,
        urls,
        case["id"],
        description="左手背有疤",
        face_photo_ref="photo/0042.jpg",
        requested_by="王芳",
    )
    assert check["status"] == "requested"
    assert task_status(network, case["id"], "police_check") == "done"

    sent = events_for(network, case["person_id"], bool, topic=POLICE_TOPIC, field="person_id")
    assert [t for t, _ in sent] == ["police_identity_check_requested"]
    feed = sent[0][1]
    assert feed["request_id"] == check["id"]
    assert (feed["sex"], feed["estimated_age"], feed["stated_names"]) == ("male", 50, ["李建国"])
    assert feed["description"] == "左手背有疤"
    # a domestic-violence victim's whereabouts: the police are pointed to the center
    assert feed["station_id"] == "center"
    assert not {"categories", "stated_places", "dialect", "requested_by"} & set(feed)
    text = json.dumps(feed, ensure_ascii=False)
    for secret in ("gushi", "domestic_violence", "南充", "四川话"):
        assert secret not in text

    # station staff may not answer for the police
    answer_url = f"{urls['search']}/police/checks/{check['id']}/answer"
    with station_client(network) as staff:
        refused = staff.post(answer_url, json={"result": "no_match"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"

    with police_client(network) as police:
        answered = police.post(
            answer_url,
            json={"result": "identified", "full_name": "李建国", "home_province": "四川省"},
        )
        assert answered.status_code == 200, answered.text
        again = police.post(answer_url, json={"result": "no_match"})
        assert again.status_code == 409
        # the police API answers nothing about cases: station routes refuse its role
        assert police.get(f"{urls['search']}/cases/{case['id']}/police").status_code == 403
    assert answered.json()["agency_id"] == POLICE

    shown = police_view(network, urls, case["id"])["checks"][0]
    assert (shown["status"], shown["result"], shown["agency_id"], shown["answered_via"]) == (
        "answered",
        "identified",
        POLICE,
        "api",
    )
    assert shown["full_name"] == "李建国"
    requested_at = datetime.fromisoformat(shown["requested_at"])
    answered_at = datetime.fromisoformat(shown["answered_at"])
    assert shown["response_seconds"] == pytest.approx((answered_at - requested_at).total_seconds())
    assert 0 <= shown["response_seconds"] < 60

    facts = events_for(
        network,
        case["person_id"],
        lambda found: any(t == "police_check_answered" for t, _ in found),
        topic=SEARCH_TOPIC,
        field="person_id",
    )
    fact = next(p for t, p in facts if t == "police_check_answered")
    assert (fact["agency_id"], fact["result"]) == (POLICE, "identified")


def test_the_police_answer_on_the_answers_topic_and_unknown_requests_are_dead_lettered(
    network, urls
):
    case = unidentified_case(network, urls, stated_names=["王二"])
    check = request_check(network, urls, case["id"], agency_id="gushi-police")
    sent = events_for(network, case["person_id"], bool, topic=POLICE_TOPIC, field="person_id")
    assert sent[0][1]["station_id"] == "gushi"
    assert sent[0][1]["stated_names"] == ["王二"]  # the admission's names when none are given

    publish_as_police(
        network,
        PoliceIdentityCheckAnswerV1(
            person_id=case["person_id"],
            request_id=check["id"],
            agency_id="gushi-police",
            result=PoliceCheckResult.NO_MATCH,
            note="人口库未比中",
            answered_at=datetime.now(UTC),
        ),
    )
    shown = police_view(
        network, urls, case["id"], until=lambda v: v["checks"][0]["status"] == "answered"
    )["checks"][0]
    assert (shown["result"], shown["agency_id"], shown["answered_via"]) == (
        "no_match",
        "gushi-police",
        "topic",
    )
    assert shown["response_seconds"] >= 0

    unknown = str(uuid.uuid4())
    publish_as_police(
        network,
        PoliceIdentityCheckAnswerV1(
            person_id=case["person_id"],
            request_id=unknown,
            agency_id=POLICE,
            result=PoliceCheckResult.IDENTIFIED,
            answered_at=datetime.now(UTC),
        ),
    )
    with station_client(network, "center", ["ops"]) as ops:
        letters = poll(
            lambda: [
                d
                for d in ops.get(f"{urls['search']}/ops/dead-letters").json()
                if d["event_type"] == "police_identity_check_answer" and unknown in d["error"]
            ]
        )
    assert letters


def test_a_dna_hit_is_trusted_only_once_a_fresh_sample_hits_the_same_record(network, urls):
    case = unidentified_case(network, urls)
    assert task_status(network, case["id"], "dna_sample") == "open"
    first = submit_sample(
        network, urls, case["id"], f"DNA-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    )
    assert task_status(network, case["id"], "dna_sample") == "done"
    sent = events_for(network, case["person_id"], bool, topic=POLICE_TOPIC, field="person_id")
    assert [t for t, _ in sent] == ["police_dna_sample_submitted"]
    assert sent[0][1]["sample_ref"] == first["sample_ref"]

    with station_client(network) as staff:
        result_url = f"{urls['search']}/police/dna-samples/{first['id']}/result"
        assert staff.post(result_url, json={"result": "no_match"}).status_code == 403
    with police_client(network) as police:
        no_record = police.post(result_url, json={"result": "hit"})
        assert no_record.status_code == 422
    hit = report(network, urls, first["id"], result="hit", matched_record_id="REC-1")
    assert hit["status"] == "hit_unverified"
    view = police_view(network, urls, case["id"])
    assert view["dna_reverified"] is False
    assert view["dna_samples"][0]["agency_id"] == POLICE
    assert view["dna_samples"][0]["response_seconds"] >= 0

    with station_client(network, roles=("search_specialist",)) as staff:
        same = staff.post(
            f"{urls['search']}/cases/{case['id']}/dna-samples",
            json={
                "sample_ref": first["sample_ref"],
                "taken_at": datetime.now(UTC).isoformat(),
                "taken_by": "张警官",
                "agency_id": POLICE,
            },
        )
    assert same.status_code == 409, "a re-verification needs a new sample"

    # a sample taken before the hit does not re-verify it, even if it hits
    earlier = submit_sample(
        network,
        urls,
        case["id"],
        f"DNA-{uuid.uuid4().hex[:8]}",
        datetime.now(UTC) - timedelta(hours=1),
    )
    assert earlier["reverifies_sample_id"] is None
    report(network, urls, earlier["id"], result="hit", matched_record_id="REC-1")
    assert police_view(network, urls, case["id"])["dna_reverified"] is False

    fresh = submit_sample(
        network, urls, case["id"], f"DNA-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    )
    assert fresh["reverifies_sample_id"] in {first["id"], earlier["id"]}
    # the police report the fresh sample's result on the answers topic
    publish_as_police(
        network,
        PoliceDnaResultV1(
            person_id=case["person_id"],
            sample_id=fresh["id"],
            agency_id=POLICE,
            result=DnaResult.HIT,
            matched_record_id="REC-1",
            reported_at=datetime.now(UTC),
        ),
    )
    view = police_view(network, urls, case["id"], until=lambda v: v["dna_reverified"])
    statuses = {s["id"]: s["status"] for s in view["dna_samples"]}
    assert statuses[fresh["id"]] == "confirms_hit"
    assert statuses[fresh["reverifies_sample_id"]] == "hit_confirmed"

    facts = events_for(
        network,
        case["person_id"],
        lambda found: any(t == "dna_hit_reverified" for t, _ in found),
        topic=SEARCH_TOPIC,
        field="person_id",
    )
    reverified = next(p for t, p in facts if t == "dna_hit_reverified")
    assert reverified["fresh_sample_id"] == fresh["id"]
    assert sum(t == "dna_result_reported" for t, _ in facts) >= 3


def test_a_fresh_sample_without_a_match_means_the_hit_is_not_confirmed(network, urls):
    case = unidentified_case(network, urls)
    first = submit_sample(
        network, urls, case["id"], f"DNA-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    )
    report(network, urls, first["id"], result="hit", matched_record_id="REC-2")
    fresh = submit_sample(
        network, urls, case["id"], f"DNA-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    )
    assert fresh["reverifies_sample_id"] == first["id"]
    assert report(network, urls, fresh["id"], result="no_match")["status"] == "no_match"
    view = police_view(network, urls, case["id"])
    assert view["dna_reverified"] is False
    statuses = {s["id"]: s["status"] for s in view["dna_samples"]}
    assert statuses[first["id"]] == "hit_not_confirmed"
    facts = events_for(
        network,
        case["person_id"],
        lambda found: any(t == "dna_hit_not_confirmed" for t, _ in found),
        topic=SEARCH_TOPIC,
        field="person_id",
    )
    assert next(p for t, p in facts if t == "dna_hit_not_confirmed")["fresh_result"] == "no_match"


def test_dna_references_show_in_full_to_specialists_only(network, urls):
    case = unidentified_case(network, urls)
    ref = f"DNA-{uuid.uuid4().hex[:8]}"
    submit_sample(network, urls, case["id"], ref, datetime.now(UTC))
    url = f"{urls['search']}/cases/{case['id']}/police"
    with station_client(network, roles=("search_specialist",)) as specialist:
        assert specialist.get(url).json()["dna_samples"][0]["sample_ref"] == ref
    with station_client(network) as staff:
        sample = staff.get(url).json()["dna_samples"][0]
        assert sample["sample_ref"] == "•••" + ref[-4:] and sample["status"] == "submitted"
