"""Dates and times on the real intake service (issue 22): a date out of its window,
a number or a time without its offset is refused at the door with a 422 naming
the field; and whatever is already stored (a year-1 arrival written before the
fix came back from Postgres as -infinity, a naive datetime) never makes a read
answer 500: the person, their timeline, and their station's lists."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from support import query, station_client

pytestmark = pytest.mark.e2e

ADMISSION = {"arrival_route": "own_request", "sex": "male", "estimated_age": 40}


def persons(network) -> int:
    return query(network, "intake", "select count(*) from persons")[0][0]


def refused(answer, field: str) -> str:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    reasons = {e["field"]: e["reason"] for e in answer.json()["errors"]}
    assert field in reasons, reasons
    return reasons[field]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("arrived_at", "0001-01-01T00:00:00+00:00"),
        ("arrived_at", "9999-12-31T23:59:59.999999+00:00"),
        ("arrived_at", "1949-12-31T23:00:00+08:00"),
        ("arrived_at", 0),
        ("arrived_at", "1767225600"),
        ("arrived_at", "2026-11-23T07:30:00"),
        ("estimated_age", "30"),
        ("estimated_age", True),
        ("consent_given", 1),
        ("consent_given", "true"),
    ],
)
def test_an_implausible_date_or_a_lax_value_is_refused_and_nothing_is_written(
    network, urls, field, value
):
    with station_client(network) as gushi:
        before = persons(network)
        answer = gushi.post(f"{urls['intake']}/persons", json={**ADMISSION, field: value})
        reason = refused(answer, field)
        assert persons(network) == before
    if value == "0001-01-01T00:00:00+00:00":
        assert "1950-01-01T00:00:00Z" in reason


def test_a_period_out_of_range_or_reversed_is_a_422_naming_the_parameter(network, urls):
    summary = f"{urls['intake']}/station/summary"
    today = date.today()
    with station_client(network) as gushi:
        whole = gushi.get(
            summary, params={"period_start": "0001-01-01", "period_end": "9999-12-31"}
        )
        assert "1950-01-01" in refused(whole, "query.period_start")
        refused(whole, "query.period_end")
        as_number = gushi.get(summary, params={"period_start": "0", "period_end": str(today)})
        refused(as_number, "query.period_start")
        backwards = gushi.get(
            summary, params={"period_start": str(today), "period_end": str(today - timedelta(1))}
        )
        assert refused(backwards, "query.period_end") == "is before period_start"


def test_reads_survive_whatever_dates_are_already_stored(network, urls):
    """Rows written before the fix: an arrival typed as year 1 (stored by asyncpg as
    -infinity, read back as a naive datetime.min), an admission at +infinity, an
    incident and an identity confirmed at the ends of time."""
    with station_client(network) as gushi, station_client(network, "center") as center:
        admitted = [
            gushi.post(
                f"{urls['intake']}/persons", json={**ADMISSION, "full_name": f"测试{n}"}
            ).json()
            for n in range(2)
        ]
        first, second = (uuid.UUID(p["id"]) for p in admitted)
        reported = gushi.post(
            f"{urls['intake']}/persons/{first}/incidents",
            json={
                "kind": "injury",
                "occurred_at": datetime.now(UTC).isoformat(),
                "description": "摔伤左膝，已包扎",
            },
        )
        assert reported.status_code == 201, reported.text
        stays = (
            "update stays set arrived_at = $2::text::timestamptz,"
            " admitted_at = $3::text::timestamptz"
        )
        try:
            query(
                network, "intake", f"{stays} where person_id = $1", first, "-infinity", "-infinity"
            )
            query(
                network,
                "intake",
                f"{stays} where person_id = $1",
                second,
                "0001-01-01 00:00+00",
                "infinity",
            )
            query(
                network,
                "intake",
                "update incidents set occurred_at = '-infinity' where person_id = $1",
                first,
            )
            query(
                network,
                "intake",
                "update persons set identity_confirmed_at = 'infinity' where id = $1",
                second,
            )

            for person_id in (first, second):
                read = gushi.get(f"{urls['intake']}/persons/{person_id}")
                assert read.status_code == 200, read.text
                timeline = gushi.get(f"{urls['intake']}/persons/{person_id}/timeline")
                assert timeline.status_code == 200, timeline.text
            person = gushi.get(f"{urls['intake']}/persons/{first}").json()
            assert person["arrived_at"].startswith("0001-01-01T00:00:00")
            assert person["incidents"][0]["occurred_at"].startswith("0001-01-01T00:00:00")
            timeline = gushi.get(f"{urls['intake']}/persons/{second}/timeline").json()
            assert [e["what"] for e in timeline][-1] == "identity confirmed"

            for station_list in ("/persons", "/station/persons"):
                for client in (gushi, center):
                    listed = client.get(f"{urls['intake']}{station_list}")
                    assert listed.status_code == 200, (station_list, listed.text)
            listed = {p["id"] for p in gushi.get(f"{urls['intake']}/station/persons").json()}
            assert {str(first), str(second)} <= listed
            today = date.today()
            period = {"period_start": str(today - timedelta(1)), "period_end": str(today)}
            summary = center.get(f"{urls['intake']}/station/summary", params=period)
            assert summary.status_code == 200, summary.text
        finally:  # the network is shared: its lists go back to what other tests expect
            for person_id in (first, second):
                query(network, "intake", f"{stays} where person_id = $1", person_id, "now", "now")
            query(
                network,
                "intake",
                "update incidents set occurred_at = now() where person_id = $1",
                first,
            )
            query(
                network,
                "intake",
                "update persons set identity_confirmed_at = now() where id = $1",
                second,
            )
