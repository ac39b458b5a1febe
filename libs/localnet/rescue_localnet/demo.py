"""The walkthrough: one person's path through all five services, over their APIs.

A satellite (gushi) admits an unidentified man → search opens a case with its
24-hour notice deadline → staff confirm he is from Sichuan → transfer opens a
cross-province return run by the center → the center plans an escort by train,
departs and hands him over to his daughter with a signed receipt → a written
notice goes to his home area and followup opens stabilisation with six
revisits over a year.
A woman admitted as a domestic-violence victim is referred to the women's
federation.
"""

from __future__ import annotations

import base64
import html
import re
import struct
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


@dataclass
class DemoResult:
    person_id: str
    case: dict[str, Any]
    identified_case: dict[str, Any]
    planned_return: dict[str, Any]
    escort: dict[str, Any]
    handed_over: dict[str, Any]
    notice_html: str
    stabilisation: dict[str, Any]
    dv_person_id: str
    dv_referrals: list[dict[str, Any]]
    correlation_id: str


def wait_for(fetch: Callable[[], list[dict]], what: str, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fetch()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"no {what} after {timeout}s")


def signature_png(width: int = 96, height: int = 32) -> str:
    """A signature as a tablet captures it: a small black-on-white PNG, base64."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            # a wavy stroke across the pad
            ink = abs(y - (height // 2 + int(6 * ((x % 24) - 12) / 12))) <= 1
            row += b"\x00" if ink else b"\xff"
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(png).decode()


def run_demo(
    urls: dict[str, str],
    token: Callable[[str, list[str]], str],
    say: Callable[[str], None] = print,
    extra_headers: dict[str, str] | None = None,
) -> DemoResult:
    """``extra_headers`` lets a caller trace the walkthrough as one operation
    (a station app's own span, sent as ``traceparent`` on every call)."""
    correlation_id = str(uuid.uuid4())

    def client(station: str, roles: list[str] | None = None) -> httpx.Client:
        return httpx.Client(
            headers={
                "Authorization": f"Bearer {token(station, roles or ['station_staff'])}",
                "X-Correlation-ID": correlation_id,
                **(extra_headers or {}),
            },
            timeout=10,
        )

    gushi, center = client("gushi"), client("center")
    admin = httpx.Client(
        headers={"Authorization": f"Bearer {token('center', ['admin'])}"}, timeout=10
    )
    now = datetime.now(UTC)

    say("1. gushi station admits an unidentified man brought in by a police patrol")
    admitted = gushi.post(
        f"{urls['intake']}/persons",
        headers={"Idempotency-Key": f"demo-{correlation_id}"},
        json={
            "arrival_route": "street_patrol",
            "arrived_at": (now - timedelta(hours=1)).isoformat(),
            "sex": "male",
            "estimated_age": 58,
            "stated_names": ["老李"],
            "stated_places": ["sichuan", "南充"],
            "dialect": "四川话",
            "categories": ["elderly"],
            "consent_given": True,
            "handover": {
                "escorting_unit": "固始县公安局城关派出所",
                "officer": "王警官",
                "reference_number": "GS-2026-1123-07",
                "found_place": "固始县汽车站",
                "found_at": (now - timedelta(hours=2)).isoformat(),
            },
        },
    )
    admitted.raise_for_status()
    person_id = admitted.json()["id"]
    say(f"   person {person_id} admitted")

    case = wait_for(
        lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json(),
        "search case",
    )[0]
    say(f"2. search case {case['id']} opened; family-search notice due {case['notice_due_at']}")

    say("3. staff confirm his identity: 李建国 from 四川省南充市")
    specialist = client("gushi", ["search_specialist"])  # confirming takes the role
    identified = specialist.post(
        f"{urls['search']}/cases/{case['id']}/identity-confirmation",
        json={
            "evidence": [{"kind": "police_check", "reference": "固始县公安局 核查 2026-1123-07"}],
            "full_name": "李建国",
            "home_province": "四川省",
            "home_address": "四川省南充市仪陇县",
            "home_admin_code": "511324",
        },
    )
    identified.raise_for_status()

    planned = wait_for(
        lambda: center.get(f"{urls['transfer']}/returns", params={"person_id": person_id}).json(),
        "return",
    )[0]
    say(
        f"4. return {planned['id']} opened; cross-province={planned['cross_province']}, "
        f"escorted by {planned['escort_station_id']}"
    )

    say("5. the center plans an escort by train to Sichuan and sets off")
    departure = now + timedelta(hours=1)
    escort = center.post(
        f"{urls['transfer']}/escorts",
        headers={"Idempotency-Key": f"demo-escort-{correlation_id}"},
        json={
            "return_ids": [planned["id"]],
            "staff": [
                {"name": "陈敏", "sex": "female", "role": "escort"},
                {"name": "赵强", "sex": "male", "role": "escort"},
            ],
            "transport_mode": "train",
            "tickets": ["K1234 信阳→南充 05车12号"],
            "legs": [
                {
                    "origin": "信阳站",
                    "destination": "南充站",
                    "mode": "train",
                    "planned_departure_at": departure.isoformat(),
                    "planned_arrival_at": (departure + timedelta(hours=20)).isoformat(),
                },
                {
                    "origin": "南充站",
                    "destination": "仪陇县马鞍镇",
                    "mode": "station_vehicle",
                    "planned_departure_at": (departure + timedelta(hours=21)).isoformat(),
                },
            ],
        },
    )
    escort.raise_for_status()
    escort_id = escort.json()["id"]
    center.post(f"{urls['transfer']}/escorts/{escort_id}/departure", json={}).raise_for_status()
    for sequence in (1, 2):
        center.post(
            f"{urls['transfer']}/escorts/{escort_id}/legs/{sequence}/arrival", json={}
        ).raise_for_status()

    say("6. the escort hands him over to his daughter, who signs the receipt")
    handed = center.post(
        f"{urls['transfer']}/returns/{planned['id']}/handover",
        headers={"Idempotency-Key": f"demo-handover-{correlation_id}"},
        json={
            "receiver_kind": "family",
            "received_by": "李红",
            "relation": "daughter",
            "id_document_type": "resident_id_card",
            "id_document_number": "511324199001010024",
            "place": "四川省南充市仪陇县马鞍镇",
            "signature_png": signature_png(),
        },
    )
    handed.raise_for_status()
    notice = center.get(f"{urls['transfer']}/returns/{planned['id']}/notice")
    notice.raise_for_status()
    say("   written notice of the return issued to his home area's civil-affairs department")

    record = wait_for(
        lambda: gushi.get(
            f"{urls['followup']}/stabilisations", params={"person_id": person_id}
        ).json(),
        "stabilisation record",
    )[0]
    dues = ", ".join(r["due_on"] for r in record["revisits"])
    say(f"7. stabilisation opened with {len(record['revisits'])} revisits: {dues}")

    say("8. a woman fleeing domestic violence asks gushi station for help")
    admin.put(
        f"{urls['referral']}/partners/xinyang-pingqiao-womens-federation",
        json={
            "name": "信阳市平桥区妇女联合会",
            "partner_type": "womens_federation",
            "jurisdiction_code": "411503",
            "contacts": [{"name": "权益部", "phone": "0376-0000000"}],
        },
    ).raise_for_status()
    dv = gushi.post(
        f"{urls['intake']}/persons",
        json={
            "arrival_route": "own_request",
            "sex": "female",
            "estimated_age": 34,
            "full_name": "张某",
            "registered_home_admin_code": "411503",
            "categories": ["domestic_violence_victim"],
        },
    )
    dv.raise_for_status()
    dv_id = dv.json()["id"]
    referrals = wait_for(
        lambda: gushi.get(f"{urls['referral']}/referrals", params={"person_id": dv_id}).json(),
        "referral",
    )
    referral = referrals[0]
    say(
        f"   referral to {referral['partner_type']} ({referral['agency_id']}) opened: "
        f"{referral['status']}"
    )
    gushi.post(
        f"{urls['referral']}/referrals/{referral['id']}/consent", json={"decision": "given"}
    ).raise_for_status()
    say("   she agrees; the referral is sent on the women's federation's own topic")
    return DemoResult(
        person_id=person_id,
        case=case,
        identified_case=identified.json(),
        planned_return=planned,
        escort=center.get(f"{urls['transfer']}/escorts/{escort_id}").json(),
        handed_over=handed.json(),
        notice_html=notice.text,
        stabilisation=record,
        dv_person_id=dv_id,
        dv_referrals=referrals,
        correlation_id=correlation_id,
    )


def console_sign_in(
    console_url: str, station: str = "gushi", roles: tuple[str, ...] = ("station_staff",)
) -> tuple[httpx.Client, dict[str, str]]:
    """Sign in to the console through the local issuer, as a browser does: the
    console's redirect, the issuer's page (station, roles), the callback. Returns
    the client and the console's cookies (kept by hand: they are Secure, and a
    browser sends those to http://127.0.0.1, httpx does not)."""
    http = httpx.Client(timeout=10, follow_redirects=False)
    cookies: dict[str, str] = {}

    def keep(answer: httpx.Response) -> httpx.Response:
        for line in answer.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0].strip('"')
            if value:
                cookies[name.strip()] = value
            else:
                cookies.pop(name.strip(), None)  # deleted
        return answer

    start = keep(http.get(f"{console_url}/signin"))
    if start.status_code != 303:
        raise RuntimeError(f"the console's sign-in did not redirect: {start.status_code}")
    authorize = start.headers["location"]
    page = http.get(authorize)
    page.raise_for_status()
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    form = {name: html.unescape(value) for name, value in form.items()}
    chosen = http.post(
        authorize.split("?", 1)[0],
        data={**form, "station_id": station, "roles": list(roles), "subject": "演示值班员"},
    )
    if chosen.status_code != 303:
        raise RuntimeError(f"the issuer refused the sign-in: {chosen.status_code}")
    back = keep(http.get(chosen.headers["location"], headers=cookie_header(cookies)))
    if back.status_code != 200 or "console_session" not in cookies:
        raise RuntimeError(f"the console refused the sign-in: {back.status_code} {back.text[:300]}")
    return http, cookies


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def drive_console(
    console_url: str, person_id: str | None = None, say: Callable[[str], None] = print
) -> str:
    """The station console, signed in through the local issuer: gushi's board, with
    ``person_id`` (admitted at gushi, still there) on it."""
    say(f"\nthe station console: {console_url}")
    say("9. gushi's staff sign in through the local issuer (station 固始 · 站内工作人员)")
    http, cookies = console_sign_in(console_url)
    try:
        board = http.get(f"{console_url}/board", headers=cookie_header(cookies))
    finally:
        http.close()
    if board.status_code != 200 or "值班看板" not in board.text:
        raise RuntimeError(f"the console's board did not open: {board.status_code}")
    if person_id is not None and f"/persons/{person_id}" not in board.text:
        raise RuntimeError(f"gushi's board does not list person {person_id}")
    say(f"   the board ({console_url}/board) lists the woman in the station;")
    say("   in a browser, sign in the same way: pick the station and roles on the issuer's page")
    return board.text
