"""Return stabilisation (回访): the town's roster on a phone, a record with its revisits
and the forms on it (a revisit, a risk assessment, the at-risk register, a help task
completed, closing), and the stations' view of due and overdue revisits."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from rescue_console import wording
from rescue_console.services import Answer
from rescue_console.web import (
    RECORD_MISSING,
    ConsoleDep,
    Refused,
    UserDep,
    is_id,
    not_found_page,
    page,
    posted,
    still_signed_in,
    submit,
)

router = APIRouter()

TOWN_OFFICIAL = "town_official"
#: A revisit counts as due within this many days of its date.
DUE_SOON_DAYS = 14
AREA = re.compile(r"^[0-9]{6}([0-9]{3})?$")

REVISIT_FIELDS = ("sequence", "mode", "visited_on", "visited_by", "situation", "note")
REVISIT_FIELDS += ("help_owner",)
ASSESSMENT_FIELDS = ("level", "reasons", "owner")
REGISTER_FIELDS = ("register_reasons", "register_note")
CLOSING_FIELDS = ("outcome", "settlement")
COMPLETION_FIELDS = ("completion_outcome",)
FORMS = ("revisit", "assessment", "register", "closing", "completion")


def is_town(user) -> bool:
    return TOWN_OFFICIAL in user.roles


def today_in_china(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(wording.CHINA).date()


def next_revisit(record: dict, today: date) -> dict | None:
    """The first revisit not yet made, with ``overdue`` (past its day or marked so by
    followup) and ``days`` (to its day; negative once past)."""
    for revisit in sorted(record.get("revisits") or [], key=lambda r: r["sequence"]):
        if revisit.get("status") == "done":
            continue
        due = date.fromisoformat(str(revisit["due_on"]))
        days = (due - today).days
        return {
            **revisit,
            "days": days,
            "overdue": revisit.get("status") == "overdue" or days < 0,
            "due_soon": 0 <= days <= DUE_SOON_DAYS,
        }
    return None


def due_words(revisit: dict | None) -> str:
    """ "第2次回访 已逾期 3天" / "第1次回访 今天到期" / "第1次回访 还有 20天"."""
    if revisit is None:
        return "回访已全部完成"
    head = f"第{revisit['sequence']}次回访"
    days = revisit["days"]
    if revisit["overdue"]:
        return f"{head} 已逾期 {-days}天" if days < 0 else f"{head} 已逾期"
    if days == 0:
        return f"{head} 今天到期"
    return f"{head} 还有 {days}天（{revisit['due_on']}）"


def roster_rows(records: list[dict], register: list[dict] | None, today: date) -> list[dict]:
    """Active records with their next revisit and at-risk reasons: overdue first, then
    by the day the next revisit is due; finished ones last."""
    reasons = {e["person_id"]: e.get("reasons") or [] for e in register or []}
    rows = []
    for record in records:
        if record.get("status") != "active":
            continue
        upcoming = next_revisit(record, today)
        rows.append(
            {
                "record": record,
                "next": upcoming,
                "due": due_words(upcoming),
                "at_risk": reasons.get(record["person_id"], []),
            }
        )
    far = date.max.isoformat()
    rows.sort(
        key=lambda r: (
            not (r["next"] and r["next"]["overdue"]),
            str(r["next"]["due_on"]) if r["next"] else far,
            r["record"].get("full_name") or "",
        )
    )
    return rows


def open_sequences(record: dict) -> list[int]:
    """The revisits that can still be recorded, in order."""
    return sorted(r["sequence"] for r in record.get("revisits") or [] if r["status"] != "done")


def revisit_request(values: dict) -> tuple[int | None, dict]:
    """The form as followup's RevisitReport (and which revisit): empty fields left out,
    so the service names what is missing."""
    body: dict = {}
    for name in ("mode", "visited_on", "visited_by", "situation", "note", "help_owner"):
        text = str(values.get(name, "")).strip()
        if text:
            body[name] = text
    sequence = str(values.get("sequence", "")).strip()
    return (int(sequence) if sequence.isdigit() else None), body


def assessment_request(values: dict) -> dict:
    body: dict = {"reasons": split_lines(values.get("reasons", ""))}
    for name in ("level", "owner"):
        text = str(values.get(name, "")).strip()
        if text:
            body[name] = text
    return body


def registration_request(record_id: str, values: dict) -> dict:
    reasons = values.get("register_reasons") or []
    body: dict = {
        "record_id": record_id,
        "reasons": [reasons] if isinstance(reasons, str) else reasons,
    }
    note = str(values.get("register_note", "")).strip()
    if note:
        body["note"] = note
    return body


def closing_request(values: dict) -> dict:
    body: dict = {}
    if values.get("outcome"):
        body["outcome"] = values["outcome"]
    settlement = str(values.get("settlement", "")).strip()
    if settlement:
        body["settlement"] = settlement
    return body


def split_lines(text) -> list[str]:
    """A textarea's lines (or 、；, separated items), empty ones dropped."""
    return [part.strip() for part in re.split(r"[\n、；;,，]", str(text or "")) if part.strip()]


