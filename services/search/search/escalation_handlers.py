"""Events the escalation part of search reacts to: intake's long stay and long
hospital stay go on the center's escalation list (search's own overdue tasks are
escalated by its deadline sweep, in the same transaction)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import LongStayReachedV1
from rescue_events.contracts.intake_arrivals import LongHospitalStayReachedV1
from rescue_events.envelope import Envelope
from search.commands.escalations import Escalate, escalate
from search.escalations import EscalationKind


def handlers(runtime: Runtime) -> dict:
    async def when_long_stay_reached_escalate(
        session: AsyncSession, event: LongStayReachedV1, envelope: Envelope
    ) -> None:
        command = Escalate(
            kind=EscalationKind.LONG_STAY,
            source_id=event.stay_id,
            person_id=event.person_id,
            station_id=event.station_id,
            due_at=event.reached_at,
        )
        await escalate(command, UnitOfWork(session, runtime))

    async def when_long_hospital_stay_reached_escalate(
        session: AsyncSession, event: LongHospitalStayReachedV1, envelope: Envelope
    ) -> None:
        command = Escalate(
            kind=EscalationKind.LONG_HOSPITAL_STAY,
            source_id=event.placement_id,
            person_id=event.person_id,
            station_id=event.station_id,
            due_at=event.reached_at,
        )
        await escalate(command, UnitOfWork(session, runtime))

    return {
        LongStayReachedV1: when_long_stay_reached_escalate,
        LongHospitalStayReachedV1: when_long_hospital_stay_reached_escalate,
    }
