"""The center's view and the summary table in Chromium against the real network: the
center coordinator compares two satellites and downloads the summary table, whose
totals are the services' own figures."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, time, timedelta

import pytest
from conftest import SCREENSHOTS
from console_browser import serious_violations
from openpyxl import load_workbook
from playwright.sync_api import expect
from support import poll, station_client

from rescue_console.wording import CHINA

pytestmark = pytest.mark.e2e

A, B = "gushi", "xixian"
NAMES = {A: "固始县救助管理站", B: "息县救助管理站"}


def admit(network, urls, station: str) -> dict:
    """A person admitted at the satellite, once search has opened their case."""
    with station_client(network, station) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "female",
                "estimated_age": 58,
                "stated_names": [f"对比{uuid.uuid4().hex[:6]}"],
            },
        )
        assert admitted.status_code == 201, admitted.text
        person = admitted.json()
        cases = f"{urls['search']}/cases"
        poll(lambda: staff.get(cases, params={"person_id": person["id"]}).json())
        return person


def services_figures(network, urls, start: str, end: str) -> tuple[list[dict], list[dict]]:
    """intake's summary rows and search's identification figures for the days, as the
    center reads them."""
    first = datetime.combine(datetime.fromisoformat(start).date(), time.min, CHINA)
    after = datetime.combine(datetime.fromisoformat(end).date(), time.min, CHINA)
    with station_client(network, "center", ("center_coordinator",)) as center:
        summary = center.get(
            f"{urls['intake']}/station/summary", params={"period_start": start, "period_end": end}
        )
        figures = center.get(
            f"{urls['search']}/figures/identification",
            params={
                "period_start": first.isoformat(),
                "period_end": (after + timedelta(days=1)).isoformat(),
            },
        )
    assert summary.status_code == 200, summary.text
    assert figures.status_code == 200, figures.text
    return summary.json(), figures.json()


def by_header(rows: list[list], name: str) -> dict:
    headers = rows[1]
    return dict(zip(headers, next(r for r in rows if r[0] == name), strict=True))


def test_the_center_compares_two_satellites_and_downloads_the_summary_table(
    desk, network, urls, axe_source
):
    for station in (A, A, B):
        admit(network, urls, station)
    today = datetime.now(CHINA).date()
    # never a whole month to date (on the 1st that is the summary service's table)
    since = (today - timedelta(days=1) if today.day == 1 else today).isoformat()
    today = today.isoformat()
    summary, figures = services_figures(network, urls, since, today)
    admissions = {row["station_id"]: row["admissions"] for row in summary}
    assert admissions[A] >= 2 and admissions[B] >= 1

    desk.sign_in("center", roles=("center_coordinator",), subject="中心站协调员")
    page = desk.page
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="中心站").click()
    page.wait_for_url("**/center")
    boards = page.get_by_test_id("boards")
    for station in (A, B):
        expect(boards.locator(f"tr[data-station={station}]")).to_contain_text(NAMES[station])

    page.get_by_label("分站甲").select_option(A)
    page.get_by_label("分站乙").select_option(B)
    page.get_by_label("开始日期").fill(since)
    page.get_by_label("结束日期").fill(today)
    page.get_by_role("button", name="对比").click()
    page.wait_for_url(f"**/center?station_a={A}&station_b={B}*")

    compare = page.get_by_test_id("compare-table")
    expect(page.get_by_test_id("compare-a")).to_have_text(NAMES[A])
    expect(page.get_by_test_id("compare-b")).to_have_text(NAMES[B])
    admitted_row = compare.locator("tr[data-figure=admissions] td")
    expect(admitted_row.nth(0)).to_have_text(str(admissions[A]))
    expect(admitted_row.nth(1)).to_have_text(str(admissions[B]))
    expect(compare.locator("tr[data-figure=revisit_compliance]")).to_contain_text(
        "随访服务按乡镇发布，不分救助站"
    )
    chart = page.get_by_test_id("chart-admissions")
    expect(chart.locator("svg[role=img] title")).to_have_text("各站入站人次")
    expect(chart.locator("svg .bar-a text.bar-value")).to_have_text(str(admissions[A]))
    expect(chart.locator("svg .bar-b text.bar-value")).to_have_text(str(admissions[B]))
    expect(chart.locator("table tr").filter(has_text=NAMES[B])).to_contain_text(str(admissions[B]))
    assert serious_violations(page, axe_source) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "center-view.png"), full_page=True)

    page.get_by_role("link", name="查看本期情况汇总表（可下载）").click()
    page.wait_for_url("**/summary?*")
    total = page.get_by_test_id("network-total")
    expect(total).to_contain_text("全网合计")
    assert serious_violations(page, axe_source) == []

    with page.expect_download() as xlsx_download:
        page.get_by_test_id("download-xlsx").click()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    # openpyxl goes by the file's name: the download's temporary one has none
    sheet = load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes())).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    network_total = by_header(rows, "全网合计")
    assert network_total["入站人次"] == sum(r["admissions"] for r in summary)
    assert network_total["身份确认"] == sum(r["identified"] for r in summary)
    assert network_total["期末在站"] == sum(r["in_station_at_end"] for r in summary)
    assert network_total["新开寻亲个案"] == sum(f["cases_opened"] for f in figures)
    assert by_header(rows, NAMES[A])["入站人次"] == admissions[A]
    assert by_header(rows, NAMES[B])["入站人次"] == admissions[B]

    with page.expect_download() as csv_download:
        page.get_by_test_id("download-csv").click()
    assert csv_download.value.suggested_filename.endswith(".csv")
    raw = csv_download.value.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert by_header(lines, "全网合计")["入站人次"] == str(sum(r["admissions"] for r in summary))
    assert by_header(lines, NAMES[B])["新开寻亲个案"] == str(
        next(f["cases_opened"] for f in figures if f["station_id"] == B)
    )