# followup's field → the form's, per form (a validator's error comes as "body").
NAMES = {
    "revisit": {},
    "assessment": {},
    "register": {"reasons": "register_reasons", "note": "register_note"},
    "closing": {},
    "completion": {"outcome": "completion_outcome"},
}
FIELDS = {
    "revisit": REVISIT_FIELDS,
    "assessment": ASSESSMENT_FIELDS,
    "register": REGISTER_FIELDS,
    "closing": CLOSING_FIELDS,
    "completion": COMPLETION_FIELDS,
}
_BODY_FIELD = re.compile(r"(?:Value error, )?(\w+): ")


def refusals(form: str, answer: Answer) -> tuple[dict[str, list[str]], list[str]]:
    """followup's refusals of a form in Chinese, by the form's field."""
    found = []
    for error in answer.field_errors:
        field = str(error.get("field", "")).removeprefix("report.")
        reason = str(error.get("reason", ""))
        named = _BODY_FIELD.match(reason) if field in ("body", "") else None
        if named:  # a model validator names its field in its message
            field = named.group(1)
        found.append({"field": field, "reason": reason})
    names = NAMES[form]
    return wording.refusals_by_field(found, FIELDS[form], names)


async def _stabilisation(console, user, record_id: str) -> Answer:
    return await console.services.get(user.token, "followup", f"/stabilisations/{record_id}")


# ---- the town's roster ---------------------------------------------------------------


@router.get("/revisits/town")
async def town_roster(request: Request, console: ConsoleDep, user: UserDep):
    """The returned persons of the user's area (a town official) or station, each with
    the next revisit due or overdue, one tap from recording it."""
    records, register = await asyncio.gather(
        console.services.get(user.token, "followup", "/stabilisations", status="active", limit=200),
        # town officials may not read the register (followup: 403): no marks then
        _no_answer()
        if is_town(user)
        else console.services.get(user.token, "followup", "/at-risk-register"),
    )
    still_signed_in(console, user, records, register)
    if not records.ok:
        return _unavailable(request, user, records)
    rows = roster_rows(records.body, register.body if register.ok else None, today_in_china())
    return page(
        request,
        "revisits_town.html",
        {"rows": rows, "area": user.station_id if is_town(user) else None},
        user=user,
    )


async def _no_answer() -> Answer:
    return Answer(204)


# ---- the stations' view ----------------------------------------------------------------


@router.get("/revisits")
async def revisits_board(request: Request, console: ConsoleDep, user: UserDep):
    """Due and overdue revisits, open help tasks, the at-risk register and the rosters
    to send to a town."""
    if is_town(user):
        return RedirectResponse("/revisits/town", status_code=303)
    get = console.services.get
    records, overdue, tasks, register = await asyncio.gather(
        get(user.token, "followup", "/stabilisations", status="active", limit=200),
        get(user.token, "followup", "/revisits/overdue"),
        get(user.token, "followup", "/help-tasks", status="open"),
        get(user.token, "followup", "/at-risk-register"),
    )
    still_signed_in(console, user, records, overdue, tasks, register)
    today = today_in_china()
    rows = roster_rows(records.body, None, today) if records.ok else None
    names = {r["id"]: r.get("full_name") for r in records.body} if records.ok else {}
    return page(
        request,
        "revisits.html",
        {
            "due": [r for r in rows if r["next"] and r["next"]["due_soon"]]
            if rows is not None
            else None,
            "overdue": overdue.body if overdue.ok else None,
            "tasks": tasks.body if tasks.ok else None,
            "register": register.body if register.ok else None,
            "names": names,
            "forbidden": 403 in (records.status, overdue.status),
        },
        user=user,
    )


