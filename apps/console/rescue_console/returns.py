"""Returns home (返乡), as transfer shows them to this user: the planning board by
destination province, a return with its fitness, refusal and escalation, the escort
planner with its rules, the escort's departure, legs and signed handover, the written
notice to the home area, and the escalations of refused returns."""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rescue_console import wording
from rescue_console.admission import china_instant
from rescue_console.services import Answer
from rescue_console.web import (
    RECORD_MISSING,
    Console,
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

STAFF_ROWS = 4  # the planner's rows for escort staff
LEG_ROWS = 3  # and for the itinerary's legs
# Who needs a medical escort on the way home (transfer's NEEDS_MEDICAL_ESCORT).
NEEDS_MEDICAL = {"mental_illness", "dementia", "pregnant"}
FEMALE_ESCORT = "须有女性护送人员"
MEDICAL_ESCORT = "须有医护人员随行"
ONE_ESCORT = "至少须有一名护送人员"
LEGS_JOINED = "各段行程须首尾相接"
ONE_PROVINCE = "一次护送只去一个省份"


# ---- the requests the forms send to transfer ---------------------------------------


def _text(values: dict, name: str) -> str:
    value = values.get(name, "")
    return str(value[0] if isinstance(value, list) else value).strip()


def _moment(values: dict, name: str) -> str | None:
    local = _text(values, name)
    return china_instant(local) if local else None


def fitness_request(values: dict) -> dict:
    """The fitness form as transfer's Fitness: an unanswered question left out, so
    transfer names it."""
    body: dict = {}
    if _text(values, "fit_to_travel") in ("yes", "no"):
        body["fit_to_travel"] = _text(values, "fit_to_travel") == "yes"
    body["medical_escort_required"] = _text(values, "medical_escort_required") == "yes"
    if _text(values, "note"):
        body["note"] = _text(values, "note")
    return body


def refusal_request(values: dict) -> dict:
    """The home area's refusal (流出地拒不接收) as transfer's Refusal."""
    body = {"refused_by": _text(values, "refused_by"), "reason": _text(values, "reason")}
    if _moment(values, "refused_at"):
        body["refused_at"] = _moment(values, "refused_at")
    return body


def handover_request(values: dict) -> dict:
    """The handover form as transfer's HandoverReceipt; the signature is the PNG the
    signature pad drew, base64 without its data: prefix."""
    body: dict = {
        "receiver_kind": _text(values, "receiver_kind") or None,
        "received_by": _text(values, "received_by"),
        "id_document_type": _text(values, "id_document_type") or None,
        "place": _text(values, "place"),
        "signature_png": _text(values, "signature_png").removeprefix("data:image/png;base64,"),
    }
    for name in ("relation", "id_document_number"):
        if _text(values, name):
            body[name] = _text(values, name)
    if _moment(values, "handed_over_at"):
        body["handed_over_at"] = _moment(values, "handed_over_at")
    return {k: v for k, v in body.items() if v is not None}


def resolution_request(values: dict) -> dict:
    return {"outcome": _text(values, "outcome") or None, "resolution": _text(values, "resolution")}


def escort_request(form: dict[str, list[str]]) -> dict:
    """The planner as transfer's EscortPlan: the persons ticked, the staff rows and legs
    that were filled in (in their order), a ticket a line."""
    staff = []
    for i in range(STAFF_ROWS):
        name = _text(form, f"staff.{i}.name")
        if name:
            staff.append(
                {
                    "name": name,
                    "sex": _text(form, f"staff.{i}.sex") or None,
                    "role": _text(form, f"staff.{i}.role") or None,
                }
            )
    legs = []
    for i in range(LEG_ROWS):
        row = {n: _text(form, f"legs.{i}.{n}") for n in ("origin", "destination", "mode")}
        departure = _moment(form, f"legs.{i}.planned_departure_at")
        if not any(row.values()) and departure is None:
            continue
        leg = {**row, "mode": row["mode"] or None, "planned_departure_at": departure}
        if _moment(form, f"legs.{i}.planned_arrival_at"):
            leg["planned_arrival_at"] = _moment(form, f"legs.{i}.planned_arrival_at")
        legs.append(leg)
    body = {
        "return_ids": [r for r in form.get("return_ids", []) if r],
        "staff": staff,
        "transport_mode": _text(form, "transport_mode") or (legs[0]["mode"] if legs else None),
        "tickets": [t.strip() for t in _text(form, "tickets").splitlines() if t.strip()],
        "legs": legs,
    }
    if _text(form, "vehicle"):
        body["vehicle"] = _text(form, "vehicle")
    return body


# ---- the rules, shown as the user plans (transfer still decides) --------------------


def needs_medical(traveller: dict) -> bool:
    return bool(traveller.get("medical_escort_required")) or bool(
        set(traveller.get("categories") or ()) & NEEDS_MEDICAL
    )


def rule_hints(travellers: list[dict], staff: list[dict], legs: list[dict]) -> list[dict]:
    """The escort rules that apply to this plan, each met or not: ``travellers`` are
    the persons chosen (their return and intake's sex and categories), ``staff`` and
    ``legs`` as escort_request builds them."""
    escorts = [m for m in staff if m.get("role") in ("escort", "medical")]
    hints = [{"rule": "escort", "words": ONE_ESCORT, "met": bool(escorts)}]
    if any(t.get("sex") == "female" for t in travellers):
        hints.append(
            {
                "rule": "female",
                "words": f"{FEMALE_ESCORT}（有妇女或女童同行）",
                "met": any(m.get("sex") == "female" for m in escorts),
            }
        )
    if any(needs_medical(t) for t in travellers):
        hints.append(
            {
                "rule": "medical",
                "words": f"{MEDICAL_ESCORT}（有病患同行）",
                "met": any(m.get("role") == "medical" for m in staff),
            }
        )
    provinces = {t.get("destination_province") for t in travellers}
    if len(provinces) > 1:
        hints.append({"rule": "province", "words": f"{ONE_PROVINCE}；请分批", "met": False})
    joined = all(a["destination"] == b["origin"] for a, b in zip(legs, legs[1:], strict=False))
    hints.append({"rule": "legs", "words": LEGS_JOINED, "met": joined})
    return hints


# transfer's field → the planner's: a leg's field keeps its row (legs.1.origin)
_ESCORT_FIELDS = re.compile(r"^(return_ids|staff|transport_mode|vehicle|tickets|legs)(\.\d+)?")


def escort_refusals(answer: Answer) -> tuple[dict[str, list[str]], list[str]]:
    """transfer's refusals of a plan in Chinese, next to the planner's fields."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in answer.field_errors:
        field = str(error.get("field", "")).removeprefix("plan.")
        words = wording.reason_in_chinese(
            re.sub(r"\.\d+", "", field) or field, str(error.get("reason", ""))
        )
        if re.fullmatch(r"(staff|legs)\.\d+\.\w+", field):
            name = field
        elif (found := _ESCORT_FIELDS.match(field)) is not None:
            name = found.group(1)
        else:
            general.append(words)
            continue
        errors.setdefault(name, []).append(words)
    return errors, general


def step_refusals(refused: Refused, fields, what: str) -> Refused:
    """A refused step (fitness, refusal, handover, resolution) said in Chinese."""
    answer = refused.answer
    refused.errors, refused.general = wording.refusals_by_field(
        [{**e, "field": str(e.get("field", "")).split(".")[-1]} for e in answer.field_errors],
        fields,
    )
    refused.explain(
        "返乡服务暂时不可用，填写内容已保留；请稍后再次提交（不会重复办理）。",
        {
            403: f"只有护送站可以{what}，或您的角色无权办理。",
            409: lambda a: f"当前状态不能{what}：{a.detail}".rstrip("："),
        },
        refused=f"{what}未被接受",
    )
    return refused


# ---- pages ----------------------------------------------------------------------------


def _id_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _away(request, user):
    return page(
        request,
        "message.html",
        {"title": "暂时无法获取", "text": "返乡服务暂时不可用，请稍后刷新。"},
        status=503,
        user=user,
    )


async def _people(console: Console, user, returns: list[dict]) -> dict[str, dict]:
    """intake's record of each person (sex, age, categories), where it shows them."""
    ids = list(dict.fromkeys(r["person_id"] for r in returns))
    answers = await asyncio.gather(
        *(console.services.get(user.token, "intake", f"/persons/{pid}") for pid in ids)
    )
    still_signed_in(console, user, *answers)
    return {pid: a.body for pid, a in zip(ids, answers, strict=True) if a.ok}


def traveller(r: dict, person: dict | None) -> dict:
    """What the planner's rules need to know about one person going home."""
    return {
        "return_id": r["id"],
        "full_name": r["full_name"],
        "destination_province": r["destination_province"],
        "sex": (person or {}).get("sex"),
        "age": (person or {}).get("estimated_age"),
        "categories": (person or {}).get("categories") or [],
        "medical_escort_required": r.get("medical_escort_required", False),
        "fit_to_travel": r.get("fit_to_travel"),
    }


@router.get("/returns")
async def returns_board(request: Request, console: ConsoleDep, user: UserDep):
    """The planning board by destination province, then every return and escort."""
    planning, every, escorts = await asyncio.gather(
        console.services.get(user.token, "transfer", "/returns/planning"),
        console.services.get(user.token, "transfer", "/returns", limit=200),
        console.services.get(user.token, "transfer", "/escorts", limit=50),
    )
    still_signed_in(console, user, planning, every, escorts)
    if planning.status == 403:
        return page(
            request,
            "message.html",
            {"title": "无权查看", "text": "返乡由救助站工作人员办理。"},
            status=403,
            user=user,
        )
    groups = planning.body if planning.ok else None
    people = await _people(console, user, [r for g in groups or [] for r in g["returns"]])
    return page(
        request,
        "returns.html",
        {
            "groups": groups,
            "people": people,
            "others": [r for r in every.body if r["status"] != "pending"] if every.ok else None,
            # a satellite's cross-province returns wait for the center's escort
            "by_center": [
                r
                for r in (every.body if every.ok else [])
                if r["status"] == "pending" and r["escort_station_id"] != user.station_id
            ],
            "escorts": escorts.body if escorts.ok else None,
        },
        user=user,
    )


RETURN_FORMS = {
    "fitness": ("fit_to_travel", "medical_escort_required", "note"),
    "refusal": ("refused_by", "reason", "refused_at"),
}


@router.get("/returns/{return_id}")
async def return_page(return_id: str, request: Request, console: ConsoleDep, user: UserDep):
    return await _return(request, console, user, return_id)


@router.post("/returns/{return_id}/fitness")
async def record_fitness(return_id: str, request: Request, console: ConsoleDep, user: UserDep):
    return await _return_step(
        request, console, user, return_id, "fitness", fitness_request, "记录出行评估"
    )


@router.post("/returns/{return_id}/refusal")
async def record_refusal(return_id: str, request: Request, console: ConsoleDep, user: UserDep):
    return await _return_step(
        request, console, user, return_id, "refusal", refusal_request, "登记拒收"
    )


async def _return_step(request, console, user, return_id, step, build, what):
    sent = await posted(request, user)
    if _id_or_none(return_id) is None:
        return not_found_page(request, user)

    def again(refused: Refused):
        step_refusals(refused, RETURN_FORMS[step], what)
        return _return(
            request,
            console,
            user,
            return_id,
            failed=step,
            values=sent.values,
            errors=refused.errors,
            general=refused.general,
            key=refused.key,
            status=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "transfer",
        f"/returns/{return_id}/{step}",
        build(sent.values),
        sent.key,
        done=f"/returns/{return_id}#h-{step}",
        again=again,
    )


async def _return(
    request, console, user, return_id, *, failed=None, values=None, errors=None, general=None,
    key=None, status=200,
):  # fmt: skip
    if _id_or_none(return_id) is None:
        return not_found_page(request, user)
    found, escalations = await asyncio.gather(
        console.services.get(user.token, "transfer", f"/returns/{return_id}"),
        console.services.get(user.token, "transfer", "/escalations"),
    )
    still_signed_in(console, user, found, escalations)
    if found.status in (403, 404):
        return not_found_page(request, user)
    if not found.ok:
        return _away(request, user)
    r = found.body
    people = await _people(console, user, [r])
    return page(
        request,
        "returns_one.html",
        {
            "r": r,
            "person": people.get(r["person_id"]),
            "escalations": [e for e in escalations.body if e["return_id"] == r["id"]]
            if escalations.ok
            else None,
            "failed": failed,
            "v": values or {},
            "errors": errors or {},
            "general": general or [],
            "key": key or str(uuid.uuid4()),
        },
        status=status,
        user=user,
    )


@router.get("/returns/{return_id}/notice")
async def notice(return_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """transfer's written notice, as the document it issued: a download, never shown
    inside the console's pages (its HTML is another service's)."""
    if _id_or_none(return_id) is None:
        return not_found_page(request, user)
    answer = await console.services.get(user.token, "transfer", f"/returns/{return_id}/notice")
    still_signed_in(console, user, answer)
    if answer.status in (403, 404):
        return page(
            request,
            "message.html",
            {"title": "尚无告知书", "text": "交接完成后才出具书面告知书，或您无权查看。"},
            status=404,
            user=user,
        )
    if not answer.ok:
        return _away(request, user)
    name = f"返乡告知书-{return_id[:8]}.html"
    return Response(
        answer.content,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            # opened from the disk it prints as transfer wrote it; here it never renders
            "X-Content-Type-Options": "nosniff",
        },
    )


PNG = b"\x89PNG\r\n\x1a\n"


@router.get("/returns/{return_id}/signature")
async def signature(return_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """The receiver's signature transfer stored at the handover, fetched with the user's
    token and served from the console's own origin (the page's <img>)."""
    if _id_or_none(return_id) is None:
        return Response(status_code=404)
    answer = await console.services.get(user.token, "transfer", f"/returns/{return_id}/signature")
    still_signed_in(console, user, answer)
    if answer.ok and answer.content.startswith(PNG):
        return Response(answer.content, media_type="image/png")
    # the <img>'s alt says it; no page inside an image
    return Response(status_code=404 if answer.status in (403, 404) else 502)


# ---- the escort planner and the escort -------------------------------------------------


def _planner_values(form: dict[str, list[str]]) -> dict:
    values: dict = {name: vals[0] for name, vals in form.items()}
    values["return_ids"] = [r for r in form.get("return_ids", []) if r]
    return values


@router.get("/escorts/new")
async def escort_planner(request: Request, console: ConsoleDep, user: UserDep):
    chosen = [r for r in request.query_params.getlist("return_id") if _id_or_none(r)]
    return await _planner(request, console, user, {"return_ids": chosen}, key=str(uuid.uuid4()))


@router.post("/escorts")
async def plan_escort(request: Request, console: ConsoleDep, user: UserDep):
    sent = await posted(request, user)
    values = _planner_values(sent.form)

    def again(refused: Refused):
        refused.errors, refused.general = escort_refusals(refused.answer)
        refused.explain(
            "返乡服务暂时不可用，填写内容已保留；请稍后再次提交（不会重复安排）。",
            {403: "您的角色无权安排护送。"},
            refused="护送计划未被接受",
        )
        return _planner(
            request,
            console,
            user,
            values,
            key=refused.key,
            errors=refused.errors,
            general=refused.general,
            status=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "transfer",
        "/escorts",
        escort_request(sent.form),
        sent.key,
        done=lambda answer: f"/escorts/{answer.body['id']}",
        again=again,
        missing=None,
    )


async def _planner(request, console, user, values, *, key, errors=None, general=None, status=200):
    planning = await console.services.get(user.token, "transfer", "/returns/planning")
    still_signed_in(console, user, planning)
    groups = planning.body if planning.ok else []
    returns = [r for g in groups for r in g["returns"]]
    people = await _people(console, user, returns)
    travellers = {r["id"]: traveller(r, people.get(r["person_id"])) for r in returns}
    form = {k: [v] if isinstance(v, str) else v for k, v in values.items()}
    plan = escort_request(form)
    chosen = [travellers[r] for r in values.get("return_ids", []) if r in travellers]
    return page(
        request,
        "escort_new.html",
        {
            "groups": groups if planning.ok else None,
            "travellers": travellers,
            "hints": rule_hints(chosen, plan["staff"], plan["legs"]),
            "v": values,
            "errors": errors or {},
            "general": general or [],
            "key": key,
            "staff_rows": range(STAFF_ROWS),
            "leg_rows": range(LEG_ROWS),
        },
        status=status,
        user=user,
    )


@router.get("/escorts/{escort_id}")
async def escort_page(
    escort_id: str, request: Request, console: ConsoleDep, user: UserDep, handover: str = ""
):
    return await _escort(request, console, user, escort_id, chosen=_id_or_none(handover))


@router.post("/escorts/{escort_id}/departure")
async def departure(escort_id: str, request: Request, console: ConsoleDep, user: UserDep):
    return await _escort_step(
        request, console, user, escort_id, "/departure", "departure", "登记出发"
    )


@router.post("/escorts/{escort_id}/legs/{sequence}/arrival")
async def leg_arrival(
    escort_id: str, sequence: int, request: Request, console: ConsoleDep, user: UserDep
):
    return await _escort_step(
        request, console, user, escort_id, f"/legs/{sequence}/arrival", "arrival", "登记到达"
    )


async def _escort_step(request, console, user, escort_id, path, step, what):
    sent = await posted(request, user)
    if _id_or_none(escort_id) is None:
        return not_found_page(request, user)
    values = sent.values
    moment = _moment(values, "departed_at" if step == "departure" else "arrived_at")
    body = {f"{'departed' if step == 'departure' else 'arrived'}_at": moment} if moment else {}

    def again(refused: Refused):
        step_refusals(refused, ("departed_at", "arrived_at"), what)
        return _escort(
            request,
            console,
            user,
            escort_id,
            failed=step,
            values=values,
            errors=refused.errors,
            general=refused.general,
            status=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "transfer",
        f"/escorts/{escort_id}{path}",
        body,
        sent.key,
        done=f"/escorts/{escort_id}#h-trip",
        again=again,
        # a leg's arrival refused as missing is said on the page, not as a lost escort
        missing=RECORD_MISSING if step == "departure" else None,
    )


HANDOVER_FIELDS = (
    "receiver_kind",
    "received_by",
    "relation",
    "id_document_type",
    "id_document_number",
    "place",
    "handed_over_at",
    "signature_png",
)


@router.post("/escorts/{escort_id}/handover/{return_id}")
async def handover(
    escort_id: str, return_id: str, request: Request, console: ConsoleDep, user: UserDep
):
    """The signed handover (transfer's POST /returns/{id}/handover); the signature the
    receiver drew is shown back once transfer has stored it."""
    sent = await posted(request, user)
    if _id_or_none(escort_id) is None or _id_or_none(return_id) is None:
        return not_found_page(request, user)
    receipt = handover_request(sent.values)

    def again(refused: Refused):
        step_refusals(refused, HANDOVER_FIELDS, "办理交接")
        return _escort(
            request,
            console,
            user,
            escort_id,
            chosen=return_id,
            failed="handover",
            values=sent.values,
            errors=refused.errors,
            general=refused.general,
            key=refused.key,
            status=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "transfer",
        f"/returns/{return_id}/handover",
        receipt,
        sent.key,
        # no redirect: the escort's page shows the signature transfer stored, once
        done=lambda answer: _escort(
            request, console, user, escort_id, signed=(answer.body, receipt["signature_png"])
        ),
        again=again,
    )


async def _escort(
    request, console, user, escort_id, *, chosen=None, failed=None, values=None,
    errors=None, general=None, key=None, signed=None, status=200,
):  # fmt: skip
    if _id_or_none(escort_id) is None:
        return not_found_page(request, user)
    found, aboard = await asyncio.gather(
        console.services.get(user.token, "transfer", f"/escorts/{escort_id}"),
        console.services.get(user.token, "transfer", "/returns", escort_id=escort_id),
    )
    still_signed_in(console, user, found, aboard)
    if found.status in (403, 404):
        return not_found_page(request, user)
    if not found.ok:
        return _away(request, user)
    passengers = aboard.body if aboard.ok else []
    in_transit = [r for r in passengers if r["status"] == "in_transit"]
    handing = next((r for r in in_transit if r["id"] == chosen), None) or (
        in_transit[0] if in_transit else None
    )
    return page(
        request,
        "escort.html",
        {
            "e": found.body,
            "passengers": passengers,
            "handing": handing,
            "next_leg": next((leg for leg in found.body["legs"] if not leg["arrived_at"]), None),
            "signed": signed,
            "failed": failed,
            "v": values or {},
            "errors": errors or {},
            "general": general or [],
            "key": key or str(uuid.uuid4()),
        },
        status=status,
        user=user,
    )


# ---- escalations of refused returns ------------------------------------------------------


@router.get("/escalations")
async def escalations_page(
    request: Request, console: ConsoleDep, user: UserDep, status: str = "open"
):
    showing = status if status in ("open", "all") else "open"
    return await _escalations(request, console, user, showing)


@router.post("/escalations/{escalation_id}/resolution")
async def resolve(escalation_id: str, request: Request, console: ConsoleDep, user: UserDep):
    sent = await posted(request, user)
    if _id_or_none(escalation_id) is None:
        return not_found_page(request, user)

    def again(refused: Refused):
        step_refusals(refused, ("outcome", "resolution"), "办理上级协调结果")
        return _escalations(
            request,
            console,
            user,
            "open",
            failed=escalation_id,
            values=sent.values,
            errors=refused.errors,
            general=refused.general,
            code=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "transfer",
        f"/escalations/{escalation_id}/resolution",
        resolution_request(sent.values),
        sent.key,
        done=f"/escalations?status=all#e-{escalation_id}",
        again=again,
    )


async def _escalations(
    request, console, user, status, *, failed=None, values=None, errors=None, general=None,
    code=200,
):  # fmt: skip
    answer = await console.services.get(
        user.token, "transfer", "/escalations", status=None if status == "all" else status
    )
    still_signed_in(console, user, answer)
    if answer.status == 403:
        return page(
            request,
            "message.html",
            {"title": "无权查看", "text": "拒收上报由救助站工作人员办理。"},
            status=403,
            user=user,
        )
    return page(
        request,
        "returns_escalations.html",
        {
            "escalations": answer.body if answer.ok else None,
            "showing": status,
            "key": str(uuid.uuid4()),
            "failed": failed,
            "v": values or {},
            "errors": errors or {},
            "general": general or [],
        },
        status=code,
        user=user,
    )
