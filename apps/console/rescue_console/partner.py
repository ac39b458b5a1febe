"""The partners' portal (合作机构): an agency without its own system sees the referrals
sent to it, with only its feed's fields, and answers them; a police agency also answers
identity checks and DNA samples (search's police API)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rescue_console import wording
from rescue_console.referrals import PARTNER_TYPES, REASONS, STATUS
from rescue_console.web import (
    ConsoleDep,
    Refused,
    UserDep,
    check_csrf,
    form_key,
    form_of,
    page,
    posted,
    still_signed_in,
    submit,
)

router = APIRouter()

ANSWERS = {
    "acknowledged": "确认收到",
    "accepted": "接收",
    "declined": "拒绝（须写明理由）",
    "in_progress": "正在办理",
    "completed": "办结（须写明办理结果）",
}
# referral's lifecycle: the answers each status still allows.
NEXT_ANSWERS = {
    "sent": ("acknowledged", "accepted", "declined"),
    "acknowledged": ("accepted", "declined"),
    "accepted": ("in_progress", "completed"),
    "in_progress": ("completed",),
}
# A feed's fields, in the order shown; a field the feed lacks is not shown.
FEED_FIELDS = {
    "reason": "转介原因",
    "mandatory": "性质",
    "full_name": "姓名",
    "sex": "性别",
    "estimated_age": "年龄（约）",
    "registered_home_admin_code": "户籍地区划代码",
    "consent_recorded": "本人同意",
    "contact_station_id": "联系救助站",
    "sent_at": "发送时间",
    "acknowledge_by": "确认收到期限",
}
CHECK_RESULTS = {
    "identified": "已查明身份",
    "no_match": "未比中",
    "inconclusive": "无法确定",
    "unverifiable": "无法核实（逐级上报）",
}
DNA_RESULTS = {"hit": "比中", "no_match": "未比中", "unusable": "样本不可用"}
# search's field → the police forms' (two forms on one page)
CHECK_NAMES = {
    "request_id": "check_request_id",
    "result": "check_result",
    "full_name": "check_full_name",
    "id_record_ref": "check_id_record_ref",
    "home_province": "check_home_province",
    "home_address": "check_home_address",
    "note": "check_note",
}
DNA_NAMES = {
    "sample_id": "dna_sample_id",
    "result": "dna_result",
    "matched_record_id": "dna_matched_record_id",
    "note": "dna_note",
}


def partner_type(user) -> str | None:
    """The agency's type, as the token's roles carry it (roles partner,<type>)."""
    if "partner" not in user.roles:
        return None
    return next((t for t in PARTNER_TYPES if t in user.roles), None)


def feed_rows(feed: dict, station_name) -> list[tuple[str, str]]:
    """Only the fields the agency's feed carries, in Chinese."""
    rows = []
    for name, label in FEED_FIELDS.items():
        if name not in feed:
            continue
        value = feed[name]
        if name == "reason":
            shown = wording.label(REASONS, value)
        elif name == "mandatory":
            shown = "法定转介" if value else "依申请转介"
        elif name == "sex":
            shown = wording.label(wording.SEX, value)
        elif name == "consent_recorded":
            shown = "已记录本人同意" if value else "未记录"
        elif name == "contact_station_id":
            station = station_name(value)
            shown = station.name if station else value
        elif name in ("sent_at", "acknowledge_by"):
            shown = wording.local_time(value)
        elif value is None:
            shown = "不详"
        else:
            shown = str(value)
        rows.append((label, shown))
    return rows


NOTE_NEEDED = {"declined": "拒绝须写明理由。", "completed": "办结须写明办理结果。"}


def answer_problems(answer: str, note: str, status: str | None) -> dict[str, list[str]]:
    """What the console says before sending: an answer is chosen, one the referral's
    status allows, a decline has its reason and a completion its result."""
    if answer not in ANSWERS:
        return {"answer": ["请选择答复。"]}
    if status is not None and answer not in NEXT_ANSWERS.get(status, ()):
        return {"answer": ["此转介当前的进度不能这样答复，请刷新本页核对。"]}
    if answer == "declined" and not note:
        return {"note": ["拒绝须写明理由。"]}
    if answer == "completed" and not note:
        return {"note": ["办结须写明办理结果。"]}
    return {}


