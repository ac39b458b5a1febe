"""Referrals (转介) and the partners' portal without a network: overdue first, the
loop's steps, consent refusals next to the note, a partner sees only its feed's
fields and its answers' refusals next to their fields."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_console.app import create_app
from rescue_console.partner import answer_problems, feed_rows, partner_type, police_body
from rescue_console.referrals import (
    consent_refusals,
    deadline,
    is_overdue,
    loop_steps,
    overdue_first,
)
from rescue_console.services import Answer
from rescue_console.settings import ConsoleSettings

PERSON_ID = "7f1c2d4e-0000-4000-8000-000000000001"
REFERRAL_ID = "4e000000-0000-4000-8000-000000000001"
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def referral(**fields) -> dict:
    return {
        "id": REFERRAL_ID,
        "person_id": PERSON_ID,
        "station_id": "gushi",
        "partner_type": "womens_federation",
        "reason": "domestic_violence_victim",
        "agency_id": "womens-federation-411525",
        "mandatory": True,
        "consent_required": True,
        "consent": None,
        "consent_note": None,
        "status": "awaiting_consent",
        "opened_at": "2026-12-07T01:00:00Z",
        "opened_by": "system",
        "sent_at": None,
        "acknowledge_by": None,
        "acknowledged_at": None,
        "accepted_at": None,
        "act_by": None,
        "closed_at": None,
        "outcome": None,
        "acknowledgement_overdue_at": None,
        "action_overdue_at": None,
        **fields,
    }


def test_overdue_referrals_come_first_and_a_closed_one_is_not_overdue():
    fresh = referral(id="a", status="sent")
    late = referral(id="b", status="sent", acknowledgement_overdue_at="2026-12-06T00:00:00Z")
    closed = referral(id="c", status="completed", action_overdue_at="2026-12-06T00:00:00Z")
    assert [r["id"] for r in overdue_first([fresh, closed, late])] == ["b", "a", "c"]
    assert is_overdue(late) and not is_overdue(closed) and not is_overdue(fresh)


def test_the_partners_next_deadline_with_time_left_or_overdue():
    sent = referral(status="sent", acknowledge_by=(NOW + timedelta(hours=3)).isoformat())
    assert deadline(sent, NOW) == ("确认收到期限", "还剩 3小时0分", False)
    accepted = referral(status="accepted", act_by=(NOW - timedelta(days=2)).isoformat())
    what, left, late = deadline(accepted, NOW)
    assert (what, late) == ("办理期限", True) and left.startswith("已逾期 2天")
    assert deadline(referral(status="completed"), NOW) is None


def test_the_loop_lists_consent_each_answer_and_the_outcome():
    done = referral(
        consent="override",
        consent_note="本人受控制无法表达",
        status="declined",
        sent_at="2026-12-07T02:00:00Z",
        acknowledged_at="2026-12-07T03:00:00Z",
        closed_at="2026-12-07T04:00:00Z",
        outcome="不属本辖区",
    )
    steps = loop_steps(done)
    assert [s[0] for s in steps] == [
        "开启转介",
        "工作人员决定转介（已记录理由）",
        "已发送至接收机构",
        "接收机构确认收到",
        "已拒绝",
    ]
    assert steps[1][2] == "本人受控制无法表达" and steps[-1][2] == "不属本辖区"


def test_an_override_without_its_reason_is_said_next_to_the_note():
    refused = Answer(
        422,
        {"errors": [{"field": "consent", "reason": "Value error, note: a override consent "}]},
    )
    errors, general = consent_refusals(refused)
    assert errors == {"note": ["本人拒绝或工作人员决定转介，须写明理由。"]} and general == []


def test_a_decline_needs_its_reason_and_only_the_next_answers_are_allowed():
    assert answer_problems("declined", "", "sent") == {"note": ["拒绝须写明理由。"]}
    assert answer_problems("completed", "", "accepted") == {"note": ["办结须写明办理结果。"]}
    assert "answer" in answer_problems("completed", "已安置", "sent")
    assert answer_problems("", "", "sent") == {"answer": ["请选择答复。"]}
    assert answer_problems("accepted", "", "acknowledged") == {}


def test_a_partner_sees_only_the_fields_its_feed_carries():
    class Station:
        name = "固始县救助管理站"

    feed = {
        "referral_id": REFERRAL_ID,
        "agency_id": "civil-affairs-1",
        "reason": "minimum_living_allowance",
        "mandatory": False,
        "sent_at": "2026-12-07T02:00:00Z",
        "acknowledge_by": "2026-12-10T02:00:00Z",
        "contact_station_id": "gushi",
        "full_name": "李某",
        "registered_home_admin_code": "411525",
    }
    rows = dict(feed_rows(feed, lambda _id: Station()))
    assert rows["转介原因"] == "最低生活保障（民政）" and rows["联系救助站"] == "固始县救助管理站"
    assert rows["发送时间"] == "2026-12-07 10:00"
    assert "性别" not in rows and "年龄（约）" not in rows  # not in civil affairs' feed


def test_the_partner_type_comes_from_the_roles_and_police_forms_leave_out_empty_fields():
    class User:
        roles = frozenset({"partner", "police"})

    assert partner_type(User()) == "police"
    User.roles = frozenset({"station_staff"})
    assert partner_type(User()) is None
    values = {"check_request_id": "x", "check_result": "no_match", "check_note": " "}
    names = {"request_id": "check_request_id", "result": "check_result", "note": "check_note"}
    assert police_body(values, names, "request_id") == {"result": "no_match"}


# ---- the pages, referral stood in by a transport ------------------------------------


class FakeReferral:
    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.answers: dict[tuple[str, str], tuple[int, object]] = {
            ("GET", "/referrals"): (200, [referral()]),
            ("GET", f"/referrals/{REFERRAL_ID}"): (200, referral()),
            ("GET", "/partner/referrals"): (
                200,
                [
                    {
                        "status": "sent",
                        "feed": {
                            "referral_id": REFERRAL_ID,
                            "agency_id": "womens-federation-411525",
                            "reason": "domestic_violence_victim",
                            "mandatory": True,
                            "sent_at": "2026-12-07T02:00:00Z",
                            "acknowledge_by": "2026-12-08T02:00:00Z",
                            "contact_station_id": "gushi",
                            "full_name": "张某",
                            "sex": "female",
                            "estimated_age": 34,
                            "registered_home_admin_code": None,
                            "consent_recorded": True,
                        },
                    }
                ],
            ),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        status, body = self.answers.get((request.method, request.url.path), (200, []))
        return httpx.Response(status, json=body)

    def posts(self, path: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == "POST" and r.url.path == path]


@pytest.fixture
def service():
    return FakeReferral()


@pytest.fixture
def client(service):
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    settings = ConsoleSettings(
        **urls, dev_jwt_secret="console-unit-secret-" + "k" * 30, cookie_secure=False
    )
    # the pages count deadlines from NOW, not from the day the tests run
    app = create_app(settings, transport=httpx.MockTransport(service), clock=lambda: NOW)
    with TestClient(app, base_url="http://console.test") as client:
        yield client


def sign_in(client, kind: str = "station", **fields) -> str:
    page = client.get("/signin", params={"kind": kind})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.post(
        "/signin",
        data={"csrf": csrf, "kind": kind, "subject": "值班员", "next": "/board", **fields},
        follow_redirects=False,
    )
    session = client.app.state.console.sessions.get(client.cookies.get("console_session"))
    assert session is not None
    return session.csrf


def test_a_staff_override_without_its_reason_comes_back_next_to_the_note(client, service):
    csrf = sign_in(client, station_id="gushi", roles="station_staff")
    page = client.get(f"/referrals/{REFERRAL_ID}")
    assert page.status_code == 200 and "记录本人意愿" in page.text and "撤回转介" in page.text
    service.answers[("POST", f"/referrals/{REFERRAL_ID}/consent")] = (
        422,
        {"errors": [{"field": "body", "reason": "Value error, note: a override consent needs"}]},
    )
    answer = client.post(
        f"/referrals/{REFERRAL_ID}/consent",
        data={"csrf": csrf, "idempotency_key": "k" * 20, "decision": "override"},
    )
    assert answer.status_code == 422
    assert 'id="err-note">本人拒绝或工作人员决定转介，须写明理由。' in answer.text
    assert 'value="override" checked' in answer.text
    sent = service.posts(f"/referrals/{REFERRAL_ID}/consent")
    assert json.loads(sent[0].content) == {"decision": "override"}


def test_a_referral_opened_by_reason_goes_to_it_and_a_duplicate_is_said_at_the_reason(
    client, service
):
    csrf = sign_in(client, station_id="gushi", roles="station_staff")
    form = client.get("/referrals/new", params={"person_id": PERSON_ID})
    assert form.status_code == 200 and "就业帮扶（社会组织）" in form.text
    service.answers[("POST", "/referrals")] = (201, referral(id=REFERRAL_ID))
    made = client.post(
        "/referrals/new",
        data={"csrf": csrf, "person_id": PERSON_ID, "reason": "job"},
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == f"/referrals/{REFERRAL_ID}"
    assert json.loads(service.posts("/referrals")[0].content) == {
        "person_id": PERSON_ID,
        "reason": "job",
    }
    service.answers[("POST", "/referrals")] = (409, {"detail": "This person already has it."})
    twice = client.post(
        "/referrals/new", data={"csrf": csrf, "person_id": PERSON_ID, "reason": "job"}
    )
    assert twice.status_code == 409 and 'id="err-reason">此人已有此项转介' in twice.text
    assert '<option value="job" selected>' in twice.text


def test_a_partner_sees_its_portal_only_and_a_decline_without_reason_is_not_sent(client, service):
    csrf = sign_in(
        client, "partner", agency_id="womens-federation-411525", partner_type="womens_federation"
    )
    portal = client.get("/partner")
    assert portal.status_code == 200 and "张某" in portal.text and "确认收到" in portal.text
    assert 'href="/board"' not in portal.text and 'href="/partner"' in portal.text
    declined = client.post(
        f"/partner/referrals/{REFERRAL_ID}/answers",
        data={"csrf": csrf, "answer": "declined", "note": "", "status": "sent"},
    )
    assert declined.status_code == 422
    assert f'id="err-note-{REFERRAL_ID}">拒绝须写明理由。' in declined.text
    assert not service.posts(f"/partner/referrals/{REFERRAL_ID}/answers")
    done = client.post(
        f"/partner/referrals/{REFERRAL_ID}/answers",
        data={"csrf": csrf, "answer": "acknowledged", "status": "sent"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    sent = service.posts(f"/partner/referrals/{REFERRAL_ID}/answers")
    assert json.loads(sent[0].content) == {"answer": "acknowledged"}
    assert client.get("/referrals/new", params={"person_id": "x"}).status_code == 404


def test_a_station_user_on_the_portal_is_told_it_is_for_partners(client):
    sign_in(client, station_id="gushi", roles="station_staff")
    assert client.get("/partner").status_code == 403


def test_the_list_puts_overdue_first_and_police_answer_checks_by_number(client, service):
    sign_in(client, station_id="gushi", roles="station_staff")
    late = referral(id="b" * 8 + REFERRAL_ID[8:], status="sent", reason="minor")
    late["acknowledgement_overdue_at"] = "2026-12-06T00:00:00Z"
    service.answers[("GET", "/referrals")] = (200, [referral(), late])
    listed = client.get("/referrals").text
    assert listed.index("未成年人（未成年人保护机构）") < listed.index("家暴受害人（妇联）")
    assert '<tr class="overdue">' in listed
    client.cookies.clear()
    csrf = sign_in(client, "partner", agency_id="gushi-police", partner_type="police")
    portal = client.get("/partner").text
    assert "身份核查答复" in portal and "DNA比对结果" in portal
    service.answers[("POST", f"/police/checks/{REFERRAL_ID}/answer")] = (
        422,
        {"errors": [{"field": "result", "reason": "Input should be 'identified', 'no_match'"}]},
    )
    refused = client.post(
        "/partner/police-checks",
        data={"csrf": csrf, "check_request_id": REFERRAL_ID, "check_note": "未比中"},
    )
    assert refused.status_code == 422 and 'id="err-check_result">请从选项中选择。' in refused.text
    assert 'value="未比中"' in refused.text or ">未比中</textarea>" in refused.text
