"""Family-search notices of a case: publishing them, taking them down, protecting
a person who must not appear in public (the notice task then closes as
"protected"), and the authorised override."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from rescue_chassis.access import LEADS
from rescue_chassis.audit import current_write
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.refusals import Conflict, Forbidden, Refused
from rescue_events.contracts import Sex
from rescue_events.contracts.search_notices import NoticeKind, NoticePurpose
from search import notices, statements, tasks
from search.domain import TaskKind
from search.notices import LIVE, UP, NoticeStatus, RegionBasis
from search.publication_photo import PhotoStatus
from search.tables import SearchCase
from search.tables.notices import (
    NoticeOverride,
    NoticeProtection,
    PublicationPhoto,
    PublicationPhotoChoice,
    SearchNotice,
)

OVERRIDE_ROLES = LEADS


class RegionChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str = Field(
        min_length=2, max_length=100, description="Where to push.", examples=["四川省"]
    )
    basis: RegionBasis = Field(
        description="Why this region: where found, the accent's region, the claimed home.",
        examples=["accent"],
    )


class NoticeView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    kind: NoticeKind
    region: str | None
    region_basis: str | None
    status: NoticeStatus
    external_id: str | None
    attempts: int
    requested_at: datetime
    published_at: datetime | None
    failed_at: datetime | None
    error: str | None
    taken_down_at: datetime | None
    reason: str | None = Field(description="Why it was taken down.")
    override_id: uuid.UUID | None
    purpose: NoticePurpose = Field(
        default=NoticePurpose.SEEKING_FAMILY,
        description="seeking_family, or deceased: the person died unidentified (死亡人员寻亲公告).",
    )
    station_id: str | None = Field(default=None, description="The station the notice names.")
    superseded: bool = Field(
        default=False,
        description="Taken down because a re-issued notice replaced it (reason superseded:…).",
    )
    text: str | None = Field(
        default=None, description="A deceased-person notice's wording, as published."
    )
    publication_photo_id: uuid.UUID | None = Field(
        default=None,
        description="The photo it shows (intake's photo id, as published: the person's face "
        "alone, resized); None: no photo.",
    )

    @classmethod
    def of(cls, notice: SearchNotice) -> NoticeView:
        return cls(
            id=notice.id,
            case_id=notice.case_id,
            kind=NoticeKind(notice.kind),
            region=notice.region,
            region_basis=notice.region_basis,
            status=NoticeStatus(notice.status),
            external_id=notice.external_id,
            attempts=notice.attempts,
            requested_at=notice.requested_at,
            published_at=notice.published_at,
            failed_at=notice.failed_at,
            error=notice.last_error,
            taken_down_at=notice.taken_down_at,
            reason=notice.takedown_reason,
            override_id=notice.override_id,
            purpose=notices.purpose_of(notice.payload),
            station_id=notice.station_id,
            superseded=(notice.takedown_reason or "").startswith(notices.SUPERSEDED),
            text=notice.payload.get("text"),
            publication_photo_id=notice.publication_photo_id,
        )


# ---- publishing ------------------------------------------------------------------


class PublishNotices(Command):
    """The route's NoticeRequest, for one case."""

    case_id: uuid.UUID
    kind: NoticeKind
    regions: list[RegionChoice] | None = None
    found_place: str | None = None
    appearance: str | None = None
    sex: Sex | None = None  # as seen; the admission's when None
    estimated_age: int | None = None  # as seen; the admission's when None