@router.get("/revisits/roster")
async def roster_for_town(request: Request, console: ConsoleDep, user: UserDep, area: str = ""):
    """The roster (花名册) of a town (9 digits) or county (6) to print and send: the
    at-risk persons of the area with their next revisit, rendered here from the data."""
    area = area.strip()
    if not AREA.match(area):
        return page(
            request,
            "message.html",
            {"title": "区划代码无效", "text": "请填写乡镇（9位）或县（6位）区划代码。"},
            status=422,
            user=user,
        )
    records, register = await asyncio.gather(
        console.services.get(
            user.token,
            "followup",
            "/stabilisations",
            status="active",
            jurisdiction_code=area,
            limit=200,
        ),
        console.services.get(user.token, "followup", "/at-risk-register", jurisdiction_code=area),
    )
    still_signed_in(console, user, records, register)
    if not records.ok or not register.ok:
        return _unavailable(request, user, records if not records.ok else register)
    at_risk = {e["person_id"] for e in register.body}
    rows = [
        r
        for r in roster_rows(records.body, register.body, today_in_china())
        if r["record"]["person_id"] in at_risk
    ]
    return page(request, "revisits_roster.html", {"rows": rows, "area": area}, user=user)


# ---- a record ----------------------------------------------------------------------------


@router.get("/stabilisations/{record_id}")
async def record_page(record_id: str, request: Request, console: ConsoleDep, user: UserDep):
    return await _record(request, console, user, record_id)


