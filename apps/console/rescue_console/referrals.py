"""Referrals (转介) as the station sees them: its referrals, overdue first; opening one
by reason for a person; the loop of one, consent (given, refused, overridden with the
reason) and revocation."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request

from rescue_console import wording
from rescue_console.web import (
    ConsoleDep,
    Refused,
    UserDep,
    not_found_page,
    page,
    posted,
    still_signed_in,
    submit,
)

router = APIRouter()

# referral's rules (rules.yaml): the reason, and who acts on it.
REASONS = {
    "domestic_violence_victim": "家暴受害人（妇联）",
    "minor": "未成年人（未成年人保护机构）",
    "suspected_trafficking": "疑似被拐卖（公安）",
    "coerced_begging": "疑似被胁迫乞讨（公安）",
    "abuse": "遭受虐待（公安）",
    "abandonment": "被遗弃（公安）",
    "mental_illness": "精神障碍（医院）",
    "extreme_poverty_support": "特困人员救助供养（民政）",
    "minimum_living_allowance": "最低生活保障（民政）",
    "disability_support": "残疾人两项补贴（民政）",
    "job": "就业帮扶（社会组织）",
    "housing": "住房帮扶（社会组织）",
    "counselling": "心理疏导（社会组织）",
    "legal_aid": "法律援助（社会组织）",
    "living_difficulty": "返乡后生活困难（民政）",
    "work_difficulty": "返乡后就业困难（社会组织）",
    "medical_difficulty": "返乡后就医困难（医院）",
}
PARTNER_TYPES = {
    "womens_federation": "妇联",
    "minor_protection": "未成年人保护机构",
    "police": "公安",
    "hospital": "医院",
    "civil_affairs": "民政部门",
    "social_organisation": "社会组织",
}
STATUS = {
    "created": "待匹配接收机构",
    "awaiting_consent": "待本人同意",
    "sent": "已发送",
    "acknowledged": "已确认收到",
    "accepted": "已接收",
    "in_progress": "办理中",
    "completed": "已办结",
    "declined": "已拒绝",
    "revoked": "已撤回",
}
OPEN = ("created", "awaiting_consent", "sent", "acknowledged", "accepted", "in_progress")
NOT_YET_SENT = ("created", "awaiting_consent")
REFERRAL_MISSING = ("查无此转介或无权查看", "该转介不存在，或不在您的查看范围内。")
PERSON_MISSING = ("查无此人或无权查看", "请从受助人员的页面开启转介。")
CONSENT = {
    "given": "本人同意",
    "refused": "本人拒绝（转介撤回）",
    "override": "工作人员决定转介（已记录理由）",
}


def is_overdue(referral: dict) -> bool:
    """Open, and its partner let a deadline slip (acknowledgement or action)."""
    return referral.get("status") in OPEN and bool(
        referral.get("acknowledgement_overdue_at") or referral.get("action_overdue_at")
    )


def overdue_first(referrals: list[dict]) -> list[dict]:
    """Overdue ones first, each group newest first (as the service lists them)."""
    return sorted(referrals, key=lambda r: not is_overdue(r))


def deadline(referral: dict, now: datetime) -> tuple[str, str, bool] | None:
    """The partner's next deadline: (what, time left or overdue, overdue?)."""
    status = referral.get("status")
    if status == "sent" and referral.get("acknowledge_by"):
        left, late = wording.time_left(referral["acknowledge_by"], now)
        return "确认收到期限", left, late
    if status in ("accepted", "in_progress") and referral.get("act_by"):
        left, late = wording.time_left(referral["act_by"], now)
        return "办理期限", left, late
    return None


def loop_steps(referral: dict) -> list[tuple[str, str | None, str | None]]:
    """The loop so far as the service records it: (step, when, note)."""
    steps: list[tuple[str, str | None, str | None]] = [
        ("开启转介", referral.get("opened_at"), f"开启人：{referral.get('opened_by')}")
    ]
    if referral.get("consent"):
        steps.append(
            (wording.label(CONSENT, referral["consent"]), None, referral.get("consent_note"))
        )
    for step, name in (
        ("已发送至接收机构", "sent_at"),
        ("接收机构确认收到", "acknowledged_at"),
        ("接收机构已接收", "accepted_at"),
    ):
        if referral.get(name):
            steps.append((step, referral[name], None))
    if referral.get("status") == "in_progress":
        steps.append(("办理中", None, None))
    if referral.get("closed_at"):
        status = wording.label(STATUS, referral.get("status"))
        steps.append((status, referral["closed_at"], referral.get("outcome")))
    for late, name in (
        ("逾期未确认收到，已上报中心站", "acknowledgement_overdue_at"),
        ("逾期未办理，已上报中心站", "action_overdue_at"),
    ):
        if referral.get(name):
            steps.append((late, referral[name], None))
    return steps


