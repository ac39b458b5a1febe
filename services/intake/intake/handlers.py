"""Events intake reacts to: each runs a use case on the consumer's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from intake.commands.admission import RecordConfirmedIdentity, record_confirmed_identity
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityConfirmedV1
from rescue_events.envelope import Envelope


def handlers(runtime: Runtime):
    async def when_identity_confirmed_record_it(
        session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
    ) -> None:
        command = RecordConfirmedIdentity(
            person_id=event.person_id, full_name=event.full_name, confirmed_at=event.confirmed_at
        )
        await record_confirmed_identity(command, UnitOfWork(session, runtime))

    return {IdentityConfirmedV1: when_identity_confirmed_record_it}
