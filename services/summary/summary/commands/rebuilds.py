"""A rebuild of the read model, on record (summary.rebuild does the work)."""

from __future__ import annotations

import uuid

from rescue_chassis.commands import Command
from summary.tables import Rebuild
from summary.views import RebuildView


class StartRebuild(Command):
    pass


def view_of(row: Rebuild) -> RebuildView:
    return RebuildView.model_validate(row, from_attributes=True)


async def start_rebuild(command: StartRebuild, uow) -> RebuildView:
    row = Rebuild(
        id=uuid.uuid4(),
        requested_by=uow.actor.subject if uow.actor else "cli",
        started_at=uow.now,
        status="running",
        records_read=0,
    )
    uow.add(row)
    await uow.flush()
    return view_of(row)
