"""The receiver's signature read back (issue 27): transfer's query answers the stored
PNG within the caller's scope, and the console serves it from its own origin with
the user's token (transfer stood in by a transport)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_chassis.auth import Principal
from rescue_chassis.refusals import NotFound
from rescue_chassis.testing import FakeUnitOfWork
from rescue_console.app import create_app
from rescue_console.settings import ConsoleSettings
from rescue_localnet.demo import signature_png
from transfer import queries
from transfer.tables import Return

RETURN_ID = "5a000000-0000-4000-8000-000000000001"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def worker(station_id: str) -> Principal:
    return Principal(
        subject=f"{station_id}-staff", station_id=station_id, roles=frozenset({"station_staff"})
    )


def a_return(**values) -> Return:
    values = {"status": "handed_over", **values}
    return Return(
        id=uuid.UUID(RETURN_ID),
        person_id=uuid.uuid4(),
        station_id="gushi",
        escort_station_id="center",
        cross_province=True,
        full_name="李建国",
        destination_province="四川省",
        home_address="四川省南充市仪陇县",
        opened_at=datetime.now(UTC) - timedelta(days=3),
        opened_by="identity_confirmed",
        **values,
    )


async def test_transfer_answers_the_stored_signature_to_the_stations_of_the_return():
    import base64

    drawn = base64.b64decode(signature_png())
    handed = a_return(signature_png=drawn, received_by="王秀英")
    for station in ("gushi", "center"):  # the caring and the escorting station
        uow = FakeUnitOfWork(actor=worker(station), rows=[handed])
        assert await queries.signature_png(uow, handed.id) == drawn


async def test_no_signature_before_the_handover_nor_outside_the_scope():
    waiting = a_return(status="in_transit")
    with pytest.raises(NotFound) as none_yet:
        await queries.signature_png(
            FakeUnitOfWork(actor=worker("gushi"), rows=[waiting]), waiting.id
        )
    assert none_yet.value.what == "signature"
    signed = a_return(signature_png=PNG)
    with pytest.raises(NotFound) as elsewhere:
        await queries.signature_png(
            FakeUnitOfWork(actor=worker("xixian"), rows=[signed]), signed.id
        )
    assert elsewhere.value.what == "return"


# ---- the console ----------------------------------------------------------------------


class FakeTransfer:
    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.signature = httpx.Response(200, content=PNG, headers={"content-type": "image/png"})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if request.url.path == f"/returns/{RETURN_ID}/signature":
            return self.signature
        if request.url.path == f"/returns/{RETURN_ID}":
            return httpx.Response(200, json=RETURNED)
        return httpx.Response(200, json=[])


RETURNED = {
    "id": RETURN_ID,
    "person_id": "7f1c2d4e-0000-4000-8000-000000000001",
    "station_id": "gushi",
    "escort_station_id": "center",
    "cross_province": True,
    "status": "handed_over",
    "full_name": "李建国",
    "destination_province": "四川省",
    "home_address": "四川省南充市仪陇县",
    "home_admin_code": None,
    "fit_to_travel": True,
    "medical_escort_required": False,
    "fitness_note": None,
    "escort_id": None,
    "handed_over_at": "2026-12-07T08:00:00+00:00",
    "handover_place": "马鞍镇",
    "receiver_kind": "family",
    "received_by": "王秀英",
    "relation": "母亲",
}


@pytest.fixture
def transfer():
    return FakeTransfer()


@pytest.fixture
def client(transfer):
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    settings = ConsoleSettings(
        **urls, dev_jwt_secret="console-unit-secret-" + "k" * 30, cookie_secure=False
    )
    with TestClient(
        create_app(settings, transport=httpx.MockTransport(transfer)),
        base_url="http://console.test",
    ) as client:
        page = client.get("/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        client.post(
            "/signin",
            data={"csrf": csrf, "station_id": "center", "roles": "station_staff", "subject": "张"},
        )
        yield client


def test_the_return_page_shows_the_signature_from_the_consoles_own_origin(client, transfer):
    shown = client.get(f"/returns/{RETURN_ID}")
    assert shown.status_code == 200
    assert f'<img class="signature" src="/returns/{RETURN_ID}/signature"' in shown.text
    assert "王秀英的签名" in shown.text
    image = client.get(f"/returns/{RETURN_ID}/signature")
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "no-store"
    asked = [r for r in transfer.sent if r.url.path.endswith("/signature")][0]
    assert asked.url.host == "transfer.test" and asked.headers["authorization"].startswith(
        "Bearer "
    )


def test_no_signature_or_something_else_than_a_png_is_not_served(client, transfer):
    transfer.signature = httpx.Response(404, json={"title": "Not found"})
    assert client.get(f"/returns/{RETURN_ID}/signature").status_code == 404
    transfer.signature = httpx.Response(200, content=b"<svg onload=alert(1)>")
    answer = client.get(f"/returns/{RETURN_ID}/signature")
    assert answer.status_code == 502 and answer.content == b""
    assert client.get("/returns/not-an-id/signature").status_code == 404
