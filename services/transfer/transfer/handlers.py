from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityConfirmedV1, ReturnOpenedV1
from rescue_events.envelope import Envelope
from transfer.domain import escort_station
from transfer.tables import Return


def handlers(runtime: Runtime):
    async def when_identity_confirmed_plan_return(
        session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
    ) -> None:
        if await session.scalar(select(Return.id).where(Return.person_id == event.person_id)):
            return  # one return per person
        now = datetime.now(UTC)
        planned = Return(
            id=uuid.uuid4(),
            person_id=event.person_id,
            station_id=event.station_id,
            escort_station_id=escort_station(
                runtime.network, event.station_id, event.cross_province
            ),
            cross_province=event.cross_province,
            status="planned",
            full_name=event.full_name,
            destination_province=event.home_province,
            home_address=event.home_address,
            home_admin_code=event.home_admin_code,
            opened_at=now,
        )
        session.add(planned)
        await runtime.outbox.stage(
            session,
            ReturnOpenedV1(
                person_id=planned.person_id,
                return_id=planned.id,
                station_id=planned.station_id,
                escort_station_id=planned.escort_station_id,
                cross_province=planned.cross_province,
                destination_province=planned.destination_province,
                opened_at=now,
            ),
        )

    return {IdentityConfirmedV1: when_identity_confirmed_plan_return}
