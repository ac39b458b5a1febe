"""The authorisation matrix over all five services (issue 9): for every role and
every business endpoint, the roles the endpoint allows get through its policy and
every other role gets 403 — before any record is looked up, so a refusal says
nothing about whether the record exists. Then the record-level rules: a satellite
cannot read another satellite's person, a partner agency cannot read what was not
sent to it.

The policies are read from the services' own routers (the same objects the
running processes serve), so a new endpoint joins the matrix by itself; the app
factory refuses to start a service with an endpoint that declares no roles."""

from __future__ import annotations

import importlib
import uuid

import httpx
import pytest
from support import poll, station_client

from rescue_chassis.access import PARTNER_TYPES, business_routes
from rescue_chassis.auth import Role

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "search", "transfer", "referral", "followup")
# Every role a token can carry; partners carry "partner" and their type.
ROLES = [r for r in Role if r is not Role.PARTNER]


def caller(network, role: Role) -> httpx.Client:
    if role in PARTNER_TYPES:
        return station_client(network, f"{role.value.replace('_', '-')}-agency", ["partner", role])
    return station_client(network, "center", [role])


def concrete(path: str) -> str:
    """A route's path with made-up parameters of the right shape."""
    parts = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name == "sequence":
                part = "1"
            elif name in ("code", "jurisdiction_code"):
                part = "411525"
            elif name == "agency_id":
                part = "police-411525-test"
            else:
                part = str(uuid.uuid4())
        parts.append(part)
    return "/".join(parts)


def endpoints() -> list[tuple[str, str, str, frozenset[Role]]]:
    found = []
    for name in SERVICES:
        service = importlib.import_module(f"{name}.app").service
        for route in business_routes(service.routers):
            for method in sorted(route.methods - {"HEAD"}):
                found.append((name, method, route.path, route.roles))
    return found


ENDPOINTS = endpoints()


def refused_by_policy(answer: httpx.Response) -> bool:
    return answer.status_code == 403 and "needs one of the roles" in answer.text


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_each_role_reaches_exactly_the_endpoints_its_work_needs(network, urls, role):
    assert len(ENDPOINTS) > 100  # every service's endpoints, not a sample
    wrong = []
    with caller(network, role) as client:
        for service, method, path, allowed in ENDPOINTS:
            url = f"{urls[service]}{concrete(path)}"
            body = {} if method in ("POST", "PUT", "PATCH") else None
            answer = client.request(method, url, json=body, timeout=30)
            if answer.status_code >= 500:
                wrong.append(f"{method} {service}{path}: {answer.status_code}")
            elif role in allowed and (refused_by_policy(answer) or answer.status_code == 401):
                wrong.append(f"{method} {service}{path}: allowed for {role}, got refused")
            elif role not in allowed:
                if not refused_by_policy(answer):
                    wrong.append(f"{method} {service}{path}: {answer.status_code}, wanted 403")
                elif answer.headers["content-type"] != "application/problem+json":
                    wrong.append(f"{method} {service}{path}: 403 without a problem body")
    assert wrong == []


def test_partners_and_auditors_see_no_person_data(network, urls):
    """Checked above route by route; here in plain words, on a real person."""
    with station_client(network, "gushi") as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "female",
                "categories": ["domestic_violence_victim"],
            },
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
    for role in (*PARTNER_TYPES, Role.AUDITOR, Role.OPS, Role.ADMIN):
        with caller(network, role) as outsider:
            real = outsider.get(f"{urls['intake']}/persons/{person_id}")
            made_up = outsider.get(f"{urls['intake']}/persons/{uuid.uuid4()}")
            # the same refusal whether or not the person exists
            assert real.status_code == made_up.status_code == 403
            assert real.json()["detail"] == made_up.json()["detail"]


def test_a_satellite_cannot_read_another_satellites_person(network, urls):
    with station_client(network, "gushi") as gushi:
        person_id = gushi.post(
            f"{urls['intake']}/persons", json={"arrival_route": "own_request", "sex": "male"}
        ).json()["id"]
        case = poll(
            lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]
    with station_client(network, "xixian", ["station_lead"]) as xixian:
        for url, record in (
            (f"{urls['intake']}/persons/{person_id}", person_id),
            (f"{urls['intake']}/persons/{person_id}/timeline", person_id),
            (f"{urls['search']}/cases/{case['id']}", case["id"]),
        ):
            theirs = xixian.get(url)
            nobody = xixian.get(url.replace(record, str(uuid.uuid4())))
            assert theirs.status_code == 404, url
            assert theirs.json()["detail"] == nobody.json()["detail"]  # no existence leak
        assert person_id not in {p["id"] for p in xixian.get(f"{urls['intake']}/persons").json()}
    with station_client(network, "center") as center:  # the center sees the network
        assert center.get(f"{urls['intake']}/persons/{person_id}").status_code == 200