async def publish_notices(command: PublishNotices, uow: UnitOfWork) -> list[NoticeView]:
    """The national notice, or one push per region: recorded as `publishing` and
    committed, then sent; each notice as the endpoints answered."""
    for field in ("appearance", "found_place"):
        marker = notices.marker_in(getattr(command, field))
        if marker:
            raise Refused(field, f"a public notice must not mark a protected status ({marker!r})")
    if command.kind is NoticeKind.NATIONAL and command.regions:
        raise Refused("regions", "only for regional pushes")
    case = await uow.load(SearchCase, command.case_id, what="search case", lock=True)
    override_id = await _may_publish(uow, case)
    station = uow.network.station(case.station_id)
    found_place = command.found_place or (station.city if station else None)
    targets = _targets(command, case, found_place)

    existing = await uow.find(SearchNotice, case_id=case.id, kind=command.kind.value, lock=True)
    live = {n.region for n in existing if n.status in LIVE}
    failed = {n.region: n for n in existing if n.status == NoticeStatus.FAILED}
    targets = [t for t in targets if t[0] not in live]
    if not targets:
        raise Conflict(
            "Already published",
            f"This notice is already up (or being published); see GET /cases/{case.id}/notices.",
        )
    payload = notices.public_description(
        sex=(command.sex or Sex(case.sex or Sex.UNKNOWN.value)).value,
        estimated_age=command.estimated_age
        if command.estimated_age is not None
        else case.estimated_age,
        found_place=found_place,
        arrived_at=case.arrived_at,
        stated_names=case.stated_names,
        stated_places=case.stated_places,
        dialect=case.dialect,
        appearance=command.appearance,
    )
    if case.ending == "died" and case.ended_at is not None:
        # the person died unidentified: any notice now is a deceased-person notice
        payload = notices.deceased_description(
            payload, died_at=case.ended_at, in_care_of=station.name if station else case.station_id
        )
    photo_id = await notices.chosen_photo_id(uow, case)
    ids: list[uuid.UUID] = []
    for region, basis in targets:
        notice = failed.get(region)
        if notice is None:  # a failed one of the same region is tried again instead
            notice = SearchNotice(
                id=uuid.uuid4(),
                case_id=case.id,
                person_id=case.person_id,
                station_id=case.station_id,
                kind=command.kind.value,
                region=region,
                region_basis=basis,
                attempts=0,
                requested_by=uow.actor.subject,
                requested_at=uow.now,
                payload=payload,
                status=NoticeStatus.PUBLISHING,
            )
            uow.add(notice)
        notice.status = NoticeStatus.PUBLISHING
        notice.payload = payload
        notice.attempts += 1
        notice.failed_at = None
        notice.override_id = override_id
        notice.publication_photo_id = photo_id
        ids.append(notice.id)
    write = current_write()
    if write is not None and uow.actor is not None:  # the entry commits with this part
        await write.stage(uow.session, uow.actor, write.status, None)
    await uow.commit()  # recorded as `publishing` before any call goes out
    if write is not None:
        write.committed()
    await notices.publish_recorded(uow, ids)
    found = await statements.fresh_notices(uow, ids)
    return sorted((NoticeView.of(n) for n in found), key=lambda v: ids.index(v.id))


async def _may_publish(uow: UnitOfWork, case: SearchCase) -> uuid.UUID | None:
    """Refuses a notice the case may not have now; the override it rests on, if any."""
    if case.status != "open":
        raise Conflict("Search closed", "The person is identified: no new notice.")
    flags = await uow.get(NoticeProtection, case.id)
    if flags is not None and flags.closed_at is not None:
        raise Conflict(
            "Notices closed",
            f"No new notice for this case since {flags.closed_at:%Y-%m-%d} "
            f"({flags.closed_reason}).",
        )
    protection = await notices.protection_of(uow, case)
    if not protection.public_notice_allowed:
        raise Conflict(
            "Protected person",
            "No public notice for this person ("
            + ", ".join(protection.reasons)
            + "). A station lead or center coordinator may record an override with its "
            f"reason: POST /cases/{case.id}/notice-override.",
            type_="protected-person",
        )
    if not protection.protected:
        return None
    override = await notices.latest_override(uow, case.id)
    return override.id if override else None


def _targets(
    command: PublishNotices, case: SearchCase, found_place: str | None
) -> list[tuple[str | None, str | None]]:
    """(region, basis) of each notice asked for: one national, or one per region."""
    if command.kind is NoticeKind.NATIONAL:
        return [(None, None)]
    chosen = (
        [notices.Region(r.basis, r.region.strip()) for r in command.regions]
        if command.regions
        else notices.select_regions(found_place, case.dialect, case.stated_places)
    )
    if not chosen:
        raise Refused("regions", "no region is known for this person: name at least one")
    return list(dict.fromkeys((r.region, r.basis.value) for r in chosen))


class TakeNoticesDown(Command):
    person_id: uuid.UUID
    reason: str = Field(examples=["person_discharged:left"])


async def take_notices_down(command: TakeNoticesDown, uow: UnitOfWork) -> None:
    """The person left: their live notices come down, and no new one goes up."""
    for case in await uow.find(SearchCase, person_id=command.person_id):
        await notices.take_down_notices(uow, case, command.reason)


# ---- protection and override ---------------------------------------------------


class ProtectionRequest(Command):
    endangered: StrictBool = Field(
        description="True: the person is endangered, no public notice (live ones come "
        "down). False lifts the mark (station lead or center coordinator only).",
        examples=[True],
    )
    reason: str = Field(
        min_length=5,
        max_length=1000,
        description="Why (kept with the case, never published).",
        examples=["有人在站外打听其下落,疑似施暴者"],
    )


