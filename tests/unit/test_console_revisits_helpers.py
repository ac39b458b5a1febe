"""Return stabilisation in the console (revisits.py): the next revisit due or overdue,
the roster's order, the forms as followup's bodies and its refusals by field; the
pages without a network (followup stood in by the console's transport hook)."""

from __future__ import annotations

import json
import re
from datetime import date

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_console.app import create_app
from rescue_console.revisits import (
    assessment_request,
    closing_request,
    due_words,
    next_revisit,
    refusals,
    registration_request,
    revisit_request,
    roster_rows,
)
from rescue_console.services import Answer
from rescue_console.settings import ConsoleSettings

SECRET = "console-revisits-secret-" + "k" * 30
TODAY = date(2026, 12, 7)
TOWN = "411525105"
RECORD_ID = "5d000000-0000-4000-8000-000000000001"
OTHER_ID = "5d000000-0000-4000-8000-000000000002"
TASK_ID = "7a000000-0000-4000-8000-000000000001"


def revisit(sequence: int, due_on: str, status: str = "scheduled", **made) -> dict:
    return {
        "sequence": sequence,
        "due_on": due_on,
        "assigned_to": TOWN,
        "status": status,
        "overdue_at": None,
        "escalated_at": None,
        "mode": None,
        "visited_on": None,
        "visited_by": None,
        "situation": None,
        "note": None,
        **made,
    }


def record(record_id: str, name: str, revisits: list[dict], **extra) -> dict:
    return {
        "id": record_id,
        "person_id": record_id.replace("5d", "9e", 1),
        "source": "inbound_return",
        "return_id": None,
        "inbound_return_id": None,
        "station_id": "gushi",
        "full_name": name,
        "home_province": "河南省",
        "home_admin_code": TOWN,
        "home_address": "河南省信阳市固始县某镇某村",
        "jurisdiction_code": TOWN,
        "received_by": None,
        "handed_over_at": "2026-10-01T02:00:00+00:00",
        "opened_at": "2026-10-01T02:00:00+00:00",
        "status": "active",
        "closed_at": None,
        "outcome": None,
        "settlement": None,
        "revisits": revisits,
        "risk_assessments": [],
        "help_plans": [],
        "social_work_services": [],
        "help_tasks": [],
        **extra,
    }


def test_the_next_revisit_is_the_first_not_made_and_overdue_once_its_day_passed():
    made = revisit(1, "2026-12-01", "done", mode="visit")
    late = next_revisit(record(RECORD_ID, "王一", [made, revisit(2, "2026-12-05")]), TODAY)
    assert (late["sequence"], late["overdue"], late["days"]) == (2, True, -2)
    assert due_words(late) == "第2次回访 已逾期 2天"
    marked = next_revisit(record(RECORD_ID, "王一", [revisit(1, "2026-12-07", "overdue")]), TODAY)
    assert marked["overdue"] and due_words(marked) == "第1次回访 已逾期"
    today = next_revisit(record(RECORD_ID, "王一", [revisit(1, "2026-12-07")]), TODAY)
    assert not today["overdue"] and today["due_soon"] and due_words(today) == "第1次回访 今天到期"
    later = next_revisit(record(RECORD_ID, "王一", [revisit(1, "2027-02-01")]), TODAY)
    assert not later["due_soon"] and due_words(later) == "第1次回访 还有 56天（2027-02-01）"
    assert next_revisit(record(RECORD_ID, "王一", [made]), TODAY) is None
    assert due_words(None) == "回访已全部完成"


