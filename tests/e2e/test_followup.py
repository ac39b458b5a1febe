"""Return stabilisation on the real network: the record and its revisits, missed
revisits, the at-risk register and town rosters, repeat wandering (issue 8)."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from journeys import events_for, handed_over, identified_person
from support import a_real_town, poll, query, station_client, wait_for_more_sweeps

pytestmark = pytest.mark.e2e

CHINA = ZoneInfo("Asia/Shanghai")  # followup's days are the home town's calendar days


def china_today() -> date:
    return datetime.now(CHINA).date()


FOLLOWUP_EVENTS = "rescue.followup.events"


def new_town() -> str:
    """A real town of Guizhou (52) in a county of its own, so figures per town and
    county are this test's."""
    return a_real_town("52")


def record_of(network, urls, person_id: str, station="gushi") -> dict:
    with station_client(network, station) as staff:
        return poll(
            lambda: staff.get(
                f"{urls['followup']}/stabilisations", params={"person_id": person_id}
            ).json()
        )[0]


def followup_events(network, person_id: str, until) -> list[tuple[str, dict]]:
    return events_for(network, person_id, until, topic=FOLLOWUP_EVENTS, field="person_id")


def test_a_handover_opens_a_record_with_six_revisits_at_most_two_months_apart(network, urls):
    town = new_town()
    returned = handed_over(network, urls, province="贵州省", home_admin_code=town)
    record = record_of(network, urls, returned["person_id"])

    assert record["status"] == "active"
    assert record["full_name"] == returned["full_name"]
    assert record["jurisdiction_code"] == town
    revisits = record["revisits"]
    assert [r["sequence"] for r in revisits] == [1, 2, 3, 4, 5, 6]
    assert {r["assigned_to"] for r in revisits} == {town}
    assert {r["status"] for r in revisits} == {"scheduled"}
    # the home town's calendar (Asia/Shanghai), as followup counts days
    handed_on = datetime.fromisoformat(record["handed_over_at"]).astimezone(CHINA).date()
    dues = [handed_on] + [date.fromisoformat(r["due_on"]) for r in revisits]
    assert all(
        timedelta(days=28) <= b - a <= timedelta(days=62)
        for a, b in zip(dues, dues[1:], strict=False)
    )
    assert dues[-1] - handed_on >= timedelta(days=365)

    url = f"{urls['followup']}/stabilisations/{record['id']}"
    with station_client(network, "gushi") as gushi:
        stable = gushi.post(
            f"{url}/revisits/1",
            json={
                "mode": "phone",
                "visited_on": str(handed_on),
                "visited_by": "镇民政办 张敏",
                "situation": "stable",
            },
        )
        assert stable.status_code == 200, stable.text
        again = gushi.post(
            f"{url}/revisits/1",
            json={
                "mode": "phone",
                "visited_on": str(handed_on),
                "visited_by": "x",
                "situation": "stable",
            },
        )
        assert again.status_code == 409
        future = gushi.post(
            f"{url}/revisits/2",
            json={
                "mode": "visit",
                "visited_on": str(china_today() + timedelta(days=3)),
                "visited_by": "x",
                "situation": "stable",
            },
        )
        assert future.status_code == 422
        assert future.json()["errors"][0]["field"] == "visited_on"
        hard = gushi.post(
            f"{url}/revisits/2",
            json={
                "mode": "visit",
                "visited_on": str(handed_on),
                "visited_by": "村委会 李书记",
                "situation": "living_difficulty",
                "help_owner": "县民政局 王科长",
            },
        )
        assert hard.status_code == 200, hard.text
        tasks = hard.json()["help_tasks"]
        assert [(t["difficulty"], t["refer_to"], t["status"]) for t in tasks] == [
            ("living_difficulty", "civil_affairs", "open")
        ]
        done = gushi.post(
            f"{urls['followup']}/help-tasks/{tasks[0]['id']}/completion",
            json={"outcome": "已纳入低保"},
        )
        assert done.status_code == 200 and done.json()["status"] == "done"

    found = followup_events(network, returned["person_id"], lambda found: len(found) >= 4)
    assert [kind for kind, _ in found] == [
        "stabilisation_opened",
        "revisit_recorded",
        "revisit_recorded",
        "help_task_opened",
    ]
    assert found[3][1]["refer_to"] == "civil_affairs"


