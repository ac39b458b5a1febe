"""Contract tests of the notice channels' adapters (search.notices.HttpNoticeChannel)
against a real HTTP receiver of the test that checks every request against the
written protocols (docs/protocols/notice-site.md, notice-push.md): the receiver's
models are the documents' field tables, and a test holds the two equal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import threading
import time
import uuid
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal, get_args, get_origin

import numpy as np
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rescue_events.contracts.search_notices import NoticeKind
from search import notices
from search.notices import HttpNoticeChannel, NoticeError, site_payload
from search.publication_photo import MAX_SIDE, Rect, render
from search.tables.notices import PublicationPhoto, SearchNotice

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocols"
SECRET = "notice-secret-of-the-test"
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


# ---- the receiver's side of the protocols (their field tables) -------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class Station(Strict):
    id: str
    name: str | None
    city: str | None


class Photo(Strict):
    content_type: Literal["image/jpeg"]
    width: int = Field(ge=1, le=640)
    height: int = Field(ge=1, le=640)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    data: str


class Remains(Strict):
    handling: Literal[
        "buried", "cremated_ashes_kept", "cremated_ashes_scattered",
        "body_kept_pending_identification",
    ]  # fmt: skip
    on: date
    place: str | None
    photo_kept: bool
    dna_kept: bool


class Description(Strict):
    sex: Literal["male", "female", "unknown"]
    estimated_age: int | None
    found_place: str | None
    arrived_on: date
    stated_names: list[str]
    stated_places: list[str]
    dialect: str | None
    appearance: str | None
    # deceased notices only
    purpose: Literal["deceased"] | None = None
    title: str | None = None
    died_on: date | None = None
    died_in_care_of: str | None = None
    remains: Remains | None = None
    text: str | None = None


class Notice(Strict):
    notice_id: uuid.UUID
    purpose: Literal["seeking_family", "deceased"]
    title: str
    station: Station
    photo: Photo | None
    description: Description


class Push(Notice):
    region: str = Field(min_length=2, max_length=100)


def paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every field of a model as the documents name it (``photo.width``)."""
    found: set[str] = set()
    for name, field in model.model_fields.items():
        found.add(prefix + name)
        for inner in (field.annotation, *get_args(field.annotation)):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found |= paths(inner, f"{prefix}{name}.")
            elif get_origin(inner) is list:
                continue
    return found


