"""The `settled` ending end to end (issue 25), on the real network: a person still
unidentified three months after arrival reaches long stay (intake's sweep), goes
through the settlement procedure (落户安置) step by step, and leaves the station as
`settled`; search records the ending and the search goes on: every task stays open
and the notice stays up as it was (search.commands.endings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import poll, query, station_client

pytestmark = pytest.mark.e2e

STEPS = (
    ("registration_applied", "固始县公安局户政科"),
    ("registration_granted", "固始县公安局户政科"),
    ("support_applied", "固始县民政局"),
    ("support_granted", "固始县民政局"),
    ("placed_in_institution", "固始县社会福利院"),
)


def test_a_settled_person_is_still_searched_for(network, urls, notice_site):
    with station_client(network) as gushi:
        admitted = gushi.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "female", "estimated_age": 62},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        person = f"{urls['intake']}/persons/{person_id}"
        [case] = poll(
            lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )
        published = gushi.post(
            f"{urls['search']}/cases/{case['id']}/notices",
            json={"kind": "national", "sex": "female", "estimated_age": 62},
        )
        assert published.status_code == 201, published.text
        (notice,) = published.json()

        # three months unidentified: intake's sweep marks the long stay
        query(
            network,
            "intake",
            "update stays set arrived_at = $2 where person_id = $1::uuid",
            person_id,
            datetime.now(UTC) - timedelta(days=91),
        )
        poll(
            lambda: query(
                network,
                "intake",
                "select long_stay_reached_at from stays where person_id = $1::uuid",
                person_id,
            )[0][0]
        )
        early = gushi.post(f"{person}/discharge", json={"reason": "settled"})
        assert early.status_code == 409, early.text  # not before the procedure is done

        today = datetime.now(UTC).date().isoformat()  # never after the stations' day
        for step, by in STEPS:
            done = gushi.post(
                f"{person}/settlement/steps", json={"step": step, "date": today, "by": by}
            )
            assert done.status_code == 201, done.text
        assert gushi.get(f"{person}/settlement").json()["complete"] is True
        settled = gushi.post(f"{person}/discharge", json={"reason": "settled"})
        assert settled.status_code == 200, settled.text

        def ended():
            found = gushi.get(f"{urls['search']}/cases/{case['id']}").json()
            return found if found.get("ending") == "settled" else None

        after = poll(ended)
        tasks = gushi.get(f"{urls['search']}/cases/{case['id']}/tasks").json()
        notices = gushi.get(f"{urls['search']}/cases/{case['id']}/notices").json()

    assert (after["status"], after["station_id"]) == ("open", "gushi")
    assert after["ended_at"] is not None
    assert {t["kind"]: t["status"] for t in tasks} == {
        "family_search_notice": "done",  # the notice went up
        "police_check": "open",
        "dna_sample": "open",
    }
    (still,) = notices
    assert (still["id"], still["status"], still["purpose"]) == (
        notice["id"],
        "published",
        "seeking_family",
    )
    assert not notice_site.received("DELETE", f"/site/notices/{notice['external_id']}")
