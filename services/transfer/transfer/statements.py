"""Transfer's own SQL beyond get and find: the hot per-event statement on the
driver, and the locked reads of a use case (the only module on the driver)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_events.contracts import PersonAdmittedV1
from rescue_events.driver import begun, run, upsert_sql
from transfer.tables import Return, Traveller

REMEMBER_TRAVELLER = upsert_sql(
    Traveller.__table__,
    ("person_id", "station_id", "sex", "estimated_age", "categories"),
    key="person_id",
)


async def remember_traveller(session: AsyncSession, event: PersonAdmittedV1) -> None:
    """Every admission of the network passes here: one fixed statement on the driver,
    not a Core statement built per event."""
    driver = await begun(session)
    args = (
        event.person_id,
        event.station_id,
        event.sex.value,
        event.estimated_age,
        [c.value for c in event.categories],
    )
    await run(REMEMBER_TRAVELLER, driver.execute(REMEMBER_TRAVELLER, *args))


async def passengers(uow: UnitOfWork, escort_id: uuid.UUID) -> list[Return]:
    """The returns aboard an escort, locked: a refusal meanwhile is seen, not overwritten."""
    query = select(Return).where(Return.escort_id == escort_id).with_for_update()
    return list((await uow.session.scalars(query)).all())
