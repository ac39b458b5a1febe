"""What transfer does on other services' events: remember each admitted person for
planning, open a return once an identity is confirmed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import Conflict
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityConfirmedV1, PersonAdmittedV1
from rescue_events.envelope import Envelope
from transfer import statements
from transfer.commands.returns import OpenReturn, open_return


def handlers(runtime: Runtime):
    async def when_person_admitted_remember_traveller(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        await statements.remember_traveller(session, event)

    async def when_identity_confirmed_open_return(
        session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
    ) -> None:
        opening = OpenReturn(
            person_id=event.person_id,
            station_id=event.station_id,
            full_name=event.full_name,
            home_province=event.home_province,
            home_address=event.home_address,
            home_admin_code=event.home_admin_code,
        )
        try:
            await open_return(opening, UnitOfWork(session, runtime))
        except Conflict:
            return  # one return per person: a later confirmation changes nothing

    return {
        PersonAdmittedV1: when_person_admitted_remember_traveller,
        IdentityConfirmedV1: when_identity_confirmed_open_return,
    }
