"""The police in the partners' portal and the stored handover signature, in Chromium
against the real network (issues 27 and 28): a police agency signs in, sees the
identity check sent to it (from referral's pull feed) with the person's face photo,
fetched through the console from intake by its signed link, acknowledges it and
answers it through search; a return's page shows the receiver's signature as transfer
stored it."""

from __future__ import annotations

import base64
import re
import secrets
import struct
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from conftest import SCREENSHOTS
from console_browser import Tab, serious_violations
from journeys import handed_over, identified_person
from playwright.sync_api import expect
from support import poll, query, shared_testdata, station_client

# the session network and the console start inside the first test on a busy two-core machine
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

FACE = shared_testdata() / "faces" / "test" / "obama1.jpg"


def in_thread(function, *args):
    """A sync network helper off Playwright's thread (it holds this thread's loop)."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(function, *args).result()


def police_agency(network, urls) -> str:
    """A county police agency in referral's partner directory (the pull feed's reader)."""
    agency_id = f"police-4115-{secrets.token_hex(3)}"
    with station_client(network, "center", ["admin"]) as admin:
        put = admin.put(
            f"{urls['referral']}/partners/{agency_id}",
            json={"name": "固始县公安局", "partner_type": "police", "jurisdiction_code": "411525"},
        )
        assert put.status_code == 200, put.text
    return agency_id


def check_with_face_photo(network, urls, agency_id: str) -> tuple[dict, str]:
    """A man admitted with a face photo, his case's identity check sent to the agency:
    (the check, the case id), once the agency's feed carries it."""
    with station_client(network, "gushi") as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "male",
                "estimated_age": 55,
                "stated_names": ["李建国"],
            },
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        case = poll(
            lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]
        photo = staff.post(
            f"{urls['intake']}/persons/{person_id}/photos",
            json={
                "kind": "face",
                "image": base64.b64encode(FACE.read_bytes()).decode(),
                "taken_at": datetime.now(UTC).isoformat(),
            },
        )
        assert photo.status_code == 201, photo.text
        photo_id = photo.json()["id"]
        poll(
            lambda: query(
                network, "search", "select 1 from shared_photos where photo_id = $1::uuid", photo_id
            )
        )
        asked = staff.post(
            f"{urls['search']}/cases/{case['id']}/police-checks",
            json={
                "agency_id": agency_id,
                "sex": "male",
                "estimated_age": 55,
                "description": "左手背有疤",
                "face_photo_id": photo_id,
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert asked.status_code == 201, asked.text
    check = asked.json()
    token = network.token(agency_id, ["partner", "police"], subject="feed-reader")
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as police:
        poll(
            lambda: police.get(
                f"{urls['referral']}/partner/feed", params={"feed": "police_check"}
            ).json()["items"]
        )
    return check, case["id"]


def police_tab(browser, console, agency_id: str) -> Tab:
    """A phone-sized tab signed in through the development sign-in as the police agency."""
    tab = Tab(
        browser,
        console,
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = tab.page
    tab.goto("/signin?kind=partner")
    page.get_by_label("单位编号").fill(agency_id)
    page.get_by_label("单位类型").select_option("police")
    page.get_by_label("工号或姓名").fill("值班民警")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/partner$"))
    return tab


def loaded(image) -> int:
    """The image's natural width once the browser has decoded it (0: it failed)."""
    image.page.wait_for_function("img => img.complete", arg=image.element_handle())
    return image.evaluate("img => img.naturalWidth")


def jpeg_width(data: bytes) -> int:
    """A baseline or progressive JPEG's width, from its SOF segment."""
    at = 2
    while at < len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            return struct.unpack(">H", data[at + 7 : at + 9])[0]
        at += 2 + length
    raise AssertionError("no SOF segment")


def test_a_police_agency_sees_its_check_with_the_photo_and_answers_it(
    browser, console, network, urls, axe_source
):
    agency_id = in_thread(police_agency, network, urls)
    check, case_id = in_thread(check_with_face_photo, network, urls, agency_id)
    tab = police_tab(browser, console, agency_id)
    try:
        page = tab.page
        expect(page.get_by_role("navigation", name="主导航")).not_to_contain_text("值班看板")
        card = page.locator(f"li[data-check='{check['id']}']")
        expect(card).to_contain_text("李建国")
        expect(card).to_contain_text("左手背有疤")
        expect(card).to_contain_text("联系救助站固始县救助管理站")

        # the photo: the console's own address, fetched from intake with the user's token
        photo = card.get_by_role("img", name=re.compile("面部照片"))
        source = photo.get_attribute("src")
        assert source.startswith("/partner/photo?link=")
        assert loaded(photo) == jpeg_width(FACE.read_bytes())
        fetched = page.request.get(tab.base + source)
        assert fetched.status == 200 and fetched.body() == FACE.read_bytes()
        foreign = page.request.get(
            tab.base + "/partner/photo?link=" + "http%3A%2F%2F169.254.169.254%2Flatest%2F"
        )
        assert foreign.status == 400
        assert serious_violations(page, axe_source) == []

        # the receipt, then the answer on the check's card
        card.get_by_role("button", name="确认收到").click()
        expect(page.locator("p.done")).to_have_text("已确认收到。")
        card = page.locator(f"li[data-check='{check['id']}']")
        expect(card.locator("p.receipt strong")).to_have_text("已确认收到")
        card.get_by_label("已查明身份").check()
        card.get_by_label("姓名（查明身份时填写）").fill("李建国")
        card.get_by_label("人口信息记录编号").fill("HJ-411525-000123")
        card.get_by_label("户籍所在省份").fill("四川省")
        card.get_by_label("户籍地址").fill("四川省南充市仪陇县马鞍镇")
        card.get_by_role("button", name="提交核查答复").click()
        expect(page.locator("p.done")).to_have_text("身份核查答复已送达。")
        assert serious_violations(page, axe_source) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "police-portal-phone.png", full_page=True)
        assert not tab.csp_violations, tab.csp_violations
    finally:
        tab.close()

    # search has the police's answer, from this agency; referral has the receipt
    with station_client(network, "gushi") as staff:
        checks = staff.get(f"{urls['search']}/cases/{case_id}/police").json()["checks"]
    (answered,) = [c for c in checks if c["id"] == check["id"]]
    assert answered["status"] == "answered" and answered["result"] == "identified"
    assert answered["agency_id"] == agency_id
    (delivery,) = in_thread(
        query,
        network,
        "referral",
        "select acknowledged_at, acknowledged_by from partner_deliveries"
        " where agency_id = $1 and feed = 'police_check'",
        agency_id,
    )
    assert delivery["acknowledged_at"] is not None
    assert delivery["acknowledged_by"].startswith(f"{agency_id}:")


def test_the_return_page_shows_the_signature_transfer_stored_at_the_handover(
    desk, network, urls, axe_source
):
    returned = in_thread(lambda: handed_over(network, urls, province="四川省"))
    waiting = in_thread(lambda: identified_person(network, urls, province="四川省"))
    (stored,) = in_thread(
        query,
        network,
        "transfer",
        "select signature_png from returns where id = $1::uuid",
        returned["id"],
    )
    png = bytes(stored["signature_png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

    # transfer answers it to the return's stations only, and only after a handover
    signature = f"{urls['transfer']}/returns/{returned['id']}/signature"
    with station_client(network, "center") as center, station_client(network, "xixian") as other:
        answer = center.get(signature)
        assert answer.status_code == 200 and answer.content == png
        assert answer.headers["content-type"] == "image/png"
        assert other.get(signature).status_code == 404
        none_yet = center.get(f"{urls['transfer']}/returns/{waiting['id']}/signature")
        assert none_yet.status_code == 404

    page = desk.page
    desk.sign_in("center", subject="护送协调员")
    desk.goto(f"/returns/{returned['id']}")
    expect(page.get_by_test_id("handover")).to_contain_text("王秀英")
    shown = page.get_by_test_id("handover-signature")
    expect(shown).to_have_attribute("alt", "王秀英的签名（交接时手写，已存档）")
    assert shown.get_attribute("src") == f"/returns/{returned['id']}/signature"
    assert loaded(shown) == struct.unpack(">I", png[16:20])[0]  # the PNG's own width
    served = page.request.get(desk.base + shown.get_attribute("src"))
    assert served.status == 200 and served.body() == png
    assert serious_violations(page, axe_source) == []
