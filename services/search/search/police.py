"""Police partners: identity checks and DNA samples. (The police helper fills this.)"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession


async def dna_hit_reverified(session: AsyncSession, case_id: uuid.UUID) -> bool:
    """Whether a DNA hit for the case was re-verified with a fresh sample."""
    return False
