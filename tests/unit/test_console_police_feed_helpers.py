"""The police in the partners' portal without a network (issue 27/28): their identity
checks and DNA samples from referral's pull feed, the photo fetched from intake only
(never another address), the receipt, and the answers through search's police API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_console.app import create_app
from rescue_console.partner import (
    delivery_of,
    feed_items,
    link_expires,
    photo_request,
    waiting_first,
)
from rescue_console.settings import ConsoleSettings

PHOTO_ID = "9a000000-0000-4000-8000-000000000001"
REQUEST_ID = "c0000000-0000-4000-8000-000000000001"
SAMPLE_ID = "d0000000-0000-4000-8000-000000000001"
CHECK_DELIVERY = "e0000000-0000-4000-8000-000000000001"
DNA_DELIVERY = "e0000000-0000-4000-8000-000000000002"
LINK = (
    f"http://intake.test/partner/photos/{PHOTO_ID}"
    "?agency=gushi-police&expires=1796000000&signature=abc_DEF-123"
)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
AGENCY = "gushi-police"
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # the portal's clock: receipts count from it


def check_item(**fields) -> dict:
    return {
        "cursor": 7,
        "delivery_id": CHECK_DELIVERY,
        "feed": "police_check",
        "event_type": "police_identity_check_requested",
        "body": {
            "request_id": REQUEST_ID,
            "case_id": "f0000000-0000-4000-8000-000000000001",
            "station_id": "gushi",
            "agency_id": AGENCY,
            "sex": "male",
            "estimated_age": 61,
            "stated_names": ["王建国", "王建军"],
            "description": "左手背有疤",
            "face_photo_link": LINK,
            "requested_at": "2026-12-07T02:00:00Z",
        },
        "created_at": "2026-12-07T02:00:01Z",
        "acknowledge_by": "2026-12-08T02:00:01Z",
        "acknowledged_at": None,
        **fields,
    }


def dna_item() -> dict:
    return {
        "cursor": 8,
        "delivery_id": DNA_DELIVERY,
        "feed": "dna_sample",
        "event_type": "police_dna_sample_submitted",
        "body": {
            "sample_id": SAMPLE_ID,
            "case_id": "f0000000-0000-4000-8000-000000000001",
            "station_id": "gushi",
            "agency_id": AGENCY,
            "sample_ref": "DNA-411500-2026-00042",
            "taken_at": "2026-12-07T01:00:00Z",
            "taken_by": "王芳",
            "submitted_at": "2026-12-07T01:30:00Z",
        },
        "created_at": "2026-12-07T01:30:01Z",
        "acknowledge_by": None,
        "acknowledged_at": None,
    }


# ---- the helpers -----------------------------------------------------------------------


def test_only_intakes_own_photo_links_are_fetched():
    bases = ["http://intake.test"]
    assert photo_request(LINK, bases) == (
        f"/partner/photos/{PHOTO_ID}",
        {"agency": "gushi-police", "expires": "1796000000", "signature": "abc_DEF-123"},
    )
    query = "?agency=a&expires=1&signature=s"
    for foreign in (
        f"http://evil.test/partner/photos/{PHOTO_ID}{query}",  # another host
        f"http://intake.test:8080/partner/photos/{PHOTO_ID}{query}",  # another port
        f"https://intake.test/partner/photos/{PHOTO_ID}{query}",  # another scheme
        f"http://user@intake.test/partner/photos/{PHOTO_ID}{query}",  # credentials
        f"http://intake.test/persons/{PHOTO_ID}/photos{query}",  # another route of intake
        f"http://intake.test/partner/photos/../../admin{query}",
        f"http://intake.test/partner/photos/{PHOTO_ID}?agency=a&expires=1",  # no signature
        f"http://intake.test/partner/photos/{PHOTO_ID}{query}&next=http://evil.test",
        f"http://intake.test/partner/photos/{PHOTO_ID}{query}&agency=b",  # twice
        f"http://intake.test/partner/photos/{PHOTO_ID}{query}&request_id=../x",
        f"file:///etc/passwd{query}",
        "",
    ):
        assert photo_request(foreign, bases) is None, foreign
    with_check = f"{LINK}&request_id={REQUEST_ID}"
    assert photo_request(with_check, bases)[1]["request_id"] == REQUEST_ID
    # behind a path prefix, and intake's public address (fetched at the internal one)
    prefixed = ["http://gw.test/intake"]
    assert photo_request(LINK.replace("intake.test", "gw.test/intake"), prefixed)[0] == (
        f"/partner/photos/{PHOTO_ID}"
    )
    assert photo_request(LINK, prefixed) is None
    public = LINK.replace("http://intake.test", "https://photos.example.cn")
    assert photo_request(public, bases + ["https://photos.example.cn"]) is not None


def test_a_feed_answer_becomes_deliveries_waiting_ones_first():
    page = {"items": [check_item()], "next": 7}
    assert [d.id for d in map(delivery_of, feed_items(page))] == [CHECK_DELIVERY]
    as_text = check_item(id=CHECK_DELIVERY, body=json.dumps({"request_id": REQUEST_ID}))
    del as_text["delivery_id"]
    assert delivery_of(as_text).body == {"request_id": REQUEST_ID}
    assert delivery_of({"delivery_id": "x", "body": "not json"}) is None
    done = delivery_of(check_item(delivery_id="done", acknowledged_at="2026-12-07T03:00:00Z"))
    late = delivery_of(check_item(delivery_id="late", acknowledge_by="2026-12-07T05:00:00Z"))
    later = delivery_of(check_item(delivery_id="later"))
    assert [d.id for d in waiting_first([done, later, late])] == ["late", "later", "done"]
    assert link_expires(LINK).year == 2026
    assert link_expires(LINK.replace("1796000000", "2026-12-07T10:00:00Z")).hour == 10
    assert link_expires("http://intake.test/x?expires=soon") is None


# ---- the portal, the services stood in by a transport --------------------------------


class FakeNetwork:
    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.feeds = {"police_check": [check_item()], "dna_sample": [dna_item()]}
        self.answers: dict[tuple[str, str], httpx.Response] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        key = (request.method, request.url.path)
        if key in self.answers:
            return self.answers[key]
        if key == ("GET", "/partner/feed"):
            items = self.feeds[request.url.params["feed"]]
            since = int(request.url.params.get("since", 0))
            limit = int(request.url.params.get("limit", 100))
            after = [i for i in items if i["cursor"] > since][:limit]
            return httpx.Response(
                200, json={"items": after, "next": after[-1]["cursor"] if after else since}
            )
        if key == ("GET", f"/partner/photos/{PHOTO_ID}"):
            return httpx.Response(200, content=JPEG, headers={"content-type": "image/jpeg"})
        if request.method == "POST":
            return httpx.Response(200, json={"id": REQUEST_ID, "status": "answered"})
        return httpx.Response(200, json=[])

    def to(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == method and r.url.path == path]


@pytest.fixture
def net():
    return FakeNetwork()


@pytest.fixture
def client(net):
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    settings = ConsoleSettings(
        **urls, dev_jwt_secret="console-unit-secret-" + "k" * 30, cookie_secure=False
    )
    app = create_app(settings, transport=httpx.MockTransport(net), clock=lambda: NOW)
    with TestClient(app, base_url="http://console.test") as client:
        yield client


def police(client) -> str:
    page = client.get("/signin", params={"kind": "partner"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.post(
        "/signin",
        data={
            "csrf": csrf,
            "kind": "partner",
            "agency_id": AGENCY,
            "partner_type": "police",
            "subject": "民警",
            "next": "/partner",
        },
    )
    session = client.app.state.console.sessions.get(client.cookies.get("console_session"))
    assert session is not None and "police" in session.roles
    return session.csrf


def test_the_police_see_their_checks_with_the_photo_through_the_console(client, net):
    police(client)
    portal = client.get("/partner")
    assert portal.status_code == 200
    assert {r.url.params["feed"] for r in net.to("GET", "/partner/feed")} == {
        "police_check",
        "dna_sample",
    }
    text = portal.text
    assert f'data-check="{REQUEST_ID}"' in text and "王建国、王建军" in text
    assert "左手背有疤" in text and "DNA-411500-2026-00042" in text
    assert "确认期限 2026-12-08 10:00（还剩 16小时0分）" in text  # acknowledge_by, as of NOW
    assert "无法核实（逐级上报）" in text
    src = re.search(r'<img class="face" src="([^"]+)"', text).group(1)
    assert src.startswith("/partner/photo?link=http%3A//intake.test/") or src.startswith(
        "/partner/photo?link=http%3A%2F%2Fintake.test%2F"
    )
    photo = client.get(src.replace("&amp;", "&"))
    assert photo.status_code == 200 and photo.content == JPEG
    assert photo.headers["content-type"] == "image/jpeg"
    fetched = net.to("GET", f"/partner/photos/{PHOTO_ID}")[0]
    assert fetched.url.host == "intake.test"
    assert dict(fetched.url.params) == {
        "agency": "gushi-police",
        "expires": "1796000000",
        "signature": "abc_DEF-123",
    }
    assert fetched.headers["authorization"].startswith("Bearer ")


def test_a_link_to_anywhere_else_is_refused_without_being_fetched(client, net):
    police(client)
    before = len(net.sent)
    foreign = LINK.replace("intake.test", "169.254.169.254")
    answer = client.get("/partner/photo", params={"link": foreign})
    assert answer.status_code == 400
    assert len(net.sent) == before
    net.answers[("GET", f"/partner/photos/{PHOTO_ID}")] = httpx.Response(
        403, json={"title": "expired"}
    )
    assert client.get("/partner/photo", params={"link": LINK}).status_code == 404
    net.answers[("GET", f"/partner/photos/{PHOTO_ID}")] = httpx.Response(
        200, content=b"<html>", headers={"content-type": "image/jpeg"}
    )
    assert client.get("/partner/photo", params={"link": LINK}).status_code == 502


def test_a_check_answered_on_its_card_goes_to_search_and_is_acknowledged(client, net):
    csrf = police(client)
    answered = client.post(
        "/partner/police-checks",
        data={
            "csrf": csrf,
            "idempotency_key": "k" * 20,
            "check_request_id": REQUEST_ID,
            "delivery_id": CHECK_DELIVERY,
            "check_result": "identified",
            "check_full_name": "王建国",
            "check_id_record_ref": "HJ-411525-000123",
            "check_home_province": "四川省",
            "check_home_address": "四川省南充市仪陇县某镇",
        },
        follow_redirects=False,
    )
    assert answered.status_code == 303 and answered.headers["location"] == "/partner?answered=check"
    (sent,) = net.to("POST", f"/police/checks/{REQUEST_ID}/answer")
    assert sent.url.host == "search.test"
    assert json.loads(sent.content) == {
        "result": "identified",
        "full_name": "王建国",
        "id_record_ref": "HJ-411525-000123",
        "home_province": "四川省",
        "home_address": "四川省南充市仪陇县某镇",
    }
    (ack,) = net.to("POST", f"/partner/feed/{CHECK_DELIVERY}/acknowledgement")
    assert ack.url.host == "referral.test" and ack.headers["idempotency-key"] == "k" * 20 + ".ack"


def test_a_refused_answer_comes_back_on_its_card_with_what_was_typed(client, net):
    csrf = police(client)
    net.answers[("POST", f"/police/dna-samples/{SAMPLE_ID}/result")] = httpx.Response(
        422, json={"errors": [{"field": "matched_record_id", "reason": "is required with a hit"}]}
    )
    refused = client.post(
        "/partner/dna-samples",
        data={
            "csrf": csrf,
            "dna_sample_id": SAMPLE_ID,
            "delivery_id": DNA_DELIVERY,
            "dna_result": "hit",
            "dna_note": "比中",
        },
    )
    assert refused.status_code == 422
    suffix = SAMPLE_ID[:8]
    assert f'id="err-dna_matched_record_id-{suffix}"' in refused.text
    assert f'id="f-dna_result-{suffix}"' in refused.text
    assert re.search(r'value="hit" checked', refused.text)
    assert ">比中</textarea>" in refused.text
    assert not net.to("POST", f"/partner/feed/{DNA_DELIVERY}/acknowledgement")


def test_a_receipt_is_sent_to_referral_and_the_portal_says_so(client, net):
    csrf = police(client)
    done = client.post(
        f"/partner/deliveries/{CHECK_DELIVERY}/acknowledgement",
        data={"csrf": csrf, "idempotency_key": "r" * 20},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/partner?answered=ack#d-{CHECK_DELIVERY}"
    (ack,) = net.to("POST", f"/partner/feed/{CHECK_DELIVERY}/acknowledgement")
    assert ack.headers["idempotency-key"] == "r" * 20
    net.feeds["police_check"] = [check_item(acknowledged_at="2026-12-07T03:00:00Z")]
    shown = client.get("/partner?answered=ack").text
    assert "已确认收到。" in shown and "<strong>已确认收到</strong>" in shown
    forged = client.post(f"/partner/deliveries/{CHECK_DELIVERY}/acknowledgement", data={})
    assert forged.status_code == 403


def test_the_feed_not_there_is_said_and_answering_by_number_still_works(client, net):
    police(client)
    net.answers[("GET", "/partner/feed")] = httpx.Response(404, json={"title": "Not Found"})
    portal = client.get("/partner")
    assert portal.status_code == 200
    assert "尚未提供身份核查申请的拉取接口" in portal.text
    assert "按编号答复" in portal.text


def test_a_federations_decline_refused_by_referral_for_its_reason_is_said_at_the_note(client, net):
    page = client.get("/signin", params={"kind": "partner"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.post(
        "/signin",
        data={
            "csrf": csrf,
            "kind": "partner",
            "agency_id": "womens-federation-411525",
            "partner_type": "womens_federation",
            "subject": "值班员",
            "next": "/partner",
        },
    )
    session = client.app.state.console.sessions.get(client.cookies.get("console_session"))
    referral_id = "4e000000-0000-4000-8000-000000000001"
    feed = {
        "referral_id": referral_id,
        "agency_id": "womens-federation-411525",
        "reason": "domestic_violence_victim",
        "sent_at": "2026-12-07T02:00:00Z",
    }
    net.answers[("GET", "/partner/referrals")] = httpx.Response(
        200, json=[{"status": "sent", "feed": feed}]
    )
    net.answers[("POST", f"/partner/referrals/{referral_id}/answers")] = httpx.Response(
        422, json={"errors": [{"field": "note", "reason": "a decline needs a reason"}]}
    )
    refused = client.post(
        f"/partner/referrals/{referral_id}/answers",
        data={"csrf": session.csrf, "answer": "declined", "note": "  x  ", "status": "sent"},
    )
    assert refused.status_code == 422
    assert f'id="err-note-{referral_id}">拒绝须写明理由。' in refused.text
    assert ">  x  </textarea>" in refused.text or ">x</textarea>" in refused.text
    assert not net.to("GET", "/partner/feed")  # a federation reads no police feed


def test_a_long_feed_is_read_on_from_its_cursor(client, net, monkeypatch):
    from rescue_console import partner

    monkeypatch.setattr(partner, "FEED_PAGE", 2)
    police(client)
    net.feeds["police_check"] = [
        check_item(cursor=n, delivery_id=f"e0000000-0000-4000-8000-00000000010{n}")
        for n in range(1, 6)
    ]
    net.sent.clear()
    portal = client.get("/partner").text
    checks = [r.url.params.get("since") for r in net.to("GET", "/partner/feed")]
    assert sorted(checks, key=str) == ["2", "4", None, None]  # each feed from the start
    assert portal.count("data-check=") == 5
