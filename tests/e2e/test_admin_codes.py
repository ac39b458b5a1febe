"""Administrative codes and identity numbers on the real network (issue 22): a code
that names no division is refused wherever it enters, with a 422 naming the
field; a code must lie in the province the request names; a former code is kept
as given and routed by what it is now; an identity number typed with full-width
digits is the same number as typed with ASCII ones."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, timedelta

import pytest
from support import poll, station_client
from test_referral import admit, referrals_of, register_agency
from test_search_identity import admit as admit_unidentified
from test_search_identity import confirmation

from rescue_chassis.problems import PROBLEM_JSON
from rescue_divisions.national_id import national_id_check_character

pytestmark = pytest.mark.e2e

NOWHERE = "519999 is not a current or former administrative division code"


def a_national_id() -> str:
    """A valid number no other test has (a random birthday and sequence)."""
    born = date(1950, 1, 1) + timedelta(days=secrets.randbelow(18_000))
    first17 = f"511324{born:%Y%m%d}{secrets.randbelow(1000):03d}"
    return first17 + national_id_check_character(first17)


def refused(answer, field: str) -> str:
    """The reason of a 422 problem naming ``field``."""
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors] == [field], errors
    return errors[0]["reason"]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("519999", NOWHERE),
        ("510104999", "510104999 is not a current or former administrative division code"),
        ("000000", "000000 is not a current or former administrative division code"),
        ("510000", "510000 is 四川省 (a province): a home needs the code of its county"),
    ],
)
def test_intake_refuses_a_registered_home_that_does_not_exist(network, urls, code, reason):
    with station_client(network) as staff:
        answer = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "male",
                "registered_home_admin_code": code,
            },
        )
    assert refused(answer, "registered_home_admin_code").startswith(reason)


def test_intake_reads_a_full_width_code_as_its_digits(network, urls):
    with station_client(network) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "male",
                "registered_home_admin_code": "４１１５２５",  # 固始县, typed full-width
            },
        )
        assert admitted.status_code == 201, admitted.text
        person = staff.get(f"{urls['intake']}/persons/{admitted.json()['id']}").json()
    assert person["registered_home_admin_code"] == "411525"


def test_search_refuses_a_home_outside_the_province_named(network, urls):
    case = admit_unidentified(network, urls)
    url = f"{urls['search']}/cases/{case['id']}/identity-confirmation"
    with station_client(network, roles=("search_specialist",)) as specialist:
        henan_in_sichuan = specialist.post(
            url, json=confirmation(home_province="四川省", home_admin_code="411525")
        )
        nowhere = specialist.post(url, json=confirmation(home_admin_code="519999"))
        assert specialist.get(f"{urls['search']}/cases/{case['id']}").json()["status"] == "open"
    reason = refused(henan_in_sichuan, "home_admin_code")
    assert reason == "411525 is in 河南省, not in home_province 四川省"
    assert refused(nowhere, "home_admin_code") == NOWHERE


def test_an_identity_number_typed_full_width_is_found_by_its_digits(network, urls):
    number = a_national_id()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number.lower())  # ５１１３…ｘ
    case = admit_unidentified(network, urls)
    with station_client(network, roles=("search_specialist",)) as specialist:
        confirmed = specialist.post(
            f"{urls['search']}/cases/{case['id']}/identity-confirmation",
            json=confirmation(national_id_number=full_width),
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["national_id_number"] == number
        lookup = f"{urls['search']}/cases/identity-lookup"
        for typed in (number, full_width, f"{number[:6]} {number[6:14]} {number[14:]}"):
            found = specialist.post(lookup, json={"national_id_number": typed})
            assert found.status_code == 200, found.text
            assert [c["id"] for c in found.json()] == [case["id"]], typed


def test_transfer_refuses_a_return_to_a_place_that_does_not_exist(network, urls):
    opening = {
        "person_id": str(uuid.uuid4()),
        "full_name": "李建国",
        "home_province": "四川省",
        "home_address": "四川省某县",
    }
    with station_client(network) as staff:
        nowhere = staff.post(
            f"{urls['transfer']}/returns", json={**opening, "home_admin_code": "519999"}
        )
        henan = staff.post(
            f"{urls['transfer']}/returns", json={**opening, "home_admin_code": "411525"}
        )
    assert refused(nowhere, "home_admin_code") == NOWHERE
    assert refused(henan, "home_admin_code") == "411525 is in 河南省, not in home_province 四川省"


def test_the_partner_directory_takes_current_jurisdictions_only(network, urls):
    entry = {"name": "信阳市妇联", "partner_type": "womens_federation", "contacts": []}
    with station_client(network, "center", ["admin"]) as admin:
        put = admin.put(
            f"{urls['referral']}/partners/womens-federation-{uuid.uuid4().hex[:6]}",
            json={**entry, "jurisdiction_code": "411500"},
        )
    reason = refused(put, "jurisdiction_code")
    assert reason == "411500 is 信阳市 (a city): the prefix its divisions share is 4115"


def test_a_former_home_code_is_kept_and_referred_to_the_agency_of_what_it_is_now(network, urls):
    # 郾城县 (411123) has been 漯河市郾城区 (411103) since 2004
    agency_id = register_agency(network, urls, "minor_protection", "411103")
    person_id = admit(
        network,
        urls,
        sex="male",
        estimated_age=11,
        categories=["minor"],
        registered_home_admin_code="411123",
    )
    referrals = referrals_of(
        network,
        urls,
        person_id,
        until=lambda rs: [
            r for r in rs if r["partner_type"] == "minor_protection" and r["sent_at"]
        ],
    )
    minor = next(r for r in referrals if r["partner_type"] == "minor_protection")
    assert minor["agency_id"] == agency_id
    with station_client(network) as staff:
        person = poll(lambda: staff.get(f"{urls['intake']}/persons/{person_id}").json())
    assert person["registered_home_admin_code"] == "411123"  # as given
