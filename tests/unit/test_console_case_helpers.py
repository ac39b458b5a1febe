"""The case workspace (甄别) and the review queue without a network: the requests the
forms send to search, refusals next to their fields, the clock, the explanation."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_console.app import create_app
from rescue_console.case import (
    clue_request,
    conflict_errors,
    evidence_field,
    identity_prefill,
    identity_request,
    notice_clock,
    task_rows,
    withheld_words,
)
from rescue_console.services import Answer
from rescue_console.settings import ConsoleSettings

CASE_ID = "c0000000-0000-4000-8000-000000000001"
PERSON_ID = "7f1c2d4e-0000-4000-8000-000000000001"
CANDIDATE_ID = "ca000000-0000-4000-8000-000000000001"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CASE = {
    "id": CASE_ID,
    "person_id": PERSON_ID,
    "station_id": "gushi",
    "status": "open",
    "arrived_at": "2026-12-07T01:00:00+00:00",
    "opened_at": "2026-12-07T01:00:01+00:00",
    "notice_due_at": "2026-12-08T01:00:00+00:00",
    "notice_published_at": None,
    "stated_names": "汪晓明",
    "stated_places": "南汇县",
    "dialect": "上海话",
    "identified_at": None,
    "method": None,
    "full_name": None,
    "home_province": None,
    "home_address": None,
    "home_admin_code": None,
    "ending": None,
    "ended_at": None,
    "notice_overdue": False,
}
REPORT = {
    "id": "r0000000-0000-4000-8000-000000000001",
    "station_id": "gushi",
    "status": "open",
    "reported_name": "王小明",
    "sex": "male",
    "age": 62,
    "birth_year": None,
    "description": None,
    "last_seen_place": "上海市浦东新区",
    "last_seen_at": None,
    "home_place": "上海市浦东新区周浦镇",
    "contact_name": "王红",
    "contact_phone": "13800138000",
    "photo_refs": [],
    "reported_at": "2026-12-07T02:00:00+00:00",
    "found_case_id": None,
    "closed_at": None,
}
CANDIDATE = {
    "id": CANDIDATE_ID,
    "status": "pending",
    "score": 0.91,
    "reasons": [],
    "explanation": [
        {"field": "face", "verdict": "match", "score": 0.93, "detail": "face similarity 0.93"},
        {"field": "name", "verdict": "match", "score": 1.0, "detail": "汪晓明 ~ 王小明"},
        {"field": "age", "verdict": "unknown", "score": None, "detail": "age not known"},
    ],
    "proposed_at": "2026-12-07T02:00:01+00:00",
    "reviewed_at": None,
    "rejection_reason": None,
    "case_id": CASE_ID,
    "person_id": PERSON_ID,
    "station_id": "gushi",
    "stated_names": "汪晓明",
    "stated_places": "南汇县",
    "dialect": None,
    "report": REPORT,
}


# ---- pure helpers -------------------------------------------------------------------


def test_a_clue_carries_only_the_parts_typed_and_lists_as_lists():
    body = clue_request(
        {
            "observed": " 右手虎口有旧伤疤 ",
            "dialect_heard": "",
            "names": "李建国、老李",
            "places": "",
            "apparent_age": "60",
            "noted_at": "2026-12-07T09:30",
        }
    )
    assert body == {
        "observed": "右手虎口有旧伤疤",
        "names": ["李建国", "老李"],
        "apparent_age": 60,
        "noted_at": "2026-12-07T09:30:00+08:00",
    }
    assert clue_request({"apparent_age": "六十"})["apparent_age"] == "六十"  # search says why


def test_the_evidence_goes_in_a_fixed_order_and_a_refusal_finds_its_field():
    body, kinds = identity_request(
        {
            "evidence": ["police_check", "face_match_with_family_confirmation"],
            "evidence_face_match_with_family_confirmation": "其女视频通话确认",
            "evidence_similarity": "0.93",
            "evidence_police_check": "",
            "full_name": "王小明",
            "home_province": "上海市",
            "home_address": "上海市浦东新区周浦镇",
            "candidate_id": CANDIDATE_ID,
            "home_admin_code": "",
        }
    )
    assert kinds == ["face_match_with_family_confirmation", "police_check"]
    assert body["evidence"] == [
        {
            "kind": "face_match_with_family_confirmation",
            "note": "其女视频通话确认",
            "similarity": 0.93,
        },
        {"kind": "police_check"},  # no reference typed: search names what is missing
    ]
    assert body["candidate_id"] == CANDIDATE_ID and "home_admin_code" not in body
    assert evidence_field("evidence.1.police_check.reference", kinds) == "evidence_police_check"
    assert evidence_field("evidence.0.note", kinds) == (
        "evidence_face_match_with_family_confirmation"
    )
    assert evidence_field("evidence.0.similarity", kinds) == "evidence_similarity"
    assert evidence_field("evidence", kinds) == "evidence"
    assert evidence_field("evidence.7.kind", kinds) == "evidence.7.kind"


def test_a_conflict_naming_a_field_becomes_that_fields_refusal():
    dna = Answer(409, {"detail": "evidence.0.kind: a DNA hit is not trusted until re-verified"})
    assert conflict_errors(dna) == [
        {"field": "evidence.0.kind", "reason": "a DNA hit is not trusted until re-verified"}
    ]
    assert conflict_errors(Answer(409, {"detail": "This notice is already up."})) == []
    assert conflict_errors(Answer(422, {"detail": "x.y: z"})) == []


def test_the_24_hour_clock_and_each_tasks_time_left():
    assert notice_clock(CASE, NOW) == {
        "due_at": CASE["notice_due_at"],
        "words": "还剩 13小时0分",
        "overdue": False,
    }
    late = notice_clock({**CASE, "notice_due_at": "2026-12-07T10:00:00+00:00"}, NOW)
    assert late["overdue"] and late["words"] == "已逾期 2小时0分"
    published = {**CASE, "notice_published_at": "2026-12-07T05:00:00+00:00"}
    assert notice_clock(published, NOW)["words"] == "已按时发布"
    rows = task_rows(
        [
            {"kind": "dna_sample", "status": "open", "due_at": "2026-12-07T11:00:00+00:00"},
            {"kind": "police_check", "status": "done", "due_at": "2026-12-08T01:00:00+00:00"},
        ],
        NOW,
    )
    assert (rows[0]["time_left"], rows[0]["late"]) == ("已逾期 1小时0分", True)
    assert rows[1]["time_left"] is None and not rows[1]["late"]


def test_why_a_protected_person_has_no_notice():
    assert withheld_words({"public_notice_allowed": True, "reasons": []}) == []
    assert withheld_words(
        {
            "public_notice_allowed": False,
            "reasons": ["domestic_violence_victim", "endangered"],
            "endangered": True,
            "endangered_reason": "有人在站外打听其下落",
        }
    ) == ["家暴受害人", "已标记为有人身危险", "危险情况：有人在站外打听其下落"]


def test_a_face_match_candidate_fills_the_confirmation():
    values = identity_prefill(CANDIDATE)
    assert values["candidate_id"] == CANDIDATE_ID
    assert values["full_name"] == "王小明"
    assert values["home_address"] == "上海市浦东新区周浦镇"
    assert values["evidence"] == ["face_match_with_family_confirmation"]
    assert values["evidence_similarity"] == "0.93"


# ---- the pages, search stood in by a transport -------------------------------------


class FakeSearch:
    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.answers: dict[tuple[str, str], tuple[int, object]] = {
            ("GET", f"/cases/{CASE_ID}"): (200, CASE),
            ("GET", f"/cases/{CASE_ID}/protection"): (
                200,
                {"public_notice_allowed": True, "reasons": [], "protected": False},
            ),
            ("GET", f"/cases/{CASE_ID}/police"): (
                200,
                {"case_id": CASE_ID, "checks": [], "dna_samples": [], "dna_reverified": False},
            ),
            ("GET", "/review-queue"): (200, [CANDIDATE]),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        status, body = self.answers.get((request.method, request.url.path), (200, []))
        return httpx.Response(status, json=body)

    def posts(self, path: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == "POST" and r.url.path == path]


@pytest.fixture
def search():
    return FakeSearch()


@pytest.fixture
def client(search):
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    settings = ConsoleSettings(
        **urls, dev_jwt_secret="console-unit-secret-" + "k" * 30, cookie_secure=False
    )
    app = create_app(settings, transport=httpx.MockTransport(search))
    with TestClient(app, base_url="http://console.test") as client:
        yield client


def sign_in(client) -> str:
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.post(
        "/signin",
        data={
            "csrf": csrf,
            "station_id": "gushi",
            "roles": "search_specialist",
            "subject": "甄别专员",
        },
        follow_redirects=False,
    )
    board = client.get(f"/cases/{CASE_ID}").text
    return re.search(r'<main.*?name="csrf" value="([^"]+)"', board, re.S).group(1)


def test_the_case_page_shows_the_clock_the_candidate_and_its_explanation(client, search):
    sign_in(client)
    # the page reads the real clock: a deadline a day from now has time left
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    search.answers[("GET", f"/cases/{CASE_ID}")] = (200, {**CASE, "notice_due_at": due})
    page = client.get(f"/cases/{CASE_ID}")
    assert page.status_code == 200
    assert 'data-testid="notice-clock"' in page.text and "还剩" in page.text
    assert "王小明" in page.text and "面部" in page.text and "相符" in page.text
    assert f"/cases/{CASE_ID}?candidate={CANDIDATE_ID}#h-identity" in page.text


def test_a_case_search_does_not_show_is_not_found(client, search):
    sign_in(client)
    search.answers[("GET", f"/cases/{CASE_ID}")] = (404, {"detail": "no such case"})
    page = client.get(f"/cases/{CASE_ID}")
    assert page.status_code == 404 and "查无此人或无权查看" in page.text
    assert client.get("/cases/not-an-id").status_code == 404


def test_a_refused_clue_is_said_next_to_its_field_with_what_was_typed_kept(client, search):
    csrf = sign_in(client)
    search.answers[("POST", f"/cases/{CASE_ID}/clues")] = (
        422,
        {
            "status": 422,
            "errors": [
                {
                    "field": "noted_at",
                    "reason": "must lie from 1950-01-01T00:00:00Z to now + 5 minutes "
                    "(something that happened)",
                }
            ],
        },
    )
    answer = client.post(
        f"/cases/{CASE_ID}/clues",
        data={"csrf": csrf, "person_said": "家门口有条河", "noted_at": "2099-01-01T08:00"},
    )
    assert answer.status_code == 422
    assert 'id="err-noted_at">谈话时间不能晚于现在（也不能早于1950年）。' in answer.text
    assert "家门口有条河</textarea>" in answer.text
    (sent,) = search.posts(f"/cases/{CASE_ID}/clues")
    assert json.loads(sent.content) == {
        "person_said": "家门口有条河",
        "noted_at": "2099-01-01T08:00:00+08:00",
    }


def test_a_confirmation_without_the_familys_note_is_refused_at_that_evidence(client, search):
    csrf = sign_in(client)
    search.answers[("POST", f"/cases/{CASE_ID}/identity-confirmation")] = (
        422,
        {
            "status": 422,
            "errors": [
                {
                    "field": "evidence.0.face_match_with_family_confirmation.note",
                    "reason": "Field required",
                }
            ],
        },
    )
    answer = client.post(
        f"/cases/{CASE_ID}/identity-confirmation",
        data={
            "csrf": csrf,
            "evidence": "face_match_with_family_confirmation",
            "full_name": "王小明",
            "home_province": "上海市",
            "candidate_id": CANDIDATE_ID,
        },
    )
    assert answer.status_code == 422
    assert 'id="err-evidence_face_match_with_family_confirmation">人脸比对须有家属确认' in (
        answer.text
    )
    assert 'name="full_name" type="text" value="王小明"' in answer.text
    assert f'name="candidate_id" value="{CANDIDATE_ID}"' in answer.text


def test_a_confirmation_goes_back_to_the_case(client, search):
    csrf = sign_in(client)
    search.answers[("POST", f"/cases/{CASE_ID}/identity-confirmation")] = (200, CASE)
    answer = client.post(
        f"/cases/{CASE_ID}/identity-confirmation",
        data={"csrf": csrf, "evidence": "police_check", "evidence_police_check": "固公核查1号"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/cases/{CASE_ID}?done=identity#h-identity"
    (sent,) = search.posts(f"/cases/{CASE_ID}/identity-confirmation")
    assert json.loads(sent.content)["evidence"] == [
        {"kind": "police_check", "reference": "固公核查1号"}
    ]


def test_the_review_queue_shows_the_explanation_and_a_rejection_needs_its_reason(client, search):
    csrf = sign_in(client)
    page = client.get("/review")
    assert page.status_code == 200
    assert 'data-field="face"' in page.text and "face similarity 0.93" in page.text
    assert f'href="/cases/{CASE_ID}"' in page.text and f'href="/persons/{PERSON_ID}"' in page.text
    search.answers[("POST", f"/candidates/{CANDIDATE_ID}/rejection")] = (
        422,
        {"status": 422, "errors": [{"field": "reason", "reason": "Field required"}]},
    )
    refused = client.post(f"/review/{CANDIDATE_ID}/rejection", data={"csrf": csrf, "reason": " "})
    assert refused.status_code == 422
    assert f'id="err-reason-{CANDIDATE_ID}">此项必填。' in refused.text


def test_the_case_workspace_suggests_places_and_names_as_the_user_types(client):
    sign_in(client)
    page = client.get(f"/cases/{CASE_ID}").text
    wired = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<input id="f-([^"]+)"[^>]*role="combobox"[^>]*>', page, re.S)
    }
    assert {"names", "places", "notice_found_place", "check_stated_names"} <= set(wired)
    assert 'hx-get="/suggest/places?field=places"' in wired["places"]
    assert "data-suggest-many" in wired["names"]
    # the confirmation form: the chosen place's code fills the code field
    assert 'data-suggest-code="f-home_admin_code"' in wired["home_address"]
