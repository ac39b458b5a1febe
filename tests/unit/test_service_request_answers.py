"""What the five real service apps answer a request they cannot take (issue 22):
a photo over the default body limit reaches its route, a body that is not JSON is
a 415 saying what to send, malformed JSON says where, a photo that is not one
says so in words. In process: no database is needed to get this far."""

from __future__ import annotations

import base64
import importlib
import re
import uuid

import httpx
import pytest
from support import JWT_SECRET

from rescue_chassis.app import create_app
from rescue_chassis.auth import mint_token
from rescue_chassis.limits import BODY_LIMIT_KEY, MIB
from rescue_chassis.settings import ServiceSettings

SERVICES = ("intake", "search", "transfer", "referral", "followup")
# The photo routes that declare a larger body (their OpenAPI says so too).
PHOTO_ROUTES = {
    ("intake", "/persons/{person_id}/photos"),
    ("search", "/cases/{case_id}/face-photos"),
    ("search", "/missing-person-reports/{report_id}/face-photos"),
    ("search", "/face-searches"),
}
DEFAULT_LIMIT = ServiceSettings.model_fields["max_body_bytes"].default
STAFF = ["station_staff", "station_lead", "center_coordinator", "search_specialist"]


@pytest.fixture(scope="module")
def apps():
    built = {}
    for name in SERVICES:
        definition = importlib.import_module(f"{name}.app").service
        settings = definition.settings_class(
            database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
            kafka_bootstrap_servers="127.0.0.1:1",
            jwt_secret=JWT_SECRET,
        )
        built[name] = create_app(definition, settings)
    return built


def client(app) -> httpx.AsyncClient:
    token = mint_token(secret=JWT_SECRET, subject="issue-22", station_id="gushi", roles=STAFF)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {token}"},
    )


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def declared_limits(apps) -> list[tuple[str, str, str, int]]:
    """(service, method, path, bytes) of every operation declaring its body limit,
    read from the OpenAPI document (not the way the middleware finds routes)."""
    found = []
    for name, app in apps.items():
        for path, item in app.openapi()["paths"].items():
            for method, operation in item.items():
                if BODY_LIMIT_KEY in operation:
                    found.append((name, method.upper(), path, int(operation[BODY_LIMIT_KEY])))
    return found


