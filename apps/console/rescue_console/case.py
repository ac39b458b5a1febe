"""The case workspace (甄别): a search case as search shows it to this user — its
clock and tasks, 520 clues, notices, police checks and DNA, the face trail, the
case's candidates and its identity — and the forms that post to search."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request

from rescue_console import wording
from rescue_console.admission import _photo_time as photo_time
from rescue_console.admission import china_instant, photo_problem, split_list
from rescue_console.services import Answer
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

CLUE_FIELDS = (*wording.CLUE_PARTS, "parts", "names", "places", "apparent_sex", "apparent_age")
CLUE_FIELDS += ("author", "noted_at")
EVIDENCE_KINDS = tuple(wording.EVIDENCE_KINDS)
# Which text each kind of evidence carries (search's IdentityConfirmation).
EVIDENCE_TEXT = {
    "face_match_with_family_confirmation": "note",
    "police_check": "reference",
    "dna_reverified": "reference",
    "self_report_verified": "note",
}
IDENTITY_FIELDS = (
    "evidence",
    *(f"evidence_{kind}" for kind in EVIDENCE_KINDS),
    "evidence_similarity",
    "full_name",
    "national_id_number",
    "home_province",
    "home_address",
    "home_admin_code",
    "candidate_id",
)
NOTICE_FIELDS = ("notice_kind", "notice_found_place", "notice_appearance")
CHECK_FIELDS = ("check_agency_id", "check_description", "check_stated_names")
DNA_FIELDS = ("dna_agency_id", "dna_sample_ref", "dna_taken_at", "dna_taken_by")
PHOTO_FIELDS = ("photo",)
REJECT_FIELDS = ("reject_reason",)
FORMS = ("clue", "identity", "notice", "check", "dna", "photo", "accept", "reject")
_LISTS = ("evidence",)
_EVIDENCE_FIELD = re.compile(r"^evidence\.(\d+)(\.|$)")
_FIELD_IN_DETAIL = re.compile(r"^([\w.]+): ")


# ---- the page -------------------------------------------------------------------------


@router.get("/cases/{case_id}")
async def case_page(
    case_id: str,
    request: Request,
    console: ConsoleDep,
    user: UserDep,
    candidate: str = "",
    done: str = "",
    suggested: int = 0,
    proposed: int = 0,
):
    return await _case(
        request,
        console,
        user,
        case_id,
        candidate_id=candidate,
        notice=done_words(done, suggested, proposed),
    )


def done_words(done: str, suggested: int = 0, proposed: int = 0) -> str | None:
    """What the last form did, said at the top of the page."""
    if done == "photo":
        return (
            f"面部照片已登记：新增 {suggested} 条早前在站记录的比对建议，"
            f"{proposed} 条走失报告候选。"
        )
    return {
        "clue": "线索已记录，已据此重新比对走失报告。",
        "identity": "身份已确认：返乡和转介随即开始。",
        "notice": "寻亲公告已提交，发布状态见下。",
        "check": "已向公安机关申请身份核查。",
        "dna": "DNA样本已送检。",
        "accept": "已认定为早前在站：此人的流浪轨迹已并入本案。",
        "reject": "已否定此比对建议：不是同一人，不再为本案提出。",
    }.get(done)


async def _case(
    request,
    console,
    user,
    case_id: str,
    *,
    candidate_id: str = "",
    notice: str | None = None,
    failed: str | None = None,
    values: dict | None = None,
    errors: dict | None = None,
    general: list | None = None,
    keys: dict | None = None,
    status: int = 200,
):
    if not _is_id(case_id):
        return not_found(request, user)
    services, token = console.services, user.token
    base = f"/cases/{case_id}"
    answers = await asyncio.gather(
        services.get(token, "search", base),
        services.get(token, "search", f"{base}/tasks"),
        services.get(token, "search", f"{base}/clues"),
        services.get(token, "search", f"{base}/notices"),
        services.get(token, "search", f"{base}/protection"),
        services.get(token, "search", f"{base}/police"),
        services.get(token, "search", "/earlier-stay-suggestions", case_id=case_id),
        services.get(
            token, "search", "/earlier-stay-suggestions", case_id=case_id, status="accepted"
        ),
        services.get(token, "search", "/review-queue", case_id=case_id),
    )
    still_signed_in(console, user, *answers)
    case, tasks, clues, notices, protection, police, pending, accepted, queue = answers
    if case.status in (403, 404):
        return not_found(request, user)
    if not case.ok:
        return page(
            request,
            "message.html",
            {"title": "暂时无法获取", "text": "寻亲甄别服务暂时不可用，请稍后刷新。"},
            status=503,
            user=user,
        )
    identity = None
    if case.body.get("status") == "identified":
        identity = await services.get(token, "search", f"{base}/identity-confirmation")
        still_signed_in(console, user, identity)
    now = console.clock()
    candidates = queue.body if queue.ok else []
    chosen = next((c for c in candidates if c["id"] == candidate_id), None)
    values = dict(values or {})
    if chosen and failed != "identity":
        values.update(identity_prefill(chosen))
    return page(
        request,
        "case.html",
        {
            "c": case.body,
            "clock": notice_clock(case.body, now),
            "tasks": Part(tasks, task_rows(tasks.body, now) if tasks.ok else []),
            "clues": Part(clues),
            "notices": Part(notices),
            "protection": protection.body if protection.ok else None,
            "withheld": withheld_words(protection.body) if protection.ok else [],
            "police": Part(police),
            "trail": Part(pending, (pending.body or []) + (accepted.body or [])),
            "candidates": Part(queue),
            "chosen": chosen,
            "identity": identity.body if identity is not None and identity.ok else None,
            "notice": notice,
            "failed": failed,
            "v": values,
            "errors": errors or {},
            "general": general or [],
            "keys": {form: (keys or {}).get(form) or str(uuid.uuid4()) for form in FORMS},
            "evidence_kinds": list(wording.EVIDENCE_KINDS.items()),
            "clue_parts": list(wording.CLUE_PARTS.items()),
        },
        status=status,
        user=user,
    )


class Part:
    """One read of the case, or why it is missing (as the board's panels)."""

    def __init__(self, answer: Answer, rows=None) -> None:
        self.answer = answer
        self.rows = rows if rows is not None else (answer.body if answer.ok else None)

    @property
    def problem(self) -> str | None:
        if self.answer.ok:
            return None
        if self.answer.status in (403, 404):
            return "无权查看"
        return "暂时无法获取（服务不可用），请稍后刷新"


def notice_clock(case: dict, now: datetime) -> dict:
    """The 24-hour clock of the family-search notice: due, and time left or overdue."""
    due = case["notice_due_at"]
    if case.get("notice_published_at"):
        return {"due_at": due, "words": "已按时发布" if not _late(case) else "已发布（逾期）"}
    if case.get("status") != "open":
        return {"due_at": due, "words": "无需发布（身份已确认）", "overdue": False}
    left, overdue = wording.time_left(due, now)
    return {"due_at": due, "words": left, "overdue": overdue}


def _late(case: dict) -> bool:
    published = datetime.fromisoformat(case["notice_published_at"])
    return published > datetime.fromisoformat(case["notice_due_at"])


def task_rows(tasks: list[dict], now: datetime) -> list[dict]:
    """The case's tasks with each open one's time left (or overdue)."""
    rows = []
    for task in tasks:
        row = {**task, "time_left": None, "late": False}
        if task.get("status") == "open":
            row["time_left"], row["late"] = wording.time_left(task["due_at"], now)
        rows.append(row)
    return rows


def withheld_words(protection: dict) -> list[str]:
    """Why a protected person has no public notice, in Chinese (empty when one may go up)."""
    if not protection or protection.get("public_notice_allowed", True):
        return []
    reasons = [wording.label(wording.PROTECTION_REASONS, r) for r in protection.get("reasons", [])]
    if protection.get("endangered") and protection.get("endangered_reason"):
        reasons.append(f"危险情况：{protection['endangered_reason']}")
    return reasons or ["受保护人员"]


def identity_prefill(candidate: dict) -> dict:
    """The confirmation form filled from a review-queue candidate: its name and home
    as the family reported them, and the face score as the similarity."""
    report = candidate.get("report") or {}
    values = {
        "candidate_id": candidate["id"],
        "full_name": report.get("reported_name", ""),
        "home_address": report.get("home_place") or "",
    }
    face = next((f for f in candidate.get("explanation", []) if f.get("field") == "face"), None)
    if face and face.get("score") is not None and face.get("verdict") in ("match", "close"):
        values["evidence"] = ["face_match_with_family_confirmation"]
        values["evidence_similarity"] = str(face["score"])
    return values


# ---- the forms --------------------------------------------------------------------------


def clue_request(values: dict) -> dict:
    """The clue form as search's ClueRecord: empty parts left out (search says when none
    is given), names and places as lists."""
    body: dict = {}
    for part in (*wording.CLUE_PARTS, "author"):
        text = str(values.get(part, "")).strip()
        if text:
            body[part] = text
    for name in ("names", "places"):
        items = split_list(values.get(name, ""))
        if items:
            body[name] = items
    if values.get("apparent_sex"):
        body["apparent_sex"] = values["apparent_sex"]
    age = str(values.get("apparent_age", "")).strip()
    if age:
        body["apparent_age"] = int(age) if age.isdigit() else age
    if values.get("noted_at"):
        body["noted_at"] = china_instant(values["noted_at"])
    return body


def identity_request(values: dict) -> tuple[dict, list[str]]:
    """The confirmation form as search's IdentityConfirmation, and the evidence kinds in
    the order sent (a refusal names evidence by its place in the list)."""
    chosen = values.get("evidence") or []
    kinds = [kind for kind in EVIDENCE_KINDS if kind in chosen]
    evidence = []
    for kind in kinds:
        item: dict = {"kind": kind}
        text = str(values.get(f"evidence_{kind}", "")).strip()
        if text:
            item[EVIDENCE_TEXT[kind]] = text
        if kind == "face_match_with_family_confirmation":
            similarity = str(values.get("evidence_similarity", "")).strip()
            if similarity:
                try:
                    item["similarity"] = float(similarity)
                except ValueError:
                    item["similarity"] = similarity  # search names what is wrong
        evidence.append(item)
    body: dict = {"evidence": evidence}
    for name in ("full_name", "national_id_number", "home_province", "home_address"):
        text = str(values.get(name, "")).strip()
        if text:
            body[name] = text
    code = str(values.get("home_admin_code", "")).strip()
    if code:
        body["home_admin_code"] = code
    if _is_id(str(values.get("candidate_id", ""))):
        body["candidate_id"] = values["candidate_id"]
    return body, kinds


def evidence_field(field: str, kinds: list[str]) -> str:
    """search's ``evidence.1.note`` as the form's field of that kind of evidence."""
    found = _EVIDENCE_FIELD.match(field)
    if not found or int(found.group(1)) >= len(kinds):
        return field
    kind = kinds[int(found.group(1))]
    return "evidence_similarity" if field.endswith(".similarity") else f"evidence_{kind}"


def notice_request(values: dict) -> dict:
    body: dict = {"kind": values.get("notice_kind") or None}
    for name in ("found_place", "appearance"):
        text = str(values.get(f"notice_{name}", "")).strip()
        if text:
            body[name] = text
    return {k: v for k, v in body.items() if v is not None}


def police_check_request(values: dict) -> dict:
    body: dict = {}
    agency = str(values.get("check_agency_id", "")).strip()
    if agency:
        body["agency_id"] = agency
    names = split_list(values.get("check_stated_names", ""))
    if names:
        body["stated_names"] = names
    description = str(values.get("check_description", "")).strip()
    if description:
        body["description"] = description
    return body


def dna_request(values: dict) -> dict:
    body: dict = {}
    for name in ("agency_id", "sample_ref", "taken_by"):
        text = str(values.get(f"dna_{name}", "")).strip()
        if text:
            body[name] = text
    if values.get("dna_taken_at"):
        body["taken_at"] = china_instant(values["dna_taken_at"])
    return body


def accept_request(values: dict) -> dict:
    """Accepting a face-trail suggestion as search's EarlierStayRecognition: the earlier
    person, matched by face, with the suggestion's similarity."""
    body: dict = {"method": "face_comparison"}
    earlier = str(values.get("earlier_person_id", "")).strip()
    if earlier:
        body["earlier_person_id"] = earlier
    similarity = str(values.get("similarity", "")).strip()
    if similarity:
        try:
            body["similarity"] = float(similarity)
        except ValueError:
            body["similarity"] = similarity  # search names what is wrong
    return body


def conflict_errors(answer: Answer) -> list[dict[str, str]]:
    """A 409 whose detail starts with a field ("evidence.0.kind: …") as a field error."""
    found = _FIELD_IN_DETAIL.match(answer.detail)
    if answer.status != 409 or not found:
        return []
    return [{"field": found.group(1), "reason": answer.detail[found.end() :]}]


def conflict_words(answer: Answer) -> str:
    """A 409 of search in Chinese."""
    said = f"{answer.detail} {answer.body.get('type', '') if isinstance(answer.body, dict) else ''}"
    for phrase, words in (
        ("protected-person", "受保护人员不发布公开寻亲公告；确需发布须由站领导或中心协调员授权。"),
        ("already up", "寻亲公告已发布或正在发布，见下方状态。"),
        ("identified", "此人身份已确认，寻亲已结束。"),
        ("Notices closed", "此案已不再发布新的寻亲公告。"),
        ("closed", "此案已不再发布新的寻亲公告。"),
        ("already", "此项已办理过，请刷新本页核对。"),
    ):
        if phrase.lower() in said.lower():
            return words
    return "此表单已提交过，或案件状态已变化：请刷新本页核对。"


Build = Callable[[dict], tuple[dict, Callable[[str], str]]]


def _form(build: Callable[[dict], dict], names: dict[str, str] | None = None) -> Build:
    def built(values: dict):
        return build(values), lambda field: (names or {}).get(field, field)

    return built


def _identity(values: dict):
    body, kinds = identity_request(values)
    return body, lambda field: evidence_field(field, kinds)


# form → (search's path under the case, its builder, the form's fields, its anchor)
ROUTES: dict[str, tuple[str, Build, tuple[str, ...], str]] = {
    "clue": ("clues", _form(clue_request, {"body": "parts"}), CLUE_FIELDS, "h-clues"),
    "identity": ("identity-confirmation", _identity, IDENTITY_FIELDS, "h-identity"),
    "notice": (
        "notices",
        _form(notice_request, {f: f"notice_{f}" for f in ("kind", "found_place", "appearance")}),
        NOTICE_FIELDS,
        "h-notices",
    ),
    "check": (
        "police-checks",
        _form(
            police_check_request,
            {f: f"check_{f}" for f in ("agency_id", "description", "stated_names")},
        ),
        CHECK_FIELDS,
        "h-police",
    ),
    "dna": (
        "dna-samples",
        _form(
            dna_request,
            {f: f"dna_{f}" for f in ("agency_id", "sample_ref", "taken_at", "taken_by")},
        ),
        DNA_FIELDS,
        "h-police",
    ),
    # a face-trail suggestion accepted: its refusals are said at the suggestion
    "accept": ("earlier-stays", _form(accept_request), (), "h-faces"),
}


# The console's path of each form is search's.
FORM_OF_PATH = {route[0]: name for name, route in ROUTES.items()} | {
    "face-photos": "photo",
    "suggestion-rejection": "reject",  # search's /earlier-stay-suggestions/{id}/rejection
}


@router.post("/cases/{case_id}/{path}")
async def post_form(case_id: str, path: str, request: Request, console: ConsoleDep, user: UserDep):
    """One of the case's forms, posted to search with the form's Idempotency-Key; a
    refusal comes back next to its field, with everything typed kept."""
    sent = await posted(request, user, lists=_LISTS)
    form_name = FORM_OF_PATH.get(path)
    if not _is_id(case_id) or form_name is None:
        return not_found(request, user)
    values, key = sent.values, sent.key
    if form_name == "photo":
        return await _face_photo(request, console, user, case_id, values, key)
    if form_name == "reject":
        return await _reject_suggestion(request, console, user, case_id, values, key)
    _, build, fields, anchor = ROUTES[form_name]
    body, field_of = build(values)
    return await submit(
        request,
        console,
        user,
        "search",
        f"/cases/{case_id}/{path}",
        body,
        key,
        done=f"/cases/{case_id}?done={form_name}#{anchor}",
        again=lambda refused: _refused(
            request, console, user, case_id, form_name, refused, values, fields, field_of
        ),
        missing=CASE_MISSING,
    )


async def _face_photo(request, console, user, case_id, values, key):
    photo = str(values.get("photo", "")).strip()
    refused = photo_problem(photo) if photo else "请先拍摄或选择面部照片。"
    if refused:
        values.pop("photo", None)
        return await _case(
            request,
            console,
            user,
            case_id,
            failed="photo",
            values=values,
            errors={"photo": [refused]},
            keys={"photo": key},
            status=422,
        )

    def done(answer: Answer) -> str:
        suggested = len(answer.body.get("suggestions", []))
        proposed = answer.body.get("candidates_proposed", 0)
        return f"/cases/{case_id}?done=photo&suggested={suggested}&proposed={proposed}#h-faces"

    def again(refused: Refused):
        values.pop("photo", None)  # a refused photo is taken again, not re-sent
        return _refused(
            request,
            console,
            user,
            case_id,
            "photo",
            refused,
            values,
            PHOTO_FIELDS,
            lambda field: "photo" if field == "image" else field,
        )

    return await submit(
        request,
        console,
        user,
        "search",
        f"/cases/{case_id}/face-photos",
        {"image": photo, "taken_at": photo_time(values.get("photo_taken_at"))},
        key,
        done=done,
        again=again,
        missing=CASE_MISSING,
    )


async def _reject_suggestion(request, console, user, case_id, values, key):
    """Not the same person: search keeps the suggestion as rejected, with the reason."""
    suggestion_id = str(values.get("suggestion_id", ""))
    if not _is_id(suggestion_id):
        return not_found(request, user)
    return await submit(
        request,
        console,
        user,
        "search",
        f"/earlier-stay-suggestions/{suggestion_id}/rejection",
        {"reason": str(values.get("reject_reason", "")).strip()},
        key,
        done=f"/cases/{case_id}?done=reject#h-faces",
        again=lambda refused: _refused(
            request,
            console,
            user,
            case_id,
            "reject",
            refused,
            values,
            REJECT_FIELDS,
            lambda field: "reject_reason" if field == "reason" else field,
        ),
        missing=CASE_MISSING,
    )


def _refused(
    request, console, user, case_id, form_name, refused: Refused, values, fields, field_of
):
    """The case page again with a form's refusal, next to the form's fields."""
    answer = refused.answer
    refusals = [
        {**e, "field": field_of(str(e.get("field", "")))}
        for e in [*answer.field_errors, *conflict_errors(answer)]
    ]
    refused.errors, refused.general = _by_field(refusals, fields)
    if answer.status == 413:
        refused.errors.setdefault("photo", []).append("照片过大，请重新拍摄。")
    elif answer.status == 409 and not refused.errors:
        refused.general.append(conflict_words(answer))
        refused.key = refused.sent  # perhaps taken already: the same key replays it
    forbidden = (
        "认定或否定比对建议须由寻亲甄别专员、站领导或中心协调员办理。"
        if form_name in ("accept", "reject")
        else "您的角色无权办理此项（身份确认由寻亲甄别专员、站领导或中心协调员办理）。"
    )
    refused.explain(
        "寻亲甄别服务暂时不可用，填写内容已保留；请稍后再次提交（不会重复提交）。",
        {403: forbidden},
    )
    return _case(
        request,
        console,
        user,
        case_id,
        candidate_id=str(values.get("candidate_id", "")),
        failed=form_name,
        values=values,
        errors=refused.errors,
        general=refused.general,
        keys={form_name: refused.key},
        status=refused.status,
    )


def _by_field(refusals, fields) -> tuple[dict[str, list[str]], list[str]]:
    """wording.refusals_by_field, the field already the form's name."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in refusals:
        field = wording.form_field(str(error.get("field", "")))
        words = wording.reason_in_chinese(field, str(error.get("reason", "")))
        (errors.setdefault(field, []) if field in fields else general).append(words)
    return errors, general


def _is_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


CASE_MISSING = ("查无此人或无权查看", "该寻亲案件不存在，或不在您的查看范围内。")


def not_found(request, user):
    return not_found_page(request, user, CASE_MISSING)