def documented(doc: str, section: str) -> set[str]:
    """The fields of a document's section's table: its first column, in backticks."""
    text = (DOCS / doc).read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9_.]+)` \|", body, flags=re.MULTILINE))


def test_the_receivers_models_are_the_documents_field_tables():
    assert documented("notice-site.md", "The notice (POST body)") == paths(Notice)
    assert documented("notice-push.md", "The push (POST body)") == paths(Push) - paths(Notice)


# ---- the receiver ----------------------------------------------------------------------


class Receiver:
    """The site (or the push service) as the protocol describes it: checks each
    request (headers, signature, body against the model, the photo), answers POST
    with ``{"id"}``, the same id for an idempotency key seen before."""

    def __init__(self, model: type[Notice], secret: str | None = SECRET) -> None:
        self.model, self.secret = model, secret
        self.requests: list[dict] = []
        self.violations: list[str] = []
        self.notices: dict[str, str] = {}  # idempotency key → external id
        self.failing = 0
        self.answer = 201
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method: str) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    status, answer = receiver.receive(method, self.path, dict(self.headers), raw)
                self.send_response(status)
                data = json.dumps(answer).encode() if answer is not None else b""
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 (http.server's name)
                self._handle("POST")

            def do_DELETE(self):  # noqa: N802
                self._handle("DELETE")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/notices"

    def violation(self, what: str) -> None:
        self.violations.append(what)

    def receive(self, method: str, path: str, headers: dict, raw: bytes):
        headers = {k.lower(): v for k, v in headers.items()}
        request = {"method": method, "path": path, "headers": headers, "raw": raw}
        self.requests.append(request)
        if headers.get("x-rescue-notice-protocol") != "1":
            self.violation(f"{method}: X-Rescue-Notice-Protocol is not 1")
        self.check_signature(method, headers, raw)
        if self.failing > 0:
            self.failing -= 1
            return 503, None
        if method == "DELETE":
            if raw:
                self.violation("DELETE with a body")
            if not path.startswith("/notices/") or len(path) <= len("/notices/"):
                self.violation(f"DELETE path {path}")
            gone = path.rsplit("/", 1)[1] not in self.notices.values()
            return (404 if gone else 204), None
        if path != "/notices":
            self.violation(f"POST path {path}")
        if not headers.get("content-type", "").startswith("application/json"):
            self.violation("POST without a JSON content type")
        try:
            body = self.model.model_validate_json(raw)
        except ValidationError as error:
            self.violation(f"body: {error}")
            return 400, {"error": "invalid"}
        request["body"] = body
        key = headers.get("idempotency-key")
        if key != str(body.notice_id):
            self.violation(f"Idempotency-Key {key!r} is not the notice_id")
        if body.photo is not None:
            self.check_photo(body.photo)
        if self.answer != 201:
            return self.answer, {"error": "refused"}
        external = self.notices.setdefault(key or "", f"ext-{uuid.uuid4()}")
        return 201, {"id": external}

    def check_signature(self, method: str, headers: dict, raw: bytes) -> None:
        header = headers.get("x-rescue-signature")
        if self.secret is None:
            return
        found = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header or "")
        if not found:
            self.violation(f"{method}: no signature")
            return
        t = int(found.group(1))
        mac = hmac.new(self.secret.encode(), f"{t}.".encode() + raw, hashlib.sha256)
        if not hmac.compare_digest(mac.hexdigest(), found.group(2)):
            self.violation(f"{method}: wrong signature")
        if abs(time.time() - t) > 300:
            self.violation(f"{method}: signature too old")

    def check_photo(self, photo: Photo) -> None:
        try:
            data = base64.b64decode(photo.data, validate=True)
        except ValueError:
            self.violation("photo.data is not base64")
            return
        if hashlib.sha256(data).hexdigest() != photo.sha256:
            self.violation("photo.sha256 is not the image's")
        picture = Image.open(io.BytesIO(data))
        if picture.format != "JPEG":
            self.violation(f"photo is {picture.format}")
        if picture.size != (photo.width, photo.height):
            self.violation(f"photo is {picture.size}, said {(photo.width, photo.height)}")
        if "exif" in picture.info:
            self.violation("photo carries EXIF")

    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    receiver = Receiver(Notice)
    yield receiver
    receiver.stop()


@pytest.fixture
def push():
    receiver = Receiver(Push)
    yield receiver
    receiver.stop()


def adapter(site: Receiver | None = None, push: Receiver | None = None, **kw) -> HttpNoticeChannel:
    return HttpNoticeChannel(
        site_url=site.url if site else None,
        push_url=push.url if push else None,
        timeout=5,
        attempts=kw.pop("attempts", 3),
        retry_base=0.01,
        signing_secret=kw.pop("secret", SECRET),
    )


# ---- what search sends -----------------------------------------------------------------


def a_photo() -> PublicationPhoto:
    """A published image as search keeps it (render: crop, resize, JPEG)."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, size=(900, 1200, 3), dtype=np.uint8)
    published = render(pixels, Rect(top=0, right=1200, bottom=900, left=0))
    return PublicationPhoto(
        photo_id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        station_id="gushi",
        source_sha256="0" * 64,
        status="ready",
        faces_in_photo=1,
        face_basis="only",
        content_type="image/jpeg",
        image=published.image,
        sha256=published.sha256,
        width=published.width,
        height=published.height,
        prepared_at=T0,
    )


def a_notice(kind: NoticeKind = NoticeKind.NATIONAL, payload: dict | None = None) -> SearchNotice:
    description = payload or notices.public_description(
        sex="male",
        estimated_age=58,
        found_place="固始县人民广场",
        arrived_at=T0,
        stated_names="王福贵",
        stated_places="四川省、南充市营山县",
        dialect="四川话",
        appearance="身高约170厘米,偏瘦,穿灰色外套",
    )
    return SearchNotice(
        id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id="gushi",
        kind=kind.value,
        region="四川省" if kind is NoticeKind.REGIONAL else None,
        status="publishing",
        payload=description,
        requested_by="staff",
        requested_at=T0,
    )


async def test_a_national_notice_with_its_photo_follows_the_protocol(site):
    photo, notice = a_photo(), a_notice()
    payload = site_payload(notice, "固始县救助管理站", "信阳市", photo)

    external = await adapter(site).publish_national(payload)

    assert site.violations == []
    [request] = site.posts()
    assert external == site.notices[str(notice.id)]
    sent = request["body"]
    assert sent.notice_id == notice.id and sent.station.name == "固始县救助管理站"
    assert sent.photo is not None and sent.photo.sha256 == photo.sha256
    assert max(sent.photo.width, sent.photo.height) == MAX_SIDE  # 1200×900 came down to 640
    assert base64.b64decode(sent.photo.data) == photo.image  # the kept bytes, unchanged
    assert "四川话" in request["raw"].decode()  # UTF-8, Chinese as it is


async def test_a_regional_push_carries_its_region_and_the_same_photo(site, push):
    photo = a_photo()
    national, regional = a_notice(), a_notice(NoticeKind.REGIONAL)
    channel = adapter(site, push)
    await channel.publish_national(site_payload(national, "固始县救助管理站", "信阳市", photo))
    await channel.push_regional(site_payload(regional, "固始县救助管理站", "信阳市", photo), "四川")

    assert push.violations == [] and site.violations == []
    [pushed] = push.posts()
    assert pushed["body"].region == "四川"
    assert pushed["body"].photo.data == site.posts()[0]["body"].photo.data


async def test_a_notice_without_a_chosen_photo_says_so(site):
    await adapter(site).publish_national(site_payload(a_notice(), "固始县救助管理站", "信阳市"))

    assert site.violations == []
    assert site.posts()[0]["body"].photo is None
    assert b'"photo":null' in site.posts()[0]["raw"]


async def test_a_deceased_persons_notice_follows_the_protocol(site):
    seeking = a_notice().payload
    deceased = notices.deceased_description(
        seeking, died_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC), in_care_of="固始县救助管理站"
    )
    buried = notices.with_remains(
        deceased,
        handling="buried",
        buried_on=date(2026, 12, 5),
        cemetery="固始县公墓",
        funeral_home=None,
        photo_kept=True,
        dna_kept=True,
    )
    notice = a_notice(payload=buried)

    payload = site_payload(notice, "固始县救助管理站", "信阳市", a_photo())
    await adapter(site).publish_national(payload)

    assert site.violations == []
    sent = site.posts()[0]["body"]
    assert sent.purpose == "deceased" and sent.title == "死亡人员寻亲公告"
    assert sent.description.remains.place == "固始县公墓"


async def test_a_retry_sends_the_same_notice_and_the_site_keeps_one(site):
    site.failing = 2  # two 503s, then the notice goes up
    notice = a_notice()
    payload = site_payload(notice, "固始县救助管理站", "信阳市", a_photo())

    first = await adapter(site).publish_national(payload)
    # the sweep publishes the same notice again later: the same notice on the site
    again = await adapter(site).publish_national(payload)

    assert site.violations == []
    posts = site.posts()
    assert len(posts) == 4
    assert {p["raw"] for p in posts} == {posts[0]["raw"]}  # the same bytes every time
    assert {p["headers"]["idempotency-key"] for p in posts} == {str(notice.id)}
    assert first == again and len(site.notices) == 1


async def test_a_refusal_is_final_and_an_endpoint_away_fails_after_its_tries(site):
    site.answer = 422
    with pytest.raises(NoticeError, match="HTTP 422"):
        await adapter(site).publish_national(site_payload(a_notice(), "站", "市"))
    assert len(site.posts()) == 1  # a 4xx is not retried

    site.answer, site.failing = 201, 5
    with pytest.raises(NoticeError, match="HTTP 503 after 3 attempt"):
        await adapter(site).publish_national(site_payload(a_notice(), "站", "市"))
    assert len(site.posts()) == 4
    assert site.violations == []


async def test_taking_down_is_a_signed_delete_of_the_sites_id(site, push):
    channel = adapter(site, push)
    external = await channel.publish_national(site_payload(a_notice(), "站", "市"))
    pushed = await channel.push_regional(
        site_payload(a_notice(NoticeKind.REGIONAL), "站", "市"), "四川省"
    )

    await channel.take_down(NoticeKind.NATIONAL, external)
    await channel.take_down(NoticeKind.REGIONAL, pushed)
    await channel.take_down(NoticeKind.NATIONAL, "ext-gone")  # 404: already gone, no error

    assert site.violations == [] and push.violations == []
    deleted = [[r["path"] for r in x.requests if r["method"] == "DELETE"] for x in (site, push)]
    assert deleted == [[f"/notices/{external}", "/notices/ext-gone"], [f"/notices/{pushed}"]]


async def test_the_receiver_catches_a_request_off_the_protocol(site):
    """The receiver's checks can fail: an unsigned request, a stray field."""
    unsigned = adapter(site, secret=None)
    payload = {**site_payload(a_notice(), "站", "市"), "category": "minor"}
    with pytest.raises(NoticeError):
        await unsigned.publish_national(payload)
    assert any("no signature" in v for v in site.violations)
    assert any("category" in v for v in site.violations)