def answer_refusals(answer, chosen: str = "") -> tuple[dict[str, list[str]], list[str]]:
    """referral's refusals of an answer, next to the answer or the note (``chosen``:
    the answer sent, so a missing note is said as that answer needs it)."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in answer.field_errors:
        field = str(error.get("field", ""))
        words = wording.reason_in_chinese(field, str(error.get("reason", "")))
        if field.endswith(("note", "reason")) or "note" in str(error.get("reason", "")):
            # a decline's reason: referral names it "note" (or "reason"), or says so in a body error
            if "2000" in str(error.get("reason", "")):
                errors.setdefault("note", []).append(words)
            else:
                errors.setdefault("note", []).append(NOTE_NEEDED.get(chosen, words))
        elif field.endswith("answer"):
            errors.setdefault("answer", []).append("请选择答复。")
        else:
            general.append(words)
    if answer.status == 409:
        errors.setdefault("answer", []).append(
            "此转介当前的进度不能这样答复（例如须先接收才能办结），请刷新本页核对。"
        )
    elif answer.status == 404:
        general.append("此转介不存在，或不是发给本机构的。")
    elif answer.status == 403:
        general.append("本账号的机构不在合作机构名录中，或机构类型与名录不符。")
    elif answer.unreachable:
        general.append("转介服务暂时不可用，填写内容已保留；请稍后再次提交。")
    elif not errors and not general:
        general.append(f"答复未被接受：{answer.detail or answer.status}")
    return errors, general


def police_body(values: dict, names: dict[str, str], key_field: str) -> dict:
    """A police form as search's answer: empty fields left out, so search names them."""
    body = {}
    for field, name in names.items():
        text = str(values.get(name, "")).strip()
        if field != key_field and text:
            body[field] = text
    return body


# ---- the police's requests, from referral's pull feed (issue 28) ---------------------

