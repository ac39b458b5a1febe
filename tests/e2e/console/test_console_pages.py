"""The station console (issue 26) in Chromium against the real network: admission
on a phone, the board, refusals next to their fields, scoping, security, axe."""

from __future__ import annotations

import re

import pytest
from conftest import SCREENSHOTS
from console_browser import serious_violations
from playwright.sync_api import expect
from support import station_client

pytestmark = pytest.mark.e2e

PERSON_URL = re.compile(r"/persons/[0-9a-f-]{36}$")


def fill_patrol_admission(page, *, officer="刘队长", consent="本人同意接受救助"):
    page.get_by_label("街面巡查护送").check()
    page.get_by_label("护送单位").fill("固始县公安局城关派出所")
    if officer:
        page.get_by_label("经办人").fill(officer)
    page.get_by_label("交接单号").fill("CG-2026-0042")
    page.get_by_label("发现地点").fill("固始县人民广场")
    page.get_by_label("发现时间（北京时间）").fill("2026-12-01T06:10")
    page.get_by_label(consent).check()
    page.get_by_label("男", exact=True).check()
    page.get_by_label("估计年龄").fill("61")
    page.get_by_label("自述姓名").fill("王建国、老王")
    page.get_by_label("口音/方言").fill("四川话")
    page.get_by_label("老年人").check()


def test_a_phone_admission_reaches_the_person_page_and_the_board(phone):
    page = phone.page
    phone.sign_in("gushi")
    phone.goto("/admissions/new")
    fill_patrol_admission(page)
    # Only the chosen route's fields show on a narrow screen.
    expect(page.get_by_label("转出医院")).to_be_hidden()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "admission-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.get_by_role("button", name="提交登记").click()
    page.wait_for_url(PERSON_URL)
    expect(page.get_by_role("heading", level=1)).to_contain_text("王建国")
    expect(page.get_by_test_id("person-status")).to_contain_text("在站")
    expect(page.locator("dl.record")).to_contain_text("街面巡查护送")
    expect(page.locator("ol.timeline")).to_contain_text("入站登记")
    person_path = page.url.removeprefix(phone.base)

    page.get_by_role("link", name="值班看板").click()
    expect(page.locator(f"#h-list ~ div a[href='{person_path}']")).to_be_visible()
    # search opens the case from person_admitted; the board shows its deadline when it does.
    deadline = page.locator(f"#h-deadlines ~ table a[href='{person_path}']")
    expect(deadline).to_be_visible(timeout=20_000)
    expect(deadline.locator("xpath=ancestor::tr")).to_contain_text("还剩")


def test_the_board_updates_without_reloading(desk, network, urls):
    desk.sign_in("xixian")
    page = desk.page
    expect(page.get_by_role("heading", name="在站人员")).to_be_visible()
    page.evaluate("window.sameDocument = true")
    with station_client(network, "xixian") as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "female", "stated_names": ["赵敏"]},
        )
    assert admitted.status_code == 201, admitted.text
    expect(
        page.locator(f"#h-list ~ div a[href='/persons/{admitted.json()['id']}']")
    ).to_be_visible()
    assert page.evaluate("window.sameDocument") is True  # htmx swapped the panels in place


def test_a_refused_field_is_shown_next_to_it_in_chinese_with_what_was_typed_kept(desk):
    page = desk.page
    desk.sign_in("gushi")
    desk.goto("/admissions/new")
    fill_patrol_admission(page, officer=None)
    page.get_by_role("button", name="提交登记").click()

    officer = page.get_by_label("经办人")
    expect(officer).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-handover-officer")).to_have_text("此项必填。")
    expect(page.get_by_label("护送单位")).to_have_value("固始县公安局城关派出所")
    expect(page.get_by_label("自述姓名")).to_have_value("王建国、老王")
    expect(page.get_by_label("发现时间（北京时间）")).to_have_value("2026-12-01T06:10")
    expect(page.get_by_label("老年人")).to_be_checked()
    expect(page.get_by_label("本人同意接受救助")).to_be_checked()

    officer.fill("刘队长")
    page.get_by_label("本人不同意").check()
    page.get_by_role("button", name="提交登记").click()
    expect(page.locator("#err-consent")).to_contain_text("须经本人同意")
    expect(page.get_by_label("经办人")).to_have_value("刘队长")

    page.get_by_label("本人同意接受救助").check()
    page.get_by_role("button", name="提交登记").click()
    page.wait_for_url(PERSON_URL)


