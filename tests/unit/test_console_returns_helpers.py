"""Returns home (返乡) in the console without a network: the requests the planner and
the forms send to transfer, the escort rules shown as the user plans, and transfer's
refusals said next to their fields; transfer and intake stood in by a transport."""

from __future__ import annotations

import base64
import json
import re

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_console.app import create_app
from rescue_console.returns import (
    escort_refusals,
    escort_request,
    fitness_request,
    handover_request,
    refusal_request,
    rule_hints,
)
from rescue_console.services import Answer
from rescue_console.settings import ConsoleSettings

RETURN_ID = "a0000000-0000-4000-8000-000000000001"
ESCORT_ID = "e0000000-0000-4000-8000-000000000001"
PERSON_ID = "7f1c2d4e-0000-4000-8000-000000000001"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).decode()
RETURN = {
    "id": RETURN_ID,
    "person_id": PERSON_ID,
    "station_id": "gushi",
    "escort_station_id": "center",
    "cross_province": True,
    "status": "pending",
    "full_name": "李秀兰",
    "destination_province": "四川省",
    "home_address": "四川省某县某镇",
    "home_admin_code": None,
    "opened_at": "2026-12-07T01:00:00+00:00",
    "opened_by": "identity_confirmed",
    "fit_to_travel": None,
    "medical_escort_required": False,
    "fitness_note": None,
    "escort_id": None,
    "handed_over_at": None,
    "receiver_kind": None,
    "received_by": None,
    "relation": None,
    "handover_place": None,
}
LEG = {
    "sequence": 1,
    "origin": "信阳站",
    "destination": "成都东站",
    "mode": "train",
    "planned_departure_at": "2026-12-08T01:00:00+00:00",
    "planned_arrival_at": None,
    "arrived_at": None,
}
ESCORT = {
    "id": ESCORT_ID,
    "escort_station_id": "center",
    "destination_province": "四川省",
    "status": "departed",
    "transport_mode": "train",
    "vehicle": None,
    "tickets": [],
    "staff": [{"name": "陈敏", "sex": "female", "role": "escort"}],
    "planned_departure_at": "2026-12-08T01:00:00+00:00",
    "departed_at": "2026-12-08T01:05:00+00:00",
    "completed_at": None,
    "legs": [LEG],
    "return_ids": [RETURN_ID],
}
FEMALE_REFUSAL = {
    "status": 422,
    "errors": [{"field": "staff", "reason": "a woman or girl travels: a female escort is needed"}],
}


# ---- the requests and the rules -----------------------------------------------------


def test_the_planner_sends_the_rows_filled_in_a_ticket_a_line_and_beijing_times():
    form = {
        "return_ids": [RETURN_ID, ""],
        "staff.0.name": ["赵强"],
        "staff.0.sex": ["male"],
        "staff.0.role": ["escort"],
        "staff.1.name": [""],
        "staff.1.sex": ["female"],
        "tickets": ["K1 信阳→成都\n\n K2 成都→南充 "],
        "legs.0.origin": ["信阳站"],
        "legs.0.destination": ["成都东站"],
        "legs.0.mode": ["train"],
        "legs.0.planned_departure_at": ["2026-12-08T09:00"],
        "legs.1.origin": [""],
        "legs.2.destination": ["县民政局"],
    }
    plan = escort_request(form)
    assert plan["return_ids"] == [RETURN_ID]
    assert plan["staff"] == [{"name": "赵强", "sex": "male", "role": "escort"}]
    assert plan["tickets"] == ["K1 信阳→成都", "K2 成都→南充"]
    assert plan["transport_mode"] == "train"  # the first leg's, when none is chosen
    assert plan["legs"] == [
        {
            "origin": "信阳站",
            "destination": "成都东站",
            "mode": "train",
            "planned_departure_at": "2026-12-08T09:00:00+08:00",
        },
        # a half-filled row goes as typed: transfer names what is missing
        {"origin": "", "destination": "县民政局", "mode": None, "planned_departure_at": None},
    ]
    assert "vehicle" not in plan