FEEDS = ("police_check", "dna_sample")
FEED_PAGE = 500  # deliveries per read of the feed (referral's most)
FEED_PAGES = 4  # reads at most per page view: a feed's first 2000
SHOWN = 50  # requests shown per feed, those waiting for a receipt first
PHOTO_PATH = re.compile(r"^/partner/photos/[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
PHOTO_QUERY = ("agency", "expires", "signature")  # every link has them
PHOTO_OPTIONAL = ("request_id",)  # the check the link was made for
IMAGE_TYPES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


@dataclass
class Delivery:
    """One message of the agency's pull feed: the event's fields in ``body``."""

    id: str
    cursor: object
    feed: str
    event_type: str
    body: dict
    created_at: str | None = None
    acknowledge_by: str | None = None
    acknowledged_at: str | None = None


@dataclass
class Feed:
    """A feed as read: its deliveries, or why it could not be read."""

    status: int
    deliveries: list[Delivery] = dataclasses.field(default_factory=list)
    more: bool = False  # more than FEED_PAGES reads: the oldest not shown

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def delivery_of(item: dict) -> Delivery | None:
    """A feed item as the console shows it; None when it is not one."""
    if not isinstance(item, dict):
        return None
    body = item.get("body")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            body = None
    identity = item.get("delivery_id") or item.get("id")
    if not isinstance(body, dict) or not identity:
        return None
    return Delivery(
        id=str(identity),
        cursor=item.get("cursor"),
        feed=str(item.get("feed", "")),
        event_type=str(item.get("event_type", "")),
        body=body,
        created_at=item.get("created_at"),
        acknowledge_by=item.get("acknowledge_by"),
        acknowledged_at=item.get("acknowledged_at"),
    )


def feed_items(body) -> list:
    """The items of a feed answer: a list, or an object carrying them."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("items", "deliveries", "data"):
            if isinstance(body.get(key), list):
                return body[key]
    return []


async def read_feed(services, token: str, feed: str) -> Feed:
    """Every delivery of one feed from the start, a page at a time by cursor."""
    since = None
    found = Feed(200)
    for _ in range(FEED_PAGES):
        answer = await services.get(
            token, "referral", "/partner/feed", feed=feed, since=since, limit=FEED_PAGE
        )
        if not answer.ok:
            return Feed(answer.status, found.deliveries)
        items = feed_items(answer.body)
        found.deliveries += [
            d for d in map(delivery_of, items) if d is not None and d.feed in ("", feed)
        ]
        cursor = items[-1].get("cursor") if items and isinstance(items[-1], dict) else None
        if isinstance(answer.body, dict) and answer.body.get("next") is not None:
            cursor = answer.body["next"]
        if len(items) < FEED_PAGE or cursor is None:
            return found
        since = cursor
    found.more = True
    return found


def waiting_first(deliveries: list[Delivery]) -> list[Delivery]:
    """Those not yet acknowledged first (the soonest due first), then the newest."""
    waiting = sorted(
        (d for d in deliveries if not d.acknowledged_at),
        key=lambda d: (d.acknowledge_by or "9999", d.created_at or ""),
    )
    done = sorted(
        (d for d in deliveries if d.acknowledged_at),
        key=lambda d: d.created_at or "",
        reverse=True,
    )
    return (waiting + done)[:SHOWN]


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


def photo_request(link: str, intake_bases: list[str]) -> tuple[str, dict[str, str]] | None:
    """intake's path and query for a police photo link, or None unless the link is one
    of intake's (its configured origin and path, only the link's own parameters): the
    console never fetches an address a feed or a browser names (no SSRF)."""
    if not isinstance(link, str) or len(link) > 2000:
        return None
    parts = urlsplit(link)
    if parts.username or parts.password or parts.fragment:
        return None
    for base in intake_bases:
        base_parts = urlsplit(base)
        prefix = base_parts.path.rstrip("/")
        if _origin(link) is None or _origin(link) != _origin(base):
            continue
        if not parts.path.startswith(prefix + "/"):
            continue
        path = parts.path[len(prefix) :]
        if not PHOTO_PATH.match(path):
            return None
        query = parse_qs(parts.query, keep_blank_values=True)
        if not set(PHOTO_QUERY) <= set(query) <= set(PHOTO_QUERY + PHOTO_OPTIONAL):
            return None
        if any(len(v) != 1 for v in query.values()):
            return None
        if "request_id" in query and not _uuid_or_none(query["request_id"][0]):
            return None
        return path, {name: query[name][0] for name in query}
    return None


def link_expires(link: str) -> datetime | None:
    """When a photo link stops working, as its ``expires`` says (seconds or ISO time)."""
    raw = (parse_qs(urlsplit(link).query).get("expires") or [""])[0]
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def image_type(content: bytes) -> str | None:
    return next((kind for magic, kind in IMAGE_TYPES.items() if content.startswith(magic)), None)


def intake_bases(console) -> list[str]:
    settings = console.settings
    bases = [settings.service_url("intake")]
    if settings.intake_public_url is not None:
        bases.append(str(settings.intake_public_url).rstrip("/"))
    return bases


@router.get("/partner/photo")
async def police_photo(request: Request, console: ConsoleDep, user: UserDep, link: str = ""):
    """The face photo a police check links to, fetched from intake with the police
    user's token (intake checks the link and records the view) and served from the
    console's origin; any other address is refused without being fetched."""
    target = photo_request(link, intake_bases(console))
    if target is None:
        return Response("不是本网络的照片链接。", status_code=400, media_type="text/plain")
    path, query = target
    answer = await console.services.call(user.token, "intake", "GET", path, params=query)
    still_signed_in(console, user, answer)
    kind = image_type(answer.content) if answer.ok else None
    if kind is None:
        # an expired or foreign link: the <img>'s alt and the card's words say so
        status = 502 if answer.ok or answer.unreachable else 404
        return Response(status_code=status)
    return Response(answer.content, media_type=kind)


