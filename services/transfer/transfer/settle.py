"""When an escort is over."""

from __future__ import annotations

import uuid

from rescue_chassis.commands import UnitOfWork
from transfer.domain import EscortStatus, ReturnStatus, escort_finished
from transfer.tables import Escort, Return


async def close_escort_if_finished(uow: UnitOfWork, escort_id: uuid.UUID | None) -> None:
    """An escort is complete once each of its persons is handed over or refused."""
    if escort_id is None:
        return
    await uow.flush()
    aboard = await uow.find(Return, escort_id=escort_id)
    if escort_finished(ReturnStatus(r.status) for r in aboard):
        escort = await uow.get(Escort, escort_id, lock=True)
        escort.status = EscortStatus.COMPLETED.value
        escort.completed_at = uow.now
