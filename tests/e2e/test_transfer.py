"""Returns home, on the real network: takeover by the center, batching, refusal
and escalation, the handover with its notice and followup (issue 6)."""

from __future__ import annotations

import secrets

import pytest
from journeys import departed, escort_plan, events_for, identified_person, receipt
from support import poll, query, station_client

pytestmark = pytest.mark.e2e


def test_a_satellites_cross_province_return_is_taken_over_by_the_center_visibly_to_both(
    network, urls
):
    far = identified_person(network, urls, province="四川省")
    local = identified_person(network, urls, province="河南省")

    assert (far["station_id"], far["escort_station_id"], far["cross_province"]) == (
        "gushi",
        "center",
        True,
    )
    assert (local["escort_station_id"], local["cross_province"]) == ("gushi", False)

    with (
        station_client(network, "gushi") as gushi,
        station_client(network, "center") as center,
        station_client(network, "xixian") as xixian,
    ):
        # both stations see the taken-over return; another satellite does not
        for staff in (gushi, center):
            seen = staff.get(f"{urls['transfer']}/returns/{far['id']}")
            assert seen.status_code == 200
            assert seen.json()["escort_station_id"] == "center"
        assert xixian.get(f"{urls['transfer']}/returns/{far['id']}").status_code == 404

        def planned_by(staff) -> set[str]:
            groups = staff.get(f"{urls['transfer']}/returns/planning").json()
            return {r["id"] for g in groups for r in g["returns"]}

        # the center plans the cross-province one, gushi keeps its local one
        assert far["id"] in planned_by(center) and local["id"] not in planned_by(center)
        assert local["id"] in planned_by(gushi) and far["id"] not in planned_by(gushi)
        sichuan = next(
            g
            for g in center.get(f"{urls['transfer']}/returns/planning").json()
            if g["destination_province"] == "四川省"
        )
        assert far["id"] in {r["id"] for r in sichuan["returns"]}

        # the satellite cannot plan the escort the center runs
        refused = gushi.post(f"{urls['transfer']}/escorts", json=escort_plan(far))
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"][0]["field"] == "return_ids"

    opened = events_for(network, far["id"], lambda found: found)
    assert [kind for kind, _ in opened] == ["return_opened"]
    assert opened[0][1]["station_id"] == "gushi"
    assert opened[0][1]["escort_station_id"] == "center"


def test_two_persons_for_the_same_province_travel_on_one_escort(network, urls):
    man = identified_person(network, urls, sex="male", province="四川省")
    woman = identified_person(network, urls, sex="female", categories=["dementia"], province="四川")
    elsewhere = identified_person(network, urls, province="贵州省")

    with station_client(network, "center") as center:
        groups = center.get(f"{urls['transfer']}/returns/planning").json()
        sichuan = next(g for g in groups if g["destination_province"] == "四川省")
        assert {man["id"]} <= {r["id"] for r in sichuan["returns"]}
        # "四川" typed without its suffix still goes to Sichuan
        assert woman["escort_station_id"] == "center" and woman["cross_province"] is True

        def refusal(plan) -> tuple[str, str]:
            answer = center.post(f"{urls['transfer']}/escorts", json=plan)
            assert answer.status_code == 422, answer.text
            error = answer.json()["errors"][0]
            return error["field"], error["reason"]

        male_only = [{"name": "赵强", "sex": "male", "role": "escort"}]
        assert refusal(escort_plan(man, woman, staff=male_only))[0] == "staff"
        with_woman = [*male_only, {"name": "陈敏", "sex": "female", "role": "escort"}]
        field, reason = refusal(escort_plan(man, woman, staff=with_woman))
        assert field == "staff" and "medical" in reason
        crew = [*with_woman, {"name": "刘芳", "sex": "female", "role": "medical"}]
        field, reason = refusal(escort_plan(man, elsewhere, staff=crew))
        assert field == "return_ids" and "one destination province" in reason

        key = {"Idempotency-Key": secrets.token_hex(8)}
        plan = escort_plan(man, woman, staff=crew)
        planned = center.post(f"{urls['transfer']}/escorts", json=plan, headers=key)
        again = center.post(f"{urls['transfer']}/escorts", json=plan, headers=key)
        assert planned.status_code == again.status_code == 201, planned.text
        escort = planned.json()
        assert again.json()["id"] == escort["id"]  # a retried plan plans once
        assert set(escort["return_ids"]) == {man["id"], woman["id"]}
        assert escort["destination_province"] == "四川省"
        assert [leg["sequence"] for leg in escort["legs"]] == [1, 2]
        for r in (man, woman):
            assert center.get(f"{urls['transfer']}/returns/{r['id']}").json()["status"] == "planned"

        # a planned return is not planned twice
        assert refusal(escort_plan(man, staff=crew))[0] == "return_ids"

        url = f"{urls['transfer']}/escorts/{escort['id']}"
        early = center.post(f"{url}/legs/1/arrival", json={})
        assert early.status_code == 409  # not departed
        assert center.post(f"{url}/departure", json={}).status_code == 200
        assert center.post(f"{url}/departure", json={}).status_code == 409
        skipped = center.post(f"{url}/legs/2/arrival", json={})
        assert skipped.status_code == 409 and "Leg 1" in skipped.json()["detail"]
        assert center.post(f"{url}/legs/1/arrival", json={}).status_code == 200
        for r in (man, woman):
            returned = center.get(f"{urls['transfer']}/returns/{r['id']}").json()
            assert returned["status"] == "in_transit"

    steps = ["return_opened", "escort_planned", "escort_departed", "escort_leg_completed"]
    for r in (man, woman):
        found = events_for(network, r["id"], lambda found: len(found) >= len(steps))
        assert [kind for kind, _ in found] == steps
        planned_event = found[1][1]
        assert planned_event["escort_id"] == escort["id"] and planned_event["batch_size"] == 2


