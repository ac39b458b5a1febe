"""Admission (入站登记): the form, the fields each arrival route needs, and the
service's refusals shown next to the fields they name, with nothing typed lost."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request

from rescue_console import wording
from rescue_console.services import Answer
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

ROUTES = ("street_patrol", "own_request", "hospital_transfer", "station_transfer")
HANDOVER = ("escorting_unit", "officer", "reference_number", "found_place", "found_at")
SOURCES = {
    "hospital_transfer": ("hospital", "discharge_reference"),
    "station_transfer": ("station_id", "station_name", "transfer_reference"),
}
OPTIONAL_TEXT = ("dialect", "physical_description", "full_name", "registered_home_admin_code")
_LIST_SPLIT = re.compile(r"[,，、;；\n]+")
MAX_PHOTO_BYTES = 2 * 1024 * 1024  # intake's limit, decoded


@router.get("/admissions/new")
async def admission_form(request: Request, console: ConsoleDep, user: UserDep):
    return _form(request, console, user, {}, key=str(uuid.uuid4()))


@router.post("/admissions")
async def admit_person(request: Request, console: ConsoleDep, user: UserDep):
    form = await form_of(request)
    check_csrf(request, user, form)
    values = {
        name: vals if len(vals) > 1 or name in _LISTS else vals[0] for name, vals in form.items()
    }
    key = form_key(values)
    photo = str(values.get("photo", "")).strip()
    refused_photo = photo_problem(photo) if photo else None
    if refused_photo:
        # Checked before anyone is admitted: the person and the photo go in together.
        values.pop("photo", None)
        return _form(
            request, console, user, values, key=key, errors={"photo": [refused_photo]}, status=422
        )

    async def done(answer: Answer) -> str:  # 201, or 200 when a double submit is answered
        person_id = answer.body["id"]
        target = f"/persons/{person_id}"
        if photo:
            added = await add_photo(
                console, user, person_id, photo, values.get("photo_taken_at"), key=photo_key(key)
            )
            if not added.ok:
                target += "?photo=unsaved"
        return target

    def again(refused: Refused):
        answer = refused.answer
        refused.errors, refused.general = wording.refusals_by_field(
            answer.field_errors, _FIELDS, _FORM_NAMES
        )
        if answer.status == 409:
            # The key was used (a submit still running, or one that admitted): keep it,
            # so no further submit of this form can admit a second person.
            refused.key = refused.sent
        refused.explain(
            "登记服务暂时不可用，填写内容已保留；请稍后再次提交（不会重复登记）。",
            {
                409: "此表单已提交过，可能已登记成功：请先在值班看板核对；"
                "如需另行登记，请重新打开入站登记。",
                403: "您的角色或所在站无权入站登记。",
            },
            refused="登记未被接受",
        )
        return _form(
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
        "intake",
        "/persons",
        admission_request(values),
        key,
        done=done,
        again=again,
        missing=None,
    )


def admission_request(values: dict) -> dict:
    """The form as intake's AdmissionRequest: empty fields left out, so the
    service names what is missing; only the chosen route's own fields sent."""
    route = values.get("arrival_route") or None
    body: dict = {"arrival_route": route, "sex": values.get("sex") or None}
    age = str(values.get("estimated_age", "")).strip()
    if age:
        body["estimated_age"] = int(age) if age.isdigit() else age
    for name in ("stated_names", "stated_places"):
        items = split_list(values.get(name, ""))
        if items:
            body[name] = items
    for name in OPTIONAL_TEXT:
        if str(values.get(name, "")).strip():
            body[name] = str(values[name]).strip()
    if values.get("arrived_at"):
        body["arrived_at"] = china_instant(values["arrived_at"])
    body["categories"] = list(values.get("categories", []))
    body["suspected_conditions"] = list(values.get("suspected_conditions", []))
    if route == "street_patrol":
        handover = {f: str(values.get(f"handover.{f}", "")).strip() for f in HANDOVER}
        if any(handover.values()):
            if handover["found_at"]:
                handover["found_at"] = china_instant(handover["found_at"])
            body["handover"] = {k: v for k, v in handover.items() if v}
        consent = values.get("consent")
        if consent in ("yes", "no"):
            body["consent_given"] = consent == "yes"
    if route in SOURCES:
        source = {f: str(values.get(f"source.{f}", "")).strip() for f in SOURCES[route]}
        body["source"] = {k: v for k, v in source.items() if v}
    return {k: v for k, v in body.items() if v is not None}


