"""The summary table (情况汇总表) on the real network: every figure of one station's
month equals what this test did there, the read model rebuilt from the events gives
the same table, the downloads read back to it, and the national system's stand-in
receives it (after a first failing answer) with its receipt kept."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from support import poll, station_client

from summary.facts import CHINA
from summary.figures import COUNTS, FIGURES

pytestmark = pytest.mark.e2e

STATION = "guangshan"


@pytest.fixture(scope="module")
def national(national_system):
    """The session network's summary files with this stand-in (only this module
    submits tables); set at the network's start, so no restart of the summary."""
    return national_system


def this_month() -> str:
    return datetime.now(CHINA).strftime("%Y-%m")


def caught_up(network, url: str) -> bool:
    with station_client(network, "center", ("ops",)) as ops:
        lags = ops.get(f"{url}/ops/consumer-lag")
        return lags.status_code == 200 and all(p["lag"] == 0 for p in lags.json())


def table(network, url: str, month: str, station="center", roles=("center_coordinator",)):
    with station_client(network, station, roles) as client:
        answer = client.get(f"{url}/tables/{month}")
        assert answer.status_code == 200, answer.text
        return answer.json()


def station_figures(found: dict, station: str = STATION) -> dict:
    (row,) = [s for s in found["stations"] if s["station_id"] == station]
    return row["figures"]


def admit(staff, urls, **body) -> dict:
    answer = staff.post(f"{urls['intake']}/persons", json={"sex": "male", **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def case_of(staff, urls, person: dict) -> dict:
    return poll(
        lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person["id"]}).json()
    )[0]


def test_the_table_counts_what_was_done_rebuilds_exports_and_is_filed(network, urls, national):
    summary = urls["summary"]
    month = this_month()
    poll(lambda: caught_up(network, summary), timeout=120)
    before = station_figures(table(network, summary, month))
    done: dict[str, int] = dict.fromkeys(COUNTS, 0)

    with station_client(network, STATION) as staff:
        elderly = admit(staff, urls, arrival_route="own_request", categories=["elderly"])
        plain = admit(staff, urls, arrival_route="own_request")
        again = staff.post(
            f"{urls['intake']}/persons/{plain['id']}/discharge", json={"reason": "left"}
        )
        assert again.status_code == 200, again.text
        done["admissions"] += 2
        done["admissions.route.own_request"] += 2
        done["admissions.category.elderly"] += 1
        done["discharges.left"] += 1
        done["search_cases"] += 2

        refused = staff.post(
            f"{urls['intake']}/refusals",
            json={
                "found_place": "光山县汽车站",
                "found_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
                "description": "男，约50岁，拒绝入站",
                "advice_given": "告知24小时求助热线",
                "recorded_by": "周敏",
            },
        )
        assert refused.status_code == 201, refused.text
        done["refusals"] += 1

        # a minor: the rules open a referral to the minor-protection institution
        admit(staff, urls, arrival_route="own_request", categories=["minor"], estimated_age=12)
        done["admissions"] += 1
        done["admissions.route.own_request"] += 1
        done["admissions.category.minor"] += 1
        done["search_cases"] += 1
        done["referrals.minor_protection.opened"] += 1

        lead = staff.post(
            f"{urls['intake']}/leads",
            json={"reported": "一名老人在路边徘徊", "place": "光山县城南路口"},
        )
        assert lead.status_code == 201, lead.text
        done["leads"] += 1
        # a second lead, found and admitted: a hotline admission
        found = staff.post(
            f"{urls['intake']}/leads",
            json={"reported": "车站有人需要帮助", "place": "光山县火车站"},
        ).json()
        lead_path = f"{urls['intake']}/leads/{found['id']}"
        for step, body in (
            ("triage", {"priority": "urgent"}),
            ("assignment", {"assigned_to": "外展巡查一组"}),
            ("closure", {"outcome": "admitted", "admission": {"sex": "female"}}),
        ):
            answer = staff.post(f"{lead_path}/{step}", json=body)
            assert answer.status_code == 200, answer.text
        done["leads"] += 1
        done["leads_admitted"] += 1
        done["admissions"] += 1
        done["admissions.route.hotline_tip"] += 1
        done["search_cases"] += 1

        # the national notice of the elderly man's case, well within its 24 hours
        case = case_of(staff, urls, elderly)
        notice = staff.post(
            f"{urls['search']}/cases/{case['id']}/notices",
            json={"kind": "national", "sex": "male", "estimated_age": 70},
        )
        assert notice.status_code == 201, notice.text
        done["notices_within_24h"] += 1

    with station_client(network, STATION, ("search_specialist",)) as specialist:
        confirmed = specialist.post(
            f"{urls['search']}/cases/{case['id']}/identity-confirmation",
            json={
                "evidence": [{"kind": "police_check", "reference": "核查-汇总"}],
                "full_name": f"汇总{uuid.uuid4().hex[:4]}",
                "home_province": "河南省",
                "home_address": "河南省光山县某镇",
            },
        )
        assert confirmed.status_code == 200, confirmed.text
        identified_at = datetime.fromisoformat(confirmed.json()["identified_at"])
    done["identified"] += 1
    done["cases_identified"] += 1
    hours = (identified_at - datetime.fromisoformat(elderly["arrived_at"])).total_seconds() / 3600

    expected = {key: before[key] + done[key] for key in COUNTS}

    def counted():
        now = station_figures(table(network, summary, month))
        return now if {k: now[k] for k in COUNTS} == expected else None

    poll(counted, timeout=90)
    poll(lambda: caught_up(network, summary), timeout=60)
    after = table(network, summary, month)
    mine = station_figures(after)
    # every count of the station is what this test did there
    assert {k: mine[k] for k in COUNTS} == expected
    # rates from those counts; the median is this test's when the month had no other
    assert mine["identification_rate"] == round(
        expected["cases_identified"] / expected["search_cases"], 4
    )
    assert mine["notices_within_24h_rate"] == round(
        expected["notices_within_24h"] / expected["search_cases"], 4
    )
    if before["identified"] == 0:
        assert mine["median_hours_to_identify"] == round(hours, 2)
    else:
        assert mine["median_hours_to_identify"] is not None
    # the network is the sum of its stations
    for key in COUNTS:
        assert after["network"]["figures"][key] == sum(
            s["figures"][key] for s in after["stations"]
        ), key
    assert after["labels"]["admissions"] == "入站人次"

    # a satellite sees its own station only; a bad month names the field
    own = table(network, summary, month, STATION, ("station_staff",))
    assert [s["station_id"] for s in own["stations"]] == [STATION]
    assert own["network"]["figures"] == mine
    with station_client(network, STATION) as staff:
        bad = staff.get(f"{summary}/tables/2026-13")
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["errors"][0]["field"] == "month"

    _rebuilt_from_scratch_to_the_same_table(network, summary, month, after)
    _exports_read_back(network, summary, month, after)
    _filed_with_a_receipt(network, summary, month, after, national)


