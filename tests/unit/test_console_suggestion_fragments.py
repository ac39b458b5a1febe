"""Suggestions while typing on the console's forms (issue 26): places from search's
gazetteer and names from its name index, as listbox options; the services stood in
by a transport."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_console.app import create_app
from rescue_console.settings import ConsoleSettings
from rescue_console.suggestions import typed_query, why_words

SECRET = "console-unit-secret-" + "s" * 30

XIANGFAN = {
    "code": "4206",
    "name": "襄樊市",
    "level": "city",
    "path": ["湖北省", "襄樊市"],
    "path_codes": ["42", "4206"],
    "pinyin": "xiang fan shi",
    "score": 0.977,
    "current": False,
    "now_part_of": {
        "code": "4206",
        "name": "襄阳市",
        "level": "city",
        "path": ["湖北省", "襄阳市"],
        "path_codes": ["42", "4206"],
        "pinyin": "xiang yang shi",
        "score": 1.0,
        "current": True,
        "now_part_of": None,
        "why": [],
    },
    "why": ["same pinyin", "former name"],
}
GUSHI = {
    "code": "411525",
    "name": "固始县",
    "level": "county",
    "path": ["河南省", "信阳市", "固始县"],
    "path_codes": ["41", "4115", "411525"],
    "pinyin": "gu shi xian",
    "score": 0.993,
    "current": True,
    "now_part_of": None,
    "why": ["homophone of 固 (gu)"],
}


def name(name: str, station: str = "gushi", kind: str = "case") -> dict:
    return {
        "record_kind": kind,
        "record_id": "5b000000-0000-4000-8000-000000000001",
        "person_id": None,
        "station_id": station,
        "name": name,
        "score": 0.9,
        "verdict": "match",
        "why": ["same reading (wang xiao ming)"],
    }


class FakeSearch:
    """search's /places and /names; keeps what the console asked."""

    def __init__(self) -> None:
        self.asked: list[httpx.Request] = []
        self.places: tuple[int, object] = (200, [XIANGFAN, GUSHI])
        self.names: tuple[int, object] = (200, [name("汪晓明"), name("汪晓明"), name("王小明")])
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        if self.down:
            raise httpx.ConnectError("search is down", request=request)
        status, body = self.places if request.url.path == "/places" else self.names
        return httpx.Response(status, json=body)


@pytest.fixture
def search():
    return FakeSearch()


@pytest.fixture
def client(search):
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    settings = ConsoleSettings(**urls, dev_jwt_secret=SECRET, cookie_secure=False)
    app = create_app(settings, transport=httpx.MockTransport(search))
    with TestClient(app, base_url="http://console.test") as client:
        yield client