def padded(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes no route accepts (an unknown field)."""
    head, tail = b'{"padding_of_issue_22": "', b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


def problem(response: httpx.Response) -> dict:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.json()


async def test_every_route_declaring_a_larger_body_takes_it_however_it_was_included(apps):
    limits = declared_limits(apps)
    assert PHOTO_ROUTES <= {(name, path) for name, _, path, _ in limits}
    for name, method, path, limit in limits:
        assert limit > DEFAULT_LIMIT, (name, path)
        size = min(2 * MIB, limit - 1024)  # over the default, within the route's own
        async with client(apps[name]) as http:
            taken = await http.request(
                method,
                concrete(path),
                content=padded(size),
                headers={"Content-Type": "application/json"},
            )
            # Past the size check: read and validated by the route (the unknown field).
            assert taken.status_code == 422, (name, path, taken.text[:300])

            async def chunks(body: bytes):  # no Content-Length: counted as it streams
                for start in range(0, len(body), 256 * 1024):
                    yield body[start : start + 256 * 1024]

            streamed = await http.request(
                method,
                concrete(path),
                content=chunks(padded(size)),
                headers={"Content-Type": "application/json"},
            )
            assert streamed.status_code == 422, (name, path, streamed.text[:300])

            too_large = await http.request(
                method,
                concrete(path),
                content=padded(limit + 1),
                headers={"Content-Type": "application/json"},
            )
            assert too_large.status_code == 413, (name, path)
            assert problem(too_large)["detail"] == f"The request body is larger than {limit} bytes."
            too_large = await http.request(
                method, concrete(path), content=chunks(padded(limit + 1))
            )
            assert too_large.status_code == 413, (name, path)


async def test_a_route_declaring_no_limit_keeps_the_default(apps):
    async with client(apps["intake"]) as http:
        refused = await http.post(
            concrete("/persons/{person_id}/belongings"),
            content=padded(DEFAULT_LIMIT + 1),
            headers={"Content-Type": "application/json"},
        )
    assert refused.status_code == 413


@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_that_is_not_json_is_415_naming_the_type_to_send(apps, media):
    routes = {
        "intake": "/persons",
        "search": "/missing-person-reports",
        "transfer": "/returns",
        "referral": "/referrals",
        "followup": "/at-risk-register",
    }
    for name, path in routes.items():
        headers = {"Content-Type": media} if media else {}
        async with client(apps[name]) as http:
            answer = await http.post(path, content=b"name=wang", headers=headers)
        assert answer.status_code == 415, (name, answer.text)
        body = problem(answer)
        assert "application/json" in body["detail"]
        assert body["errors"][0]["field"] == "Content-Type"
        assert answer.headers["Accept-Post"] == "application/json"
        if media:
            assert media in body["detail"]
        else:
            assert "no Content-Type" in body["detail"]


@pytest.mark.parametrize(("name", "path"), sorted(PHOTO_ROUTES))
async def test_a_photo_sent_as_a_form_upload_is_told_to_go_base64_in_json(apps, name, path):
    async with client(apps[name]) as http:
        answer = await http.post(
            concrete(path),
            files={"image": ("face.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64, "image/jpeg")},
        )
    assert answer.status_code == 415, answer.text
    detail = problem(answer)["detail"]
    assert "multipart/form-data" in detail
    assert "the photo in the field `image`, base64-encoded, in a JSON object" in detail


async def test_malformed_json_says_where_and_what(apps):
    for name, path in (("intake", "/persons"), ("followup", "/at-risk-register")):
        async with client(apps[name]) as http:
            answer = await http.post(
                path,
                content=b'{\n  "sex": "male",\n  "arrival_route" "police"\n}',
                headers={"Content-Type": "application/json"},
            )
        assert answer.status_code == 422
        body = problem(answer)
        reason = "Expecting ':' delimiter at line 3, column 19 (character 37)"
        assert body["errors"] == [{"field": "body", "reason": reason}]
        assert body["detail"] == f"The body is not valid JSON: {reason}."


async def test_405_allows_the_methods_of_included_routers_routes(apps):
    async with client(apps["intake"]) as http:
        live = await http.delete("/health/live")
        photos = await http.put(concrete("/persons/{person_id}/photos"), json={})
    assert (live.status_code, live.headers["Allow"]) == (405, "GET")
    assert (photos.status_code, photos.headers["Allow"]) == (405, "GET, POST")


def test_the_openapi_document_says_which_fields_carry_a_photo_and_where_415_can_come(apps):
    schemas = apps["search"].openapi()["components"]["schemas"]
    assert schemas["FacePhoto"]["properties"]["image"]["contentEncoding"] == "base64"
    operation = apps["intake"].openapi()["paths"]["/persons/{person_id}/photos"]
    assert "415" in operation["post"]["responses"]
    assert "415" not in operation["get"]["responses"]  # no body, no media type


# ---- the photo, in words ---------------------------------------------------------------


def photo_body(name: str, image: str) -> dict:
    if name == "intake":
        return {"kind": "face", "image": image, "taken_at": "2026-11-23T09:05:00+08:00"}
    return {"image": image}


@pytest.mark.parametrize(
    ("name", "path"), [("intake", "/persons/{person_id}/photos"), ("search", "/face-searches")]
)
async def test_an_empty_photo_is_said_to_be_empty(apps, name, path):
    async with client(apps[name]) as http:
        answer = await http.post(concrete(path), json=photo_body(name, ""))
    assert answer.status_code == 422, answer.text
    assert problem(answer)["errors"] == [{"field": "image", "reason": "the photo is empty"}]


@pytest.mark.parametrize(
    ("name", "path", "formats"),
    [
        ("intake", "/persons/{person_id}/photos", "JPEG or PNG"),
        ("search", "/face-searches", "JPEG, PNG or WebP"),
    ],
)
async def test_what_is_not_a_photo_is_said_in_words(apps, name, path, formats):
    not_a_photo = base64.b64encode(b"%PDF-1.4 not a photo" + b"\0" * 200).decode()
    async with client(apps[name]) as http:
        answer = await http.post(concrete(path), json=photo_body(name, not_a_photo))
    assert answer.status_code == 422, answer.text
    [error] = problem(answer)["errors"]
    assert error["field"] == "image"
    assert error["reason"].startswith(f"the photo is not a {formats} image")
    assert "<" not in error["reason"] and "object at" not in error["reason"]