def _rebuilt_from_scratch_to_the_same_table(network, summary, month, after):
    with station_client(network, "center", ("ops",)) as ops:
        started = ops.post(f"{summary}/rebuilds", timeout=30)
        assert started.status_code == 202, started.text
        rebuild = started.json()

        def finished():
            found = ops.get(f"{summary}/rebuilds/{rebuild['id']}").json()
            return found if found["status"] != "running" else None

        done = poll(finished, timeout=240)
    assert done["status"] == "done", done
    assert done["records_read"] > 0 and done["facts"] > 0
    assert table(network, summary, month) == after
    # the same from the command line, in a process of its own
    cli = subprocess.run(
        [sys.executable, "-m", "summary", "rebuild"],
        env=network.services["summary"].env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert ": done," in cli.stdout, cli.stdout
    assert table(network, summary, month) == after


def _exports_read_back(network, summary, month, after):
    names = [s["name"] for s in after["stations"]]
    columns = [*(s["figures"] for s in after["stations"]), after["network"]["figures"]]
    with station_client(network, "center", ("center_coordinator",)) as center:
        xlsx = center.get(f"{summary}/tables/{month}.xlsx")
        csv_file = center.get(f"{summary}/tables/{month}.csv")
    assert xlsx.status_code == 200 and csv_file.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    from_xlsx = [[cell.value for cell in row] for row in sheet.iter_rows()]
    from_csv = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    for rows in (from_xlsx, from_csv):
        assert rows[0][0] == f"情况汇总表 {month}"
        assert rows[1] == ["指标", "代码", *names, "全网合计"]
        read = {row[1]: row for row in rows[2:]}
        assert set(read) == {f.key for f in FIGURES}
        for figure in FIGURES:
            row = read[figure.key]
            assert row[0] == figure.label
            values = [None if v in ("", None) else float(v) for v in row[2:]]
            wanted = [None if c[figure.key] is None else float(c[figure.key]) for c in columns]
            assert values == wanted, figure.key


def _filed_with_a_receipt(network, summary, month, after, national):
    with station_client(network, STATION, ("center_coordinator",)) as satellite:
        refused = satellite.post(f"{summary}/tables/{month}/submissions")
        assert refused.status_code == 403, refused.text
    with station_client(network, "center", ("center_coordinator",)) as center:
        queued = center.post(f"{summary}/tables/{month}/submissions")
        assert queued.status_code == 202, queued.text
        assert queued.json()["status"] == "pending"

        def received():
            listed = center.get(f"{summary}/tables/{month}/submissions").json()
            mine = [s for s in listed if s["id"] == queued.json()["id"]]
            return mine[0] if mine and mine[0]["status"] == "received" else None

        filed = poll(received, timeout=60)
    # the first answer failed: tried again, the same submission, and its receipt kept
    assert filed["attempts"] == 2
    assert len(national.requests) == 2
    assert filed["receipt_id"] == national.receipts[-1]
    keys = {headers["Idempotency-Key"] for headers, _ in national.requests}
    assert keys == {filed["id"]}
    _, body = national.requests[-1]
    assert body["month"] == month
    assert body["reporting_station"]["station_id"] == "center"
    assert body["network"] == after["network"]
    assert body["stations"] == after["stations"]