@router.post("/stabilisations/{record_id}/revisits")
async def record_revisit(record_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """A revisit (visit or phone) to followup; a difficulty makes it open a help task."""
    values, key = await _posted(request, user)
    sequence, body = revisit_request(values)
    if sequence is None:
        return await _record(
            request,
            console,
            user,
            record_id,
            values=values,
            errors={"sequence": ["请选择第几次回访。"]},
            failed="revisit",
            status=422,
        )
    return await _send(
        request,
        console,
        user,
        record_id,
        "revisit",
        f"/stabilisations/{record_id}/revisits/{sequence}",
        body,
        values,
        key,
        anchor="h-revisits",
    )


@router.post("/stabilisations/{record_id}/risk-assessments")
async def assess_risk(record_id: str, request: Request, console: ConsoleDep, user: UserDep):
    values, key = await _posted(request, user)
    return await _send(
        request,
        console,
        user,
        record_id,
        "assessment",
        f"/stabilisations/{record_id}/risk-assessments",
        assessment_request(values),
        values,
        key,
        anchor="h-risk",
    )


@router.post("/stabilisations/{record_id}/at-risk")
async def add_to_register(record_id: str, request: Request, console: ConsoleDep, user: UserDep):
    values, key = await _posted(request, user)
    return await _send(
        request,
        console,
        user,
        record_id,
        "register",
        "/at-risk-register",
        registration_request(record_id, values),
        values,
        key,
        anchor="h-risk",
    )


@router.post("/stabilisations/{record_id}/closure")
async def close_record(record_id: str, request: Request, console: ConsoleDep, user: UserDep):
    values, key = await _posted(request, user)
    return await _send(
        request,
        console,
        user,
        record_id,
        "closing",
        f"/stabilisations/{record_id}/closure",
        closing_request(values),
        values,
        key,
        anchor="h-closing",
    )


@router.post("/stabilisations/{record_id}/help-tasks/{task_id}/completion")
async def complete_help_task(
    record_id: str, task_id: str, request: Request, console: ConsoleDep, user: UserDep
):
    values, key = await _posted(request, user)
    if not is_id(task_id):
        return not_found_page(request, user)
    outcome = str(values.get("completion_outcome", "")).strip()
    values["task_id"] = task_id
    return await _send(
        request,
        console,
        user,
        record_id,
        "completion",
        f"/help-tasks/{task_id}/completion",
        {"outcome": outcome} if outcome else {},
        values,
        key,
        anchor="h-help",
    )


async def _posted(request: Request, user) -> tuple[dict, str]:
    sent = await posted(request, user, lists=("register_reasons",))
    sent.values.setdefault("register_reasons", [])
    return sent.values, sent.key


FAILED_WORDS = {
    "revisit": ("回访未登记", "只有此人户籍所在乡镇（村）或经办站可以登记回访。"),
    "assessment": ("风险评估未保存", "风险评估由中心站（市站）作出，您的角色或站点无权办理。"),
    "register": ("未列入易流浪走失人员信息库", "只有救助站工作人员可以列入。"),
    "closing": ("未结案", "只有救助站工作人员可以结案。"),
    "completion": ("帮扶任务未办结", "只有救助站工作人员可以办结帮扶任务。"),
}


async def _send(request, console, user, record_id, form, path, body, values, key, *, anchor):
    if not is_id(record_id):
        return not_found_page(request, user)

    def again(refused: Refused):
        refused.errors, refused.general = refusals(form, refused.answer)
        title, forbidden = FAILED_WORDS[form]
        refused.explain(
            "回访服务暂时不可用，填写内容已保留；请稍后再次提交（不会重复登记）。",
            {
                403: forbidden,
                409: f"{title}：已登记过或记录已结案，请刷新本页核对。",
                404: f"{title}：该帮扶任务不存在或已办结，请刷新本页核对。",
            },
            refused=title,
        )
        return _record(
            request,
            console,
            user,
            record_id,
            values=values,
            errors=refused.errors,
            general=refused.general,
            failed=form,
            key=refused.key,
            status=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "followup",
        path,
        body,
        key,
        done=f"/stabilisations/{record_id}#{anchor}",
        again=again,
        # a help task gone is said on the record's page, not as a lost record
        missing=None if form == "completion" else RECORD_MISSING,
    )


async def _record(
    request,
    console,
    user,
    record_id,
    *,
    values=None,
    errors=None,
    general=None,
    failed=None,
    key=None,
    status=200,
):
    if not is_id(record_id):
        return not_found_page(request, user)
    record = await _stabilisation(console, user, record_id)
    still_signed_in(console, user, record)
    if record.status in (403, 404):
        # The same words whether it does not exist or is another area's: never leak.
        return not_found_page(request, user)
    if not record.ok:
        return _unavailable(request, user, record)
    r = record.body
    entry = None
    if not is_town(user):
        register = await console.services.get(
            user.token, "followup", "/at-risk-register", person_id=r["person_id"]
        )
        if register.ok and register.body:
            entry = register.body[0]
    today = today_in_china()
    upcoming = next_revisit(r, today)
    v = values or {}
    if not v.get("sequence") and upcoming:
        v = {**v, "sequence": str(upcoming["sequence"])}
    v.setdefault("visited_on", today.isoformat())
    keys = {name: str(uuid.uuid4()) for name in FORMS}
    task_keys = {t["id"]: str(uuid.uuid4()) for t in r.get("help_tasks") or []}
    if failed and key:
        keys[failed] = key
        if failed == "completion" and v.get("task_id") in task_keys:
            task_keys[v["task_id"]] = key
    return page(
        request,
        "stabilisation.html",
        {
            "r": r,
            "entry": entry,
            "next": upcoming,
            "due": due_words(upcoming),
            "sequences": open_sequences(r),
            "town": is_town(user),
            "today": today.isoformat(),
            "v": v,
            "errors": errors or {},
            "general": general or [],
            "failed": failed,
            "keys": keys,
            "task_keys": task_keys,
        },
        status=status,
        user=user,
    )


def _unavailable(request, user, answer: Answer):
    if answer.status == 403:
        return page(
            request,
            "message.html",
            {"title": "无权查看", "text": "您的角色无权查看回访台账。"},
            status=403,
            user=user,
        )
    return page(
        request,
        "message.html",
        {"title": "暂时无法获取", "text": "回访服务暂时不可用，请稍后刷新。"},
        status=503,
        user=user,
    )