def test_a_missed_revisit_becomes_overdue_once_and_escalates_once(network, urls):
    returned = handed_over(network, urls, province="贵州省", home_admin_code=new_town())
    record = record_of(network, urls, returned["person_id"])
    # Time passes: revisit 1 is three weeks late, revisit 2 two days late.
    today = china_today()
    query(
        network,
        "followup",
        "update revisits set due_on = case sequence when 1 then $2::date when 2 then $3::date "
        "end where record_id = $1::uuid and sequence in (1, 2)",
        record["id"],
        today - timedelta(days=21),
        today - timedelta(days=2),
    )

    with station_client(network, "gushi") as gushi:

        def overdue():
            listed = gushi.get(f"{urls['followup']}/revisits/overdue").json()
            mine = {r["sequence"]: r for r in listed if r["record_id"] == record["id"]}
            return mine if len(mine) == 2 and mine[1]["escalated_at"] else None

        mine = poll(overdue)
        assert mine[2]["escalated_at"] is None
    # The sweep keeps running; each level must still be raised only once.
    wait_for_more_sweeps(network, urls["followup"], "revisit-deadlines")

    def raised(found):
        return [(p["sequence"], p["level"]) for kind, p in found if kind == "revisit_overdue"]

    found = followup_events(network, returned["person_id"], lambda found: len(raised(found)) >= 3)
    assert sorted(raised(found)) == [(1, "escalated"), (1, "overdue"), (2, "overdue")]

    with station_client(network, "gushi") as gushi:
        late = gushi.post(
            f"{urls['followup']}/stabilisations/{record['id']}/revisits/1",
            json={
                "mode": "visit",
                "visited_on": str(today),
                "visited_by": "x",
                "situation": "stable",
            },
        )
        assert late.status_code == 200
        listed = gushi.get(f"{urls['followup']}/revisits/overdue").json()
        assert {r["sequence"] for r in listed if r["record_id"] == record["id"]} == {2}
        period = {"period_start": str(today - timedelta(days=30)), "period_end": str(today)}
        figures = gushi.get(f"{urls['followup']}/figures", params=period).json()
        row = next(r for r in figures if r["jurisdiction_code"] == record["jurisdiction_code"])
        assert (row["revisits_due"], row["revisits_made"], row["revisits_on_time"]) == (2, 1, 0)
        assert row["revisit_compliance"] == 0.0

    found = followup_events(network, returned["person_id"], lambda found: len(found) >= 5)
    recorded = [p for kind, p in found if kind == "revisit_recorded"]
    assert recorded[0]["late"] is True
    assert sorted(raised(found)) == [(1, "escalated"), (1, "overdue"), (2, "overdue")]


def test_a_person_with_dementia_lands_on_the_register_and_the_town_roster(network, urls):
    town = new_town()
    returned = handed_over(
        network, urls, province="贵州省", categories=["dementia"], home_admin_code=town
    )
    other = handed_over(network, urls, province="贵州省", home_admin_code=town)

    with station_client(network, "gushi") as gushi, station_client(network, "xixian") as xixian:
        entries = poll(
            lambda: gushi.get(
                f"{urls['followup']}/at-risk-register", params={"jurisdiction_code": town}
            ).json()
        )
        assert [(e["person_id"], e["reasons"], e["added_by"]) for e in entries] == [
            (returned["person_id"], ["dementia"], "automatic")
        ]
        # another satellite does not see gushi's register
        assert (
            xixian.get(
                f"{urls['followup']}/at-risk-register", params={"jurisdiction_code": town}
            ).json()
            == []
        )

        # staff add a person the rules did not
        other_record = record_of(network, urls, other["person_id"])
        registration = {"record_id": other_record["id"], "reasons": ["other"]}
        no_reason = gushi.post(f"{urls['followup']}/at-risk-register", json=registration)
        assert no_reason.status_code == 422
        added = gushi.post(
            f"{urls['followup']}/at-risk-register",
            json={**registration, "note": "独居，家属外出务工"},
        )
        assert added.status_code == 201, added.text

        for code in (town, town[:6]):  # the town's roster, and the county's
            roster = gushi.get(f"{urls['followup']}/at-risk-register/rosters/{code}")
            assert roster.status_code == 200
            assert roster.headers["content-type"].startswith("text/html")
            assert returned["full_name"] in roster.text and "认知症" in roster.text
            assert other["full_name"] in roster.text
        bad = gushi.get(f"{urls['followup']}/at-risk-register/rosters/52-xx")
        assert bad.status_code == 422

    found = followup_events(
        network, returned["person_id"], lambda found: "at_risk_registered" in dict(found)
    )
    registered = dict(found)["at_risk_registered"]
    assert registered["reasons"] == ["dementia"]
    assert registered["jurisdiction_code"] == town


