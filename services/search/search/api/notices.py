"""Family-search notices of a case: publishing (national website, regional pushes),
their status, the protection of persons who must not appear in public, and the
authorised override."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import select

from rescue_chassis.access import LEADS, SEARCH_WORK, ensure_visible
from rescue_chassis.auth import Principal, PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_events.contracts.search_notices import NoticeKind
from search import notices
from search.api.fields import AsSeen
from search.notices import LIVE, NoticeStatus, RegionBasis
from search.tables import SearchCase, tables
from search.tables.notices import NoticeOverride, NoticeProtection, SearchNotice

router = APIRouter(
    prefix="/cases", tags=["family-search notices"], dependencies=[require_roles(*SEARCH_WORK)]
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


class NoticeRequest(AsSeen):
    """What the notice says. Categories and anything marking a protected status are
    never part of it; free text naming one is refused."""

    model_config = ConfigDict(extra="forbid")

    kind: NoticeKind = Field(
        description="`national`: the notice on the national family-search website; "
        "`regional`: targeted pushes, one per region.",
        examples=["national"],
    )
    regions: list[RegionChoice] | None = Field(
        default=None,
        max_length=10,
        description="Regional pushes only: where to push. Left out: where found, the "
        "accent's region and the claimed home(s), as known.",
        examples=[[{"region": "四川省", "basis": "accent"}]],
    )
    found_place: str | None = Field(
        default=None,
        min_length=2,
        max_length=100,
        description="Where the person was found or came in; left out: the station's city.",
        examples=["固始县人民广场"],
    )
    appearance: str | None = Field(
        default=None,
        max_length=500,
        description="Appearance and clothing, for the public text.",
        examples=["身高约170厘米,偏瘦,穿灰色外套"],
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
        )


async def _case(
    session, runtime: Runtime, principal: Principal, case_id: uuid.UUID, lock: bool = False
) -> SearchCase:
    case = await session.get(SearchCase, case_id, with_for_update=lock)
    if case is None:
        raise Problem(404, "Not found", "No such search case.")
    ensure_visible(principal, runtime.network, "search case", case.station_id)
    return case


@router.get("/{case_id}/notices", response_model=list[NoticeView])
async def list_notices(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The case's notices with their status, oldest first."""
    await _case(session, runtime, principal, case_id)
    found = await session.scalars(
        select(SearchNotice)
        .where(SearchNotice.case_id == case_id)
        .order_by(SearchNotice.requested_at, SearchNotice.region)
    )
    return [NoticeView.of(n) for n in found.all()]


