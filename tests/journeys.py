"""Journeys through the running network that several end-to-end tests share:
a person admitted and identified, an escort planned and on its way, a handover."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

from support import poll, station_client, topic_events

from rescue_localnet.demo import signature_png

TRANSFER_EVENTS = "rescue.transfer.events"


def identified_person(
    network,
    urls,
    *,
    sex="male",
    categories=(),
    province="四川省",
    station="gushi",
    full_name: str | None = None,
    home_admin_code: str | None = None,
) -> dict:
    """Admit an unidentified person at ``station``, confirm who they are through
    search, and return the return transfer opened for them."""
    with station_client(network, station) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": sex,
                "estimated_age": 61,
                "categories": list(categories),
            },
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        case = poll(
            lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]
    # confirming an identity needs a search specialist (or a lead, or the center's
    # coordinator), on evidence
    with station_client(network, station, roles=("search_specialist",)) as specialist:
        confirmed = specialist.post(
            f"{urls['search']}/cases/{case['id']}/identity-confirmation",
            json={
                "evidence": [{"kind": "police_check", "reference": "核查-测试"}],
                "full_name": full_name or f"测试{secrets.token_hex(2)}",
                "home_province": province,
                "home_address": f"{province}某县某镇",
                "home_admin_code": home_admin_code,
            },
        )
        assert confirmed.status_code == 200, confirmed.text
    with station_client(network, station) as staff:
        return poll(
            lambda: staff.get(f"{urls['transfer']}/returns", params={"person_id": person_id}).json()
        )[0]


def escort_plan(*returns: dict, staff=None, start: datetime | None = None) -> dict:
    start = start or datetime.now(UTC) + timedelta(hours=2)
    return {
        "return_ids": [r["id"] for r in returns],
        "staff": staff or [{"name": "赵强", "sex": "male", "role": "escort"}],
        "transport_mode": "train",
        "tickets": [f"K{n} 信阳→成都" for n in range(len(returns))],
        "legs": [
            {
                "origin": "信阳站",
                "destination": "成都东站",
                "mode": "train",
                "planned_departure_at": start.isoformat(),
            },
            {
                "origin": "成都东站",
                "destination": "县民政局",
                "mode": "station_vehicle",
                "planned_departure_at": (start + timedelta(hours=18)).isoformat(),
            },
        ],
    }


def receipt(**overrides) -> dict:
    return {
        "receiver_kind": "family",
        "received_by": "王秀英",
        "relation": "wife",
        "id_document_type": "resident_id_card",
        "id_document_number": "511324196501010027",  # a valid GB 11643 number
        "place": "四川省某县某镇",
        "signature_png": signature_png(),
        **overrides,
    }


def events_for(
    network, return_id: str, until, topic: str = TRANSFER_EVENTS, field="return_id"
) -> list[tuple[str, dict]]:
    """(type, payload) of transfer's events about one return, read from the broker."""

    def mine(records):
        found = []
        for record in records:
            try:
                payload = json.loads(record.value)
            except (TypeError, ValueError):
                continue  # a poison record another test put on the topic
            if isinstance(payload, dict) and payload.get(field) == return_id:
                found.append((dict(record.headers)["ce_type"].decode(), payload))
        return found

    return mine(topic_events(network, topic, lambda records: until(mine(records))))


def departed(network, urls, *returns: dict, staff=None) -> dict:
    with station_client(network, "center") as center:
        planned = center.post(
            f"{urls['transfer']}/escorts", json=escort_plan(*returns, staff=staff)
        )
        assert planned.status_code == 201, planned.text
        escort = planned.json()
        left = center.post(f"{urls['transfer']}/escorts/{escort['id']}/departure", json={})
        assert left.status_code == 200, left.text
        return left.json()


MEDICAL_CREW = [
    {"name": "赵强", "sex": "male", "role": "escort"},
    {"name": "陈敏", "sex": "female", "role": "escort"},
    {"name": "刘芳", "sex": "female", "role": "medical"},
]


def handed_over(network, urls, **person) -> dict:
    """A person admitted at a satellite, identified, escorted home by the center with
    a crew fit for anyone, and handed over to the family. Returns the return."""
    returned = identified_person(network, urls, **person)
    departed(network, urls, returned, staff=MEDICAL_CREW)
    with station_client(network, "center") as center:
        handover = center.post(
            f"{urls['transfer']}/returns/{returned['id']}/handover", json=receipt()
        )
        assert handover.status_code == 200, handover.text
    return handover.json()
