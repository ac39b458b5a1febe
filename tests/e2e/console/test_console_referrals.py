"""Referrals (转介) and the partners' portal in Chromium against the real network: a
station user opens a referral by reason from a person's page and records a woman's
consent; her women's federation signs in as a partner, sees only its own referral
with its feed's fields and answers it (a decline without its reason refused next to
the field); another federation does not see it."""

from __future__ import annotations

import re
import secrets
import uuid

import pytest
from conftest import SCREENSHOTS
from console_browser import Tab, serious_violations
from playwright.sync_api import expect
from support import a_real_county, a_real_town, poll, station_client

pytestmark = pytest.mark.e2e

STATION = "gushi"


def register_federation(network, urls, county: str) -> str:
    """A women's federation serving the county, in referral's partner directory."""
    agency_id = f"womens-federation-{county}-{secrets.token_hex(2)}"
    with station_client(network, "center", ["admin"]) as admin:
        put = admin.put(
            f"{urls['referral']}/partners/{agency_id}",
            json={
                "name": f"{county} 妇联",
                "partner_type": "womens_federation",
                "jurisdiction_code": county,
                "contacts": [{"name": "值班室", "phone": "0376-0000000"}],
            },
        )
        assert put.status_code == 200, put.text
    return agency_id


def a_dv_victim_referred(network, urls, name: str, home: str) -> tuple[str, dict]:
    """A woman admitted as a domestic-violence victim; her federation referral, opened
    by the rules and waiting for her consent."""
    with station_client(network, STATION) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "female",
                "estimated_age": 36,
                "full_name": name,
                "categories": ["domestic_violence_victim"],
                "registered_home_admin_code": a_real_town(home),
            },
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        found = poll(
            lambda: staff.get(
                f"{urls['referral']}/referrals", params={"person_id": person_id}
            ).json()
        )
    return person_id, next(r for r in found if r["partner_type"] == "womens_federation")


def partner_tab(browser, console, agency_id: str, subject: str) -> Tab:
    """A desk tab signed in through the dev sign-in as the women's federation."""
    tab = Tab(browser, console, viewport={"width": 1280, "height": 900})
    page = tab.page
    tab.goto("/signin?kind=partner")
    page.get_by_label("单位编号").fill(agency_id)
    page.get_by_label("单位类型").select_option("womens_federation")
    page.get_by_label("工号或姓名").fill(subject)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/partner$"))
    return tab


def test_a_federation_answers_its_referral_and_another_federation_does_not_see_it(
    desk, browser, console, network, urls, axe_source
):
    home, elsewhere = a_real_county(), a_real_county()
    ours = register_federation(network, urls, home)
    theirs = register_federation(network, urls, elsewhere)
    name = f"张{uuid.uuid4().hex[:4]}"
    person_id, federation = a_dv_victim_referred(network, urls, name, home)
    assert federation["agency_id"] == ours and federation["status"] == "awaiting_consent"

    # The station: a referral opened by reason from the person's page.
    page = desk.page
    desk.sign_in(STATION)
    desk.goto(f"/persons/{person_id}")
    page.locator(f"a[href='/referrals/new?person_id={person_id}']").click()
    page.get_by_label("转介原因").select_option("job")
    assert serious_violations(page, axe_source) == []
    page.get_by_role("button", name="开启转介").click()
    expect(page.locator("h1")).to_contain_text("就业帮扶（社会组织）")
    expect(page.get_by_test_id("loop")).to_contain_text("开启转介")
    assert serious_violations(page, axe_source) == []

    # Her consent to the federation's referral: an override without its reason is
    # refused next to the note, then her consent sends it.
    desk.goto("/referrals?status=awaiting_consent")
    page.locator(f"a[href='/referrals/{federation['id']}']").click()
    page.get_by_label("工作人员决定转介（已记录理由）").check()
    page.get_by_role("button", name="记录").click()
    expect(page.locator("#err-note")).to_contain_text("须写明理由")
    page.get_by_label("本人同意", exact=True).check()
    page.get_by_role("button", name="记录").click()
    expect(page.get_by_test_id("referral-status")).to_have_text("已发送")
    expect(page.get_by_test_id("loop")).to_contain_text("本人同意")
    assert serious_violations(page, axe_source) == []

    # The federation: only its referral, with its feed's fields, answered.
    tab = partner_tab(browser, console, ours, "妇联值班员")
    try:
        portal = tab.page
        expect(portal.get_by_role("navigation", name="主导航")).not_to_contain_text("值班看板")
        card = portal.locator(f"li[data-referral='{federation['id']}']")
        # her whereabouts go to the federation only (every other partner: the center)
        expect(card).to_contain_text("联系救助站固始县救助管理站")
        expect(card).to_contain_text("家暴受害人（妇联）")
        expect(card).to_contain_text("已记录本人同意")
        card.get_by_label("拒绝（须写明理由）").check()
        card.get_by_role("button", name="提交答复").click()
        card = portal.locator(f"li[data-referral='{federation['id']}']")
        expect(card.locator(f"#err-note-{federation['id']}")).to_have_text("拒绝须写明理由。")
        assert serious_violations(portal, axe_source) == []
        card.get_by_label("确认收到").check()
        card.get_by_role("button", name="提交答复").click()
        expect(portal.locator("p.done")).to_have_text("答复已送达。")
        card = portal.locator(f"li[data-referral='{federation['id']}']")
        expect(card.locator("h3")).to_contain_text("已确认收到")
        card.get_by_label("接收", exact=True).check()
        card.get_by_role("button", name="提交答复").click()
        expect(portal.locator(f"li[data-referral='{federation['id']}'] h3")).to_contain_text(
            "已接收"
        )
        assert serious_violations(portal, axe_source) == []
        portal.screenshot(path=SCREENSHOTS / "partners-portal.png", full_page=True)
        assert not tab.csp_violations, tab.csp_violations
    finally:
        tab.close()

    # The station sees the loop move on.
    desk.goto(f"/referrals/{federation['id']}")
    expect(page.get_by_test_id("referral-status")).to_have_text("已接收")
    expect(page.get_by_test_id("loop")).to_contain_text("接收机构确认收到")

    # Another federation: not this referral.
    other = partner_tab(browser, console, theirs, "另一妇联")
    try:
        expect(other.page.get_by_test_id("partner-referrals")).to_have_count(0)
        expect(other.page.locator("main")).to_contain_text("目前没有发给本机构的转介")
        expect(other.page.locator("main")).not_to_contain_text(federation["id"][:8])
        assert not other.csp_violations, other.csp_violations
    finally:
        other.close()
