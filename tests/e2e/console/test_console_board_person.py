"""The board's police-check and DNA deadlines and its outsourced placements not
visited, and a person's belongings and incidents (one recorded through the console's
form, its refusal said next to its field), in Chromium against the real network."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from console_browser import serious_violations
from playwright.sync_api import expect
from support import poll, station_client

pytestmark = pytest.mark.e2e

STATION = "guangshan"


def admit(network, urls, **extra) -> tuple[dict, dict]:
    """A person admitted at the station, and their search case once search opened it."""
    with station_client(network, STATION) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "estimated_age": 66, **extra},
        )
        assert admitted.status_code == 201, admitted.text
        person = admitted.json()
        case = poll(
            lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person["id"]}).json()
        )[0]
        return person, case


def task_row(page, case_id: str, kind: str):
    return page.locator(f"[data-testid=task-deadlines] tr[data-task={kind}]").filter(
        has=page.locator(f"a[href='/cases/{case_id}#h-tasks']")
    )


def test_the_board_shows_police_and_dna_deadlines_and_a_placement_not_visited(
    desk, network, urls, axe_source
):
    name = f"看板{uuid.uuid4().hex[:6]}"
    fresh, fresh_case = admit(network, urls, stated_names=[name])
    # Arrived 40 days ago and in outsourced care for 35 days, never visited.
    arrived = datetime.now(UTC) - timedelta(days=40)
    placed, placed_case = admit(network, urls, arrived_at=arrived.isoformat())
    with station_client(network, STATION) as staff:
        begun = staff.post(
            f"{urls['intake']}/persons/{placed['id']}/outsourced-care",
            json={
                "institution": "光山县社会福利院",
                "address": "光山县弦山街道福利路1号",
                "reason": "生活不能自理，站内无护理条件",
                "started_at": (arrived + timedelta(days=5)).isoformat(),
            },
        )
    assert begun.status_code == 201, begun.text

    desk.sign_in(STATION)
    page = desk.page
    for kind in ("police_check", "dna_sample"):
        row = task_row(page, fresh_case["id"], kind)
        expect(row).to_contain_text("还剩")
        expect(row.get_by_role("link", name=name)).to_have_attribute(
            "href", f"/persons/{fresh['id']}"
        )
        # search's /overdue: the older case's deadline passed long ago
        expect(task_row(page, placed_case["id"], kind)).to_contain_text("已逾期")
    expect(task_row(page, fresh_case["id"], "police_check")).to_contain_text("公安身份核查")
    expect(task_row(page, fresh_case["id"], "dna_sample")).to_contain_text("采集DNA样本")

    not_visited = (
        page.get_by_test_id("not-visited")
        .locator("li")
        .filter(has=page.locator(f"a[href='/persons/{placed['id']}']"))
    )
    expect(not_visited).to_contain_text("光山县社会福利院")
    expect(not_visited).to_contain_text("托养以来未探访")
    assert serious_violations(page, axe_source) == []

    task_row(page, fresh_case["id"], "dna_sample").get_by_role("link", name="甄别").click()
    page.wait_for_url(f"**/cases/{fresh_case['id']}#h-tasks")
    expect(page.locator("li[data-task=dna_sample]")).to_contain_text("还剩")


def test_a_persons_belongings_and_an_incident_recorded_with_a_refusal_next_to_its_field(
    phone, network, urls, axe_source
):
    arrived = datetime.now(UTC) - timedelta(minutes=10)
    person, _ = admit(network, urls, stated_names=["物品测试"], arrived_at=arrived.isoformat())
    with station_client(network, STATION) as staff:
        recorded = staff.post(
            f"{urls['intake']}/persons/{person['id']}/belongings",
            json={"items": [{"description": "蓝色帆布包", "quantity": 1, "condition": "旧"}]},
        )
    assert recorded.status_code == 201, recorded.text

    page = phone.page
    phone.sign_in(STATION)
    phone.goto(f"/persons/{person['id']}")
    belongings = page.get_by_test_id("belongings")
    expect(belongings).to_contain_text("蓝色帆布包 × 1")
    expect(belongings).to_contain_text("未交还")
    expect(page.get_by_test_id("incidents")).to_have_text("无事件记录。")

    page.locator("summary", has_text="登记事件").click()
    page.get_by_label("受伤", exact=True).check()
    page.get_by_label("发生时间（北京时间）").fill("2020-01-01T08:00")  # before the arrival
    page.get_by_label("经过和处置").fill("院内摔倒，右膝擦伤，已包扎")
    page.get_by_role("button", name="登记事件").click()

    when = page.get_by_label("发生时间（北京时间）")
    expect(when).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-incident_occurred_at")).to_have_text(
        "发生时间不能早于此人本次到站时间。"
    )
    expect(page.get_by_label("受伤", exact=True)).to_be_checked()
    expect(page.get_by_label("经过和处置")).to_have_value("院内摔倒，右膝擦伤，已包扎")
    expect(page.get_by_role("heading", name="离站未办理")).to_have_count(0)
    assert serious_violations(page, axe_source) == []

    # after the arrival, before now, in the station's Beijing time
    happened = datetime.now(UTC) - timedelta(minutes=3) + timedelta(hours=8)
    when.fill(happened.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="登记事件").click()
    incidents = page.get_by_test_id("incidents")
    expect(incidents).to_contain_text("受伤")
    expect(incidents).to_contain_text("院内摔倒，右膝擦伤，已包扎")
    expect(page.get_by_test_id("person-status")).to_contain_text("在站")
    expect(page.locator("ol.timeline")).to_contain_text("事件：受伤")
