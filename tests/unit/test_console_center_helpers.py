"""The center's view and the summary table without a network: merging the services'
figures, the SVG charts, the csv and xlsx downloads, each part's own failure."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from xml.etree import ElementTree

import httpx
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from rescue_chassis.network import load_network
from rescue_console.app import create_app
from rescue_console.center import bar_chart, board_rows, compared, satellites
from rescue_console.services import Answer
from rescue_console.settings import ConsoleSettings
from rescue_console.summary import (
    NOT_PUBLISHED,
    Sources,
    build_table,
    csv_bytes,
    instants,
    parse_period,
    table_lines,
    xlsx_bytes,
)

START, END = date(2026, 11, 1), date(2026, 11, 30)
INTAKE = [
    {
        "station_id": "gushi",
        "admissions": 5,
        "readmissions": 1,
        "discharges": {"returned_home": 2, "left": 1},
        "identified": 2,
        "in_station_at_end": 3,
        "long_stay": 1,
        "incidents": {"injury": 1},
    },
    {
        "station_id": "guangshan",
        "admissions": 3,
        "readmissions": 0,
        "discharges": {"returned_home": 1},
        "identified": 1,
        "in_station_at_end": 2,
        "long_stay": 0,
        "incidents": {},
    },
]
SEARCH = [
    {
        "station_id": "gushi",
        "cases_opened": 4,
        "identified": 2,
        "identification_rate": 0.5,
        "median_hours_to_identify": 30.0,
    },
    {
        "station_id": "guangshan",
        "cases_opened": 2,
        "identified": 2,
        "identification_rate": 1.0,
        "median_hours_to_identify": 10.5,
    },
]
FOLLOWUP = [
    {
        "jurisdiction_code": "411525001",
        "returned": 4,
        "repeat_wanderers": 1,
        "revisits_due": 4,
        "revisits_made": 3,
        "revisits_on_time": 2,
    },
    {
        "jurisdiction_code": "411522002",
        "returned": 1,
        "repeat_wanderers": 0,
        "revisits_due": 0,
        "revisits_made": 0,
        "revisits_on_time": 0,
    },
]
RETURNS = [
    {"station_id": "gushi", "handed_over_at": "2026-11-10T03:00:00+00:00"},
    {"station_id": "gushi", "handed_over_at": "2026-10-31T17:00:00+00:00"},  # 11-01 in China
    {"station_id": "gushi", "handed_over_at": "2026-11-30T16:30:00+00:00"},  # 12-01 in China
    {"station_id": "guangshan", "handed_over_at": None},
]
REFERRALS = [{"station_id": "guangshan", "opened_at": "2026-11-02T01:00:00+00:00"}]


def sources(**failed: int) -> Sources:
    bodies = {
        "intake": INTAKE,
        "search": SEARCH,
        "followup": FOLLOWUP,
        "returns": RETURNS,
        "referrals": REFERRALS,
    }
    return Sources(**{name: Answer(failed.get(name, 200), body) for name, body in bodies.items()})


@pytest.fixture(scope="module")
def network():
    return load_network()


def by_station(table):
    return {row["station_id"]: row for row in table.rows}


# ---- merging the figures -------------------------------------------------------------


def test_the_services_figures_merge_per_station_and_add_up_for_the_network(network):
    table = build_table(sources(), network, START, END)
    gushi, guangshan = by_station(table)["gushi"], by_station(table)["guangshan"]
    assert gushi["admissions"] == 5 and gushi["discharges.returned_home"] == 2
    assert gushi["discharges"] == 3 and gushi["incidents.injury"] == 1
    assert gushi["identification_rate"] == 0.5 and gushi["median_hours_to_identify"] == 30.0
    assert gushi["returns"] == 2  # handed over on 11-01 and 11-10 in China, not 12-01
    assert guangshan["referrals"] == 1 and guangshan["returns"] == 0
    # the satellites' revisits are not published per station
    assert gushi["revisit_compliance"] is None and gushi["notices_within_24h"] is None
    total = table.total
    assert total["admissions"] == 8 and total["discharges"] == 4 and total["identified"] == 3
    assert total["identification_rate"] == pytest.approx(4 / 6)  # from the summed parts
    assert total["median_hours_to_identify"] is None
    assert total["revisit_compliance"] == 0.5 and total["repeat_wandering_rate"] == 0.2
    assert table.problems == []


def test_a_service_that_fails_is_said_and_its_figures_are_not_published(network):
    table = build_table(sources(search=503, referrals=403), network, START, END)
    assert by_station(table)["gushi"]["identification_rate"] is None
    assert table.total["cases_opened"] is None and table.total["referrals"] is None
    assert table.total["admissions"] == 8
    assert "甄别（寻亲服务）：暂时无法获取（服务不可用）" in table.problems
    assert "转介（转介服务）：无权查看" in table.problems
    line = next(line for line in table_lines(table) if line[0] == "固始县救助管理站")
    headers = table_lines(table)[0]
    assert line[headers.index("甄别率")] == NOT_PUBLISHED


def test_one_station_asked_for_keeps_the_network_total(network):
    table = build_table(sources(), network, START, END, "gushi")
    assert [row["station_id"] for row in table.rows] == ["gushi"]
    assert table.total["admissions"] == 8


def test_the_period_is_checked_and_said_in_chinese():
    today = date(2026, 12, 7)
    assert parse_period(None, None, today) == (date(2026, 12, 1), today, {})
    _, _, errors = parse_period("2026-13-01", "2026-12-01", today)
    assert errors == {"period_start": "开始日期应为 年-月-日，如 2026-11-01。"}
    _, _, errors = parse_period("2026-12-05", "2026-12-01", today)
    assert errors == {"period_end": "结束日期不能早于开始日期。"}
    assert instants(START, END) == ("2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00")


# ---- the downloads -------------------------------------------------------------------


def test_the_csv_has_a_bom_chinese_headers_and_the_pages_numbers(network):
    table = build_table(sources(), network, START, END)
    body = csv_bytes(table)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[1][:3] == ["救助站", "入站人次", "其中再次入站"]
    assert rows[1:] == table_lines(table)
    total = dict(zip(rows[1], rows[-1], strict=True))
    assert total["救助站"] == "全网合计" and total["入站人次"] == "8"
    assert total["回访按时率"] == "50.0%" and total["甄别用时中位数（小时）"] == NOT_PUBLISHED


def test_the_xlsx_holds_the_same_figures_as_numbers(network):
    table = build_table(sources(), network, START, END)
    sheet = load_workbook(io.BytesIO(xlsx_bytes(table))).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    headers = rows[1]
    total = dict(zip(headers, next(r for r in rows if r[0] == "全网合计"), strict=True))
    assert total["入站人次"] == 8 and total["离站·返乡"] == 3
    assert total["甄别率"] == pytest.approx(4 / 6)
    gushi = dict(zip(headers, next(r for r in rows if r[0] == "固始县救助管理站"), strict=True))
    assert gushi["甄别用时中位数（小时）"] == 30.0 and gushi["回访按时率"] == NOT_PUBLISHED


# ---- the center's view ---------------------------------------------------------------


def test_a_bar_chart_scales_to_the_largest_and_says_a_figure_not_published():
    chart = bar_chart(
        "identification_rate",
        "各站甄别率",
        "rate",
        [("gushi", "固始", 0.5), ("guangshan", "光山", 1.0), ("xixian", "息县", None)],
        {"gushi": "a", "guangshan": "b"},
    )
    widths = [bar.width for bar in chart.bars]
    assert widths == [chart.SPAN / 2, chart.SPAN, 0]
    assert [bar.marked for bar in chart.bars] == ["a", "b", ""]
    assert chart.description == f"固始 50.0%；光山 100.0%；息县 {NOT_PUBLISHED}"


def test_the_comparison_says_why_a_satellites_figure_is_missing(network):
    table = build_table(sources(), network, START, END)
    lines = {line["key"]: line for line in compared(table, "gushi", "guangshan")}
    assert (lines["identification_rate"]["a"], lines["identification_rate"]["b"]) == (
        "50.0%",
        "100.0%",
    )
    assert lines["identification_rate"]["why_not"] is None
    assert lines["revisit_compliance"]["a"] == NOT_PUBLISHED
    assert lines["revisit_compliance"]["network"] == "50.0%"
    assert lines["revisit_compliance"]["why_not"] == "随访服务按乡镇发布，不分救助站"


def test_each_satellites_board_counts_its_own_and_says_its_own_failure(network):
    stations = satellites(network)
    persons = [Answer(200, [{"stays": [{"long_stay_reached_at": "x"}]}, {"stays": []}])] + [
        Answer(503) for _ in stations[1:]
    ]
    cases = Answer(
        200,
        [
            {"station_id": stations[0].id, "status": "open", "notice_overdue": True},
            {"station_id": stations[0].id, "status": "open", "notice_overdue": False},
            {"station_id": stations[0].id, "status": "open", "notice_published_at": "t"},
        ],
    )
    overdue = Answer(200, [{"station_id": stations[0].id, "kind": "notice"}])
    rows = board_rows(stations, persons, cases, overdue, Answer(403), Answer(200, []))
    first, second = rows[0], rows[1]
    assert (first["in_station"].value, first["long_stays"].value) == (2, 1)
    assert (first["notices_due"].value, first["notices_overdue"].value) == (1, 1)
    assert first["missed_count"] == 1
    assert first["escalations"].problem == "无权查看"
    assert second["in_station"].problem == "暂时无法获取（服务不可用）"
    assert second["notices_due"].problem is None


# ---- the pages through the app, on fake services --------------------------------------


class FakeServices:
    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        host, path = request.url.host, request.url.path
        answers = {
            ("intake.test", "/station/summary"): INTAKE,
            ("search.test", "/figures/identification"): SEARCH,
            ("followup.test", "/figures"): FOLLOWUP,
            ("transfer.test", "/returns"): RETURNS,
            ("referral.test", "/referrals"): REFERRALS,
            ("transfer.test", "/returns/planning"): [
                {"destination_province": "安徽省", "pending": 2, "returns": []}
            ],
        }
        if (host, path) in answers:
            return httpx.Response(200, json=answers[(host, path)])
        if path == "/escalations" and host == "search.test":
            return httpx.Response(503, json={"title": "down"})
        return httpx.Response(200, json=[])


@pytest.fixture
def fake():
    return FakeServices()


@pytest.fixture
def client(fake):
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    settings = ConsoleSettings(
        **urls, dev_jwt_secret="console-unit-secret-" + "k" * 30, cookie_secure=False
    )
    app = create_app(settings, transport=httpx.MockTransport(fake))
    with TestClient(app, base_url="http://console.test") as client:
        page = client.get("/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        client.post(
            "/signin",
            data={
                "csrf": csrf,
                "station_id": "center",
                "roles": "center_coordinator",
                "subject": "协调员",
            },
            follow_redirects=False,
        )
        yield client


def test_the_center_page_draws_accessible_svg_charts_and_says_a_part_missing(client, fake):
    page = client.get(
        "/center",
        params={
            "station_a": "gushi",
            "station_b": "guangshan",
            "period_start": "2026-11-01",
            "period_end": "2026-11-30",
        },
    )
    assert page.status_code == 200, page.text
    svg = re.search(r'<svg class="bars".*?</svg>', page.text, re.S).group(0)
    assert "style=" not in svg
    tree = ElementTree.fromstring(svg.replace('xmlns="http://www.w3.org/2000/svg"', ""))
    assert tree.find("title").text == "各站甄别率"
    assert "固始县救助管理站 50.0%" in tree.find("desc").text
    assert len(tree.findall(".//rect")) == 2  # xixian's rate is not published: no bar
    assert "寻亲督办：暂时无法获取（服务不可用）" in page.text
    assert "安徽省：2 人" in page.text
    figures = next(c for c in fake.calls if c.url.path == "/figures/identification")
    assert figures.url.params["period_start"] == "2026-11-01T00:00:00+08:00"


def test_a_bad_period_is_said_next_to_its_field(client):
    page = client.get("/summary", params={"period_start": "11/01/2026"})
    assert page.status_code == 422
    assert 'id="err-period_start"' in page.text and "开始日期应为" in page.text
    assert 'value="11/01/2026"' in page.text


def test_the_downloads_carry_the_pages_numbers(client):
    query = {"period_start": "2026-11-01", "period_end": "2026-11-30"}
    page = client.get("/summary", params=query)
    assert page.status_code == 200
    total_row = re.search(r'data-testid="network-total">(.*?)</tr>', page.text, re.S).group(1)
    page_cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", total_row)
    downloaded = client.get("/summary.csv", params=query)
    assert downloaded.headers["content-type"].startswith("text/csv")
    assert "attachment" in downloaded.headers["content-disposition"]
    csv_total = list(csv.reader(io.StringIO(downloaded.content.decode("utf-8-sig"))))[-1]
    assert csv_total == page_cells
    workbook = client.get("/summary.xlsx", params=query)
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    names = [row[0].value for row in sheet.iter_rows()]
    assert "全网合计" in names