@router.post("/{case_id}/notices", status_code=201, response_model=list[NoticeView])
async def publish_notices(
    case_id: uuid.UUID,
    request: NoticeRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Publish the national notice (completes the family_search_notice task) or push
    to regions (one request per region). Answers once the endpoints answered: each
    notice `published`, or `failed` with its error (retried later by the sweep).
    409 for a protected person without an override, a closed search, or a notice
    already up."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    for field in ("appearance", "found_place"):
        marker = notices.marker_in(getattr(request, field))
        if marker:
            raise invalid(field, f"a public notice must not mark a protected status ({marker!r})")
    if request.kind is NoticeKind.NATIONAL and request.regions:
        raise invalid("regions", "only for regional pushes")

    case = await _case(session, runtime, principal, case_id, lock=True)
    if case.status != "open":
        raise Problem(409, "Search closed", "The person is identified: no new notice.")
    flags = await session.get(NoticeProtection, case.id)
    if flags is not None and flags.closed_at is not None:
        raise Problem(
            409,
            "Notices closed",
            f"No new notice for this case since {flags.closed_at:%Y-%m-%d} "
            f"({flags.closed_reason}).",
        )
    protection = await notices.protection_of(session, case)
    if not protection.public_notice_allowed:
        raise Problem(
            409,
            "Protected person",
            "No public notice for this person ("
            + ", ".join(protection.reasons)
            + "). A station lead or center coordinator may record an override with its "
            f"reason: POST /cases/{case.id}/notice-override.",
            type_="protected-person",
        )
    override_id = None
    if protection.protected:
        override_id = await session.scalar(
            select(NoticeOverride.id)
            .where(NoticeOverride.case_id == case.id)
            .order_by(NoticeOverride.authorised_at.desc())
            .limit(1)
        )

    station = runtime.network.station(case.station_id)
    found_place = request.found_place or (station.city if station else None)
    if request.kind is NoticeKind.NATIONAL:
        targets: list[tuple[str | None, str | None]] = [(None, None)]
    else:
        chosen = (
            [notices.Region(r.basis, r.region.strip()) for r in request.regions]
            if request.regions
            else notices.select_regions(found_place, case.dialect, case.stated_places)
        )
        if not chosen:
            raise invalid("regions", "no region is known for this person: name at least one")
        targets = list(dict.fromkeys((r.region, r.basis.value) for r in chosen))

    existing = (
        await session.scalars(
            select(SearchNotice)
            .where(SearchNotice.case_id == case.id, SearchNotice.kind == request.kind.value)
            .with_for_update()
        )
    ).all()
    live = {n.region for n in existing if n.status in LIVE}
    failed = {n.region: n for n in existing if n.status == NoticeStatus.FAILED}
    targets = [t for t in targets if t[0] not in live]
    if not targets:
        raise Problem(
            409,
            "Already published",
            f"This notice is already up (or being published); see GET /cases/{case.id}/notices.",
        )

    now = datetime.now(UTC)
    payload = notices.public_description(
        sex=request.sex_or_admitted(case).value,
        estimated_age=request.age_or_admitted(case),
        found_place=found_place,
        arrived_at=case.arrived_at,
        stated_names=case.stated_names,
        stated_places=case.stated_places,
        dialect=case.dialect,
        appearance=request.appearance,
    )
    ids: list[uuid.UUID] = []
    for region, basis in targets:
        notice = failed.get(region)
        if notice is None:  # a failed one of the same region is tried again instead
            notice = SearchNotice(
                id=uuid.uuid4(),
                case_id=case.id,
                person_id=case.person_id,
                station_id=case.station_id,
                kind=request.kind.value,
                region=region,
                region_basis=basis,
                attempts=0,
                requested_by=principal.subject,
                requested_at=now,
                payload=payload,
                status=NoticeStatus.PUBLISHING,
            )
            session.add(notice)
        notice.status = NoticeStatus.PUBLISHING
        notice.payload = payload
        notice.attempts += 1
        notice.failed_at = None
        notice.override_id = override_id
        ids.append(notice.id)
    await session.commit()  # recorded as `publishing` before any call goes out

    await notices.publish_recorded(runtime, ids)

    found = (await session.scalars(select(SearchNotice).where(SearchNotice.id.in_(ids)))).all()
    for notice in found:
        await session.refresh(notice)
    views = sorted((NoticeView.of(n) for n in found), key=lambda v: ids.index(v.id))
    body = [v.model_dump(mode="json") for v in views]
    await idem.remember(session, 201, body)
    await session.commit()
    return views


# ---- protection and override ---------------------------------------------------------


class ProtectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


async def _protection_view(session, case: SearchCase) -> ProtectionView:
    flags = await session.get(NoticeProtection, case.id)
    protection = await notices.protection_of(session, case)
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


@router.get("/{case_id}/protection", response_model=ProtectionView)
async def get_protection(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """Whether a public notice may go up for the person, and why not."""
    case = await _case(session, runtime, principal, case_id)
    return await _protection_view(session, case)


@router.post("/{case_id}/protection", response_model=ProtectionView)
async def mark_protection(
    case_id: uuid.UUID,
    request: ProtectionRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """Staff mark the person endangered: no public notice, and live notices are taken
    down. Lifting the mark needs a station lead or center coordinator."""
    case = await _case(session, runtime, principal, case_id, lock=True)
    if not request.endangered and not principal.has_any(*OVERRIDE_ROLES):
        raise Problem(
            403,
            "Forbidden",
            "Lifting a protection needs one of the roles: "
            + ", ".join(r.value for r in OVERRIDE_ROLES)
            + ".",
        )
    now = datetime.now(UTC)
    flags = await session.get(NoticeProtection, case.id, with_for_update=True)
    if flags is None:
        flags = NoticeProtection(case_id=case.id, endangered=False)
        session.add(flags)
    flags.endangered = request.endangered
    flags.endangered_reason = request.reason
    flags.marked_by = principal.subject
    flags.marked_at = now
    await session.flush()
    if request.endangered:
        await notices.take_down_notices(session, runtime, case, "protection", close=False)
    view = await _protection_view(session, case)
    await session.commit()
    return view


class OverrideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=10,
        max_length=1000,
        description="Why a public notice is right for this protected person.",
        examples=["本人要求寻找子女,经评估施暴者已被羁押,同意发布寻亲公告"],
    )


class OverrideView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    reason: str
    authorised_by: str
    authorised_role: str
    authorised_at: datetime


@router.post("/{case_id}/notice-override", status_code=201, response_model=OverrideView)
async def override_protection(
    case_id: uuid.UUID,
    request: OverrideRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """A station lead or center coordinator authorises public notices for a protected
    person, with the reason (403 for other roles; 409 if the person is not protected)."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    case = await _case(session, runtime, principal, case_id, lock=True)
    role = next((r for r in OVERRIDE_ROLES if principal.has_any(r)), None)
    if role is None:
        raise Problem(
            403,
            "Forbidden",
            "An override needs one of the roles: "
            + ", ".join(r.value for r in OVERRIDE_ROLES)
            + ".",
        )
    protection = await notices.protection_of(session, case)
    if not protection.protected:
        raise Problem(409, "Not protected", "This person is not protected: no override needed.")
    override = NoticeOverride(
        id=uuid.uuid4(),
        case_id=case.id,
        reason=request.reason,
        authorised_by=principal.subject,
        authorised_role=role.value,
        authorised_at=datetime.now(UTC),
    )
    session.add(override)
    view = OverrideView.model_validate(override, from_attributes=True)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view
