"""Followup listens to admissions (is this a returned person again?), identities
(who they are), recognitions by search, handovers (a record opens), and other
regions' return notices (a record opens for a person escorted home here)."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from followup import statements
from followup.commands import inbound, repeat, stabilisations
from followup.domain import identity_key
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import Conflict, Refused
from rescue_chassis.runtime import Runtime
from rescue_events.consumer import Rejected
from rescue_events.contracts import (
    EarlierStayRecognisedV1,
    IdentityConfirmedV1,
    InboundReturnNotifiedV1,
    PersonAdmittedV1,
    PersonHandedOverV1,
)
from rescue_events.envelope import Envelope

log = logging.getLogger(__name__)


def handlers(runtime: Runtime):
    async def when_person_admitted_check_ledger(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        uow = UnitOfWork(session, runtime)
        # Every admission of the network passes here: the projection and "has this
        # person a stabilisation record?" in one fixed statement; the ORM only for a
        # returned person.
        if not await statements.remember_admitted(uow, event):
            return
        command = repeat.CheckAdmission(
            person_id=event.person_id,
            station_id=event.station_id,
            admitted_at=event.admitted_at,
            categories=[c.value for c in event.categories],
        )
        await repeat.check_admission(command, uow)

    async def when_identity_confirmed_recognise_returned_person(
        session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
    ) -> None:
        uow = UnitOfWork(session, runtime)
        key = identity_key(event.full_name, event.home_admin_code, event.home_address)
        await statements.remember_identity(uow, event, key)
        command = repeat.RecogniseReturnedPerson(
            person_id=event.person_id, station_id=event.station_id, identity_key=key
        )
        await repeat.recognise_returned_person(command, uow)

    async def when_earlier_stay_recognised_check_ledger(
        session: AsyncSession, event: EarlierStayRecognisedV1, envelope: Envelope
    ) -> None:
        command = repeat.RecogniseEarlierStay(
            person_id=event.person_id,
            earlier_person_id=event.earlier_person_id,
            station_id=event.station_id,
            basis=event.method.value,
        )
        await repeat.recognise_earlier_stay(command, UnitOfWork(session, runtime))

    async def when_handed_over_open_stabilisation(
        session: AsyncSession, event: PersonHandedOverV1, envelope: Envelope
    ) -> None:
        command = stabilisations.OpenStabilisation(handover=event)
        await stabilisations.open_stabilisation(command, UnitOfWork(session, runtime))

    async def when_inbound_return_notified_open_stabilisation(
        session: AsyncSession, event: InboundReturnNotifiedV1, envelope: Envelope
    ) -> None:
        # The sender's event checked as the API checks a notice: a wrong one is
        # dead-lettered, since sending it again cannot make it right.
        try:
            notice = inbound.InboundReturnNotice.model_validate(
                event.model_dump(
                    include=set(inbound.InboundReturnNotice.model_fields), exclude_none=True
                )
            )
        except ValidationError as exc:
            fields = ", ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'notice'}: {e['msg']}"
                for e in exc.errors()
            )
            raise Rejected(f"inbound return notice refused: {fields}"[:500]) from None
        command = inbound.NotifyInboundReturn(
            notice=notice,
            channel="event",
            notified_by=(envelope.source or "inbound topic")[:200],
            notified_at=event.notified_at,
        )
        try:
            await inbound.notify_inbound_return(command, UnitOfWork(session, runtime))
        except Refused as refused:
            raise Rejected(f"inbound return notice refused: {refused.detail}") from None
        except Conflict:  # the same notice sent again: received already
            log.info("inbound return %s of %s: had it", notice.reference, notice.sending_station)

    return {
        PersonAdmittedV1: when_person_admitted_check_ledger,
        IdentityConfirmedV1: when_identity_confirmed_recognise_returned_person,
        EarlierStayRecognisedV1: when_earlier_stay_recognised_check_ledger,
        PersonHandedOverV1: when_handed_over_open_stabilisation,
        InboundReturnNotifiedV1: when_inbound_return_notified_open_stabilisation,
    }
