"""The person's page: record, stays, photos, belongings, incidents, burial and
timeline, as intake shows them to this user; a photo added from the phone's camera;
discharge with its reason; an incident recorded."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from rescue_console import wording
from rescue_console.admission import (
    add_photo,
    china_instant,
    photo_problem,
    photo_refusal,
)
from rescue_console.web import (
    ConsoleDep,
    Refused,
    UserDep,
    check_csrf,
    form_key,
    form_of,
    is_id,
    not_found_page,
    page,
    posted,
    still_signed_in,
    submit,
)

router = APIRouter()


@router.get("/persons/{person_id}")
async def person_page(
    person_id: str, request: Request, console: ConsoleDep, user: UserDep, photo: str = ""
):
    notice = (
        "人员已登记，但照片未能保存：请在下方“照片”中重新拍摄上传。" if photo == "unsaved" else None
    )
    return await _person(request, console, user, person_id, notice=notice)


@router.post("/persons/{person_id}/photos")
async def person_photo(person_id: str, request: Request, console: ConsoleDep, user: UserDep):
    form = await form_of(request)
    check_csrf(request, user, form)
    if not is_id(person_id):
        return not_found_page(request, user)
    photo = (form.get("photo") or [""])[0].strip()
    key = form_key(form)
    problem = "请先拍摄或选择照片。" if not photo else photo_problem(photo)
    if problem is None:
        taken_at = (form.get("photo_taken_at") or [""])[0]
        answer = await add_photo(console, user, person_id, photo, taken_at, key=key)
        if answer.ok:
            return RedirectResponse(f"/persons/{person_id}#h-photos", status_code=303)
        if answer.status == 404:
            return not_found_page(request, user)
        problem = photo_refusal(answer)
    return await _person(request, console, user, person_id, errors={"photo": [problem]}, status=422)


DISCHARGE_FIELDS = (
    "reason",
    "discharged_at",
    "transferred_to",
    "transferred_to_station_id",
    "note",
    "belongings_returned",
    "belongings_note",
)


@router.post("/persons/{person_id}/discharge")
async def discharge(person_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """Discharge with its reason (intake's POST /persons/{id}/discharge); a refusal
    comes back next to its field, with everything typed kept."""
    sent = await posted(request, user)
    if not is_id(person_id):
        return not_found_page(request, user)

    def again(refused: Refused):
        answer = refused.answer
        refused.errors, refused.general = wording.refusals_by_field(
            answer.field_errors, DISCHARGE_FIELDS
        )
        if answer.status == 409 and "ettlement" in answer.detail + str(answer.body):
            refusal = wording.reason_in_chinese("reason", "settlement")
            refused.errors.setdefault("reason", []).append(refusal)
        else:
            if answer.status == 409:
                refused.key = refused.sent  # perhaps discharged by this form: the key replays it
            refused.explain(
                "登记服务暂时不可用，填写内容已保留；请稍后再次提交（不会重复离站）。",
                {
                    403: "只有此人所在的照料站可以办理离站，或您的角色无权办理。",
                    409: "此人已离站，或此表单已提交过：请刷新本页核对。",
                },
                refused="离站未被接受",
            )
        return _person(
            request,
            console,
            user,
            person_id,
            values=sent.values,
            errors=refused.errors,
            general=refused.general,
            discharge_key=refused.key,
            failed="discharge",
            status=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "intake",
        f"/persons/{person_id}/discharge",
        discharge_request(sent.values),
        sent.key,
        done=f"/persons/{person_id}#h-stays",
        again=again,
    )


# intake's IncidentReport field → the form's (the discharge form has its own note).
INCIDENT_NAMES = {
    "kind": "incident_kind",
    "occurred_at": "incident_occurred_at",
    "description": "incident_description",
}
INCIDENT_FIELDS = tuple(INCIDENT_NAMES.values())


@router.post("/persons/{person_id}/incidents")
async def incident(person_id: str, request: Request, console: ConsoleDep, user: UserDep):
    """An incident (death, missing, injury) to intake's POST /persons/{id}/incidents; a
    refusal comes back next to its field, with everything typed kept."""
    sent = await posted(request, user)
    if not is_id(person_id):
        return not_found_page(request, user)

    def again(refused: Refused):
        refused.errors, refused.general = incident_refusals(refused.answer)
        refused.explain(
            "登记服务暂时不可用，填写内容已保留；请稍后再次提交（不会重复登记）。",
            {
                403: "只有此人所在的照料站可以登记事件，或您的角色无权登记。",
                409: "此人已不在站内，不能登记事件：请刷新本页核对。",
            },
            refused="事件未被接受",
        )
        return _person(
            request,
            console,
            user,
            person_id,
            values=sent.values,
            errors=refused.errors,
            general=refused.general,
            incident_key=refused.key,
            failed="incident",
            status=refused.status,
        )

    return await submit(
        request,
        console,
        user,
        "intake",
        f"/persons/{person_id}/incidents",
        incident_request(sent.values),
        sent.key,
        done=f"/persons/{person_id}#h-incidents",
        again=again,
    )


def incident_request(values: dict) -> dict:
    """The form as intake's IncidentReport: empty fields left out, so the service names
    what is missing."""
    body: dict = {}
    if values.get("incident_kind"):
        body["kind"] = values["incident_kind"]
    if values.get("incident_occurred_at"):
        body["occurred_at"] = china_instant(values["incident_occurred_at"])
    text = str(values.get("incident_description", "")).strip()
    if text:
        body["description"] = text
    return body


def incident_refusals(answer) -> tuple[dict[str, list[str]], list[str]]:
    """intake's refusals of an incident in Chinese, by the form's field."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in answer.field_errors:
        field = wording.form_field(str(error.get("field", ""))).removeprefix("report.")
        words = wording.reason_in_chinese(f"incident_{field}", str(error.get("reason", "")))
        name = INCIDENT_NAMES.get(field)
        (errors.setdefault(name, []) if name else general).append(words)
    return errors, general


def discharge_request(values: dict) -> dict:
    """The form as intake's Discharge: empty fields left out, so the service names
    what is missing."""
    body: dict = {"reason": values.get("reason") or None}
    if values.get("discharged_at"):
        body["discharged_at"] = china_instant(values["discharged_at"])
    for name in ("transferred_to", "transferred_to_station_id", "note", "belongings_note"):
        text = str(values.get(name, "")).strip()
        if text:
            body[name] = text
    if values.get("belongings_returned") == "yes":
        body["belongings_returned"] = True
    return {k: v for k, v in body.items() if v is not None}


async def _person(
    request,
    console,
    user,
    person_id,
    *,
    notice=None,
    values=None,
    errors=None,
    general=None,
    discharge_key=None,
    incident_key=None,
    failed=None,
    status=200,
):
    if not is_id(person_id):
        return not_found_page(request, user)
    record, timeline, photos, belongings, cases = await asyncio.gather(
        console.services.get(user.token, "intake", f"/persons/{person_id}"),
        console.services.get(user.token, "intake", f"/persons/{person_id}/timeline"),
        console.services.get(user.token, "intake", f"/persons/{person_id}/photos"),
        console.services.get(user.token, "intake", f"/persons/{person_id}/belongings"),
        console.services.get(user.token, "search", "/cases", person_id=person_id),
    )
    still_signed_in(console, user, record, timeline, photos, belongings, cases)
    if record.status in (403, 404):
        # The same words whether it does not exist or is another station's: never leak.
        return not_found_page(request, user)
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
            "photos": photos.body if photos.ok else None,
            "belongings": belongings.body if belongings.ok else None,
            # the person's search case (甄别), when search shows it to this user
            "case": cases.body[0]
            if cases.ok and isinstance(cases.body, list) and cases.body
            else None,
            "notice": notice,
            "errors": errors or {},
            "general": general or [],
            "v": values or {},
            "photo_key": str(uuid.uuid4()),
            "discharge_key": discharge_key or str(uuid.uuid4()),
            "incident_key": incident_key or str(uuid.uuid4()),
            "failed": failed,
            "incident_kinds": wording.INCIDENTS.items(),
            "reasons": wording.DISCHARGE_REASONS.items(),
            "other_stations": [
                s for s in console.network.stations.values() if s.id != user.station_id
            ],
        },
        status=status,
        user=user,
    )