def test_a_partner_reads_only_what_was_sent_to_its_agency(network, urls):
    """A women's federation sees the referrals addressed to it; another federation,
    or the same agency's token with another partner type, does not."""
    home = "511324"
    agencies = {}
    with station_client(network, "center", ["admin"]) as center:
        for suffix in ("a", "b"):
            agency_id = f"womens-federation-{home}-{suffix}{uuid.uuid4().hex[:4]}"
            registered = center.put(
                f"{urls['referral']}/partners/{agency_id}",
                json={
                    "name": f"仪陇县妇联 {suffix}",
                    "partner_type": "womens_federation",
                    "jurisdiction_code": home if suffix == "a" else "5113",
                    "contacts": [{"name": "值班", "phone": "0817-7222222"}],
                },
            )
            assert registered.status_code == 200, registered.text
            agencies[suffix] = agency_id
    with station_client(network, "gushi") as staff:
        person_id = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "female",
                "estimated_age": 30,
                "categories": ["domestic_violence_victim"],
                "full_name": "王某",
                "registered_home_admin_code": home,
            },
        ).json()["id"]
        referral = poll(
            lambda: [
                r
                for r in staff.get(
                    f"{urls['referral']}/referrals", params={"person_id": person_id}
                ).json()
                if r["partner_type"] == "womens_federation"
            ]
        )[0]
        # she agrees to the referral: only then is it sent to the federation
        consent = staff.post(
            f"{urls['referral']}/referrals/{referral['id']}/consent", json={"decision": "given"}
        )
        assert consent.status_code == 200, consent.text
        referral = consent.json()
    assert referral["agency_id"] == agencies["a"]  # the county's federation, not the city's
    feed = f"{urls['referral']}/partner/referrals"
    answer = f"{feed}/{referral['id']}/answers"
    with station_client(network, agencies["a"], ["partner", "womens_federation"]) as federation:
        assert referral["id"] in {r["feed"]["referral_id"] for r in federation.get(feed).json()}
        # a person's record at intake is not the federation's to read
        assert federation.get(f"{urls['intake']}/persons/{person_id}").status_code == 403
    with station_client(network, agencies["b"], ["partner", "womens_federation"]) as other:
        assert referral["id"] not in {r["feed"]["referral_id"] for r in other.get(feed).json()}
        # nor can it act on it: the same answer as for a referral that does not exist
        theirs = other.post(answer, json={"answer": "acknowledged"})
        nobody = other.post(
            answer.replace(referral["id"], str(uuid.uuid4())), json={"answer": "acknowledged"}
        )
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.json()["detail"] == nobody.json()["detail"]
    # the right agency id with the wrong partner type: refused
    with station_client(network, agencies["a"], ["partner", "police"]) as impostor:
        assert impostor.get(feed).status_code == 403


def test_sensitive_fields_show_in_full_only_to_the_roles_that_need_them(network, urls):
    from test_search_identity import confirmation, valid_national_id

    with station_client(network, "gushi") as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "female",
                "estimated_age": 30,
                "categories": ["domestic_violence_victim", "pregnant"],
            },
        )
        assert admitted.status_code == 201, admitted.text
        person = admitted.json()
        # the staff see that she is protected, not why
        assert person["protected"] is True
        assert person["categories"] == ["pregnant"]
        assert "domestic_violence" not in staff.get(f"{urls['intake']}/persons/{person['id']}").text
        case = poll(
            lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person["id"]}).json()
        )[0]
    with station_client(network, "gushi", ["station_lead"]) as lead:
        seen = lead.get(f"{urls['intake']}/persons/{person['id']}").json()
        assert "domestic_violence_victim" in seen["categories"] and seen["protected"] is True

    number = valid_national_id()
    url = f"{urls['search']}/cases/{case['id']}/identity-confirmation"
    with station_client(network, "gushi", ["search_specialist"]) as specialist:
        confirmed = specialist.post(url, json=confirmation(national_id_number=number))
        assert confirmed.status_code == 200, confirmed.text
        assert specialist.get(url).json()["national_id_number"] == number
    with station_client(network, "gushi") as staff:
        masked = staff.get(url).json()["national_id_number"]
        assert masked == number[:6] + "*" * 11 + number[-1]
