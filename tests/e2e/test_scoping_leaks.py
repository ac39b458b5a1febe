"""What a station may learn about another, and where partners' URLs may point, on
the real network (issue 22): a conflict names another station's person only to
those who see the person; a token must name a station of the network; a refusal
says the same whether another station's record exists or not; webhooks go to
public HTTPS addresses unless an operator allows a network, checked when stored
and again when delivered."""

from __future__ import annotations

import secrets
import uuid

import pytest
from journeys import escort_plan, identified_person
from support import WebhookReceiver, poll, query, station_client
from test_authorisation import ENDPOINTS, concrete
from test_referral import admit, new_county, register_agency

from rescue_chassis.access import STATION_ROLES

pytestmark = pytest.mark.e2e


def test_a_readmission_conflict_names_the_station_only_to_those_who_see_the_person(network, urls):
    person_id = admit(network, urls, station="gushi", sex="male")
    stays = f"{urls['intake']}/persons/{person_id}/stays"
    with station_client(network, "xixian") as xixian:
        busy = xixian.post(stays, json={"arrival_route": "own_request"})
    assert busy.status_code == 409, busy.text
    assert "gushi" not in busy.text and "another station" in busy.json()["detail"]
    for station in ("gushi", "center"):  # the person's own station, the center
        with station_client(network, station) as seer:
            told = seer.post(stays, json={"arrival_route": "own_request"})
        assert told.status_code == 409 and "at gushi" in told.json()["detail"], told.text


def test_a_token_for_a_station_not_of_the_network_is_refused_by_every_endpoint(network, urls):
    assert len(ENDPOINTS) > 100
    wrong = []
    with station_client(network, "no-such-station", sorted(STATION_ROLES)) as stranger:
        for service, method, path, _ in ENDPOINTS:
            body = {} if method in ("POST", "PUT", "PATCH") else None
            answer = stranger.request(method, f"{urls[service]}{concrete(path)}", json=body)
            if answer.status_code != 403 or answer.json().get("title") != "Unknown station":
                wrong.append(f"{method} {service}{path}: {answer.status_code}")
        # e.g. the lists, which answered 200 []
        assert stranger.get(f"{urls['intake']}/persons").status_code == 403
    assert wrong == []
    # partner tokens name an agency, ops and admins work network-wide: not refused
    agency_id = register_agency(network, urls, "police", new_county())
    with station_client(network, agency_id, ["partner", "police"]) as police:
        assert police.get(f"{urls['referral']}/partner/referrals").status_code == 200
        answer = f"{urls['search']}/police/checks/{uuid.uuid4()}/answer"
        assert police.post(answer, json={}).status_code in (404, 422)
    with station_client(network, "on-call", ["admin"]) as admin:
        assert admin.get(f"{urls['referral']}/partners").status_code == 200


def test_a_station_view_of_a_station_not_of_the_network_is_refused(network, urls):
    with station_client(network, "center") as center:
        for view in ("persons", "outsourced-care"):
            answer = center.get(
                f"{urls['intake']}/station/{view}", params={"station_id": "no-such-station"}
            )
            assert answer.status_code == 422, (view, answer.text)
            assert answer.json()["errors"][0]["field"] == "station_id"


def test_a_staff_referral_for_another_stations_person_says_what_a_made_up_id_says(network, urls):
    person_id = admit(network, urls, station="gushi", sex="male")
    base = f"{urls['referral']}/referrals"
    with station_client(network, "gushi") as gushi:
        # once referral knows the person, its own station refers it
        poll(lambda: gushi.post(base, json={"person_id": person_id, "reason": "job"}).is_success)
    with station_client(network, "xixian") as xixian:
        theirs = xixian.post(base, json={"person_id": person_id, "reason": "housing"})
        nobody = xixian.post(base, json={"person_id": str(uuid.uuid4()), "reason": "housing"})
    assert theirs.status_code == nobody.status_code == 422, theirs.text
    assert theirs.json()["errors"] == nobody.json()["errors"]


def test_planning_an_escort_with_another_stations_return_says_what_a_made_up_id_says(network, urls):
    local = identified_person(network, urls, station="gushi", province="河南省")
    assert local["escort_station_id"] == "gushi"
    made_up = {"id": str(uuid.uuid4())}
    with station_client(network, "xixian") as xixian:
        theirs = xixian.post(f"{urls['transfer']}/escorts", json=escort_plan(local))
        nobody = xixian.post(f"{urls['transfer']}/escorts", json=escort_plan(made_up))
    assert theirs.status_code == nobody.status_code == 422, theirs.text
    assert "gushi" not in theirs.text
    reasons = [r.json()["errors"][0]["reason"] for r in (theirs, nobody)]
    assert reasons == [f"no such return: {local['id']}", f"no such return: {made_up['id']}"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::ffff:169.254.169.254]/latest/meta-data/", "link-local"),
        ("https://10.0.0.8/rescue-referrals", "private"),
        ("https://192.168.1.20:8443/rescue-referrals", "private"),
        ("https://100.64.0.1/rescue-referrals", "not a public address"),
    ],
)
def test_a_webhook_inside_the_network_is_refused_when_registered(network, urls, url, why):
    agency_id = f"police-{new_county()}-{secrets.token_hex(2)}"
    with station_client(network, "center", ["admin"]) as admin:
        put = admin.put(
            f"{urls['referral']}/partners/{agency_id}",
            json={
                "name": "某县公安局",
                "partner_type": "police",
                "jurisdiction_code": "411525",
                "webhook_url": url,
                "webhook_secret": secrets.token_hex(24),
            },
        )
        assert put.status_code == 422, put.text
        (error,) = put.json()["errors"]
        assert error["field"] == "webhook_url" and why in error["reason"]
        assert "REFERRAL_WEBHOOK_ALLOWED_NETWORKS" in error["reason"]
        assert admin.get(f"{urls['referral']}/partners").json()  # the directory still answers
        assert agency_id not in {a["id"] for a in admin.get(f"{urls['referral']}/partners").json()}


def test_a_webhook_stored_before_the_rules_is_not_called_inside_the_network(network, urls):
    """A row that points at the metadata service (stored before registration checked,
    or under other settings): the delivery refuses it and connects nowhere."""
    receiver = WebhookReceiver()
    receiver.start()
    try:
        home = new_county()
        agency_id = register_agency(
            network,
            urls,
            "minor_protection",
            home,
            webhook_url=receiver.url,  # loopback: allowed on the local network
            webhook_secret=secrets.token_hex(24),
        )
        query(
            network,
            "referral",
            "update agencies set webhook_url = $1 where id = $2",
            "http://169.254.169.254/latest/meta-data/",
            agency_id,
        )
        admit(
            network,
            urls,
            sex="female",
            estimated_age=12,
            categories=["minor"],
            registered_home_admin_code=home,
        )
        (row,) = poll(
            lambda: query(
                network,
                "referral",
                "select webhook_status as status, webhook_last_error as last_error "
                "from partner_deliveries where agency_id = $1 "
                "and webhook_last_error is not null",
                agency_id,
            ),
            timeout=30,
        )
    finally:
        receiver.stop()
    assert row["status"] == "pending"
    assert "refused" in row["last_error"] and "link-local" in row["last_error"]
    assert receiver.requests == []
