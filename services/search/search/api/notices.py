"""Family-search notices of a case: publishing (national website, regional pushes),
their status, the protection of persons who must not appear in public, and the
authorised override."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from pydantic import ConfigDict, Field

from rescue_chassis.access import SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.refusals import NotFound
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts.search_notices import NoticeKind
from search import queries
from search.api.fields import AsSeen
from search.commands import notices
from search.commands.notices import (
    NoticeView,
    OverrideRequest,
    OverrideView,
    ProtectionRequest,
    ProtectionView,
    PublicationChoiceView,
    PublicationPhotoRequest,
    PublicationPhotoView,
    RegionChoice,
)
from search.tables.notices import PublicationPhoto
from search.visibility import readable_case

router = APIRouter(
    prefix="/cases", tags=["family-search notices"], dependencies=[require_roles(*SEARCH_WORK)]
)


class NoticeRequest(AsSeen):
    """What the notice says. Categories and anything marking a protected status are
    never part of it; free text naming one is refused."""

    model_config = ConfigDict(extra="forbid")

    kind: NoticeKind = Field(
        description="`national`: the notice on the national family-search website; "
        "`regional`: targeted pushes, one per region.",
        examples=["national"],
    )
    regions: list[RegionChoice] | None = Field(
        default=None,
        max_length=10,
        description="Regional pushes only: where to push. Left out: where found, the "
        "accent's region and the claimed home(s), as known.",
        examples=[[{"region": "四川省", "basis": "accent"}]],
    )
    found_place: str | None = Field(
        default=None,
        min_length=2,
        max_length=100,
        description="Where the person was found or came in; left out: the station's city.",
        examples=["固始县人民广场"],
    )
    appearance: str | None = Field(
        default=None,
        max_length=500,
        description="Appearance and clothing, for the public text.",
        examples=["身高约170厘米,偏瘦,穿灰色外套"],
    )


@router.get("/{case_id}/notices", response_model=list[NoticeView])
async def list_notices(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The case's notices with their status, oldest first."""
    return await queries.notices(UnitOfWork(session, runtime, principal), case_id)


@router.post("/{case_id}/notices", status_code=201, response_model=list[NoticeView])
async def publish_notices(case_id: uuid.UUID, request: NoticeRequest, run: Run):
    """Publish the national notice (completes the family_search_notice task) or push
    to regions (one request per region). Answers once the endpoints answered: each
    notice `published`, or `failed` with its error (retried later by the sweep).
    409 for a protected person without an override, a closed search, or a notice
    already up."""
    command = notices.PublishNotices(case_id=case_id, **request.model_dump())
    return await run(notices.publish_notices, command)


@router.get("/{case_id}/protection", response_model=ProtectionView)
async def get_protection(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """Whether a public notice may go up for the person, and why not."""
    uow = UnitOfWork(session, runtime, principal)
    return await notices.protection_view(uow, await readable_case(uow, case_id))


@router.post("/{case_id}/protection", response_model=ProtectionView)
async def mark_protection(case_id: uuid.UUID, request: ProtectionRequest, run: Run):
    """Staff mark the person endangered: no public notice, and live notices are taken
    down. Lifting the mark needs a station lead or center coordinator."""
    command = notices.MarkProtection(case_id=case_id, **request.model_dump())
    return await run(notices.mark_protection, command)


@router.post("/{case_id}/notice-override", status_code=201, response_model=OverrideView)
async def override_protection(case_id: uuid.UUID, request: OverrideRequest, run: Run):
    """A station lead or center coordinator authorises public notices for a protected
    person, with the reason (403 for other roles; 409 if the person is not protected)."""
    command = notices.OverrideProtection(case_id=case_id, **request.model_dump())
    return await run(notices.override_protection, command)


# ---- the photo for publication ---------------------------------------------------


@router.get("/{case_id}/publication-photos", response_model=list[PublicationPhotoView])
async def list_publication_photos(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's face photos intake shared, each as a notice would show it (the
    person's face alone, resized) or why it cannot; newest first."""
    uow = UnitOfWork(session, runtime, principal)
    return await notices.publication_photos(uow, await readable_case(uow, case_id))


@router.get(
    "/{case_id}/publication-photos/{photo_id}/image",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def publication_photo_image(
    case_id: uuid.UUID,
    photo_id: uuid.UUID,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The published image itself (JPEG), as the notice channels get it."""
    uow = UnitOfWork(session, runtime, principal)
    case = await readable_case(uow, case_id)
    photo = await uow.get(PublicationPhoto, photo_id)
    if photo is None or photo.person_id != case.person_id or photo.image is None:
        raise NotFound("published image", f"No published image of photo {photo_id} for this case.")
    return Response(
        photo.image, media_type=photo.content_type, headers={"ETag": f'"{photo.sha256}"'}
    )


@router.get("/{case_id}/publication-photo", response_model=PublicationChoiceView)
async def get_publication_photo(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The photo the case's notices show (none chosen: no photo)."""
    uow = UnitOfWork(session, runtime, principal)
    return await notices.publication_choice(uow, await readable_case(uow, case_id))


@router.put("/{case_id}/publication-photo", response_model=PublicationChoiceView)
async def choose_publication_photo(case_id: uuid.UUID, request: PublicationPhotoRequest, run: Run):
    """Choose the photo the case's notices show: one of the person's face photos
    (422 naming `photo_id` for another's or an unusable one). Notices up are
    re-issued with it. 409 for a protected person: no public photo, override or not."""
    command = notices.ChoosePublicationPhoto(case_id=case_id, **request.model_dump())
    return await run(notices.choose_publication_photo, command)


@router.delete("/{case_id}/publication-photo", response_model=PublicationChoiceView)
async def withdraw_publication_photo(case_id: uuid.UUID, run: Run):
    """No photo on the case's notices from now on; notices showing one are re-issued
    without it."""
    command = notices.WithdrawPublicationPhoto(case_id=case_id)
    return await run(notices.withdraw_publication_photo, command)
