"""The case workspace (甄别) in Chromium against the real network: a search specialist
uploads the case's face photo and sees the trail across stations, then confirms a
face-match candidate from the review queue with evidence; a clue added on a phone,
its refused field said next to it; a protected person's missing notice explained."""

from __future__ import annotations

import base64
import re

import pytest
from conftest import SCREENSHOTS
from console_browser import serious_violations
from playwright.sync_api import expect
from support import poll, shared_testdata, station_client

pytestmark = pytest.mark.e2e

FACES = shared_testdata() / "faces"
SPECIALIST = ("search_specialist",)
CASE_URL = re.compile(r"/cases/[0-9a-f-]{36}")


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def admit(network, urls, station: str, **extra) -> dict:
    """An unidentified person admitted; their search case once search opened it."""
    with station_client(network, station) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "estimated_age": 60, **extra},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        return poll(
            lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]


def test_a_specialist_confirms_a_face_match_candidate_from_the_review_queue_with_evidence(
    desk, network, urls, axe_source
):
    # An earlier stay at another station, its face on record.
    earlier = admit(network, urls, "xixian")
    with station_client(network, "xixian", SPECIALIST) as xixian:
        enrolled = xixian.post(
            f"{urls['search']}/cases/{earlier['id']}/face-photos",
            json={"image": b64(FACES / "train" / "obama" / "obama.jpg"), "found_place": "息县车站"},
            timeout=60,
        )
        assert enrolled.status_code == 201, enrolled.text
    case = admit(network, urls, "gushi", stated_places=["浦东"])

    page = desk.page
    desk.sign_in("gushi", roles=SPECIALIST, subject="甄别专员")
    desk.goto(f"/cases/{case['id']}")
    expect(page.get_by_test_id("notice-clock")).to_contain_text("还剩")
    expect(page.locator("ul.tasks")).to_contain_text("发布寻亲公告（24小时内）")
    expect(page.locator("ul.tasks")).to_contain_text("采集DNA样本")
    # The case's face photo, from the page: the trail across stations comes back.
    page.get_by_label("上传面部照片，与全网早前记录比对").set_input_files(
        FACES / "test" / "obama1.jpg"
    )
    expect(page.get_by_alt_text("已选照片预览")).to_be_visible()
    page.get_by_role("button", name="上传并比对").click()
    expect(page.locator("p.done")).to_contain_text("面部照片已登记", timeout=60_000)
    trail = page.get_by_test_id("trail")
    expect(trail).to_contain_text("息县救助管理站")
    expect(trail).to_contain_text("息县车站")

    # A family's report with their photo of him: a face-match candidate.
    with station_client(network, "gushi") as staff:
        filed = staff.post(
            f"{urls['search']}/missing-person-reports",
            json={
                "reported_name": "王小明",
                "sex": "male",
                "age": 62,
                "last_seen_place": "上海市浦东新区",
                "home_place": "上海市浦东新区周浦镇",
                "contact_name": "王红",
                "contact_phone": "13800138000",
            },
        )
        assert filed.status_code == 201, filed.text
        report = filed.json()
        photo = staff.post(
            f"{urls['search']}/missing-person-reports/{report['id']}/face-photos",
            json={"image": b64(FACES / "train" / "obama" / "obama2.jpg")},
            timeout=60,
        )
        assert photo.status_code == 201, photo.text
        (candidate,) = poll(
            lambda: staff.get(
                f"{urls['search']}/review-queue",
                params={"case_id": case["id"], "report_id": report["id"]},
            ).json()
        )

    desk.goto("/review")
    found = page.locator(f"#candidate-{candidate['id']}")
    expect(found.locator(f"a[href='/cases/{case['id']}']")).to_be_visible()
    face = found.locator("tr[data-field=face]")
    expect(face).to_contain_text("面部")
    expect(face).to_contain_text("相符")
    expect(face).to_contain_text("face similarity")  # search's own words, as it gave them
    assert serious_violations(page, axe_source) == []

    found.get_by_role("link", name="确认为同一人（填写证据）").click()
    page.wait_for_url(re.compile(rf"/cases/{case['id']}\?candidate={candidate['id']}"))
    expect(page.get_by_test_id("chosen-candidate")).to_contain_text("王小明")
    expect(page.get_by_label("人脸比对并经家属确认")).to_be_checked()
    expect(page.get_by_label("姓名（必填）")).to_have_value("王小明")
    page.get_by_label("户籍省份").fill("上海市")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "case-workspace.png", full_page=True)
    assert serious_violations(page, axe_source) == []

    # Without the family's confirmation a face match is no evidence: said at that field.
    page.get_by_role("button", name="确认身份").click()
    note = page.get_by_label("家属确认说明（人脸比对）")
    expect(note).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-evidence_face_match_with_family_confirmation")).to_contain_text(
        "人脸比对须有家属确认"
    )
    expect(page.get_by_label("户籍省份")).to_have_value("上海市")
    expect(page.get_by_label("姓名（必填）")).to_have_value("王小明")
    assert serious_violations(page, axe_source) == []

    note.fill("其女王红视频通话确认为其父")
    page.get_by_role("button", name="确认身份").click()
    identity = page.get_by_test_id("identity")
    expect(identity).to_contain_text("人脸比对并经家属确认：其女王红视频通话确认为其父")
    expect(identity).to_contain_text("上海市 上海市浦东新区周浦镇")
    expect(page.locator("h1")).to_contain_text("身份已确认")
    with station_client(network, "gushi", SPECIALIST) as specialist:
        confirmed = specialist.get(f"{urls['search']}/cases/{case['id']}").json()
        assert confirmed["status"] == "identified" and confirmed["method"] == "face_comparison"
        reviewed = specialist.get(
            f"{urls['search']}/review-queue",
            params={"report_id": report["id"], "status": "confirmed"},
        ).json()
        assert [c["id"] for c in reviewed] == [candidate["id"]]


