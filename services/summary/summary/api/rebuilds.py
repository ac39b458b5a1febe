"""Ops: rebuild the summary's read model from the events alone."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from rescue_chassis.access import OPERATORS
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, load
from rescue_chassis.db import SessionDep
from rescue_chassis.refusals import Conflict
from rescue_chassis.runtime import RuntimeDep
from summary import rebuild
from summary.commands.rebuilds import StartRebuild, start_rebuild, view_of
from summary.tables import Rebuild
from summary.views import RebuildView

router = APIRouter(prefix="/rebuilds", tags=["ops"], dependencies=[require_roles(*OPERATORS)])


@router.post("", status_code=202, response_model=RebuildView)
async def start(run: Run, runtime: RuntimeDep):
    """Forget every fact and read every topic again from its beginning (in the
    background; GET the rebuild for its progress)."""
    if rebuild.running():
        raise Conflict("Rebuild running", "A rebuild is under way; wait for it to finish.")
    view = await run(start_rebuild, StartRebuild(), location="/rebuilds/{id}")
    if isinstance(view, RebuildView):  # not a replayed answer: start it once
        rebuild.launch(runtime, view.id)
    return view


@router.get("/{rebuild_id}", response_model=RebuildView)
async def one(
    rebuild_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    row = await load(
        session, runtime, None, Rebuild, rebuild_id, what="rebuild", stations=lambda r: ()
    )
    return view_of(row)
