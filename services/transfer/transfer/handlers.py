from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityConfirmedV1, PersonAdmittedV1, ReturnOpenedV1
from rescue_events.driver import begun, run, upsert_sql
from rescue_events.envelope import Envelope
from transfer.domain import ReturnStatus, escort_station
from transfer.tables import Return, Traveller

REMEMBER_TRAVELLER = upsert_sql(
    Traveller.__table__,
    ("person_id", "station_id", "sex", "estimated_age", "categories"),
    key="person_id",
)


def handlers(runtime: Runtime):
    async def when_person_admitted_remember_traveller(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        # Every admission of the network passes here: one fixed statement on the
        # driver (rescue_events.driver), not a Core statement built per event.
        driver = await begun(session)
        args = (
            event.person_id,
            event.station_id,
            event.sex.value,
            event.estimated_age,
            [c.value for c in event.categories],
        )
        await run(REMEMBER_TRAVELLER, driver.execute(REMEMBER_TRAVELLER, *args))

    async def when_identity_confirmed_open_return(
        session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
    ) -> None:
        if await session.scalar(select(Return.id).where(Return.person_id == event.person_id)):
            return  # one return per person
        await open_return(
            session,
            runtime,
            person_id=event.person_id,
            station_id=event.station_id,
            full_name=event.full_name,
            home_province=event.home_province,
            home_address=event.home_address,
            home_admin_code=event.home_admin_code,
            opened_by="identity_confirmed",
        )

    return {
        PersonAdmittedV1: when_person_admitted_remember_traveller,
        IdentityConfirmedV1: when_identity_confirmed_open_return,
    }


async def open_return(
    session: AsyncSession,
    runtime: Runtime,
    *,
    person_id: uuid.UUID,
    station_id: str,
    full_name: str,
    home_province: str,
    home_address: str,
    home_admin_code: str | None,
    opened_by: str,
) -> Return:
    """Open a return; every cross-province return of a satellite goes to the center."""
    cross_province = runtime.network.is_cross_province(station_id, home_province)
    now = datetime.now(UTC)
    opened = Return(
        id=uuid.uuid4(),
        person_id=person_id,
        station_id=station_id,
        escort_station_id=escort_station(runtime.network, station_id, cross_province),
        cross_province=cross_province,
        status=ReturnStatus.PENDING.value,
        full_name=full_name,
        destination_province=home_province,
        home_address=home_address,
        home_admin_code=home_admin_code,
        opened_at=now,
        opened_by=opened_by,
    )
    session.add(opened)
    await runtime.outbox.stage(
        session,
        ReturnOpenedV1(
            person_id=person_id,
            return_id=opened.id,
            station_id=station_id,
            escort_station_id=opened.escort_station_id,
            cross_province=cross_province,
            destination_province=home_province,
            opened_at=now,
        ),
    )
    return opened
