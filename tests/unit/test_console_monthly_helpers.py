"""The summary service in the console without a network (issue 27/28): a calendar
month's table and its downloads come from ``GET /tables/{YYYY-MM}``, the center's
per-station figures the others do not publish are filled from it, and without the
service (or for another period) the pages count from the other services as before."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_chassis.network import load_network
from rescue_console import center, summary
from rescue_console.app import create_app
from rescue_console.monthly import center_figures, month_of, period_of, table_of
from rescue_console.settings import ConsoleSettings
from rescue_console.summary import csv_bytes

MONTH = "2026-11"
TABLE = {
    "month": MONTH,
    "labels": {
        "admissions": "入站人次",
        "identification_rate": "甄别率",
        "notices_within_24h_rate": "24小时内发布率",
        "revisit_compliance": "回访按时率",
        "median_hours_to_identify": "甄别用时中位数（小时）",
        "repeat_wandering": "屡送屡返（再次流浪）",
        "returns": "返乡交接",
    },
    "definitions": {},
    "stations": [
        {
            "station_id": "guangshan",
            "name": "光山县救助站",
            "figures": {
                "admissions": 3,
                "identification_rate": 0.5,
                "notices_within_24h_rate": 1.0,
                "revisit_compliance": None,
                "median_hours_to_identify": 30.5,
                "repeat_wandering": 1,
                "returns": 4,
            },
        },
        {
            "station_id": "gushi",
            "name": "固始县救助管理站",
            "figures": {
                "admissions": 5,
                "identification_rate": 0.2,
                "notices_within_24h_rate": 0.4,
                "revisit_compliance": 0.75,
                "median_hours_to_identify": None,
                "repeat_wandering": 0,
                "returns": 0,
            },
        },
    ],
    "network": {
        "figures": {
            "admissions": 8,
            "identification_rate": 0.3,
            "notices_within_24h_rate": 0.625,
            "revisit_compliance": 0.75,
            "median_hours_to_identify": 30.5,
            "repeat_wandering": 1,
            "returns": 4,
        }
    },
}


def test_a_period_is_a_month_when_it_is_one_whole_or_this_one_so_far():
    today = date(2026, 12, 7)
    assert month_of(date(2026, 11, 1), date(2026, 11, 30), today) == "2026-11"
    assert month_of(date(2026, 12, 1), today, today) == "2026-12"
    assert month_of(date(2026, 12, 1), date(2026, 12, 5), today) is None
    assert month_of(date(2026, 11, 2), date(2026, 11, 30), today) is None
    assert month_of(date(2026, 11, 1), date(2026, 12, 31), today) is None
    assert period_of("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_of("2026-13") is None and period_of("x") is None


def test_the_services_table_in_the_consoles_shape_network_last():
    table = table_of(TABLE, load_network())
    assert [r["station_id"] for r in table.rows] == ["gushi", "guangshan"]  # network.yaml order
    kinds = {c.key: c.kind for c in table.columns}
    assert kinds["identification_rate"] == "rate" and kinds["admissions"] == "count"
    assert kinds["median_hours_to_identify"] == "hours"
    assert (table.period_start, table.period_end) == (date(2026, 11, 1), date(2026, 11, 30))
    text = csv_bytes(table).decode("utf-8-sig")
    assert "全网合计,8,30.0%,62.5%,75.0%,30.5,1,4" in text
    assert "固始县救助管理站,5,20.0%,40.0%,75.0%,未发布,0,0" in text
    assert [r["station_id"] for r in table_of(TABLE, load_network(), "gushi").rows] == ["gushi"]
    assert table_of({"month": "nope", "stations": []}, load_network()) is None
    assert table_of({"detail": "x"}, load_network()) is None


def test_the_centers_missing_figures_by_station_and_the_repeat_rate_worked_out():
    found = center_figures(TABLE)
    assert found["guangshan"] == {
        "notices_within_24h": 1.0,
        "repeat_wandering_rate": 0.25,
    }
    assert found["gushi"] == {"notices_within_24h": 0.4, "revisit_compliance": 0.75}
    assert found[""]["revisit_compliance"] == 0.75


# ---- the pages, the services stood in by a transport -----------------------------------


class FakeNetwork:
    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.table = httpx.Response(200, json=TABLE)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        path = request.url.path
        if request.url.host == "summary.test":
            if path == f"/tables/{MONTH}":
                return self.table
            if path == f"/tables/{MONTH}.xlsx":
                return httpx.Response(
                    200, content=b"PK\x03\x04 the service's workbook", headers=XLSX_HEADERS
                )
        return httpx.Response(200, json=[])

    def to(self, host: str) -> list[str]:
        return [r.url.path for r in self.sent if r.url.host == host]


XLSX_HEADERS = {"content-type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def client_for(net, **extra) -> TestClient:
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    settings = ConsoleSettings(
        **urls,
        **extra,
        dev_jwt_secret="console-unit-secret-" + "k" * 30,
        cookie_secure=False,
    )
    return TestClient(
        create_app(settings, transport=httpx.MockTransport(net)), base_url="http://console.test"
    )


def sign_in(client) -> None:
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
    )


@pytest.fixture
def net():
    return FakeNetwork()


def test_a_month_comes_from_the_summary_service_with_its_own_downloads(net):
    with client_for(net, summary_url="http://summary.test") as client:
        sign_in(client)
        net.sent.clear()  # the board after sign-in
        page = client.get("/summary", params={"month": MONTH})
        assert page.status_code == 200
        assert "24小时内发布率" in page.text and "62.5%" in page.text
        assert 'data-testid="month-form"' in page.text
        assert net.to("summary.test") == [f"/tables/{MONTH}"]
        assert not net.to("intake.test")  # the month is the summary service's alone
        download = client.get("/summary.xlsx", params={"month": MONTH})
        assert download.content == b"PK\x03\x04 the service's workbook"
        assert "summary-2026-11.xlsx" in download.headers["content-disposition"]
        # a few days are not a month: counted from the services as before
        net.sent.clear()
        days = client.get(
            "/summary", params={"period_start": "2026-11-02", "period_end": "2026-11-03"}
        )
        assert days.status_code == 200 and not net.to("summary.test")
        assert "/station/summary" in net.to("intake.test")


def test_the_summary_service_away_leaves_the_counted_table_and_says_so(net):
    net.table = httpx.Response(503, json={"title": "unavailable"})
    with client_for(net, summary_url="http://summary.test") as client:
        sign_in(client)
        page = client.get("/summary", params={"month": MONTH})
        assert page.status_code == 200
        assert "情况汇总服务（2026-11）：暂时无法获取" in page.text
        assert "/station/summary" in net.to("intake.test")


def test_without_the_summary_service_nothing_asks_it(net):
    with client_for(net) as client:
        sign_in(client)
        page = client.get("/summary", params={"month": MONTH})
        assert page.status_code == 200 and 'data-testid="month-form"' not in page.text
        assert not net.to("summary.test")


def test_the_center_fills_the_figures_per_station_for_a_month(net, monkeypatch):
    monkeypatch.setattr(summary, "today_in_china", lambda: date(2026, 12, 7))
    monkeypatch.setattr(center, "today_in_china", lambda: date(2026, 12, 7))
    with client_for(net, summary_url="http://summary.test") as client:
        sign_in(client)
        page = client.get(
            "/center",
            params={
                "station_a": "gushi",
                "station_b": "guangshan",
                "period_start": "2026-11-01",
                "period_end": "2026-11-30",
            },
        )
        assert page.status_code == 200
        row = re.search(r'<tr data-figure="notices_within_24h">(.*?)</tr>', page.text).group(1)
        assert "<td>40.0%</td><td>100.0%</td><td>62.5%</td>" in row
        repeat = re.search(r'<tr data-figure="repeat_wandering_rate">(.*?)</tr>', page.text)
        assert "<td>25.0%</td>" in repeat.group(1)  # guangshan: 1 of 4 returned
        assert 'data-testid="from-summary"' in page.text