def test_medical_first_refusal_points_to_hospital_placement(desk):
    page = desk.page
    desk.sign_in("gushi")
    desk.goto("/admissions/new")
    page.get_by_label("自愿求助").check()
    page.get_by_label("女", exact=True).check()
    page.get_by_label("醉酒或中毒").check()
    page.get_by_role("button", name="提交登记").click()
    expect(page.locator("#err-suspected_conditions")).to_contain_text("先救治，后救助")
    expect(page.get_by_label("醉酒或中毒")).to_be_checked()
    page.get_by_role("link", name="办理送医安置").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("送医安置")


def test_a_double_submit_admits_once(desk, network, urls):
    page = desk.page
    desk.sign_in("gushi")
    desk.goto("/admissions/new")
    page.get_by_label("自愿求助").check()
    page.get_by_label("男", exact=True).check()
    page.get_by_label("自述姓名").fill("重复提交测试")
    form = {
        name: page.locator(f"form.admission input[name={name}]").input_value()
        for name in ("csrf", "idempotency_key")
    } | {"arrival_route": "own_request", "sex": "male", "stated_names": "重复提交测试"}
    first, second = (
        desk.context.request.post(desk.base + "/admissions", form=form, max_redirects=0)
        for _ in range(2)
    )
    assert first.status == second.status == 303
    assert first.headers["location"] == second.headers["location"]
    with station_client(network, "gushi") as staff:
        persons = staff.get(f"{urls['intake']}/station/persons").json()
    assert sum(p["stated_names"] == ["重复提交测试"] for p in persons) == 1


def test_another_station_gets_not_found_for_a_persons_page(desk, network, urls):
    with station_client(network, "gushi") as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "stated_names": ["李四"]},
        )
    assert admitted.status_code == 201, admitted.text
    desk.sign_in("xixian")
    response = desk.goto(f"/persons/{admitted.json()['id']}")
    assert response.status == 404
    expect(desk.page.get_by_role("heading", level=1)).to_have_text("查无此人或无权查看")
    expect(desk.page.locator("main")).not_to_contain_text("李四")


def test_pages_send_a_strict_csp_and_the_session_cookie_is_httponly_strict(desk):
    desk.sign_in("gushi")
    response = desk.goto("/board")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    (cookie,) = [c for c in desk.context.cookies() if c["name"] == "console_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["secure"]
    assert desk.page.evaluate("document.cookie") == ""  # the session is out of scripts' reach

    desk.page.get_by_role("button", name="退出登录").click()
    desk.page.wait_for_url(re.compile(r"/signin$"))
    assert not [c for c in desk.context.cookies() if c["name"] == "console_session"]
    desk.goto("/board")
    assert desk.page.url.startswith(desk.base + "/signin")


def test_a_form_without_its_csrf_token_is_refused(desk):
    desk.sign_in("gushi")
    refused = desk.context.request.post(
        desk.base + "/admissions",
        form={"arrival_route": "own_request", "sex": "male", "csrf": "forged"},
        max_redirects=0,
    )
    assert refused.status == 403


def test_the_board_and_the_admission_form_have_no_serious_accessibility_violations(
    desk, axe_source
):
    desk.sign_in("gushi")
    desk.goto("/board")
    expect(desk.page.get_by_role("heading", name="在站人员")).to_be_visible()
    assert serious_violations(desk.page, axe_source) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    desk.page.screenshot(path=SCREENSHOTS / "board.png", full_page=True)

    desk.goto("/admissions/new")
    assert serious_violations(desk.page, axe_source) == []
    desk.page.get_by_role("button", name="提交登记").click()  # the form with its errors
    expect(desk.page.locator("#error-summary")).to_be_visible()
    assert serious_violations(desk.page, axe_source) == []
