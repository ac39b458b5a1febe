"""Suggestions while typing (issue 26): places from search's gazetteer (`GET /places`:
homophones, pinyin, dialect readings; a former name says what it is now part of) and
names from search's name index (`GET /names`), as the options of an ARIA combobox's
listbox that htmx swaps in. A failure is a quiet "暂无建议": typing never breaks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter, Request

from rescue_console.services import Answer
from rescue_console.sessions import COOKIE
from rescue_console.web import Console, ConsoleDep, templates

router = APIRouter()


@dataclass(frozen=True)
class Field:
    """A form field that suggests: where the typed text is and what choosing fills."""

    many: bool = False  # a list typed with separators: only the last item is looked up
    near_station: bool = False  # ranked around the station (where a person was found)
    code_field: str | None = None  # the field the chosen division's code goes to


PLACE_FIELDS = {
    "handover.found_place": Field(near_station=True),
    "stated_places": Field(many=True),
    "registered_home": Field(code_field="registered_home_admin_code"),
    "places": Field(many=True),  # a clue's places (the case workspace)
    "notice_found_place": Field(near_station=True),
    "home_address": Field(code_field="home_admin_code"),  # identity confirmation
}
NAME_FIELDS = {
    "stated_names": Field(many=True),
    "full_name": Field(),
    "names": Field(many=True),  # a clue's names
    "check_stated_names": Field(many=True),
}

LIMIT = 8
MAX_QUERY = 100  # what search accepts
HOME_CODE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")  # intake takes a county, town or village
_LIST_SPLIT = re.compile(r"[,，、;；\n]")
RECORD_KINDS = {"case": "救助档案", "report": "寻亲登记"}
# The services' reasons (English) in a word or two; a reason not listed is not shown.
_WHY = [
    (re.compile(r"^same characters$"), "同字"),
    (re.compile(r"^same pinyin$"), "同拼音"),
    (re.compile(r"^same reading"), "同音"),
    (re.compile(r"^homophone of (\S+)"), r"同音字「\1」"),
    (re.compile(r"^typo in pinyin"), "拼音近似"),
    (re.compile(r"^dialect"), "方言音近"),
    (re.compile(r"^similar characters$"), "字形相近"),
    (re.compile(r"^similar pinyin$"), "拼音相近"),
    (re.compile(r"^(part|start) of the name"), "部分名称"),
    (re.compile(r"^given name only$"), "名相同"),
    (re.compile(r"^one syllable differs$"), "一字音异"),
]


@dataclass(frozen=True)
class Suggestion:
    value: str  # what choosing puts in the field
    name: str
    detail: str = ""
    now_part_of: str = ""  # a former division: the current one that holds it
    code: str = ""  # for the field's code field, when intake would take it
    why: tuple[str, ...] = ()

    @property
    def more(self) -> str:
        """The line under the name: where, the code, why it was suggested."""
        return " · ".join(p for p in (self.detail, self.code, "，".join(self.why)) if p)


@router.get("/suggest/places")
async def suggest_places(request: Request, console: ConsoleDep):
    return await _suggest(request, console, "places", PLACE_FIELDS)


@router.get("/suggest/names")
async def suggest_names(request: Request, console: ConsoleDep):
    return await _suggest(request, console, "names", NAME_FIELDS)


async def _suggest(request: Request, console: Console, kind: str, fields: dict[str, Field]):
    params = request.query_params
    name = params.get("field", "")
    field = fields.get(name, Field())
    # htmx sends the input's own value under its name; a plain ?q= works too.
    typed = params.get("q", params.get(name, "") if name in fields else "")
    query = typed_query(typed, many=field.many)
    listbox = listbox_id(name if name in fields else kind)
    # No session: no call, and no sign-in redirect that would lose what is typed.
    user = console.sessions.get(request.cookies.get(COOKIE))
    if not query:
        return _fragment(request, listbox, [], quiet=False)
    if user is None:
        return _fragment(request, listbox, [], quiet=True)
    if kind == "places":
        answer = await console.services.get(
            user.token, "search", "/places", q=query, limit=LIMIT, **_near(console, user, field)
        )
        found = place_suggestions(answer, field)
    else:
        answer = await console.services.get(user.token, "search", "/names", q=query, limit=LIMIT)
        if answer.status == 403:
            # The name index is for reviewers: others get no list, not an error.
            return _fragment(request, listbox, [], quiet=False)
        found = name_suggestions(answer, console)
    return _fragment(request, listbox, found or [], quiet=True)


def typed_query(typed: str, *, many: bool) -> str:
    """What to look up: the text typed, or in a list the item being typed."""
    text = _LIST_SPLIT.split(typed)[-1] if many else typed
    return text.strip()[:MAX_QUERY]


def listbox_id(field: str) -> str:
    return "lb-" + re.sub(r"[^A-Za-z0-9_-]", "-", field)


def place_suggestions(answer: Answer, field: Field) -> list[Suggestion] | None:
    """search's PlaceView list as options; None when there is no usable answer."""
    if not answer.ok or not isinstance(answer.body, list):
        return None
    found = []
    for place in answer.body:
        if not isinstance(place, dict) or not place.get("name"):
            continue
        path = [str(p) for p in place.get("path") or [place["name"]]]
        now = place.get("now_part_of") if not place.get("current", True) else None
        code = str(place.get("code") or "")
        found.append(
            Suggestion(
                value="".join(path),
                name=str(place["name"]),
                detail="".join(path[:-1]),
                now_part_of="".join(now.get("path") or [now.get("name", "")])
                if isinstance(now, dict)
                else "",
                code=code if field.code_field and HOME_CODE.match(code) else "",
                why=why_words(place.get("why")),
            )
        )
    return found


def name_suggestions(answer: Answer, console: Console) -> list[Suggestion] | None:
    """search's NameView list as options (one per name and station)."""
    if not answer.ok or not isinstance(answer.body, list):
        return None
    found, seen = [], set()
    for entry in answer.body:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        name, station_id = str(entry["name"]), str(entry.get("station_id") or "")
        if (name, station_id) in seen:
            continue
        seen.add((name, station_id))
        station = console.network.station(station_id)
        kind = RECORD_KINDS.get(str(entry.get("record_kind")), "")
        found.append(
            Suggestion(
                value=name,
                name=name,
                detail=" · ".join(p for p in (station.name if station else "", kind) if p),
                why=why_words(entry.get("why")),
            )
        )
    return found


def why_words(reasons) -> tuple[str, ...]:
    """The service's reasons in Chinese, each once, those with no words left out."""
    words: list[str] = []
    for reason in reasons if isinstance(reasons, list) else []:
        for pattern, said in _WHY:
            match = pattern.search(str(reason))
            if match:
                word = match.expand(said)
                if word not in words:
                    words.append(word)
                break
    return tuple(words)


def _near(console: Console, user, field: Field) -> dict[str, str]:
    """Around the user's station (its province, and its county when it serves one)."""
    station = console.network.station(user.station_id) if field.near_station else None
    if station is None:
        return {}
    near = {"province": station.province}
    if (
        station.admin_code
        and HOME_CODE.match(station.admin_code)
        and not station.admin_code.endswith("00")
    ):
        near["county"] = station.admin_code
    return near


def _fragment(request: Request, listbox: str, suggestions: list[Suggestion], *, quiet: bool):
    return templates.TemplateResponse(
        request,
        "_suggestions.html",
        {"listbox": listbox, "suggestions": suggestions, "quiet": quiet},
    )