def test_a_refused_handover_is_escalated_and_tracked_until_resolved(network, urls):
    person = identified_person(network, urls)
    escort = departed(network, urls, person)
    refusal = {"refused_by": "某镇人民政府", "reason": "户籍地称无亲属可接收"}

    with station_client(network, "center") as center, station_client(network, "gushi") as gushi:
        refused = center.post(f"{urls['transfer']}/returns/{person['id']}/refusal", json=refusal)
        assert refused.status_code == 200, refused.text
        assert refused.json()["status"] == "refused"
        # the caring satellite sees it too
        assert gushi.get(f"{urls['transfer']}/returns/{person['id']}").json()["status"] == "refused"
        # its only passenger refused: the escort is over
        trip = center.get(f"{urls['transfer']}/escorts/{escort['id']}").json()
        assert trip["status"] == "completed"
        handover = center.post(
            f"{urls['transfer']}/returns/{person['id']}/handover", json=receipt()
        )
        assert handover.status_code == 409

        escalations = center.get(f"{urls['transfer']}/escalations", params={"status": "open"})
        escalation = next(e for e in escalations.json() if e["return_id"] == person["id"])
        assert escalation["refused_by"] == "某镇人民政府"
        assert escalation["escalated_to"].startswith("上级民政部门")

        # the satellite follows the case but the center, who runs it, resolves it
        answer = {"outcome": "home_area_accepts", "resolution": "省民政厅协调，户籍地同意接收"}
        url = f"{urls['transfer']}/escalations/{escalation['id']}/resolution"
        assert gushi.post(url, json=answer).status_code == 404
        resolved = center.post(url, json=answer)
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["status"] == "resolved"
        assert center.post(url, json=answer).status_code == 409

        back = center.get(f"{urls['transfer']}/returns/{person['id']}").json()
        assert (back["status"], back["escort_id"]) == ("pending", None)
        still_open = center.get(f"{urls['transfer']}/escalations", params={"status": "open"})
        assert escalation["id"] not in {e["id"] for e in still_open.json()}

    found = events_for(network, person["id"], lambda found: len(found) >= 5)
    assert [kind for kind, _ in found] == [
        "return_opened",
        "escort_planned",
        "escort_departed",
        "handover_refused",
        "escalation_resolved",
    ]
    refused_event = found[3][1]
    assert refused_event["escalation_id"] == escalation["id"]
    assert refused_event["reason"] == refusal["reason"]


def test_a_completed_handover_issues_the_notice_and_starts_followup(network, urls):
    person = identified_person(network, urls, categories=["dementia"])
    crew = [
        {"name": "赵强", "sex": "male", "role": "escort"},
        {"name": "刘芳", "sex": "female", "role": "medical"},
    ]
    escort = departed(network, urls, person, staff=crew)
    url = f"{urls['transfer']}/returns/{person['id']}"

    with station_client(network, "center") as center, station_client(network, "gushi") as gushi:
        # a bad receipt is refused whole: nothing half-written
        bad = center.post(f"{url}/handover", json=receipt(signature_png="aGVsbG8gd29ybGQ="))
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "signature_png"
        no_number = center.post(f"{url}/handover", json=receipt(id_document_number=None))
        assert no_number.json()["errors"][0]["field"] == "id_document_number"
        assert center.get(url).json()["status"] == "in_transit"
        assert center.get(f"{url}/notice").status_code == 404
        # only the escorting station records the handover
        assert gushi.post(f"{url}/handover", json=receipt()).status_code == 403

        key = {"Idempotency-Key": secrets.token_hex(8)}
        handed = center.post(f"{url}/handover", json=receipt(), headers=key)
        again = center.post(f"{url}/handover", json=receipt(), headers=key)
        assert handed.status_code == again.status_code == 200, handed.text
        assert handed.json() == again.json()
        assert handed.json()["status"] == "handed_over"
        assert handed.json()["received_by"] == "王秀英"
        trip = center.get(f"{urls['transfer']}/escorts/{escort['id']}").json()
        assert trip["status"] == "completed"

        # the notice: a page to read and print, for both stations
        for staff in (center, gushi):
            notice = staff.get(f"{url}/notice")
            assert notice.status_code == 200
            assert notice.headers["content-type"].startswith("text/html")
        page = notice.text
        assert person["full_name"] in page and "王秀英" in page
        assert "四川省" in page and "认知症" in page

        record = poll(
            lambda: gushi.get(
                f"{urls['followup']}/stabilisations", params={"person_id": person["person_id"]}
            ).json()
        )[0]
        assert len(record["revisits"]) == 6

    found = events_for(network, person["id"], lambda found: len(found) >= 5)
    kinds = [kind for kind, _ in found]
    assert kinds == [
        "return_opened",
        "escort_planned",
        "escort_departed",
        "person_handed_over",
        "return_notice_issued",
    ]  # the retried handover was applied once
    notice_event = found[4][1]
    assert notice_event["addressed_to"].startswith("四川省")
    signatures = query(
        network,
        "transfer",
        "select length(signature_png) from returns where id = $1::uuid",
        person["id"],
    )
    assert signatures[0][0] > 0
