from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from transfer.domain import EscortStatus, ReturnStatus, escort_finished
from transfer.tables import Escort, Return


async def close_escort_if_finished(
    session: AsyncSession, escort_id: uuid.UUID | None, now: datetime
) -> None:
    """An escort is complete once each of its persons is handed over or refused."""
    if escort_id is None:
        return
    await session.flush()
    statuses = (
        await session.scalars(select(Return.status).where(Return.escort_id == escort_id))
    ).all()
    if escort_finished(ReturnStatus(s) for s in statuses):
        escort = await session.get(Escort, escort_id, with_for_update=True)
        escort.status = EscortStatus.COMPLETED.value
        escort.completed_at = now