def test_a_clue_added_on_a_phone_and_its_refused_field_said_next_to_it(
    phone, network, urls, axe_source
):
    case = admit(network, urls, "gushi", stated_names=["老李"])
    page = phone.page
    phone.sign_in("gushi")
    # From the person's page to their case.
    phone.goto(f"/persons/{case['person_id']}")
    page.get_by_role("link", name="寻亲甄别：线索、公告、核查与身份确认").click()
    page.wait_for_url(re.compile(rf"/cases/{case['id']}$"))
    expect(page.get_by_test_id("clue-count")).to_have_text("尚无线索。")

    page.get_by_label("问（询问）").fill("说自己家门口有条河，村里有座石桥")
    page.get_by_label("闻（听口音）").fill("四川话，川北口音")
    page.get_by_label("提到的地名").fill("南充、仪陇县")
    page.get_by_label("谈话时间（北京时间，不填为现在）").fill("2099-01-01T08:00")
    page.get_by_role("button", name="记录线索").click()
    noted_at = page.get_by_label("谈话时间（北京时间，不填为现在）")
    expect(noted_at).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-noted_at")).to_contain_text("谈话时间不能晚于现在")
    expect(page.get_by_label("问（询问）")).to_have_value("说自己家门口有条河，村里有座石桥")
    expect(page.get_by_label("提到的地名")).to_have_value("南充、仪陇县")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(page, axe_source) == []

    noted_at.fill("")
    page.get_by_role("button", name="记录线索").click()
    expect(page.get_by_test_id("clue-count")).to_have_text("共 1 条")
    clues = page.locator("ol.clues")
    expect(clues).to_contain_text("村里有座石桥")
    expect(clues).to_contain_text("南充、仪陇县")
    with station_client(network, "gushi") as staff:
        (clue,) = staff.get(f"{urls['search']}/cases/{case['id']}/clues").json()
    assert clue["person_said"] == "说自己家门口有条河，村里有座石桥"
    assert clue["places"] == ["南充", "仪陇县"]


def test_a_protected_persons_case_says_why_no_notice_goes_up(desk, network, urls, axe_source):
    case = admit(network, urls, "gushi", sex="female", categories=["domestic_violence_victim"])
    desk.sign_in("gushi", roles=("station_lead",))
    desk.goto("/board")
    desk.page.locator(f"a[href='/cases/{case['id']}']").click()
    page = desk.page
    page.wait_for_url(CASE_URL)
    expect(page.get_by_test_id("notice-withheld")).to_contain_text("家暴受害人")
    expect(page.get_by_test_id("notice-status")).to_have_text("尚未发布。")
    expect(page.locator("li[data-task=family_search_notice]")).to_contain_text(
        "受保护人员，不发布公开公告"
    )
    expect(page.get_by_role("button", name="发布")).to_have_count(0)
    assert serious_violations(page, axe_source) == []


def test_another_station_gets_not_found_for_a_case(desk, network, urls):
    case = admit(network, urls, "gushi", stated_names=["赵六"])
    desk.sign_in("xixian")
    response = desk.goto(f"/cases/{case['id']}")
    assert response.status == 404
    expect(desk.page.get_by_role("heading", level=1)).to_have_text("查无此人或无权查看")
    expect(desk.page.locator("main")).not_to_contain_text("赵六")
