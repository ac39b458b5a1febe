"""The police's route to the face photo of an identity check: a short-lived signed
link (rescue_chassis.photo_links, minted for the agency by the delivery of the
check) opened with the agency's own partner token."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from intake.partner_photos import PartnerPhotoLink, photo_for_partner
from intake.record_views import photo_headers
from rescue_chassis.auth import PrincipalDep, Role, require_roles
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import PROBLEM_JSON
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/partner/photos",
    tags=["police partner API"],
    dependencies=[require_roles(Role.POLICE)],
)


@router.get(
    "/{photo_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The face photo as intake keeps it, with its SHA-256 digest.",
            "content": {"image/jpeg": {}, "image/png": {}},
        },
        403: {
            "description": "The link is refused: `expires` (it has expired), `agency` (made "
            "for another agency than the token's) or `signature` (changed, or not ours).",
            "content": {PROBLEM_JSON: {}},
        },
    },
)
async def partner_photo(
    photo_id: uuid.UUID,
    agency: Annotated[
        str, Query(min_length=1, max_length=64, description="The agency the link is for.")
    ],
    expires: Annotated[
        int, Query(ge=0, le=2**40, description="When the link expires, Unix seconds.")
    ],
    signature: Annotated[str, Query(min_length=1, max_length=128)],
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    request_id: Annotated[
        uuid.UUID | None, Query(description="The identity check the link was made for.")
    ] = None,
):
    """The face photo of a police identity check, for the agency the link was made
    for (its partner token's station_id) until the link expires. Every view is on
    the audit trail (who, which photo, which agency, which check); nothing caches it."""
    link = PartnerPhotoLink(photo_id, agency, expires, signature, request_id)
    photo = await photo_for_partner(UnitOfWork(session, runtime, principal), link)
    return Response(photo.image, media_type=photo.content_type, headers=photo_headers(photo))