@router.post("/partner/deliveries/{delivery_id}/acknowledgement")
async def acknowledge(delivery_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """The agency's receipt of a request (referral's pull feed)."""
    form = await form_of(request)
    check_csrf(request, user, form)
    values = {name: vals[0] for name, vals in form.items()}
    try:
        uuid.UUID(delivery_id)
    except ValueError:
        return await _portal(request, console, user, general=["此申请不存在。"], status=404)
    answer = await _acknowledge(console, user, delivery_id, form_key(values))
    if answer.ok or answer.status == 409:  # 409: acknowledged already, as asked
        return RedirectResponse(f"/partner?answered=ack#d-{delivery_id}", status_code=303)
    general = {
        404: "此申请不存在，或不是发给本机构的。",
        403: "本账号的机构不在合作机构名录中，或机构类型与名录不符。",
    }.get(answer.status, "转介服务暂时不可用，请稍后再次确认。")
    return await _portal(
        request,
        console,
        user,
        failed=f"ack-{delivery_id}",
        general=[general],
        status=answer.status or 503,
    )


async def _acknowledge(console, user, delivery_id: str, key: str):
    answer = await console.services.call(
        user.token,
        "referral",
        "POST",
        f"/partner/feed/{delivery_id}/acknowledgement",
        json={},
        headers={"Idempotency-Key": key},
    )
    still_signed_in(console, user, answer)
    return answer


def check_rows(body: dict, station_name) -> list[tuple[str, str]]:
    """What a police check or DNA sample says, in Chinese, only the fields it carries."""
    rows = []
    station = body.get("station_id")
    for name, label in (
        ("sex", "性别"),
        ("estimated_age", "年龄（约）"),
        ("stated_names", "自述姓名"),
        ("description", "体貌特征"),
        ("sample_ref", "样本编号（标签）"),
        ("taken_at", "采样时间"),
        ("taken_by", "采样人"),
        ("reverifies_sample_id", "复核样本"),
        ("escalates_request_id", "逐级上报"),
        ("requested_at", "申请时间"),
        ("submitted_at", "送检时间"),
    ):
        value = body.get(name)
        if value is None or value == []:
            continue
        if name == "sex":
            shown = wording.label(wording.SEX, value)
        elif name == "stated_names":
            shown = "、".join(map(str, value)) if isinstance(value, list) else str(value)
        elif name in ("taken_at", "requested_at", "submitted_at"):
            shown = wording.local_time(value)
        elif name == "reverifies_sample_id":
            shown = f"复核此前比中的样本 {str(value)[:8]}"
        elif name == "escalates_request_id":
            shown = f"下级公安机关无法核实，上报本机构（原申请 {str(value)[:8]}）"
        else:
            shown = str(value)
        rows.append((label, shown))
    if station:
        known = station_name(station)
        rows.append(("联系救助站", known.name if known else str(station)))
    return rows


@router.get("/partner")
async def portal(request: Request, console: ConsoleDep, user: UserDep, answered: str = ""):
    notice = {
        "referral": "答复已送达。",
        "check": "身份核查答复已送达。",
        "dna": "DNA比对结果已送达。",
        "ack": "已确认收到。",
    }.get(answered)
    return await _portal(request, console, user, notice=notice)


@router.post("/partner/referrals/{referral_id}/answers")
async def answer_referral(referral_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """The agency's answer to POST /partner/referrals/{id}/answers; a refusal comes
    back next to the field of that referral's form, with what was typed kept."""
    sent = await posted(request, user)
    if not _uuid_or_none(referral_id):
        return await _portal(request, console, user, general=["此转介不存在。"], status=404)
    values = sent.values
    choice, note = values.get("answer", ""), values.get("note", "").strip()
    errors = answer_problems(choice, note, values.get("status") or None)
    if errors:
        return await _portal(
            request, console, user, failed=referral_id, values=values, errors=errors, status=422
        )

    def again(refused: Refused):
        errors, general = answer_refusals(refused.answer, choice)
        if refused.answer.unreachable:
            values["idempotency_key"] = refused.sent
        return _portal(
            request,
            console,
            user,
            failed=referral_id,
            values=values,
            errors=errors,
            general=general,
            status=refused.answer.status or 503,
        )

    body = {"answer": choice, **({"note": note} if note else {})}
    return await submit(
        request,
        console,
        user,
        "referral",
        f"/partner/referrals/{referral_id}/answers",
        body,
        sent.key,
        done="/partner?answered=referral",
        again=again,
        missing=None,  # said on the portal by answer_refusals
    )


@router.post("/partner/police-checks")
async def answer_check(request: Request, console: ConsoleDep, user: UserDep):
    """A police agency's answer to an identity check (search's police API)."""
    return await _police(request, console, user, "check")


@router.post("/partner/dna-samples")
async def report_dna(request: Request, console: ConsoleDep, user: UserDep):
    """A police agency's DNA database result for a sample (search's police API)."""
    return await _police(request, console, user, "dna")


async def _police(request, console, user, kind: str):
    sent = await posted(request, user)
    values = sent.values
    names, id_field, words = (
        (CHECK_NAMES, "request_id", "核查申请编号")
        if kind == "check"
        else (DNA_NAMES, "sample_id", "样本编号")
    )
    target = values.get(names[id_field], "").strip()
    try:
        uuid.UUID(target)
    except ValueError:
        errors = {names[id_field]: [f"请填写{words}（核查申请上的编号）。"]}
        return await _portal(
            request, console, user, failed=kind, values=values, errors=errors, status=422
        )
    path = (
        f"/police/checks/{target}/answer"
        if kind == "check"
        else f"/police/dna-samples/{target}/result"
    )

    async def done(answer) -> str:
        delivery = values.get("delivery_id", "")
        if delivery and not values.get("acknowledged") and _uuid_or_none(delivery):
            # an answer is a receipt too; the answer stands if the receipt fails
            await _acknowledge(console, user, delivery, f"{sent.key}.ack")
        return f"/partner?answered={kind}"

    def again(refused: Refused):
        answer = refused.answer
        refused.errors, refused.general = wording.refusals_by_field(
            answer.field_errors, tuple(names.values()), names
        )
        if answer.status == 404:
            missing = f"{words}不存在，或不是发给本机构的。"
            refused.errors.setdefault(names[id_field], []).append(missing)
        if answer.unreachable:
            values["idempotency_key"] = refused.sent
        refused.explain(
            "甄别服务暂时不可用，填写内容已保留；请稍后再次提交。",
            {
                409: lambda a: f"已答复过，或当前不能答复：{a.detail}",
                403: "只有公安机关的账号可以答复核查。",
            },
            refused="答复未被接受",
        )
        return _portal(
            request,
            console,
            user,
            failed=kind,
            values=values,
            errors=refused.errors,
            general=refused.general,
            status=answer.status or 503,
        )

    return await submit(
        request,
        console,
        user,
        "search",
        path,
        police_body(values, names, id_field),
        sent.key,
        done=done,
        again=again,
        missing=None,  # said next to the number typed
    )


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def _portal(
    request,
    console,
    user,
    *,
    notice=None,
    failed=None,
    values=None,
    errors=None,
    general=None,
    status=200,
):
    kind = partner_type(user)
    if kind is None:
        return page(
            request,
            "message.html",
            {"title": "无权查看", "text": "此页面供合作机构的账号使用。"},
            status=403,
            user=user,
        )
    police = kind == "police"
    answer, *feeds = await asyncio.gather(
        console.services.get(user.token, "referral", "/partner/referrals"),
        *(read_feed(console.services, user.token, f) for f in (FEEDS if police else ())),
    )
    still_signed_in(console, user, answer, *feeds)
    referrals = answer.body if answer.ok and isinstance(answer.body, list) else None
    checks, samples = feeds if police else (None, None)
    return page(
        request,
        "partner.html",
        {
            "kind": kind,
            "kind_words": PARTNER_TYPES[kind],
            "referrals": referrals,
            "forbidden": answer.status == 403,
            "rows": lambda feed: feed_rows(feed, console.network.station),
            "next_answers": lambda status: [(a, ANSWERS[a]) for a in NEXT_ANSWERS.get(status, ())],
            "status_words": STATUS,
            "notice": notice,
            "failed": failed,
            "v": values or {},
            "errors": errors or {},
            "general": general or [],
            "key": lambda this: (
                (values or {}).get("idempotency_key")
                if failed == this and (values or {}).get("idempotency_key")
                else str(uuid.uuid4())
            ),
            "check_results": CHECK_RESULTS.items(),
            "dna_results": DNA_RESULTS.items(),
            "checks": checks,
            "samples": samples,
            "shown": lambda feed: waiting_first(feed.deliveries),
            "check_rows": lambda body: check_rows(body, console.network.station),
            "photo_ok": lambda link: photo_request(link, intake_bases(console)) is not None,
            "link_expires": link_expires,
            "listed_checks": [
                d.body.get("request_id") for d in (checks.deliveries if checks else [])
            ],
            "listed_samples": [
                d.body.get("sample_id") for d in (samples.deliveries if samples else [])
            ],
        },
        status=status,
        user=user,
    )
