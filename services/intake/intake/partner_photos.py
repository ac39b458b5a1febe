"""A police agency's view of the face photo it is asked to identify, through a
short-lived signed link (rescue_chassis.photo_links) and its own partner token.

The link is checked before anything is read: its signature (photo, agency,
expiry, and the identity check it is for), its expiry, and that it was made for
the caller's own agency. Only face photos are reachable this way. The view is on
the audit trail like every person-data read (rescue_chassis.audit: the caller
and its agency, the photo id and the check's request id from the URL)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from intake.tables.record import PersonPhoto
from rescue_chassis import photo_links
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import NotFound, Problem, field_error
from rescue_events.contracts.intake_care import PhotoKind


@dataclass(frozen=True)
class PartnerPhotoLink:
    """The link as presented: the photo and the query's agency, expiry, signature."""

    photo_id: uuid.UUID
    agency: str
    expires: int
    signature: str
    request_id: uuid.UUID | None = None


class LinkRefused(Problem):
    """A link that opens nothing (403), naming the parameter at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(
            403,
            "Photo link refused",
            f"{field}: {reason}",
            type_="photo-link-refused",
            errors=[field_error(field, reason)],
        )
        self.field = field
        self.reason = reason


def refusal(uow: UnitOfWork, link: PartnerPhotoLink) -> photo_links.LinkRefusal | None:
    """Why the link opens nothing for this caller, or None."""
    configured = photo_links.link_settings(uow.settings)
    if configured is None:
        # no key: no link was ever valid here (503 would invite retries that cannot help)
        return photo_links.LinkRefusal("signature", "photo links are not configured here")
    return photo_links.check_caller(
        configured.key,
        link.photo_id,
        link.agency,
        link.expires,
        link.signature,
        uow.now,
        uow.actor.station_id if uow.actor else None,
        request_id=link.request_id,
    )


async def photo_for_partner(uow: UnitOfWork, link: PartnerPhotoLink) -> PersonPhoto:
    """The face photo the link opens, image included; 403 naming why a link is
    refused, 404 for a photo that is not a face photo or does not exist."""
    refused = refusal(uow, link)
    if refused is not None:
        raise LinkRefused(refused.field, refused.reason)
    photo = await uow.get(PersonPhoto, link.photo_id)
    if photo is None or photo.kind != PhotoKind.FACE.value:
        raise NotFound("face photo")
    return photo
