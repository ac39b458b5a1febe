"""Filing a month's table with the national rescue information system: recorded here,
sent by the sweep (summary.sweeps) until the system answers 2xx."""

from __future__ import annotations

import uuid

from rescue_chassis.access import sees_network
from rescue_chassis.commands import Command
from rescue_chassis.refusals import Conflict, Forbidden
from summary import queries
from summary.tables import Submission
from summary.views import SubmissionView


class SubmitTable(Command):
    month: str


def view_of(row: Submission) -> SubmissionView:
    return SubmissionView.model_validate(row, from_attributes=True)


async def submit_table(command: SubmitTable, uow) -> SubmissionView:
    """The network's table as it stands now, queued for the national system."""
    month = queries.month_of(command.month)
    if not sees_network(uow.actor, uow.network):
        raise Forbidden("Center only", "Only the center station files the network's table.")
    if not uow.settings.national_system_url:
        raise Conflict(
            "National system not configured",
            "No endpoint is set for the national rescue information system "
            "(RESCUE_NATIONAL_SYSTEM_URL).",
        )
    table = await queries.table(uow, month)
    row = Submission(
        id=uuid.uuid4(),
        month=str(month),
        requested_by=uow.actor.subject,
        requested_at=uow.now,
        table=table.model_dump(mode="json", exclude={"definitions"}),
        status="pending",
        attempts=0,
        next_attempt_at=uow.now,
    )
    uow.add(row)
    await uow.flush()
    return view_of(row)