class MarkProtection(ProtectionRequest):
    case_id: uuid.UUID


class ProtectionView(BaseModel):
    case_id: uuid.UUID
    protected: bool
    reasons: list[str]
    endangered: bool
    endangered_reason: str | None
    marked_by: str | None
    marked_at: datetime | None
    overridden: bool
    public_notice_allowed: bool
    notices_closed_at: datetime | None


async def protection_view(uow: UnitOfWork, case: SearchCase) -> ProtectionView:
    flags = await uow.get(NoticeProtection, case.id)
    protection = await notices.protection_of(uow, case)
    return ProtectionView(
        case_id=case.id,
        protected=protection.protected,
        reasons=list(protection.reasons),
        endangered=bool(flags and flags.endangered),
        endangered_reason=flags.endangered_reason if flags else None,
        marked_by=flags.marked_by if flags else None,
        marked_at=flags.marked_at if flags else None,
        overridden=protection.overridden,
        public_notice_allowed=protection.public_notice_allowed,
        notices_closed_at=flags.closed_at if flags else None,
    )


def _needs_a_lead(uow: UnitOfWork, what: str) -> str:
    """The caller's role that may decide on a protection; 403 without one."""
    role = next((r for r in OVERRIDE_ROLES if uow.actor.has_any(r)), None)
    if role is None:
        raise Forbidden(
            "Forbidden",
            f"{what} needs one of the roles: " + ", ".join(r.value for r in OVERRIDE_ROLES) + ".",
        )
    return role.value


async def mark_protection(command: MarkProtection, uow: UnitOfWork) -> ProtectionView:
    """Marking the person endangered takes live notices down; lifting the mark needs a
    station lead or center coordinator."""
    case = await uow.load(SearchCase, command.case_id, what="search case", lock=True)
    if not command.endangered:
        _needs_a_lead(uow, "Lifting a protection")
    flags = await uow.get(NoticeProtection, case.id, lock=True)
    if flags is None:
        flags = NoticeProtection(case_id=case.id, endangered=False)
        uow.add(flags)
    flags.endangered = command.endangered
    flags.endangered_reason = command.reason
    flags.marked_by = uow.actor.subject
    flags.marked_at = uow.now
    await uow.flush()
    if command.endangered:
        await notices.take_down_notices(uow, case, "protection", close=False)
        # no public notice now: its task can no longer be done, and is not overdue
        await tasks.cancel_open_tasks(uow, case.id, "protected", [TaskKind.FAMILY_SEARCH_NOTICE])
    elif case.status == "open" and not (await notices.protection_of(uow, case)).protected:
        await tasks.reopen_tasks(uow, case.id, ["protected"], case.station_id)
    return await protection_view(uow, case)


class OverrideRequest(Command):
    reason: str = Field(
        min_length=10,
        max_length=1000,
        description="Why a public notice is right for this protected person.",
        examples=["本人要求寻找子女,经评估施暴者已被羁押,同意发布寻亲公告"],
    )


class OverrideProtection(OverrideRequest):
    case_id: uuid.UUID


class OverrideView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    reason: str
    authorised_by: str
    authorised_role: str
    authorised_at: datetime


async def override_protection(command: OverrideProtection, uow: UnitOfWork) -> OverrideView:
    """A station lead or center coordinator authorises public notices for a protected
    person, with the reason."""
    case = await uow.load(SearchCase, command.case_id, what="search case", lock=True)
    role = _needs_a_lead(uow, "An override")
    if not (await notices.protection_of(uow, case)).protected:
        raise Conflict("Not protected", "This person is not protected: no override needed.")
    override = NoticeOverride(
        id=uuid.uuid4(),
        case_id=case.id,
        reason=command.reason,
        authorised_by=uow.actor.subject,
        authorised_role=role,
        authorised_at=uow.now,
    )
    uow.add(override)
    return OverrideView.model_validate(override, from_attributes=True)


# ---- the photo for publication ---------------------------------------------------


class PublicationPhotoRequest(Command):
    model_config = ConfigDict(extra="forbid")

    photo_id: uuid.UUID = Field(
        description="Intake's photo id of one of the person's face photos "
        "(GET /cases/{case_id}/publication-photos lists them, as they would be published).",
        examples=["3f0c3a52-8a53-4c55-9d3e-8d1c3c9b2f10"],
    )


class ChoosePublicationPhoto(PublicationPhotoRequest):
    case_id: uuid.UUID


class WithdrawPublicationPhoto(Command):
    case_id: uuid.UUID


