"""Family-search notices (寻亲公告): publishing through the adapters, taking down.
(The notices helper fills this module.)"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from search.tables import SearchCase


async def take_down_notices(
    session: AsyncSession, runtime: Runtime, case: SearchCase, reason: str
) -> None:
    """Take every live notice of the case down (identity confirmed, person left)."""
    return None
