"""Return stabilisation (回访) in Chromium against the real network: a town's official
signs in on a phone, sees its own returnee on the roster and not another town's,
records a revisit whose difficulty opens a help task, and is told another town's
record is not there."""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import SCREENSHOTS
from console_browser import serious_violations
from playwright.sync_api import expect
from support import a_real_town, station_client

pytestmark = pytest.mark.e2e

CHINA = ZoneInfo("Asia/Shanghai")
GUSHI = "411525"  # the county gushi station serves


def returned_home(network, urls, town: str, full_name: str) -> dict:
    """Another region's return notice entered by gushi's staff: a stabilisation record
    with revisits assigned to ``town``."""
    notice = {
        "sending_station": "滨州市救助管理站",
        "sending_region": "山东省滨州市",
        "reference": f"滨救返〔2026〕{secrets.token_hex(4)}号",
        "full_name": full_name,
        "sex": "male",
        "age": 58,
        "home_province": "河南省",
        "home_admin_code": town,
        "home_address": "河南省信阳市固始县某镇某村3组",
        "expected_arrival_on": str(datetime.now(CHINA).date()),
        "escort": "滨州市救助管理站 王强",
    }
    with station_client(network, "gushi") as gushi:
        made = gushi.post(f"{urls['followup']}/inbound-returns", json=notice)
    assert made.status_code == 201, made.text
    return made.json()


def test_a_town_records_a_revisit_on_a_phone_and_never_sees_another_towns_roster(
    phone, network, urls, axe_source
):
    town = a_real_town(GUSHI)
    other_town = a_real_town(GUSHI)
    while other_town == town:
        other_town = a_real_town(GUSHI)
    ours_name, theirs_name = f"回访{secrets.token_hex(3)}", f"他镇{secrets.token_hex(3)}"
    ours = returned_home(network, urls, town, ours_name)
    theirs = returned_home(network, urls, other_town, theirs_name)

    page = phone.page
    phone.goto("/signin?kind=town")
    page.get_by_label("区划代码").fill(town)
    page.get_by_label("工号或姓名").fill("镇民政所 张敏")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(phone.base + "/revisits/town")

    roster = page.get_by_test_id("roster")
    entry = roster.locator(f"li[data-record='{ours['record_id']}']")
    expect(entry).to_contain_text(ours_name)
    expect(entry).to_contain_text("第1次回访")
    expect(roster).not_to_contain_text(theirs_name)
    assert page.locator(f"li[data-record='{theirs['record_id']}']").count() == 0
    assert serious_violations(page, axe_source) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "town-roster.png", full_page=True)

    # one tap from the roster to the revisit form
    entry.get_by_role("link", name="登记第1次回访").click()
    page.wait_for_url(f"**/stabilisations/{ours['record_id']}#h-record-revisit")
    expect(page.get_by_role("heading", level=1)).to_contain_text(ours_name)
    expect(page.get_by_test_id("help-tasks")).to_contain_text("无帮扶任务")
    page.get_by_label("电话回访").check()
    page.locator("#f-visited_by").fill("镇民政所 张敏")
    page.get_by_label("生活困难").check()
    page.locator("#f-note").fill("老人独居，无固定收入")
    page.locator("#f-help_owner").fill("镇民政所 李梅")
    assert serious_violations(page, axe_source) == []
    page.get_by_role("button", name="登记回访").click()
    page.wait_for_url(f"**/stabilisations/{ours['record_id']}#h-revisits")

    revisits = page.get_by_test_id("revisits")
    expect(revisits.locator("li").first).to_contain_text("已回访")
    expect(revisits.locator("li").first).to_contain_text("电话回访")
    tasks = page.get_by_test_id("help-tasks")
    expect(tasks).to_contain_text("生活困难")
    expect(tasks).to_contain_text("转介民政部门")
    expect(tasks).to_contain_text("负责人 镇民政所 李梅")
    expect(page.locator("#f-sequence")).to_have_value("2")  # the next one is offered
    # the stations' forms are not offered to a town
    assert page.locator("#h-risk, #h-closing").count() == 0

    # followup holds what the phone recorded, by a town official
    with station_client(network, "gushi") as gushi:
        record = gushi.get(f"{urls['followup']}/stabilisations/{ours['record_id']}").json()
    first = record["revisits"][0]
    assert (first["status"], first["mode"], first["recorded_by_role"]) == (
        "done",
        "phone",
        "town_official",
    )
    assert [(t["difficulty"], t["refer_to"], t["status"]) for t in record["help_tasks"]] == [
        ("living_difficulty", "civil_affairs", "open")
    ]

    # another town's record: the same words as one that does not exist
    answer = phone.goto(f"/stabilisations/{theirs['record_id']}")
    assert answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("查无此人或无权查看")
    expect(page.locator("main")).not_to_contain_text(theirs_name)
