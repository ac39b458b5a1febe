"""Medical first (先救治，后救助): the placement in hospital before any admission
(intake's POST /hospital-placements), and the station's persons in hospital."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from rescue_console import wording
from rescue_console.admission import china_instant, split_list
from rescue_console.web import (
    ConsoleDep,
    Refused,
    UserDep,
    check_csrf,
    form_key,
    form_of,
    page,
    still_signed_in,
    submit,
)

router = APIRouter()

FIELDS = (
    "hospital",
    "conditions",
    "placed_at",
    "escorting_unit",
    "sex",
    "estimated_age",
    "stated_names",
    "stated_places",
    "dialect",
    "physical_description",
    "categories",
)
_LISTS = ("conditions", "categories")


@router.get("/hospital-placements/new")
async def placement_form(request: Request, user: UserDep):
    return _form(request, user, {}, key=str(uuid.uuid4()))


@router.post("/hospital-placements")
async def place_in_hospital(request: Request, console: ConsoleDep, user: UserDep):
    form = await form_of(request)
    check_csrf(request, user, form)
    values = {
        name: vals if len(vals) > 1 or name in _LISTS else vals[0] for name, vals in form.items()
    }

    def again(refused: Refused):
        answer = refused.answer
        refused.errors, refused.general = wording.refusals_by_field(answer.field_errors, FIELDS)
        if answer.status == 409:
            refused.key = refused.sent  # perhaps placed by this form: the key replays it
        refused.explain(
            "登记服务暂时不可用，填写内容已保留；请稍后再次提交（不会重复登记）。",
            {
                409: "此表单已提交过，可能已登记成功：请先在“在院人员”中核对。",
                403: "您的角色或所在站无权登记送医安置。",
            },
            refused="送医安置未被接受",
        )
        return _form(
            request,
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
        "intake",
        "/hospital-placements",
        placement_request(values),
        form_key(values),
        done=lambda answer: f"/hospital-placements?placed={answer.body['id']}",
        again=again,
        missing=None,
    )


@router.get("/hospital-placements")
async def placements(request: Request, console: ConsoleDep, user: UserDep, placed: str = ""):
    answer = await console.services.get(user.token, "intake", "/hospital-placements")
    still_signed_in(console, user, answer)
    problem = None
    if answer.status in (403, 404):
        problem = "无权查看"
    elif not answer.ok:
        problem = "暂时无法获取（服务不可用），请稍后刷新"
    return page(
        request,
        "placements.html",
        {"rows": answer.body if answer.ok else [], "problem": problem, "placed": placed},
        user=user,
    )


def placement_request(values: dict) -> dict:
    """The form as intake's Placement: empty fields left out, so the service names
    what is missing."""
    body: dict = {"sex": values.get("sex") or None, "hospital": None}
    for name in ("hospital", "escorting_unit", "dialect", "physical_description"):
        text = str(values.get(name, "")).strip()
        if text:
            body[name] = text
    age = str(values.get("estimated_age", "")).strip()
    if age:
        body["estimated_age"] = int(age) if age.isdigit() else age
    for name in ("stated_names", "stated_places"):
        items = split_list(values.get(name, ""))
        if items:
            body[name] = items
    if values.get("placed_at"):
        body["placed_at"] = china_instant(values["placed_at"])
    body["conditions"] = list(values.get("conditions", []))
    body["categories"] = list(values.get("categories", []))
    return {k: v for k, v in body.items() if v is not None}


def _form(request, user, values, *, key, errors=None, general=None, status=200):
    return page(
        request,
        "medical_first.html",
        {"v": values, "key": key, "errors": errors or {}, "general": general or []},
        status=status,
        user=user,
    )