def split_list(value) -> list[str]:
    """ "王建国、老王" → ["王建国", "老王"]."""
    return [part.strip() for part in _LIST_SPLIT.split(str(value or "")) if part.strip()]


def photo_problem(encoded: str) -> str | None:
    """What intake would refuse in the photo (a JPEG or PNG of at most 2 MiB, base64),
    in Chinese; None if it would take it."""
    if len(encoded) > (MAX_PHOTO_BYTES + 2) // 3 * 4:
        return PHOTO_TOO_LARGE
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "照片读取失败，请重新拍摄或选择。"
    if len(image) > MAX_PHOTO_BYTES:
        return PHOTO_TOO_LARGE
    if not (image.startswith(b"\xff\xd8\xff") or image.startswith(b"\x89PNG\r\n\x1a\n")):
        return PHOTO_NOT_AN_IMAGE
    return None


PHOTO_TOO_LARGE = "照片超过 2 MB，请重新拍摄或选择较小的照片。"
PHOTO_NOT_AN_IMAGE = "照片须为 JPEG 或 PNG 图片，请重新拍摄或选择。"


def photo_key(key: str) -> str:
    """The photo's Idempotency-Key, derived from the admission's: a re-sent form
    replays both, and intake's key for one resource is never reused for another."""
    derived = f"{key}.photo"
    return derived if len(derived) <= 200 else f"{uuid.uuid5(uuid.NAMESPACE_URL, key)}.photo"


async def add_photo(console, user, person_id: str, photo: str, taken_at, *, key: str) -> Answer:
    """intake's POST /persons/{id}/photos: a face photo, base64 JSON."""
    answer = await console.services.call(
        user.token,
        "intake",
        "POST",
        f"/persons/{person_id}/photos",
        json={"kind": "face", "image": photo, "taken_at": _photo_time(taken_at)},
        headers={"Idempotency-Key": key},
    )
    still_signed_in(console, user, answer)
    return answer


def photo_refusal(answer: Answer) -> str:
    """Why intake did not keep a photo, in Chinese."""
    if answer.status == 413:
        return PHOTO_TOO_LARGE
    if answer.unreachable:
        return "登记服务暂时不可用，照片未保存，请稍后重新上传。"
    if answer.status == 403:
        return "您的角色或所在站无权为此人添加照片。"
    for error in answer.field_errors:
        if str(error.get("field", "")).endswith("image"):
            reason = str(error.get("reason", ""))
            return PHOTO_NOT_AN_IMAGE if "JPEG" in reason else "照片读取失败，请重新拍摄或选择。"
        if str(error.get("field", "")).endswith("taken_at"):
            return "拍摄时间不正确（不能晚于现在），请检查手机时间后重新上传。"
    return f"照片未被接受：{answer.detail or answer.status}"


def _photo_time(value) -> str:
    """When the photo was taken, as the page said (the same on every re-send, so a
    replay matches); now when the page said nothing usable."""
    text = str(value or "").strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        moment = datetime.now(UTC)
    return moment.isoformat()


def china_instant(local: str) -> str:
    # <input type=datetime-local> has no offset: the station's clock is Beijing time.
    return f"{local}:00+08:00" if len(local) == 16 else f"{local}+08:00"


_LISTS = ("categories", "suspected_conditions")
# The service's field → the form's, where they differ.
_FORM_NAMES = {"consent_given": "consent"}
_FIELDS = {
    "arrival_route",
    "arrived_at",
    "sex",
    "estimated_age",
    "stated_names",
    "stated_places",
    "dialect",
    "physical_description",
    "full_name",
    "registered_home_admin_code",
    "categories",
    "suspected_conditions",
    "consent",
    "handover",
    *(f"handover.{f}" for f in HANDOVER),
    "source",
    *(f"source.{f}" for fields in SOURCES.values() for f in fields),
    "photo",
}


def _form(request, console, user, values, *, key, errors=None, general=None, status=200):
    stations = [s for s in console.network.stations.values() if s.id != user.station_id]
    return page(
        request,
        "admission.html",
        {
            "v": values,
            "key": key,
            "errors": errors or {},
            "general": general or [],
            "routes": ROUTES,
            "other_stations": stations,
            "medical_first": "suspected_conditions" in (errors or {}),
        },
        status=status,
        user=user,
    )
