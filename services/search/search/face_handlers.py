"""Events the face part of search reacts to: a face photo taken at intake is
enrolled on the person's case, once per photo (no second upload at search); a
refusal's face photo is compared with the network's faces, once per photo."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts.intake_arrivals import RefusalPhotoSharedV1
from rescue_events.contracts.intake_care import PhotoSharedForSearchV1
from rescue_events.envelope import Envelope
from search.commands.faces import EnrolSharedPhoto, enrol_shared_photo
from search.commands.refusal_faces import RecogniseRefusalFace, recognise_refusal_face
from search.publication_photo import KeepPublicationPhoto, keep_publication_photo


def handlers(runtime: Runtime) -> dict:
    async def when_photo_shared_enrol_it(
        session: AsyncSession, event: PhotoSharedForSearchV1, envelope: Envelope
    ) -> None:
        uow = UnitOfWork(session, runtime)
        await enrol_shared_photo(EnrolSharedPhoto.of(event), uow)
        # its image for family-search notices, derived while the image is at hand
        await keep_publication_photo(KeepPublicationPhoto.of(event), uow)

    async def when_refusal_photo_shared_recognise_it(
        session: AsyncSession, event: RefusalPhotoSharedV1, envelope: Envelope
    ) -> None:
        command = RecogniseRefusalFace.of(event)
        await recognise_refusal_face(command, UnitOfWork(session, runtime))

    return {
        PhotoSharedForSearchV1: when_photo_shared_enrol_it,
        RefusalPhotoSharedV1: when_refusal_photo_shared_recognise_it,
    }
