"""The station console (issue 26) in Chromium against the real network: admission
on a phone, the board, refusals next to their fields, scoping, security, axe."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from conftest import SCREENSHOTS
from console_browser import serious_violations
from playwright.sync_api import expect
from support import station_client

pytestmark = pytest.mark.e2e

PERSON_URL = re.compile(r"/persons/[0-9a-f-]{36}$")
FACE = Path("/work/shared/testdata/faces/test/obama1.jpg")
CAMERA = "面部照片（用手机摄像头拍摄）"


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
    camera = page.get_by_label(CAMERA)
    assert camera.get_attribute("capture") == "environment"
    camera.set_input_files(FACE)  # what the phone's camera hands the page
    expect(page.get_by_alt_text("已选照片预览")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "admission-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.get_by_role("button", name="提交登记").click()
    page.wait_for_url(PERSON_URL)
    expect(page.get_by_role("heading", level=1)).to_contain_text("王建国")
    expect(page.get_by_test_id("person-status")).to_contain_text("在站")
    expect(page.locator("dl.record")).to_contain_text("街面巡查护送")
    expect(page.locator("ol.timeline")).to_contain_text("入站登记")
    expect(page.get_by_test_id("photo-count")).to_have_text("共 1 张")
    expect(page.locator("ul.photos")).to_contain_text("面部照片")
    person_path = page.url.removeprefix(phone.base)

    page.get_by_role("link", name="值班看板").click()
    expect(page.locator(f"#h-list ~ div a[href='{person_path}']")).to_be_visible()
    # search opens the case from person_admitted; the board shows its deadline when it does.
    deadline = page.locator(f"#h-deadlines ~ table a[href='{person_path}']")
    expect(deadline).to_be_visible(timeout=20_000)
    expect(deadline.locator("xpath=ancestor::tr")).to_contain_text("还剩")


def test_a_refused_photo_is_shown_next_to_its_field_with_what_was_typed_kept(phone, axe_source):
    page = phone.page
    phone.sign_in("gushi")
    phone.goto("/admissions/new")
    fill_patrol_admission(page)
    # A file the phone calls a JPEG that is not one: the console refuses it before
    # anyone is admitted, as intake would.
    page.get_by_label(CAMERA).set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"GIF89a" + bytes(64)}
    )
    page.get_by_role("button", name="提交登记").click()
    expect(page.locator("#err-photo")).to_have_text("照片须为 JPEG 或 PNG 图片，请重新拍摄或选择。")
    expect(page.get_by_label(CAMERA)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("自述姓名")).to_have_value("王建国、老王")
    expect(page.get_by_label("交接单号")).to_have_value("CG-2026-0042")
    expect(page.get_by_label("老年人")).to_be_checked()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(page, axe_source) == []


PENDING = """() => new Promise((resolve, reject) => {
    const opened = indexedDB.open("rescue-console");
    opened.onerror = () => reject(opened.error);
    opened.onsuccess = () => {
        const read = opened.result.transaction("pending-admissions")
            .objectStore("pending-admissions").getAll();
        read.onsuccess = () => { opened.result.close(); resolve(read.result); };
    };
})"""


def persons_named(network, urls, name) -> int:
    with station_client(network, "gushi") as staff:
        persons = staff.get(f"{urls['intake']}/station/persons").json()
    return sum(name in p["stated_names"] for p in persons)


def test_an_offline_patrol_admission_is_kept_and_sent_once_when_back_online(phone, network, urls):
    page = phone.page
    phone.sign_in("gushi")
    phone.goto("/admissions/new")
    name = f"离线{uuid.uuid4().hex[:6]}"
    fill_patrol_admission(page)
    page.get_by_label("自述姓名").fill(name)
    page.get_by_label(CAMERA).set_input_files(FACE)
    expect(page.get_by_alt_text("已选照片预览")).to_be_visible()
    key = page.locator("form.admission input[name=idempotency_key]").input_value()

    phone.context.set_offline(True)
    page.get_by_role("button", name="提交登记").click()
    status = page.locator("#pending-admissions")
    expect(status).to_contain_text("已保存在本机，联网后自动提交：待提交 1 份登记")
    expect(status).to_contain_text(name)
    expect(page.get_by_label("自述姓名")).to_have_value("")  # a fresh form for the next
    assert page.locator("input[name=idempotency_key]").input_value() != key
    (kept,) = page.evaluate(PENDING)
    assert kept["key"] == key and "csrf" not in kept["body"]
    assert persons_named(network, urls, name) == 0

    phone.context.set_offline(False)  # the `online` event sends it
    sent = status.get_by_role("link", name=name)
    expect(sent).to_be_visible(timeout=15_000)
    expect(status).not_to_contain_text("待提交")
    assert page.evaluate(PENDING) == []
    person_path = sent.get_attribute("href")
    assert PERSON_URL.search(person_path)

    # The same admission sent again (another tab, a retry) is answered as the first.
    csrf = page.locator("form[action='/signout'] input[name=csrf]").input_value()
    again = phone.context.request.post(
        phone.base + "/admissions",
        data=f"{kept['body']}&csrf={csrf}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        max_redirects=0,
    )
    assert again.status == 303 and again.headers["location"] == person_path
    assert persons_named(network, urls, name) == 1
    phone.goto(person_path)
    expect(page.get_by_test_id("photo-count")).to_have_text("共 1 张")  # once, too
    phone.goto("/board")
    expect(page.locator("#h-list ~ div a", has_text=name)).to_have_count(1)


def test_an_offline_admission_the_service_refuses_is_reopened_with_its_words(phone, network, urls):
    page = phone.page
    phone.sign_in("gushi")
    phone.goto("/admissions/new")
    name = f"离线{uuid.uuid4().hex[:6]}"
    fill_patrol_admission(page, officer=None)  # the handover lacks its officer
    page.get_by_label("自述姓名").fill(name)
    phone.context.set_offline(True)
    page.get_by_role("button", name="提交登记").click()
    status = page.locator("#pending-admissions")
    expect(status).to_contain_text("待提交 1 份")
    phone.context.set_offline(False)
    expect(status).to_contain_text(f"离线登记（{name}）未被接受")
    status.get_by_role("link", name="打开修改").click()

    expect(page.locator("#err-handover-officer")).to_have_text("此项必填。")
    expect(page.get_by_label("自述姓名")).to_have_value(name)
    expect(page.get_by_label("交接单号")).to_have_value("CG-2026-0042")
    expect(page.get_by_label("老年人")).to_be_checked()
    expect(status).to_be_hidden()  # the form holds it now
    page.get_by_label("经办人").fill("刘队长")
    page.get_by_role("button", name="提交登记").click()
    page.wait_for_url(PERSON_URL)
    assert persons_named(network, urls, name) == 1


def test_an_offline_admission_is_sent_by_the_next_page_that_loads(phone, network, urls):
    page = phone.page
    phone.sign_in("gushi")
    phone.goto("/admissions/new")
    name = f"离线{uuid.uuid4().hex[:6]}"
    page.get_by_label("自愿求助").check()
    page.get_by_label("女", exact=True).check()
    page.get_by_label("自述姓名").fill(name)
    phone.context.set_offline(True)
    page.get_by_role("button", name="提交登记").click()
    expect(page.locator("#pending-admissions")).to_contain_text("待提交 1 份")
    page.close()  # the phone put away: no page hears the network come back
    phone.context.set_offline(False)
    phone.page = page = phone.context.new_page()
    phone.goto("/board")
    expect(page.locator("#pending-admissions").get_by_role("link", name=name)).to_be_visible()
    assert persons_named(network, urls, name) == 1


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


def test_medical_first_refusal_points_to_hospital_placement(desk, axe_source):
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

    # The placement itself (POST /hospital-placements): the hospital left out first.
    name = f"送医{uuid.uuid4().hex[:6]}"
    page.get_by_label("醉酒或中毒").check()
    page.get_by_label("男", exact=True).check()
    page.get_by_label("自述姓名").fill(name)
    page.get_by_label("护送单位").fill("固始县公安局城关派出所")
    page.get_by_role("button", name="登记送医安置").click()
    hospital = page.get_by_label("送往医院")
    expect(hospital).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-hospital")).to_have_text("此项必填。")
    expect(page.get_by_label("自述姓名")).to_have_value(name)
    expect(page.get_by_label("醉酒或中毒")).to_be_checked()
    assert serious_violations(page, axe_source) == []
    hospital.fill("固始县人民医院")
    page.get_by_role("button", name="登记送医安置").click()
    page.wait_for_url(re.compile(r"/hospital-placements\?placed=[0-9a-f-]{36}$"))
    placed = page.get_by_test_id("placed")
    expect(placed).to_contain_text(name)
    expect(placed).to_contain_text("固始县人民医院")
    expect(placed).to_contain_text("醉酒或中毒")


def test_a_discharge_with_its_reason_and_a_refusal_next_to_its_field(
    desk, network, urls, axe_source
):
    with station_client(network, "gushi") as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "stated_names": ["离站测试"]},
        )
    assert admitted.status_code == 201, admitted.text
    page = desk.page
    desk.sign_in("gushi")
    desk.goto(f"/persons/{admitted.json()['id']}")
    page.get_by_label("转出（医院、机构或他站）").check()
    page.get_by_label("离站说明").fill("送医院治疗")
    page.get_by_role("button", name="办理离站").click()  # where to is missing

    where = page.get_by_label("转往何处")
    expect(where).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-transferred_to")).to_contain_text("转出须写明转往何处")
    expect(page.get_by_label("转出（医院、机构或他站）")).to_be_checked()
    expect(page.get_by_label("离站说明")).to_have_value("送医院治疗")
    assert serious_violations(page, axe_source) == []

    where.fill("信阳市第五人民医院")
    page.get_by_role("button", name="办理离站").click()
    expect(page.get_by_test_id("person-status")).to_contain_text("已离站")
    expect(page.locator("ol.stays")).to_contain_text("离站（转出（医院、机构或他站））")
    expect(page.get_by_role("button", name="办理离站")).to_have_count(0)


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
