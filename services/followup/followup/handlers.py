from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from followup.domain import revisit_schedule
from followup.tables import Revisit, StabilisationRecord
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import PersonHandedOverV1, StabilisationOpenedV1
from rescue_events.envelope import Envelope


def handlers(runtime: Runtime):
    async def when_handed_over_open_stabilisation(
        session: AsyncSession, event: PersonHandedOverV1, envelope: Envelope
    ) -> None:
        if await session.scalar(
            select(StabilisationRecord.id).where(StabilisationRecord.person_id == event.person_id)
        ):
            return
        now = datetime.now(UTC)
        record = StabilisationRecord(
            id=uuid.uuid4(),
            person_id=event.person_id,
            return_id=event.return_id,
            station_id=event.station_id,
            escort_station_id=event.escort_station_id,
            home_province=event.destination_province,
            home_address=event.home_address,
            home_admin_code=event.home_admin_code,
            received_by=event.received_by,
            handed_over_at=event.handed_over_at,
            opened_at=now,
            status="active",
        )
        session.add(record)
        await session.flush()  # the revisits reference the record
        due_dates = revisit_schedule(event.handed_over_at.date())
        session.add_all(
            Revisit(
                id=uuid.uuid4(), record_id=record.id, sequence=i, due_on=due, status="scheduled"
            )
            for i, due in enumerate(due_dates, start=1)
        )
        await runtime.outbox.stage(
            session,
            StabilisationOpenedV1(
                person_id=event.person_id,
                record_id=record.id,
                home_province=record.home_province,
                home_admin_code=record.home_admin_code,
                opened_at=now,
                revisit_due_dates=due_dates,
            ),
        )

    return {PersonHandedOverV1: when_handed_over_open_stabilisation}