def consent_refusals(answer) -> tuple[dict[str, list[str]], list[str]]:
    """referral's refusals of a consent: a refusal or override without its reason is
    said next to the note."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in answer.field_errors:
        field, reason = str(error.get("field", "")), str(error.get("reason", ""))
        if "note" in reason or field.endswith("note"):
            errors.setdefault("note", []).append("本人拒绝或工作人员决定转介，须写明理由。")
        elif field.endswith("decision"):
            errors.setdefault("decision", []).append("请选择本人的意愿。")
        else:
            general.append(wording.reason_in_chinese(field, reason))
    return errors, general


def request_refusals(answer) -> tuple[dict[str, list[str]], list[str]]:
    """referral's refusals of a new referral, next to the reason or the person."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in answer.field_errors:
        field = str(error.get("field", "")).removeprefix("request.")
        if field.endswith("reason"):
            errors.setdefault("reason", []).append("请从列表中选择转介原因。")
        elif field.endswith("person_id"):
            general.append("查无此人或不在本站：只能为本站登记的人员开启转介。")
        else:
            general.append(wording.reason_in_chinese(field, str(error.get("reason", ""))))
    return errors, general


def _uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@router.get("/referrals")
async def referral_list(request: Request, console: ConsoleDep, user: UserDep, status: str = ""):
    status = status if status in STATUS else ""
    answer, late = (
        await console.services.get(user.token, "referral", "/referrals", status=status or None),
        await console.services.get(user.token, "referral", "/referrals", overdue="true"),
    )
    still_signed_in(console, user, answer, late)
    found = answer.body if answer.ok and isinstance(answer.body, list) else None
    if found is not None and late.ok and not status:
        # the overdue ones may be older than the newest page: always listed
        seen = {r["id"] for r in found}
        found = [r for r in late.body if r["id"] not in seen] + found
    now = console.clock()
    return page(
        request,
        "referrals.html",
        {
            "referrals": overdue_first(found) if found is not None else None,
            "forbidden": answer.status == 403,
            "status": status,
            "statuses": STATUS.items(),
            "deadline": lambda r: deadline(r, now),
            "is_overdue": is_overdue,
            "R": _words(),
        },
        user=user,
    )


@router.get("/referrals/new")
async def new_referral(request: Request, console: ConsoleDep, user: UserDep, person_id: str = ""):
    if not _uuid(person_id):
        return not_found_page(request, user, PERSON_MISSING)
    return _new_form(request, user, {"person_id": person_id})


@router.post("/referrals/new")
async def open_referral(request: Request, console: ConsoleDep, user: UserDep):
    """POST /referrals with the person and the reason; a refusal comes back next to it."""
    sent = await posted(request, user)
    values = sent.values
    if not _uuid(values.get("person_id", "")):
        return not_found_page(request, user, PERSON_MISSING)

    def again(refused: Refused):
        answer = refused.answer
        refused.errors, refused.general = request_refusals(answer)
        values["idempotency_key"] = refused.key
        if answer.status == 409:
            refused.errors.setdefault("reason", []).append("此人已有此项转介：请在转介列表中查看。")
        refused.explain(
            "转介服务暂时不可用，请稍后再次提交（不会重复开启）。",
            {403: "您的角色无权开启转介。"},
            refused="转介未被接受",
        )
        return _new_form(
            request, user, values, refused.errors, refused.general, status=answer.status or 503
        )

    body = {"person_id": values["person_id"], "reason": values.get("reason") or ""}
    return await submit(
        request,
        console,
        user,
        "referral",
        "/referrals",
        body,
        sent.key,
        done=lambda answer: f"/referrals/{answer.body['id']}",
        again=again,
        missing=None,
    )


