"""Events intake reacts to: each runs a use case on the consumer's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from intake.commands.admission import RecordConfirmedIdentity, record_confirmed_identity
from intake.commands.refusal_photos import RecordFaceCandidates, record_face_candidates
from intake.commands.stays import DischargeOnHandover, discharge_on_handover
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityConfirmedV1, PersonHandedOverV1
from rescue_events.contracts.search import RefusalFaceRecognisedV1
from rescue_events.envelope import Envelope


def handlers(runtime: Runtime):
    async def when_identity_confirmed_record_it(
        session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
    ) -> None:
        command = RecordConfirmedIdentity(
            person_id=event.person_id,
            full_name=event.full_name,
            confirmed_at=event.confirmed_at,
            home_admin_code=event.home_admin_code,
            home_province=event.home_province,
            home_address=event.home_address,
        )
        await record_confirmed_identity(command, UnitOfWork(session, runtime))

    async def when_person_handed_over_discharge_the_stay(
        session: AsyncSession, event: PersonHandedOverV1, envelope: Envelope
    ) -> None:
        command = DischargeOnHandover(
            person_id=event.person_id,
            handed_over_at=event.handed_over_at,
            received_by=event.received_by,
            relation=event.relation,
            home_admin_code=event.home_admin_code,
            home_province=event.destination_province,
            home_address=event.home_address,
        )
        await discharge_on_handover(command, UnitOfWork(session, runtime))

    async def when_refusal_face_recognised_keep_the_candidates(
        session: AsyncSession, event: RefusalFaceRecognisedV1, envelope: Envelope
    ) -> None:
        # suggestions for staff on the refusal; linking stays theirs
        await record_face_candidates(RecordFaceCandidates.of(event), UnitOfWork(session, runtime))

    return {
        IdentityConfirmedV1: when_identity_confirmed_record_it,
        PersonHandedOverV1: when_person_handed_over_discharge_the_stay,
        RefusalFaceRecognisedV1: when_refusal_face_recognised_keep_the_candidates,
    }
