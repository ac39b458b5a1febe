"""Events intake reacts to."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from intake.tables import Person
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityConfirmedV1, IdentityStatus
from rescue_events.envelope import Envelope


async def when_identity_confirmed_record_it(
    session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
) -> None:
    person = await session.get(Person, event.person_id, with_for_update=True)
    if person is None:
        return  # admitted elsewhere before this network kept records here
    person.identity_status = IdentityStatus.CONFIRMED.value
    person.full_name = event.full_name
    person.identity_confirmed_at = event.confirmed_at


def handlers(runtime: Runtime):
    return {IdentityConfirmedV1: when_identity_confirmed_record_it}