def test_a_woman_among_the_persons_needs_a_female_escort_and_a_sick_one_a_medical_one():
    woman = {"sex": "female", "categories": ["dementia"], "destination_province": "四川省"}
    man = {"sex": "male", "categories": [], "destination_province": "四川省"}
    legs = [
        {"origin": "信阳站", "destination": "成都东站"},
        {"origin": "成都站", "destination": "县民政局"},
    ]
    male_only = [{"name": "赵强", "sex": "male", "role": "escort"}]

    def state(hints):
        return {h["rule"]: h["met"] for h in hints}

    assert state(rule_hints([man], male_only, legs[:1])) == {"escort": True, "legs": True}
    hints = rule_hints([man, woman], male_only, legs)
    assert state(hints) == {"escort": True, "female": False, "medical": False, "legs": False}
    assert any("须有女性护送人员" in h["words"] for h in hints)
    crew = [*male_only, {"name": "刘芳", "sex": "female", "role": "medical"}]
    assert state(rule_hints([woman], crew, legs[:1])) == {
        "escort": True,
        "female": True,
        "medical": True,
        "legs": True,
    }
    # a woman driving is not a female escort
    driver = [*male_only, {"name": "王丽", "sex": "female", "role": "driver"}]
    assert state(rule_hints([woman], driver, []))["female"] is False
    elsewhere = {**man, "destination_province": "贵州省"}
    assert state(rule_hints([man, elsewhere], male_only, []))["province"] is False


def test_transfers_refusals_of_a_plan_land_at_their_fields_in_chinese():
    answer = Answer(
        422,
        {
            "errors": [
                *FEMALE_REFUSAL["errors"],
                {"field": "legs.1.origin", "reason": "must continue from '成都东站' where leg 1"},
                {"field": "return_ids", "reason": f"return {RETURN_ID} is escorted by center"},
                {"field": "staff.0.sex", "reason": "Input should be 'male' or 'female'"},
                {"field": "somewhere", "reason": "odd"},
            ]
        },
    )
    errors, general = escort_refusals(answer)
    assert errors["staff"] == ["有妇女或女童同行：须有女性护送人员（护送或医护）。"]
    assert errors["legs.1.origin"] == ["各段行程须首尾相接：本段须从上一段的终点出发。"]
    assert "中心站" in errors["return_ids"][0]
    assert errors["staff.0.sex"] == ["请选择护送人员的性别。"]
    assert general == ["服务未接受此项：odd"]


def test_the_handover_fitness_and_refusal_forms_as_transfer_takes_them():
    receipt = handover_request(
        {
            "receiver_kind": "family",
            "received_by": " 王秀英 ",
            "relation": "",
            "id_document_type": "resident_id_card",
            "id_document_number": "511324196501010027",
            "place": "四川省某县某镇",
            "handed_over_at": "",
            "signature_png": "data:image/png;base64," + PNG,
        }
    )
    assert receipt == {
        "receiver_kind": "family",
        "received_by": "王秀英",
        "id_document_type": "resident_id_card",
        "id_document_number": "511324196501010027",
        "place": "四川省某县某镇",
        "signature_png": PNG,
    }
    assert fitness_request({"fit_to_travel": "no", "note": "发热"}) == {
        "fit_to_travel": False,
        "medical_escort_required": False,
        "note": "发热",
    }
    assert "fit_to_travel" not in fitness_request({})  # unanswered: transfer names it
    assert refusal_request(
        {"refused_by": "马鞍镇人民政府", "reason": "称无亲属", "refused_at": "2026-12-07T10:00"}
    ) == {
        "refused_by": "马鞍镇人民政府",
        "reason": "称无亲属",
        "refused_at": "2026-12-07T10:00:00+08:00",
    }


# ---- the pages ----------------------------------------------------------------------