def test_the_roster_puts_overdue_first_marks_the_at_risk_and_leaves_out_closed_records():
    soon = record(RECORD_ID, "李二", [revisit(1, "2026-12-20")])
    overdue = record(OTHER_ID, "张三", [revisit(1, "2026-12-01")])
    closed = record("5d000000-0000-4000-8000-000000000003", "赵四", [], status="closed")
    register = [{"person_id": soon["person_id"], "reasons": ["dementia"]}]
    rows = roster_rows([soon, closed, overdue], register, TODAY)
    assert [r["record"]["full_name"] for r in rows] == ["张三", "李二"]
    assert [r["at_risk"] for r in rows] == [[], ["dementia"]]
    assert roster_rows([soon], None, TODAY)[0]["at_risk"] == []  # a town reads no register


def test_the_forms_become_followups_bodies_with_only_what_was_typed():
    assert revisit_request(
        {"sequence": "2", "mode": "phone", "visited_on": "2026-12-07", "note": "  ", "csrf": "x"}
    ) == (2, {"mode": "phone", "visited_on": "2026-12-07"})
    assert revisit_request({"sequence": ""})[0] is None
    assert assessment_request(
        {"level": "high", "reasons": "独居\n曾走失；无低保", "owner": ""}
    ) == {
        "level": "high",
        "reasons": ["独居", "曾走失", "无低保"],
    }
    assert registration_request(
        RECORD_ID, {"register_reasons": ["other"], "register_note": ""}
    ) == {
        "record_id": RECORD_ID,
        "reasons": ["other"],
    }
    assert closing_request({"outcome": "settled", "settlement": " 县特困供养中心 "}) == {
        "outcome": "settled",
        "settlement": "县特困供养中心",
    }


def test_followups_refusals_land_next_to_the_forms_fields_in_chinese():
    future = Answer(422, {"errors": [{"field": "visited_on", "reason": "lies in the future"}]})
    assert refusals("revisit", future) == ({"visited_on": ["回访日期不能晚于今天。"]}, [])
    missing = Answer(422, {"errors": [{"field": "situation", "reason": "Field required"}]})
    assert refusals("revisit", missing)[0] == {"situation": ["此项必填。"]}
    settled = Answer(
        422,
        {"errors": [{"field": "body", "reason": "Value error, settlement: say how and by whom"}]},
    )
    assert refusals("closing", settled)[0] == {"settlement": ["落户安置须写明由谁、如何安置。"]}
    why = Answer(422, {"errors": [{"field": "body", "reason": "Value error, note: say why"}]})
    assert refusals("register", why)[0] == {"register_note": ["原因选“其他”时须写明原因。"]}
    year = Answer(
        422, {"errors": [{"field": "outcome", "reason": "not every revisit has been made"}]}
    )
    assert refusals("closing", year)[0] == {"outcome": ["还有回访未完成，不能以“稳定满一年”结案。"]}


# ---- the pages, followup stood in ------------------------------------------------------