def _new_form(request, user, values, errors=None, general=None, *, status=200):
    values.setdefault("idempotency_key", str(uuid.uuid4()))
    return page(
        request,
        "referral_new.html",
        {
            "v": values,
            "errors": errors or {},
            "general": general or [],
            "reasons": REASONS.items(),
        },
        status=status,
        user=user,
    )


@router.get("/referrals/{referral_id}")
async def referral_page(referral_id: str, request: Request, console: ConsoleDep, user: UserDep):
    return await _referral(request, console, user, referral_id)


@router.post("/referrals/{referral_id}/consent")
async def consent(referral_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """The person's consent, its refusal, or staff's override with the reason."""
    return await _step(request, console, user, referral_id, "consent")


@router.post("/referrals/{referral_id}/revocation")
async def revocation(referral_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """Withdraw the referral with the reason (a mandatory one: an exception, on record)."""
    return await _step(request, console, user, referral_id, "revocation")


async def _step(request, console, user, referral_id: str, step: str):
    sent = await posted(request, user)
    if not _uuid(referral_id):
        return not_found_page(request, user, REFERRAL_MISSING)
    values = sent.values
    values.pop("idempotency_key", None)
    if step == "consent":
        body = {"decision": values.get("decision") or ""}
        if values.get("note", "").strip():
            body["note"] = values["note"].strip()
    else:
        body = {"reason": values.get("revocation_reason", "").strip()}

    def again(refused: Refused):
        answer = refused.answer
        if step == "consent":
            refused.errors, refused.general = consent_refusals(answer)
        elif answer.status == 422:
            refused.errors = {"revocation_reason": ["撤回转介须写明理由。"]}
        if answer.unreachable:
            # the same form again: the service answers once
            values["idempotency_key"] = refused.sent
        refused.explain(
            "转介服务暂时不可用，填写内容已保留；请稍后再次提交。",
            {
                409: lambda a: f"此转介已不能这样办理：{a.detail}（请刷新本页核对进度）。",
                403: "只有开启转介的救助站可以办理，或您的角色无权办理。",
            },
        )
        return _referral(
            request,
            console,
            user,
            referral_id,
            values=values,
            errors=refused.errors,
            general=refused.general,
            failed=step,
            status=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "referral",
        f"/referrals/{referral_id}/{step}",
        body,
        sent.key,
        done=f"/referrals/{referral_id}#h-loop",
        again=again,
        missing=REFERRAL_MISSING,
    )


async def _referral(
    request,
    console,
    user,
    referral_id,
    *,
    values=None,
    errors=None,
    general=None,
    failed=None,
    status=200,
):
    if not _uuid(referral_id):
        return not_found_page(request, user, REFERRAL_MISSING)
    answer = await console.services.get(user.token, "referral", f"/referrals/{referral_id}")
    still_signed_in(console, user, answer)
    if answer.status in (403, 404):
        return not_found_page(request, user, REFERRAL_MISSING)
    if not answer.ok:
        return page(
            request,
            "message.html",
            {"title": "暂时无法获取", "text": "转介服务暂时不可用，请稍后刷新。"},
            status=503,
            user=user,
        )
    referral = answer.body
    return page(
        request,
        "referral.html",
        {
            "r": referral,
            "steps": loop_steps(referral),
            "due": deadline(referral, console.clock()),
            "overdue": is_overdue(referral),
            "is_open": referral["status"] in OPEN,
            "awaits_consent": referral["consent_required"] and referral["status"] in NOT_YET_SENT,
            "v": values or {},
            "errors": errors or {},
            "general": general or [],
            "failed": failed,
            "consent_key": _kept(values, failed == "consent"),
            "revocation_key": _kept(values, failed == "revocation"),
            "consents": CONSENT.items(),
            "R": _words(),
        },
        status=status,
        user=user,
    )


def _kept(values, this_form: bool) -> str:
    """The failed form's key when it must be sent again as it was, else a new one."""
    kept = (values or {}).get("idempotency_key") if this_form else None
    return kept or str(uuid.uuid4())


def _words() -> dict[str, dict[str, str]]:
    return {"reasons": REASONS, "partners": PARTNER_TYPES, "status": STATUS, "consent": CONSENT}