class FakeServices:
    """transfer and intake, as the console's transport sees them."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.answers: dict[tuple[str, str, str], tuple[int, object]] = {
            ("transfer", "GET", "/returns/planning"): (
                200,
                [{"destination_province": "四川省", "pending": 1, "returns": [RETURN]}],
            ),
            ("transfer", "GET", f"/returns/{RETURN_ID}"): (200, RETURN),
            ("transfer", "GET", f"/escorts/{ESCORT_ID}"): (200, ESCORT),
            ("intake", "GET", f"/persons/{PERSON_ID}"): (
                200,
                {"id": PERSON_ID, "sex": "female", "estimated_age": 16, "categories": ["minor"]},
            ),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        key = (request.url.host.split(".")[0], request.method, request.url.path)
        if key == ("transfer", "GET", f"/returns/{RETURN_ID}/notice"):
            return httpx.Response(200, text="<!doctype html><h1>告知书</h1>")
        status, body = self.answers.get(key, (200, []))
        return httpx.Response(status, json=body)

    def posts(self, path: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == "POST" and r.url.path == path]


@pytest.fixture
def services():
    return FakeServices()


@pytest.fixture
def client(services):
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    settings = ConsoleSettings(
        **urls, dev_jwt_secret="console-unit-secret-" + "k" * 30, cookie_secure=False
    )
    app = create_app(settings, transport=httpx.MockTransport(services))
    with TestClient(app, base_url="http://console.test") as client:
        yield client


def sign_in(client, station: str = "center") -> str:
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.post(
        "/signin",
        data={"csrf": csrf, "station_id": station, "roles": "station_staff", "subject": "值班员"},
        follow_redirects=False,
    )
    planner = client.get("/escorts/new").text
    return re.search(r'<main.*?name="csrf" value="([^"]+)"', planner, re.S).group(1)


def test_the_board_groups_returns_by_destination_province_with_the_persons_sex(client):
    sign_in(client)
    board = client.get("/returns")
    assert board.status_code == 200
    assert 'data-province="四川省"' in board.text and "四川省 · 1 人" in board.text
    assert f'href="/returns/{RETURN_ID}">李秀兰</a>' in board.text
    assert "女 · 约16岁" in board.text and "未评估" in board.text


def test_the_planner_says_a_girl_needs_a_female_escort_before_anything_is_sent(client, services):
    sign_in(client)
    planner = client.get(f"/escorts/new?return_id={RETURN_ID}")
    assert planner.status_code == 200
    female = re.search(r'<li data-rule="female" class="(\w+)"[^>]*>', planner.text)
    assert female.group(1) == "unmet" and "hidden" not in female.group(0)
    assert f'value="{RETURN_ID}" data-sex="female"' in planner.text
    assert services.posts("/escorts") == []


def test_a_plan_refused_without_a_female_escort_says_so_at_the_staff_with_all_kept(
    client, services
):
    csrf = sign_in(client)
    services.answers[("transfer", "POST", "/escorts")] = (422, FEMALE_REFUSAL)
    form = {
        "csrf": csrf,
        "idempotency_key": "plan-1",
        "return_ids": RETURN_ID,
        "staff.0.name": "赵强",
        "staff.0.sex": "male",
        "staff.0.role": "escort",
        "legs.0.origin": "信阳站",
        "legs.0.destination": "成都东站",
        "legs.0.mode": "train",
        "legs.0.planned_departure_at": "2099-01-01T08:00",
    }
    refused = client.post("/escorts", data=form)
    assert refused.status_code == 422
    assert 'id="err-staff">有妇女或女童同行：须有女性护送人员' in refused.text
    assert 'value="赵强"' in refused.text and 'value="信阳站"' in refused.text
    assert 'data-province="四川省" checked' in refused.text
    assert re.search(r'value="plan-1"', refused.text) is None  # refused: the next try is new
    (sent,) = services.posts("/escorts")
    assert json.loads(sent.content)["staff"] == [{"name": "赵强", "sex": "male", "role": "escort"}]
    assert sent.headers["Idempotency-Key"] == "plan-1"

    services.answers[("transfer", "POST", "/escorts")] = (201, ESCORT)
    planned = client.post(
        "/escorts",
        data={**form, "staff.1.name": "陈敏", "staff.1.sex": "female", "staff.1.role": "escort"},
        follow_redirects=False,
    )
    assert planned.status_code == 303 and planned.headers["location"] == f"/escorts/{ESCORT_ID}"


def test_the_signed_handover_is_sent_as_base64_png_and_shown_back(client, services):
    csrf = sign_in(client)
    services.answers[("transfer", "GET", "/returns")] = (200, [{**RETURN, "status": "in_transit"}])
    escort = client.get(f"/escorts/{ESCORT_ID}")
    assert "data-signature-pad" in escort.text and f"/handover/{RETURN_ID}" in escort.text
    handed = {**RETURN, "status": "handed_over", "received_by": "王秀英", "receiver_kind": "family"}
    services.answers[("transfer", "POST", f"/returns/{RETURN_ID}/handover")] = (200, handed)
    answer = client.post(
        f"/escorts/{ESCORT_ID}/handover/{RETURN_ID}",
        data={
            "csrf": csrf,
            "receiver_kind": "family",
            "received_by": "王秀英",
            "id_document_type": "none",
            "place": "四川省某县某镇",
            "signature_png": PNG,
        },
    )
    assert answer.status_code == 200
    assert 'data-testid="signed"' in answer.text
    assert f'src="data:image/png;base64,{PNG}"' in answer.text
    (sent,) = services.posts(f"/returns/{RETURN_ID}/handover")
    assert json.loads(sent.content)["signature_png"] == PNG


def test_a_handover_without_a_signature_is_refused_at_the_pad(client, services):
    csrf = sign_in(client)
    services.answers[("transfer", "GET", "/returns")] = (200, [{**RETURN, "status": "in_transit"}])
    services.answers[("transfer", "POST", f"/returns/{RETURN_ID}/handover")] = (
        422,
        {"errors": [{"field": "signature_png", "reason": "String should have at least 12"}]},
    )
    answer = client.post(
        f"/escorts/{ESCORT_ID}/handover/{RETURN_ID}",
        data={"csrf": csrf, "received_by": "王秀英", "signature_png": ""},
    )
    assert answer.status_code == 422
    assert 'id="err-signature_png">请接收人在签名板上签名。' in answer.text
    assert 'value="王秀英"' in answer.text


def test_the_notice_is_a_download_never_a_page_of_the_console(client):
    sign_in(client)
    notice = client.get(f"/returns/{RETURN_ID}/notice")
    assert notice.status_code == 200
    assert notice.headers["content-disposition"].startswith("attachment;")
    assert "告知书" in notice.text
    assert "script-src 'self'" in notice.headers["content-security-policy"]


def test_a_refusal_by_the_home_area_is_posted_and_an_unseen_return_is_not_found(client, services):
    csrf = sign_in(client)
    page = client.get(f"/returns/{RETURN_ID}")
    assert page.status_code == 200 and "登记流出地拒不接收" in page.text
    done = client.post(
        f"/returns/{RETURN_ID}/refusal",
        data={"csrf": csrf, "refused_by": "马鞍镇人民政府", "reason": "称无亲属"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    (sent,) = services.posts(f"/returns/{RETURN_ID}/refusal")
    assert json.loads(sent.content) == {"refused_by": "马鞍镇人民政府", "reason": "称无亲属"}
    services.answers[("transfer", "GET", f"/returns/{RETURN_ID}")] = (404, {"detail": "no"})
    missing = client.get(f"/returns/{RETURN_ID}")
    assert missing.status_code == 404 and "查无此人或无权查看" in missing.text


def test_the_center_resolves_an_escalation_and_a_missing_outcome_is_said_there(client, services):
    csrf = sign_in(client)
    escalation_id = "b0000000-0000-4000-8000-000000000001"
    services.answers[("transfer", "GET", "/escalations")] = (
        200,
        [
            {
                "id": escalation_id,
                "return_id": RETURN_ID,
                "person_id": PERSON_ID,
                "escort_station_id": "center",
                "refused_by": "马鞍镇人民政府",
                "reason": "称无亲属可接收",
                "escalated_to": "上级民政部门 (higher civil-affairs level)",
                "status": "open",
                "opened_at": "2026-12-07T02:00:00+00:00",
                "resolved_at": None,
                "outcome": None,
                "resolution": None,
            }
        ],
    )
    listed = client.get("/escalations")
    assert "马鞍镇人民政府 拒收：称无亲属可接收" in listed.text and "待上级协调" in listed.text
    assert "拒收与上报" in client.get(f"/returns/{RETURN_ID}").text
    url = f"/escalations/{escalation_id}/resolution"
    services.answers[("transfer", "POST", url)] = (
        422,
        {"errors": [{"field": "outcome", "reason": "Input should be 'home_area_accepts'"}]},
    )
    refused = client.post(url, data={"csrf": csrf, "resolution": "省厅协调中"})
    assert refused.status_code == 422
    assert "请选择协调结果。" in refused.text and "省厅协调中</textarea>" in refused.text
    services.answers[("transfer", "POST", url)] = (200, {})
    done = client.post(
        url,
        data={"csrf": csrf, "outcome": "home_area_accepts", "resolution": "户籍地同意接收"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert json.loads(services.posts(url)[-1].content) == {
        "outcome": "home_area_accepts",
        "resolution": "户籍地同意接收",
    }


def test_a_satellite_sees_its_cross_province_returns_wait_for_the_centers_escort(client, services):
    services.answers[("transfer", "GET", "/returns/planning")] = (200, [])
    services.answers[("transfer", "GET", "/returns")] = (200, [RETURN])
    sign_in(client, "gushi")
    board = client.get("/returns").text
    assert 'data-testid="by-center"' in board and "由中心站" in board
    assert "暂无待安排护送的人员" in board
