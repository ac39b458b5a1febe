"""The review queue (待审核): the candidates search proposed, each with its
field-by-field explanation as search gives it; confirm (on the case, with evidence)
or reject (with the reason)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from rescue_console import wording
from rescue_console.case import CASE_MISSING, not_found
from rescue_console.web import (
    ConsoleDep,
    Refused,
    UserDep,
    page,
    posted,
    still_signed_in,
    submit,
)

router = APIRouter()


@router.get("/review")
async def review_page(request: Request, console: ConsoleDep, user: UserDep, done: str = ""):
    notice = "已否定该候选：此报告与此人不再配对。" if done == "rejected" else None
    return await _review(request, console, user, notice=notice)


@router.post("/review/{candidate_id}/rejection")
async def reject(candidate_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """Not the same person (search's POST /candidates/{id}/rejection), with the reason."""
    sent = await posted(request, user)
    try:
        uuid.UUID(candidate_id)
    except ValueError:
        return not_found(request, user)
    reason = sent.values.get("reason", "")

    def again(refused: Refused):
        refused.errors, refused.general = wording.refusals_by_field(
            refused.answer.field_errors, ("reason",)
        )
        refused.explain(
            "寻亲甄别服务暂时不可用，填写内容已保留；请稍后再次提交。",
            {
                409: "该候选已审核过（已确认、已否定或已失效），请刷新核对。",
                403: "否定候选须由寻亲甄别专员、站领导或中心协调员办理。",
            },
        )
        return _review(
            request,
            console,
            user,
            failed=candidate_id,
            failed_key=refused.key,
            reason=reason,
            errors=refused.errors,
            general=refused.general,
            status=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "search",
        f"/candidates/{candidate_id}/rejection",
        {"reason": reason.strip()} if reason.strip() else {},
        sent.key,
        done="/review?done=rejected",
        again=again,
        missing=CASE_MISSING,
    )


async def _review(
    request,
    console,
    user,
    *,
    notice=None,
    failed=None,
    failed_key=None,
    reason="",
    errors=None,
    general=None,
    status=200,
):
    queue = await console.services.get(user.token, "search", "/review-queue", limit=100)
    still_signed_in(console, user, queue)
    problem = None
    if not queue.ok:
        problem = (
            "无权查看" if queue.status in (403, 404) else "暂时无法获取（服务不可用），请稍后刷新"
        )
    return page(
        request,
        "review.html",
        {
            "candidates": queue.body if queue.ok else [],
            "problem": problem,
            "notice": notice,
            "failed": failed,
            "reason": reason,
            "errors": errors or {},
            "general": general or [],
            "keys": {
                c["id"]: failed_key if c["id"] == failed and failed_key else str(uuid.uuid4())
                for c in (queue.body if queue.ok else [])
            },
        },
        status=status,
        user=user,
    )
