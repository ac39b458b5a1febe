"""Returns home (返乡) in Chromium against the real network: the center plans a woman's
cross-province escort, refused without a female escort and accepted with one, runs
it, and records the handover with the receiver's signature drawn on the screen."""

from __future__ import annotations

import base64
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import SCREENSHOTS
from console_browser import serious_violations
from journeys import identified_person
from playwright.sync_api import expect
from support import query, station_client

pytestmark = pytest.mark.e2e

CHINA = ZoneInfo("Asia/Shanghai")
ESCORT_URL = re.compile(r"/escorts/[0-9a-f-]{36}$")


def local(moment: datetime) -> str:
    """As a datetime-local input takes it, Beijing time."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


def test_a_womans_cross_province_escort_needs_a_female_escort_and_ends_in_a_signed_handover(
    desk, network, urls, axe_source
):
    name = f"李秀兰{secrets.token_hex(2)}"
    woman = identified_person(network, urls, sex="female", province="四川省", full_name=name)
    # a satellite's cross-province return: the center escorts it
    assert (woman["station_id"], woman["escort_station_id"]) == ("gushi", "center")

    page = desk.page
    desk.sign_in("center", subject="护送协调员")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="返乡").click()
    sichuan = page.locator("fieldset[data-province='四川省']")
    row = sichuan.locator(f"#return-{woman['id']}")
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("女")
    expect(row).to_contain_text("待安排护送")
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="为所选人员安排护送").click()
    page.wait_for_url(re.compile(r"/escorts/new\?return_id="))

    # the rule shows as the user plans: a woman travels, no female escort yet
    female = page.locator("li[data-rule=female]")
    expect(female).to_contain_text("须有女性护送人员")
    expect(female).to_contain_text("未满足")
    page.get_by_label("第1人 姓名").fill("赵强")
    page.get_by_label("第1人 性别").select_option("male")
    page.get_by_label("第1人 职责").select_option("escort")
    start = datetime.now(CHINA) + timedelta(hours=3)
    for i, (origin, destination, mode, at) in enumerate(
        [
            ("信阳站", "成都东站", "train", start),
            ("成都东站", "县民政局", "station_vehicle", start + timedelta(hours=18)),
        ],
        start=1,
    ):
        page.get_by_label(f"第{i}段 出发地").fill(origin)
        page.get_by_label(f"第{i}段 到达地").fill(destination)
        page.get_by_label(f"第{i}段 交通方式").select_option(mode)
        page.get_by_label(f"第{i}段 计划出发").fill(local(at))
    expect(page.locator("li[data-rule=legs]")).to_contain_text("已满足")
    expect(female).to_contain_text("未满足")

    # transfer decides: refused next to the staff, in Chinese, with everything kept
    page.get_by_role("button", name="提交护送计划").click()
    expect(page.locator("#err-staff")).to_contain_text("须有女性护送人员")
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.get_by_label("第1人 姓名")).to_have_value("赵强")
    expect(page.get_by_label("第2段 出发地")).to_have_value("成都东站")
    expect(page.locator(f"input[name=return_ids][value='{woman['id']}']")).to_be_checked()

    page.get_by_label("第2人 姓名").fill("陈敏")
    page.get_by_label("第2人 性别").select_option("female")
    page.get_by_label("第2人 职责").select_option("escort")
    expect(female).to_contain_text("已满足")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "escort-planner.png", full_page=True)
    assert serious_violations(page, axe_source) == []
    page.get_by_role("button", name="提交护送计划").click()
    page.wait_for_url(ESCORT_URL)
    escort_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("escort-status")).to_have_text("待出发")
    expect(page.get_by_test_id(f"status-{woman['id']}")).to_have_text("已安排护送")

    # departure, then each leg's arrival in its order
    page.get_by_role("button", name="登记出发").click()
    expect(page.get_by_test_id("escort-status")).to_have_text("护送途中")
    page.get_by_role("button", name="登记到达成都东站").click()
    expect(page.get_by_test_id("legs").locator("strong")).to_have_count(1)
    page.get_by_role("button", name="登记到达县民政局").click()
    expect(page.get_by_test_id("legs").locator("strong")).to_have_count(2)

    # the handover, the receiver signing with the mouse on the pad
    page.get_by_label("家属", exact=True).check()
    page.get_by_label("接收人姓名").fill("王秀英")
    page.get_by_label("与受助人员关系").fill("母亲")
    page.get_by_label("接收人证件").select_option("resident_id_card")
    page.get_by_label("证件号码").fill("511324196501010027")
    page.get_by_label("交接地点").fill("四川省南充市仪陇县马鞍镇")
    pad = page.locator("canvas[data-signature-pad]")
    pad.scroll_into_view_if_needed()  # the mouse works in the viewport's coordinates
    box = pad.bounding_box()
    middle = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 20, middle)
    page.mouse.down()
    for step in range(1, 14):
        page.mouse.move(box["x"] + 20 + step * 20, middle + (18 if step % 2 else -18), steps=4)
    page.mouse.up()
    drawn = page.locator("[data-signature-data]").input_value()
    assert base64.b64decode(drawn).startswith(b"\x89PNG\r\n\x1a\n")
    assert serious_violations(page, axe_source) == []
    page.get_by_role("button", name="确认交接").click()

    signed = page.get_by_test_id("signed")
    expect(signed).to_contain_text(f"{name} 已交接给 王秀英")
    shown = signed.get_by_role("img", name="王秀英的签名（已保存）")
    expect(shown).to_be_visible()
    assert shown.evaluate("img => img.naturalWidth") == 600
    # asyncpg on its own thread: Playwright's sync API holds this thread's event loop
    with ThreadPoolExecutor(1) as worker:
        (stored,) = worker.submit(
            query,
            network,
            "transfer",
            "select status, signature_png from returns where id = $1::uuid",
            woman["id"],
        ).result()
    assert stored["status"] == "handed_over"
    assert bytes(stored["signature_png"]) == base64.b64decode(drawn)  # what was drawn, kept

    # the return shows it handed over; its written notice is a download to print
    signed.get_by_role("link", name="查看返乡记录").click()
    expect(page.get_by_test_id("return-status")).to_have_text("已交接")
    expect(page.get_by_test_id("handover")).to_contain_text("王秀英（母亲）")
    expect(page.get_by_test_id("handover")).to_contain_text("接收人签名已存档")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载书面告知书（可打印）").click()
    notice = download.value.path().read_text()
    assert "返乡受助人员情况告知书" in notice and name in notice and "王秀英" in notice
    assert serious_violations(page, axe_source) == []

    with station_client(network, "center") as center:
        trip = center.get(f"{urls['transfer']}/escorts/{escort_id}").json()
    assert trip["status"] == "completed"
    assert [leg["arrived_at"] is not None for leg in trip["legs"]] == [True, True]
