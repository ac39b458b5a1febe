"""The partners' portal (合作机构): an agency without its own system sees the referrals
sent to it, with only its feed's fields, and answers them; a police agency also answers
identity checks and DNA samples (search's police API)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from rescue_console import wording
from rescue_console.referrals import PARTNER_TYPES, REASONS, STATUS
from rescue_console.web import (
    ConsoleDep,
    UserDep,
    check_csrf,
    form_key,
    form_of,
    page,
    still_signed_in,
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
CHECK_RESULTS = {"identified": "已查明身份", "no_match": "未比中", "inconclusive": "无法确定"}
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


def answer_refusals(answer) -> tuple[dict[str, list[str]], list[str]]:
    """referral's refusals of an answer, next to the answer or the note."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in answer.field_errors:
        field = str(error.get("field", ""))
        words = wording.reason_in_chinese(field, str(error.get("reason", "")))
        if field.endswith("note"):
            errors.setdefault("note", []).append(words)
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


@router.get("/partner")
async def portal(request: Request, console: ConsoleDep, user: UserDep, answered: str = ""):
    notice = {
        "referral": "答复已送达。",
        "check": "身份核查答复已送达。",
        "dna": "DNA比对结果已送达。",
    }.get(answered)
    return await _portal(request, console, user, notice=notice)


@router.post("/partner/referrals/{referral_id}/answers")
async def answer_referral(referral_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """The agency's answer to POST /partner/referrals/{id}/answers; a refusal comes
    back next to the field of that referral's form, with what was typed kept."""
    form = await form_of(request)
    check_csrf(request, user, form)
    try:
        uuid.UUID(referral_id)
    except ValueError:
        return await _portal(request, console, user, general=["此转介不存在。"], status=404)
    values = {name: vals[0] for name, vals in form.items()}
    choice, note = values.get("answer", ""), values.get("note", "").strip()
    errors = answer_problems(choice, note, values.get("status") or None)
    general: list[str] = []
    status = 422
    if not errors:
        key = form_key(values)
        body = {"answer": choice, **({"note": note} if note else {})}
        answer = await console.services.call(
            user.token,
            "referral",
            "POST",
            f"/partner/referrals/{referral_id}/answers",
            json=body,
            headers={"Idempotency-Key": key},
        )
        still_signed_in(console, user, answer)
        if answer.ok:
            return RedirectResponse("/partner?answered=referral", status_code=303)
        errors, general = answer_refusals(answer)
        status = answer.status or 503
        if answer.unreachable:
            values["idempotency_key"] = key
    return await _portal(
        request,
        console,
        user,
        failed=referral_id,
        values=values,
        errors=errors,
        general=general,
        status=status,
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
    form = await form_of(request)
    check_csrf(request, user, form)
    values = {name: vals[0] for name, vals in form.items()}
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
    key = form_key(values)
    answer = await console.services.call(
        user.token,
        "search",
        "POST",
        path,
        json=police_body(values, names, id_field),
        headers={"Idempotency-Key": key},
    )
    still_signed_in(console, user, answer)
    if answer.ok:
        return RedirectResponse(f"/partner?answered={kind}", status_code=303)
    errors, general = wording.refusals_by_field(answer.field_errors, tuple(names.values()), names)
    if answer.status == 404:
        errors.setdefault(names[id_field], []).append(f"{words}不存在，或不是发给本机构的。")
    elif answer.status == 409:
        general.append(f"已答复过，或当前不能答复：{answer.detail}")
    elif answer.status == 403:
        general.append("只有公安机关的账号可以答复核查。")
    elif answer.unreachable:
        values["idempotency_key"] = key
        general.append("甄别服务暂时不可用，填写内容已保留；请稍后再次提交。")
    elif not errors and not general:
        general.append(f"答复未被接受：{answer.detail or answer.status}")
    return await _portal(
        request,
        console,
        user,
        failed=kind,
        values=values,
        errors=errors,
        general=general,
        status=answer.status or 503,
    )


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
    answer = await console.services.get(user.token, "referral", "/partner/referrals")
    still_signed_in(console, user, answer)
    referrals = answer.body if answer.ok and isinstance(answer.body, list) else None
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
        },
        status=status,
        user=user,
    )
