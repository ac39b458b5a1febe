"""The face photos intake shared for search, as enrolled or not: the ones to upload
by hand (`upload_needed`) are the station's to-do list."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from rescue_chassis.access import SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from search.commands import faces
from search.commands.faces import SharedPhotoView

router = APIRouter(
    prefix="/intake-photos", tags=["faces"], dependencies=[require_roles(*SEARCH_WORK)]
)


@router.get("", response_model=list[SharedPhotoView])
async def list_intake_photos(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(enrolled|not_enrolled|upload_needed)$")] = None,
    person_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Intake's face photos as search took them, newest first: enrolled, not enrolled
    (with the reason), or to upload by hand; the caller's station (the center: all)."""
    reading = UnitOfWork(session, runtime, principal)
    return await faces.shared_photos(reading, status=status, person_id=person_id, limit=limit)