class Followup:
    """followup as a town official of TOWN sees it: RECORD_ID is theirs, OTHER_ID not."""

    def __init__(self) -> None:
        self.record = record(
            RECORD_ID, "王建国", [revisit(1, "2026-12-01"), revisit(2, "2027-02-01")]
        )
        self.posted: list[tuple[str, dict, str]] = []
        self.staff = False  # followup answers the stations' routes (else a town's 403)
        self.entry = {
            "id": "e1",
            "person_id": self.record["person_id"],
            "record_id": RECORD_ID,
            "station_id": "gushi",
            "jurisdiction_code": TOWN,
            "reasons": ["dementia", "repeat_wandering"],
            "added_by": "automatic",
            "note": None,
            "registered_at": "2026-10-01T02:00:00+00:00",
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            body = json.loads(request.content)
            self.posted.append((path, body, request.headers.get("idempotency-key", "")))
            if path == f"/stabilisations/{RECORD_ID}/revisits/1":
                if body.get("visited_on", "") > "2030":
                    return httpx.Response(
                        422,
                        json={"errors": [{"field": "visited_on", "reason": "lies in the future"}]},
                    )
                self.record["revisits"][0] |= {"status": "done", **body}
                self.record["help_tasks"] = [
                    {
                        "id": TASK_ID,
                        "record_id": RECORD_ID,
                        "revisit_sequence": 1,
                        "difficulty": body["situation"],
                        "refer_to": "civil_affairs",
                        "owner": body.get("help_owner"),
                        "status": "open",
                        "opened_at": "2026-12-07T02:00:00+00:00",
                        "closed_at": None,
                        "outcome": None,
                    }
                ]
                return httpx.Response(200, json=self.record)
            if path.endswith("/risk-assessments"):  # a satellite's staff: the center's work
                return httpx.Response(403, json={"detail": "Center only"})
            return httpx.Response(404, json={"detail": "not found"})
        if path == "/stabilisations":
            return httpx.Response(200, json=[self.record])
        if path == f"/stabilisations/{RECORD_ID}":
            return httpx.Response(200, json=self.record)
        if path.startswith("/stabilisations/"):
            return httpx.Response(404, json={"detail": "not found"})
        if path == "/at-risk-register" and self.staff:
            return httpx.Response(200, json=[self.entry])
        if path == "/revisits/overdue" and self.staff:
            overdue = {k: self.record[k] for k in ("person_id", "full_name", "station_id")}
            return httpx.Response(
                200, json=[{"record_id": RECORD_ID, **overdue, **self.record["revisits"][0]}]
            )
        if path == "/help-tasks" and self.staff:
            return httpx.Response(200, json=[])
        return httpx.Response(403, json={"detail": "forbidden"})


@pytest.fixture
def followup():
    return Followup()


@pytest.fixture
def client(followup):
    urls = {f"{n}_url": f"http://{n}.test" for n in ("intake", "search", "transfer", "referral")}
    settings = ConsoleSettings(
        **urls, followup_url="http://followup.test", dev_jwt_secret=SECRET, cookie_secure=False
    )
    app = create_app(settings, transport=httpx.MockTransport(followup))
    with TestClient(app, base_url="http://console.test") as client:
        yield client


def town_sign_in(client) -> str:
    form = client.get("/signin", params={"kind": "town"}).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    signed = client.post(
        "/signin",
        data={"csrf": csrf, "next": "/board", "kind": "town", "area_code": TOWN, "subject": "张敏"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/revisits/town"
    roster = client.get("/revisits/town").text
    return re.search(r'<header.*?name="csrf" value="([^"]+)"', roster, re.S).group(1)


def test_a_town_official_sees_the_roster_and_records_a_revisit_that_opens_a_help_task(
    client, followup
):
    csrf = town_sign_in(client)
    roster = client.get("/revisits/town")
    assert roster.status_code == 200
    assert "王建国" in roster.text and "已逾期" in roster.text
    assert f'href="/stabilisations/{RECORD_ID}#h-record-revisit"' in roster.text
    assert 'href="/revisits/town">回访</a>' in roster.text  # the town's navigation
    nav = roster.text.split('aria-label="主导航"')[1].split("</nav>")[0]
    assert 'href="/board"' not in nav and 'href="/admissions/new"' not in nav
    assert client.get("/revisits", follow_redirects=False).headers["location"] == "/revisits/town"

    page = client.get(f"/stabilisations/{RECORD_ID}").text
    assert 'id="h-record-revisit"' in page
    assert 'id="h-risk"' not in page and 'id="h-closing"' not in page  # the stations' work

    refused = client.post(
        f"/stabilisations/{RECORD_ID}/revisits",
        data={"csrf": csrf, "idempotency_key": "k-1", "sequence": "1", "mode": "visit"}
        | {"visited_on": "2031-01-01", "visited_by": "镇民政所 张敏", "situation": "stable"},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert '<p class="error" id="err-visited_on">回访日期不能晚于今天。</p>' in refused.text
    assert 'value="镇民政所 张敏"' in refused.text  # what was typed is kept

    done = client.post(
        f"/stabilisations/{RECORD_ID}/revisits",
        data={"csrf": csrf, "idempotency_key": "k-2", "sequence": "1", "mode": "phone"}
        | {"visited_on": "2026-12-07", "visited_by": "镇民政所 张敏"}
        | {"situation": "living_difficulty", "help_owner": "民政所 李梅"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/stabilisations/{RECORD_ID}#h-revisits"
    path, body, key = followup.posted[-1]
    assert path == f"/stabilisations/{RECORD_ID}/revisits/1" and key == "k-2"
    assert body == {
        "mode": "phone",
        "visited_on": "2026-12-07",
        "visited_by": "镇民政所 张敏",
        "situation": "living_difficulty",
        "help_owner": "民政所 李梅",
    }
    after = client.get(f"/stabilisations/{RECORD_ID}").text
    tasks = after[after.index('id="h-help"') :]
    assert "生活困难" in tasks and "转介民政部门" in tasks and "负责人 民政所 李梅" in tasks
    assert "/completion" not in tasks  # a town does not close help tasks


def test_another_areas_record_is_said_not_found_and_a_bad_area_code_refused(client):
    csrf = town_sign_in(client)
    other = client.get(f"/stabilisations/{OTHER_ID}")
    assert other.status_code == 404 and "查无此人或无权查看" in other.text
    posted = client.post(
        f"/stabilisations/{OTHER_ID}/revisits",
        data={"csrf": csrf, "sequence": "2", "mode": "visit"},
        follow_redirects=False,
    )
    assert posted.status_code == 404 and "查无此人或无权查看" in posted.text
    assert client.get("/stabilisations/not-an-id").status_code == 404
    assert client.get("/revisits/roster", params={"area": "41"}).status_code == 422


def staff_sign_in(client) -> str:
    form = client.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    signed = client.post(
        "/signin",
        data={"csrf": csrf, "station_id": "gushi", "roles": "station_staff", "subject": "张三"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    return re.search(r'<header.*?name="csrf" value="([^"]+)"', client.get("/revisits").text, re.S)[
        1
    ]


def test_station_staff_see_overdue_revisits_the_register_and_the_roster_to_send(client, followup):
    followup.staff = True
    staff_sign_in(client)
    board = client.get("/revisits").text
    overdue = board[board.index('id="h-overdue"') : board.index('id="h-due"')]
    assert f'href="/stabilisations/{RECORD_ID}">王建国</a> · 第1次回访' in overdue
    register = board[board.index('id="h-register"') :]
    assert "痴呆、反复流浪" in register and 'action="/revisits/roster"' in register
    assert 'href="/revisits">回访</a>' in board
    roster = client.get("/revisits/roster", params={"area": TOWN}).text
    assert "<td>痴呆、反复流浪</td>" in roster and "第1次回访 已逾期" in roster
    page = client.get(f"/stabilisations/{RECORD_ID}").text
    assert 'data-testid="at-risk">易流浪走失：痴呆、反复流浪' in page
    assert f'action="/stabilisations/{RECORD_ID}/risk-assessments"' in page
    assert f'action="/stabilisations/{RECORD_ID}/closure"' in page
    assert "列入易流浪走失人员信息库" not in page  # already in it


def test_a_refused_assessment_says_the_center_decides_and_keeps_what_was_typed(client, followup):
    followup.staff = True
    csrf = staff_sign_in(client)
    refused = client.post(
        f"/stabilisations/{RECORD_ID}/risk-assessments",
        data={"csrf": csrf, "idempotency_key": "a-1", "level": "high", "reasons": "独居"}
        | {"owner": "市站 王芳"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "风险评估由中心站（市站）作出" in refused.text
    assert '<details class="add" open>' in refused.text and ">独居</textarea>" in refused.text
    assert 'value="市站 王芳"' in refused.text
    assert 'name="idempotency_key" value="a-1"' not in refused.text  # refused: a new key
    assert followup.posted[-1][1] == {"level": "high", "reasons": ["独居"], "owner": "市站 王芳"}