class PublicationPhotoView(BaseModel):
    """A face photo of the person as a notice would show it, or why it cannot."""

    model_config = ConfigDict(from_attributes=True)

    photo_id: uuid.UUID = Field(description="Intake's photo id.")
    case_id: uuid.UUID
    status: PhotoStatus = Field(description="ready, or unusable (`reason` says why).")
    reason: str | None
    faces_in_photo: int = Field(description="Faces the photo shows; others are cut out.")
    face_basis: str | None = Field(
        description="How the person's face was told: only, match (their enrolled face) or largest."
    )
    content_type: str | None
    width: int | None
    height: int | None
    sha256: str | None = Field(description="Of the published image.")
    taken_at: datetime | None
    prepared_at: datetime


class PublicationChoiceView(BaseModel):
    case_id: uuid.UUID
    photo: PublicationPhotoView | None = Field(
        description="The photo the case's notices show; None: no photo."
    )
    chosen_by: str | None
    chosen_at: datetime | None
    notices_reissued: list[uuid.UUID] = Field(
        default_factory=list,
        description="Notices up (or going up) replaced by new ones showing the choice: a "
        "published notice cannot be edited in place.",
    )


async def publication_photos(uow: UnitOfWork, case: SearchCase) -> list[PublicationPhotoView]:
    """The person's face photos as notices would show them, newest first."""
    found = await uow.find(PublicationPhoto, person_id=case.person_id)
    found.sort(key=lambda p: p.prepared_at, reverse=True)
    return [PublicationPhotoView.model_validate(p) for p in found]


async def publication_choice(
    uow: UnitOfWork, case: SearchCase, reissued: list[uuid.UUID] | None = None
) -> PublicationChoiceView:
    choice = await uow.get(PublicationPhotoChoice, case.id)
    photo = (
        await uow.get(PublicationPhoto, choice.photo_id)
        if choice is not None and choice.photo_id is not None
        else None
    )
    return PublicationChoiceView(
        case_id=case.id,
        photo=PublicationPhotoView.model_validate(photo) if photo is not None else None,
        chosen_by=choice.chosen_by if choice else None,
        chosen_at=choice.chosen_at if choice else None,
        notices_reissued=reissued or [],
    )


async def choose_publication_photo(
    command: ChoosePublicationPhoto, uow: UnitOfWork
) -> PublicationChoiceView:
    """The photo the case's notices show from now on; notices up are re-issued with
    it. No public photo of a protected person, override or not."""
    case = await uow.load(SearchCase, command.case_id, what="search case", lock=True)
    protection = await notices.protection_of(uow, case)
    if protection.protected:
        raise Conflict(
            "Protected person",
            "No public photo of this person ("
            + ", ".join(protection.reasons)
            + "): her face could tell whoever she fled where she is. An override allows a "
            "notice, never her photo.",
            type_="protected-person",
        )
    photo = await uow.get(PublicationPhoto, command.photo_id)
    if photo is None or photo.person_id != case.person_id:
        raise Refused(
            "photo_id",
            "is not a face photo of this case's person that search holds "
            f"(GET /cases/{case.id}/publication-photos lists them)",
        )
    if photo.status != PhotoStatus.READY:
        raise Refused("photo_id", f"cannot be published: {photo.reason}")
    return await _record_choice(uow, case, photo.photo_id)


async def withdraw_publication_photo(
    command: WithdrawPublicationPhoto, uow: UnitOfWork
) -> PublicationChoiceView:
    """No photo on the case's notices from now on; notices showing one are re-issued
    without it."""
    case = await uow.load(SearchCase, command.case_id, what="search case", lock=True)
    return await _record_choice(uow, case, None)


async def _record_choice(
    uow: UnitOfWork, case: SearchCase, photo_id: uuid.UUID | None
) -> PublicationChoiceView:
    choice = await uow.get(PublicationPhotoChoice, case.id, lock=True)
    if choice is None:
        if photo_id is None:
            return await publication_choice(uow, case)
        choice = PublicationPhotoChoice(case_id=case.id)
        uow.add(choice)
    elif choice.photo_id == photo_id:
        return await publication_choice(uow, case)  # the same choice again: nothing changes
    choice.photo_id = photo_id
    choice.chosen_by = uow.actor.subject if uow.actor else "search"
    choice.chosen_at = uow.now
    await uow.flush()
    showing = await notices.chosen_photo_id(uow, case)
    up = [
        n
        for n in await uow.find(SearchNotice, case_id=case.id)
        if n.status in UP and n.publication_photo_id != showing
    ]
    reissued = await notices.reissue(uow, case, "photo_changed") if up else []
    return await publication_choice(uow, case, reissued)