def test_the_same_person_admitted_again_elsewhere_is_flagged_as_repeat_wandering(network, urls):
    town = new_town()
    name = f"复返{secrets.token_hex(2)}"
    first = handed_over(network, urls, province="贵州省", full_name=name, home_admin_code=town)

    # months later he is found again, in another county, and identified again
    again = identified_person(
        network,
        urls,
        province="贵州省",
        full_name=name,
        home_admin_code=town,
        station="xixian",
    )

    def flags_for(station):
        with station_client(network, station) as staff:
            listed = staff.get(f"{urls['followup']}/repeat-wanderings").json()
        return [f for f in listed if f["earlier_person_id"] == first["person_id"]]

    flagged = poll(lambda: flags_for("xixian"))
    assert [(f["person_id"], f["basis"]) for f in flagged] == [(again["person_id"], "identity")]
    assert flagged[0]["origin_station_id"] == "gushi"
    assert flagged[0]["admitting_station_id"] == "xixian"
    assert flags_for("gushi") == flagged  # the origin sees it too
    assert flags_for("guangshan") == []

    # a third stay, recognised by a face match a specialist accepted
    with station_client(network, "guangshan") as guangshan:
        admitted = guangshan.post(
            f"{urls['intake']}/persons", json={"arrival_route": "own_request", "sex": "male"}
        )
        third = admitted.json()["id"]
        case = poll(
            lambda: guangshan.get(f"{urls['search']}/cases", params={"person_id": third}).json()
        )[0]
        link = {
            "earlier_person_id": first["person_id"],
            "method": "face_comparison",
            "similarity": 0.93,
        }
        recognised = guangshan.post(f"{urls['search']}/cases/{case['id']}/earlier-stays", json=link)
        assert recognised.status_code == 201, recognised.text
        twice = guangshan.post(f"{urls['search']}/cases/{case['id']}/earlier-stays", json=link)
        assert twice.status_code == 409
    flagged = poll(lambda: len(flags_for("gushi")) == 2 and flags_for("gushi"))
    assert {(f["person_id"], f["basis"]) for f in flagged} == {
        (again["person_id"], "identity"),
        (third, "face_comparison"),
    }

    with station_client(network, "gushi") as gushi:
        entry = gushi.get(
            f"{urls['followup']}/at-risk-register", params={"person_id": first["person_id"]}
        ).json()
        assert entry[0]["reasons"] == ["repeat_wandering"]
        today = china_today()
        period = {
            "period_start": str(today - timedelta(days=1)),
            "period_end": str(today),
            "level": "county",
        }
        figures = gushi.get(f"{urls['followup']}/figures", params=period).json()
        row = next(r for r in figures if r["jurisdiction_code"] == town[:6])
        assert (row["returned"], row["repeat_wanderers"], row["repeat_wandering_rate"]) == (
            1,
            1,
            1.0,
        )

    flags = [
        p
        for kind, p in followup_events(
            network,
            again["person_id"],
            lambda found: any(k == "repeat_wandering_flagged" for k, _ in found),
        )
        if kind == "repeat_wandering_flagged"
    ]
    assert len(flags) == 1 and flags[0]["earlier_person_id"] == first["person_id"]
    failed = query(
        network, "followup", "select count(*) from dead_letters where reason = 'handler_failed'"
    )
    assert failed[0][0] == 0


def test_the_center_assesses_the_county_helps_and_a_record_closes_by_settlement(network, urls):
    returned = handed_over(network, urls, province="贵州省", home_admin_code=new_town())
    record = record_of(network, urls, returned["person_id"])
    url = f"{urls['followup']}/stabilisations/{record['id']}"
    assessment = {"level": "high", "reasons": ["独居", "曾多次外出"], "owner": "中心站 周评估"}

    with station_client(network, "gushi") as gushi, station_client(network, "center") as center:
        assert gushi.post(f"{url}/risk-assessments", json=assessment).status_code == 403
        assessed = center.post(f"{url}/risk-assessments", json=assessment)
        assert assessed.status_code == 201, assessed.text
        assert assessed.json()["risk_assessments"][0]["level"] == "high"
        plan = gushi.post(
            f"{url}/help-plans", json={"measures": ["纳入特困供养"], "owner": "县民政局 王科长"}
        )
        assert plan.status_code == 201
        assert plan.json()["help_plans"][0]["county_code"] == record["jurisdiction_code"][:6]
        service = gushi.post(
            f"{url}/social-work-services",
            json={"service": "心理疏导", "owner": "社工 刘洋", "delivered_on": str(china_today())},
        )
        assert service.status_code == 201
        assert service.json()["social_work_services"][0]["owner"] == "社工 刘洋"

        early = gushi.post(f"{url}/closure", json={"outcome": "stable_year"})
        assert early.status_code == 422
        assert "year" in early.json()["errors"][0]["reason"]
        vague = gushi.post(f"{url}/closure", json={"outcome": "settled"})
        assert vague.status_code == 422
        settled = gushi.post(
            f"{url}/closure",
            json={"outcome": "settled", "settlement": "户籍地民政局安置至县特困供养中心"},
        )
        assert settled.status_code == 200, settled.text
        assert (settled.json()["status"], settled.json()["outcome"]) == ("closed", "settled")
        after = gushi.post(f"{url}/help-plans", json={"measures": ["x"], "owner": "y"})
        assert after.status_code == 409

    found = followup_events(
        network, returned["person_id"], lambda found: "stabilisation_closed" in dict(found)
    )
    kinds = dict(found)
    assert kinds["risk_assessed"]["level"] == "high"
    assert kinds["stabilisation_closed"]["outcome"] == "settled"