def sign_in(client, station="gushi", roles=("station_staff",)) -> None:
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    signed = client.post(
        "/signin",
        data={"csrf": csrf, "station_id": station, "roles": list(roles), "subject": "张三"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def options(html: str) -> list[str]:
    return re.findall(r'<li role="option"[^>]*>', html)


def test_a_former_place_typed_in_pinyin_is_suggested_as_now_part_of_its_current_unit(
    client, search
):
    sign_in(client)
    # htmx sends the input's value under its own name; the list's last item is looked up.
    answer = client.get(
        "/suggest/places", params={"field": "stated_places", "stated_places": "固始、xiangfan"}
    )
    assert answer.status_code == 200
    asked = search.asked[-1]
    assert asked.url.path == "/places"
    assert asked.url.params["q"] == "xiangfan"
    assert asked.headers["authorization"].startswith("Bearer ey")
    assert "province" not in asked.url.params  # a home is anywhere, not near the station
    first, second = options(answer.text)
    assert 'id="lb-stated_places-0"' in first
    assert 'data-value="湖北省襄樊市"' in first
    assert "data-code" not in first  # this field has no code field
    assert "现属 湖北省襄阳市" in answer.text
    assert "同拼音" in answer.text
    assert 'data-value="河南省信阳市固始县"' in second


def test_the_registered_home_suggests_the_codes_intake_takes(client, search):
    sign_in(client)
    answer = client.get("/suggest/places", params={"field": "registered_home", "q": "gushi"})
    first, second = options(answer.text)
    assert "data-code" not in first  # a city's 4-digit code: intake wants a county or below
    assert 'data-code="411525"' in second


def test_the_found_place_is_ranked_around_the_station(client, search):
    sign_in(client, station="gushi")
    client.get(
        "/suggest/places",
        params={"field": "handover.found_place", "handover.found_place": "人民广场"},
    )
    params = search.asked[-1].url.params
    assert params["q"] == "人民广场"
    assert params["province"] == "河南省"
    assert params["county"] == "411525"


def test_suggestions_are_escaped(client, search):
    sign_in(client)
    search.places = (
        200,
        [{**GUSHI, "name": '<script>alert("x")</script>', "path": ['<b>"省"</b>', "<i>"]}],
    )
    answer = client.get("/suggest/places", params={"field": "stated_places", "q": "x"})
    assert "<script>" not in answer.text and "<b>" not in answer.text
    assert "&lt;script&gt;" in answer.text
    assert 'data-value="&lt;b&gt;&#34;省&#34;&lt;/b&gt;&lt;i&gt;"' in answer.text


def test_an_empty_query_asks_nothing_and_opens_nothing(client, search):
    sign_in(client)
    for params in (
        {"field": "stated_places", "stated_places": "  "},
        {"field": "stated_places", "q": "王建国、"},
        {"q": ""},
    ):
        answer = client.get("/suggest/places", params=params)
        assert answer.status_code == 200
        assert options(answer.text) == []
        assert "暂无建议" not in answer.text
    assert search.asked == []


@pytest.mark.parametrize("failure", ["500", "unreachable", "not a list"])
def test_a_service_failure_is_a_quiet_no_suggestions(client, search, failure):
    sign_in(client)
    if failure == "500":
        search.places = (500, {"title": "Internal Server Error"})
    elif failure == "unreachable":
        search.down = True
    else:
        search.places = (200, {"unexpected": True})
    answer = client.get("/suggest/places", params={"field": "stated_places", "q": "gushi"})
    assert answer.status_code == 200
    assert "暂无建议" in answer.text
    assert 'aria-disabled="true"' in answer.text


def test_no_place_found_says_no_suggestions(client, search):
    sign_in(client)
    search.places = (200, [])
    answer = client.get("/suggest/places", params={"field": "stated_places", "q": "zzz"})
    assert "暂无建议" in answer.text


def test_names_from_the_index_once_each_with_station_and_kind(client, search):
    sign_in(client, roles=("station_lead",))
    answer = client.get(
        "/suggest/names", params={"field": "stated_names", "stated_names": "老王，wang xiao ming"}
    )
    assert search.asked[-1].url.path == "/names"
    assert search.asked[-1].url.params["q"] == "wang xiao ming"
    found = options(answer.text)
    assert len(found) == 2  # 汪晓明 twice at the same station: once
    assert 'data-value="汪晓明"' in found[0]
    assert "固始县救助管理站 · 救助档案" in answer.text
    assert "同音" in answer.text


def test_names_the_user_may_not_search_open_no_list(client, search):
    sign_in(client)
    search.names = (403, {"title": "Forbidden"})
    answer = client.get("/suggest/names", params={"field": "full_name", "full_name": "王小明"})
    assert answer.status_code == 200
    assert options(answer.text) == []


def test_without_a_session_nothing_is_asked_and_the_form_is_not_left(client, search):
    answer = client.get(
        "/suggest/places",
        params={"field": "stated_places", "q": "gushi"},
        headers={"HX-Request": "true"},
        follow_redirects=False,
    )
    assert answer.status_code == 200
    assert "HX-Redirect" not in answer.headers
    assert "暂无建议" in answer.text
    assert search.asked == []


def test_the_admission_form_wires_its_place_and_name_fields_as_comboboxes(client):
    sign_in(client)
    form = client.get("/admissions/new").text
    wired = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<input id="f-([^"]+)"[^>]*role="combobox"[^>]*>', form, re.S)
    }
    assert set(wired) == {
        "handover-found_place",
        "stated_places",
        "registered_home",
        "stated_names",
        "full_name",
    }
    for field_id, tag in wired.items():
        assert f'aria-controls="lb-{field_id}"' in tag
        assert f'id="lb-{field_id}"' in form and 'role="listbox"' in form
        assert 'hx-trigger="input changed delay:250ms"' in tag
        assert f'hx-target="#lb-{field_id}"' in tag
        assert 'aria-expanded="false"' in tag
    assert 'hx-get="/suggest/places?field=handover.found_place"' in wired["handover-found_place"]
    assert 'hx-get="/suggest/names?field=stated_names"' in wired["stated_names"]
    assert "data-suggest-many" in wired["stated_places"]
    assert 'data-suggest-code="f-registered_home_admin_code"' in wired["registered_home"]
    assert 'id="f-registered_home_admin_code" name="registered_home_admin_code"' in form
    # Each is still a named plain input: without script the form posts what was typed.
    assert all(f'name="{n}"' in form for n in ("stated_places", "handover.found_place"))


def test_the_registered_home_words_are_not_sent_to_intake(client):
    from rescue_console.admission import admission_request

    body = admission_request(
        {
            "arrival_route": "own_request",
            "registered_home": "河南省信阳市固始县",
            "registered_home_admin_code": "411525",
        }
    )
    assert "registered_home" not in body
    assert body["registered_home_admin_code"] == "411525"


def test_the_list_item_being_typed_is_looked_up():
    assert typed_query("王建国、老王，  wang ", many=True) == "wang"
    assert typed_query("王建国、", many=True) == ""
    assert typed_query("固始、xiangfan", many=False) == "固始、xiangfan"
    assert typed_query("x" * 300, many=False) == "x" * 100


def test_the_services_reasons_in_chinese_once_each():
    assert why_words(
        [
            "homophone of 堤 (shi)",
            "homophone of 堤 (shi)",
            "dialect: f/h (fan ~ huang 黄)",
            "former name",
            "inside 河南省",
        ]
    ) == ("同音字「堤」", "方言音近")
    assert why_words(None) == ()


def test_the_hospital_placement_form_suggests_the_stated_names_and_places(client):
    sign_in(client)
    form = client.get("/hospital-placements/new").text
    assert re.search(r'<input id="f-stated_places"[^>]*role="combobox"', form, re.S)
    assert re.search(r'<input id="f-stated_names"[^>]*role="combobox"', form, re.S)


def test_the_confirmed_home_suggests_the_codes_search_takes(client, search):
    sign_in(client)
    answer = client.get("/suggest/places", params={"field": "home_address", "q": "gushi"})
    first, second = options(answer.text)
    assert "data-code" not in first
    assert 'data-code="411525"' in second
