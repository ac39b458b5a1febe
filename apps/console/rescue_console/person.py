"""The person's page: record, stays and timeline, as intake shows them to this user."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Request

from rescue_console.web import ConsoleDep, UserDep, page, still_signed_in

router = APIRouter()


@router.get("/persons/{person_id}")
async def person_page(person_id: str, request: Request, console: ConsoleDep, user: UserDep):
    try:
        uuid.UUID(person_id)
    except ValueError:
        return _not_found(request, user)
    record, timeline = await asyncio.gather(
        console.services.get(user.token, "intake", f"/persons/{person_id}"),
        console.services.get(user.token, "intake", f"/persons/{person_id}/timeline"),
    )
    still_signed_in(console, user, record, timeline)
    if record.status in (403, 404):
        # The same words whether it does not exist or is another station's: never leak.
        return _not_found(request, user)
    if not record.ok:
        return page(
            request,
            "message.html",
            {"title": "暂时无法获取", "text": "登记服务暂时不可用，请稍后刷新。"},
            status=503,
            user=user,
        )
    current = next((s for s in record.body["stays"] if not s.get("discharged_at")), None)
    return page(
        request,
        "person.html",
        {
            "p": record.body,
            "current": current,
            "timeline": timeline.body if timeline.ok else None,
        },
        user=user,
    )


def _not_found(request, user):
    return page(
        request,
        "message.html",
        {"title": "查无此人或无权查看", "text": "该记录不存在，或不在您的查看范围内。"},
        status=404,
        user=user,
    )
