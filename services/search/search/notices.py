"""Family-search notices (寻亲公告): publishing through the adapters, taking down.

DOMAIN.md ("The life of a case", 2): a notice on the national family-search
website (全国救助寻亲网) within 24 hours of arrival, targeted pushes to the regions
that matter (where found, the accent's region, the claimed home), and the
notices come down once the family is found or the person left. A
domestic-violence victim, or whoever staff mark as endangered, gets no public
notice unless a station lead or center coordinator recorded an override.

How the network calls stay out of database transactions:

* publishing: the use case records the notice as ``publishing`` and commits,
  calls the adapter (retries with backoff inside), then records ``published``
  or ``failed`` in a second transaction (``publish_recorded``);
* taking down: ``take_down_notices`` runs inside the caller's transaction (the
  identity confirmation, the discharge handler): it marks live notices
  ``takedown_pending`` and, once that transaction commits, an after-commit step
  calls the adapter and records ``taken_down`` (with ``notice_taken_down``) in a
  transaction of its own. If the endpoint is away, the notice stays
  ``takedown_pending`` with its error; ``jobs()`` (the sweep) retries it, and
  retries failed or stuck publications.
* re-issuing (``reissue``): a notice whose text must change (the person died
  unidentified: a deceased-person notice; the case moved: the new station's name)
  is replaced by a new one, published the same way, and comes down itself as
  ``superseded:<why>``; the site's notices cannot be edited in place.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Protocol

import httpx
from sqlalchemy import event, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from rescue_events.contracts.search_notices import (
    NoticeKind,
    NoticePublicationFailedV1,
    NoticePublishedV1,
    NoticePurpose,
    NoticeTakenDownV1,
)
from search.domain import TaskKind
from search.tables import SearchCase
from search.tables.notices import (
    NoticeOverride,
    NoticeProtection,
    PublicationPhoto,
    PublicationPhotoChoice,
    SearchNotice,
)
from search.tasks import complete_task

log = logging.getLogger(__name__)


# ---- rules (no I/O) ----------------------------------------------------------


class NoticeStatus(StrEnum):
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    TAKEDOWN_PENDING = "takedown_pending"
    TAKEN_DOWN = "taken_down"


# A notice that is (or may be) public: a new one of the same kind and region waits.
LIVE = (NoticeStatus.PUBLISHING, NoticeStatus.PUBLISHED, NoticeStatus.TAKEDOWN_PENDING)


class RegionBasis(StrEnum):
    FOUND = "found"  # where the person was found or arrived
    ACCENT = "accent"  # the region of the dialect
    CLAIMED_HOME = "claimed_home"  # a place the person names as home


PROTECTED_CATEGORIES = frozenset({"domestic_violence_victim"})


@dataclass(frozen=True)
class Protection:
    """Whether a public notice may go up for the person, and why not."""

    reasons: tuple[str, ...]  # "domestic_violence_victim", "endangered"
    overridden: bool

    @property
    def protected(self) -> bool:
        return bool(self.reasons)

    @property
    def public_notice_allowed(self) -> bool:
        return not self.protected or self.overridden


def protection(
    categories: Iterable[str],
    endangered_at: datetime | None,
    override_at: datetime | None,
) -> Protection:
    """A DV victim or a person marked endangered is protected; an override counts
    only if recorded after the latest endangered mark (a new danger needs a new
    decision)."""
    reasons = tuple(sorted(PROTECTED_CATEGORIES.intersection(categories)))
    if endangered_at is not None:
        reasons += ("endangered",)
    overridden = override_at is not None and (endangered_at is None or override_at >= endangered_at)
    return Protection(reasons=reasons, overridden=bool(reasons) and overridden)


PROVINCES = (
    "北京市 天津市 上海市 重庆市 河北省 山西省 辽宁省 吉林省 黑龙江省 江苏省 浙江省 安徽省 "
    "福建省 江西省 山东省 河南省 湖北省 湖南省 广东省 海南省 四川省 贵州省 云南省 陕西省 "
    "甘肃省 青海省 台湾省 内蒙古自治区 广西壮族自治区 西藏自治区 宁夏回族自治区 "
    "新疆维吾尔自治区 香港特别行政区 澳门特别行政区"
).split()

# Dialect names that do not start with their province's name.
DIALECT_ALIASES = {
    "川": "四川省",
    "蜀": "四川省",
    "渝": "重庆市",
    "豫": "河南省",
    "鲁": "山东省",
    "冀": "河北省",
    "晋": "山西省",
    "湘": "湖南省",
    "鄂": "湖北省",
    "赣": "江西省",
    "皖": "安徽省",
    "闽": "福建省",
    "粤": "广东省",
    "桂": "广西壮族自治区",
    "黔": "贵州省",
    "滇": "云南省",
    "陕": "陕西省",
    "秦": "陕西省",
    "陇": "甘肃省",
    "苏": "江苏省",
    "浙": "浙江省",
    "沪": "上海市",
    "京": "北京市",
    "津": "天津市",
    "琼": "海南省",
    "蒙": "内蒙古自治区",
    "闽南": "福建省",
    "潮汕": "广东省",
    "客家": "广东省",
    "吴": "江苏省",
    "温州": "浙江省",
    "东北": "辽宁省",
    "广州": "广东省",
    "上海": "上海市",
}


def _short(province: str) -> str:
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市"):
        if province.endswith(suffix):
            return province[: -len(suffix)]
    return province


def accent_region(dialect: str | None) -> str | None:
    """The province a dialect points to ("四川话" → 四川省, "豫东口音" → 河南省)."""
    if not dialect:
        return None
    text = re.sub(r"(话|方言|口音|腔|普通话)", "", dialect.strip())
    for province in PROVINCES:
        if text.startswith(_short(province)):
            return province
    for alias in sorted(DIALECT_ALIASES, key=len, reverse=True):
        if text.startswith(alias) or (len(alias) == 1 and alias in text[:2]):
            return DIALECT_ALIASES[alias]
    return None


@dataclass(frozen=True)
class Region:
    basis: RegionBasis
    region: str


def select_regions(
    found_place: str | None,
    dialect: str | None,
    stated_places: str | Sequence[str] | None,
    limit: int = 5,
) -> list[Region]:
    """Regions for targeted pushes: where found, the accent's region, the claimed
    home(s); each once, in that order."""
    if isinstance(stated_places, str):
        stated_places = [p for p in re.split(r"[、,，;；]", stated_places)]
    candidates = [
        (RegionBasis.FOUND, found_place),
        (RegionBasis.ACCENT, accent_region(dialect)),
        *((RegionBasis.CLAIMED_HOME, place) for place in stated_places or ()),
    ]
    regions: list[Region] = []
    seen: set[str] = set()
    for basis, place in candidates:
        place = (place or "").strip()
        if place and place not in seen:
            seen.add(place)
            regions.append(Region(basis, place))
    return regions[:limit]


# Words that would mark a protected status in a public text.
MARKERS = re.compile(
    r"家暴|家庭暴力|受虐|虐待|庇护|避难|拐卖|被拐|妇联|domestic|violence|abuse|shelter|traffick",
    re.IGNORECASE,
)


def marker_in(text: str | None) -> str | None:
    """The first word of ``text`` that would mark a protected status, if any."""
    match = MARKERS.search(text or "")
    return match.group(0) if match else None


def public_description(
    *,
    sex: str,
    estimated_age: int | None,
    found_place: str | None,
    arrived_at: datetime,
    stated_names: str | None,
    stated_places: str | None,
    dialect: str | None,
    appearance: str | None,
) -> dict[str, Any]:
    """What a notice says about the person: never categories or anything that marks
    a protected status."""
    return {
        "sex": sex,
        "estimated_age": estimated_age,
        "found_place": found_place,
        "arrived_on": arrived_at.date().isoformat(),
        "stated_names": [n for n in (stated_names or "").split("、") if n],
        "stated_places": [p for p in (stated_places or "").split("、") if p],
        "dialect": dialect,
        "appearance": appearance,
    }


# The stations' calendar days (UTC+8, no DST): the day of a death as the station says it.
CHINA = timezone(timedelta(hours=8))

TITLES = {NoticePurpose.SEEKING_FAMILY: "寻亲公告", NoticePurpose.DECEASED: "死亡人员寻亲公告"}

# Where the remains are, as a family reads it ({place}: the cemetery or funeral home).
REMAINS_WORDS = {
    "buried": "遗体已于{on}安葬于{place}",
    "cremated_ashes_kept": "遗体已于{on}火化，骨灰存放于{place}",
    "cremated_ashes_scattered": "遗体已于{on}在{place}火化",
    "body_kept_pending_identification": "遗体自{on}起暂存于{place}，待家属认领",
}


def purpose_of(payload: dict[str, Any]) -> NoticePurpose:
    """A notice's purpose (notices before deceased notices existed seek a family)."""
    return NoticePurpose(payload.get("purpose") or NoticePurpose.SEEKING_FAMILY)


def deceased_description(
    payload: dict[str, Any], *, died_at: datetime, in_care_of: str
) -> dict[str, Any]:
    """A notice's text turned into a deceased-person notice (死亡人员寻亲公告): the
    person died, when and in whose care; where the remains are once known."""
    died_on = died_at.astimezone(CHINA).date()
    return _with_text(
        {
            **payload,
            "purpose": NoticePurpose.DECEASED.value,
            "title": TITLES[NoticePurpose.DECEASED],
            "died_on": died_on.isoformat(),
            "died_in_care_of": in_care_of,
            "remains": payload.get("remains"),
        }
    )


def with_remains(
    payload: dict[str, Any],
    *,
    handling: str,
    buried_on: date,
    cemetery: str | None,
    funeral_home: str | None,
    photo_kept: bool,
    dna_kept: bool,
) -> dict[str, Any]:
    """A deceased-person notice's text saying where the remains are."""
    remains = {
        "handling": handling,
        "on": buried_on.isoformat(),
        "place": cemetery if handling == "buried" and cemetery else funeral_home or cemetery,
        "photo_kept": photo_kept,
        "dna_kept": dna_kept,
    }
    return _with_text({**payload, "remains": remains})


def _with_text(payload: dict[str, Any]) -> dict[str, Any]:
    """The deceased-person notice's wording, from its fields (no categories, no marker)."""
    station = payload.get("died_in_care_of") or "救助管理站"
    arrived_on, found_place = payload.get("arrived_on"), payload.get("found_place")
    parts = [
        "该无名受助人员",
        f"{arrived_on}" if arrived_on else "",
        f"在{found_place}" if found_place else "",
        "受助，" if arrived_on or found_place else "",
        f"于{payload.get('died_on')}在{station}受助期间死亡，身份至今未明。",
    ]
    remains = payload.get("remains")
    if remains:
        words = REMAINS_WORDS.get(remains["handling"], "遗体已于{on}安置于{place}")
        parts.append(words.format(on=remains["on"], place=remains["place"]) + "。")
        kept = [w for w, k in (("照片", "photo_kept"), ("DNA样本", "dna_kept")) if remains[k]]
        if kept:
            parts.append("、".join(kept) + "已留存备查。")
    parts.append(f"如有亲属或知情者，请与{station}联系认领。")
    return {**payload, "text": "".join(parts)}


# ---- the adapters --------------------------------------------------------------


class NoticeError(Exception):
    """The endpoint refused (4xx), failed after its retries, or is not configured."""


class NoticeChannel(Protocol):
    """Where notices go: the national website and the regional push service."""

    async def publish_national(self, payload: dict[str, Any]) -> str:
        """Publish; the external id of the notice."""
        ...

    async def push_regional(self, payload: dict[str, Any], region: str) -> str:
        """Push to phones in one region; the external id of the push."""
        ...

    async def take_down(self, kind: NoticeKind, external_id: str) -> None: ...


SIGNATURE_HEADER = "X-Rescue-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
PROTOCOL_HEADER = "X-Rescue-Notice-Protocol"
PROTOCOL_VERSION = "1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``, as referral's
    webhooks sign (docs/protocols/notice-site.md)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def body_of(payload: dict[str, Any]) -> bytes:
    """The JSON body exactly as sent and signed (UTF-8, Chinese unescaped)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class HttpNoticeChannel:
    """The adapters of docs/protocols/notice-site.md and notice-push.md."""

    site_url: str | None
    push_url: str | None
    timeout: float = 10.0
    attempts: int = 3
    retry_base: float = 0.5
    signing_secret: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> HttpNoticeChannel:
        return cls(
            site_url=settings.notice_site_url,
            push_url=settings.notice_push_url,
            timeout=settings.notice_timeout_seconds,
            attempts=settings.notice_attempts,
            retry_base=settings.notice_retry_base_seconds,
            signing_secret=getattr(settings, "notice_signing_secret", None),
        )

    def _headers(self, body: bytes, idempotency_key: str | None) -> dict[str, str]:
        headers = {PROTOCOL_HEADER: PROTOCOL_VERSION}
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        if self.signing_secret:
            headers[SIGNATURE_HEADER] = sign(self.signing_secret, int(time.time()), body)
        return headers

    def _url(self, kind: NoticeKind) -> str:
        url = self.site_url if kind is NoticeKind.NATIONAL else self.push_url
        if not url:
            setting = "SITE" if kind is NoticeKind.NATIONAL else "PUSH"
            raise NoticeError(f"no endpoint configured (SEARCH_NOTICE_{setting}_URL)")
        return url.rstrip("/")

    async def _call(
        self,
        method: str,
        url: str,
        payload: dict[str, Any] | None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Retries connection errors, timeouts, 429 and 5xx with backoff (the same body
        and idempotency key, signed again); another 4xx is final."""
        error = "no attempt"
        body = body_of(payload) if payload is not None else b""
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = await client.request(
                        method, url, content=body, headers=self._headers(body, idempotency_key)
                    )
                except httpx.TransportError as exc:
                    error = f"{type(exc).__name__}"
                else:
                    if response.is_success:
                        return response
                    error = f"HTTP {response.status_code}"
                    if response.status_code < 500 and response.status_code != 429:
                        raise NoticeError(error)
                if attempt < self.attempts:
                    await asyncio.sleep(self.retry_base * 2 ** (attempt - 1))
        raise NoticeError(f"{error} after {self.attempts} attempt(s)")

    @staticmethod
    def _external_id(response: httpx.Response, fallback: str) -> str:
        try:
            found = response.json().get("id")
        except (ValueError, AttributeError):
            found = None
        return str(found or fallback)[:200]

    async def publish_national(self, payload: dict[str, Any]) -> str:
        url = self._url(NoticeKind.NATIONAL)
        response = await self._call("POST", url, payload, payload["notice_id"])
        return self._external_id(response, payload["notice_id"])

    async def push_regional(self, payload: dict[str, Any], region: str) -> str:
        url = self._url(NoticeKind.REGIONAL)
        body = {**payload, "region": region}
        response = await self._call("POST", url, body, payload["notice_id"])
        return self._external_id(response, payload["notice_id"])

    async def take_down(self, kind: NoticeKind, external_id: str) -> None:
        try:
            await self._call("DELETE", f"{self._url(kind)}/{external_id}", None)
        except NoticeError as exc:
            if str(exc).startswith(("HTTP 404", "HTTP 410")):
                return  # already gone
            raise


def channel(runtime: Runtime) -> NoticeChannel:
    """The channel of this runtime (tests may put another on ``runtime``)."""
    found = getattr(runtime, "notice_channel", None)
    return found or HttpNoticeChannel.from_settings(runtime.settings)


# ---- publishing ------------------------------------------------------------------


def photo_payload(photo: PublicationPhoto | None) -> dict[str, Any] | None:
    """The published image as the protocols carry it (None: no photo)."""
    if photo is None or photo.image is None:
        return None
    return {
        "content_type": photo.content_type,
        "width": photo.width,
        "height": photo.height,
        "sha256": photo.sha256,
        "data": base64.b64encode(photo.image).decode("ascii"),
    }


def site_payload(
    notice: SearchNotice,
    station_name: str | None,
    station_city: str | None = None,
    photo: PublicationPhoto | None = None,
) -> dict[str, Any]:
    """What the site gets: the station to call (the one that has the person now)
    and the photo staff chose, as published (docs/protocols/notice-site.md)."""
    purpose = purpose_of(notice.payload)
    return {
        "notice_id": str(notice.id),
        "purpose": purpose.value,
        "title": TITLES[purpose],
        "station": {"id": notice.station_id, "name": station_name, "city": station_city},
        "photo": photo_payload(photo),
        "description": notice.payload,
    }


async def photo_of(runtime: Runtime, notice: SearchNotice) -> PublicationPhoto | None:
    """The published image a notice was made with (read in a session of its own)."""
    if notice.publication_photo_id is None:
        return None
    async with runtime.sessions() as session:
        return await session.get(PublicationPhoto, notice.publication_photo_id)


async def send(runtime: Runtime, notice: SearchNotice) -> tuple[str | None, str | None]:
    """Call the adapter for a notice (no transaction open): (external id, error)."""
    station = runtime.network.station(notice.station_id)
    adapter = channel(runtime)
    try:
        payload = site_payload(
            notice,
            station.name if station else None,
            station.city if station else None,
            await photo_of(runtime, notice),
        )
        if notice.kind == NoticeKind.NATIONAL:
            return await adapter.publish_national(payload), None
        return await adapter.push_regional(payload, notice.region or ""), None
    except NoticeError as exc:
        return None, str(exc)[:300]
    except Exception as exc:  # an adapter bug must not leave the notice `publishing`
        log.exception("notice %s: adapter failed", notice.id)
        return None, type(exc).__name__


async def record_result(
    session: AsyncSession,
    runtime: Runtime,
    notice_id: uuid.UUID,
    external_id: str | None,
    error: str | None,
    now: datetime,
) -> SearchNotice | None:
    """Record what the adapter answered (in the caller's transaction)."""
    notice = await session.get(SearchNotice, notice_id, with_for_update=True)
    if notice is None or notice.status not in (
        NoticeStatus.PUBLISHING,
        NoticeStatus.FAILED,
        NoticeStatus.TAKEDOWN_PENDING,
    ):
        return notice
    if notice.published_at is not None:
        return notice  # another attempt already recorded it
    kind = NoticeKind(notice.kind)
    if external_id is None:
        if notice.status == NoticeStatus.TAKEDOWN_PENDING:
            # it was to come down anyway and never went up
            notice.status = NoticeStatus.TAKEN_DOWN
            notice.taken_down_at = now
            notice.last_error = error
            return notice
        notice.status = NoticeStatus.FAILED
        notice.failed_at = now
        notice.last_error = error
        await runtime.outbox.stage(
            session,
            NoticePublicationFailedV1(
                person_id=notice.person_id,
                case_id=notice.case_id,
                notice_id=notice.id,
                station_id=notice.station_id,
                kind=kind,
                region=notice.region,
                failed_at=now,
                error=error or "unknown error",
                purpose=purpose_of(notice.payload),
            ),
        )
        return notice
    notice.external_id = external_id
    notice.published_at = now
    notice.last_error = None
    if notice.status != NoticeStatus.TAKEDOWN_PENDING:
        notice.status = NoticeStatus.PUBLISHED
    else:
        take_down_once_committed(UnitOfWork(session, runtime), notice.case_id)
    await runtime.outbox.stage(
        session,
        NoticePublishedV1(
            person_id=notice.person_id,
            case_id=notice.case_id,
            notice_id=notice.id,
            station_id=notice.station_id,
            kind=kind,
            region=notice.region,
            published_at=now,
            purpose=purpose_of(notice.payload),
            with_photo=notice.publication_photo_id is not None,
        ),
    )
    if kind is NoticeKind.NATIONAL:
        case = await session.get(SearchCase, notice.case_id, with_for_update=True)
        if case is not None and case.notice_published_at is None:
            case.notice_published_at = now
        await complete_task(session, notice.case_id, TaskKind.FAMILY_SEARCH_NOTICE, now)
    return notice


async def publish_recorded(uow: UnitOfWork, notice_ids: Sequence[uuid.UUID]) -> None:
    """Send notices already recorded as ``publishing`` (and committed), then record
    each result in a transaction of its own (not the use case's)."""
    runtime = uow.runtime
    for notice_id in notice_ids:
        async with runtime.sessions() as session:
            notice = await session.get(SearchNotice, notice_id)
            if notice is None or notice.status != NoticeStatus.PUBLISHING:
                continue
            session.expunge(notice)
        external_id, error = await send(runtime, notice)
        async with runtime.sessions() as session, session.begin():
            await record_result(session, runtime, notice_id, external_id, error, datetime.now(UTC))


async def republish(uow: UnitOfWork, case: SearchCase, reason_prefix: str) -> list[uuid.UUID]:
    """The person is back: each notice an ending took down (its takedown reason
    starts with ``reason_prefix``) goes up again as it was, under the case's station
    now, once the transaction commits (else the sweep's retry of stuck ones does).
    Nothing for a person who may not appear in public."""
    if not (await protection_of(uow, case)).public_notice_allowed:
        return []
    existing = await uow.find(SearchNotice, case_id=case.id, lock=True)
    up = {(n.kind, n.region) for n in existing if n.status in LIVE}
    photo_id = await chosen_photo_id(uow, case)
    ids: list[uuid.UUID] = []
    for old in sorted(existing, key=lambda n: n.requested_at, reverse=True):
        if (
            old.status != NoticeStatus.TAKEN_DOWN
            or not (old.takedown_reason or "").startswith(reason_prefix)
            or (old.kind, old.region) in up
        ):
            continue
        up.add((old.kind, old.region))
        notice = SearchNotice(
            id=uuid.uuid4(),
            case_id=case.id,
            person_id=case.person_id,
            station_id=case.station_id,
            kind=old.kind,
            region=old.region,
            region_basis=old.region_basis,
            status=NoticeStatus.PUBLISHING,
            payload=old.payload,
            requested_by="search:person_admitted_again",
            requested_at=uow.now,
            attempts=1,
            override_id=old.override_id,
            publication_photo_id=photo_id,
        )
        uow.add(notice)
        ids.append(notice.id)
    if ids:
        publish_once_committed(uow, ids)
    return ids


SUPERSEDED = "superseded:"


async def reissue(
    uow: UnitOfWork,
    case: SearchCase,
    why: str,
    rewrite: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda payload: payload,
) -> list[uuid.UUID]:
    """Each notice of the case that is up (or going up) replaced by a new one under
    the case's station now, its text rewritten (``rewrite`` answers None: left as
    it is); the new ones go up once the transaction commits, the old ones come down
    as ``superseded:<why>``. A failed one (never up) is rewritten in place for the
    sweep's retry. Nothing for a case whose notices are closed or protected."""
    flags = await uow.get(NoticeProtection, case.id)
    if (
        case.status != "open"
        or (flags is not None and flags.closed_at is not None)
        or not (await protection_of(uow, case)).public_notice_allowed
    ):
        return []
    ids: list[uuid.UUID] = []
    pending = False
    photo_id = await chosen_photo_id(uow, case)
    for old in await uow.find(SearchNotice, case_id=case.id, lock=True):
        if old.status not in UP or (payload := rewrite(old.payload)) is None:
            continue
        if old.status == NoticeStatus.FAILED:
            old.payload = payload
            old.station_id = case.station_id
            old.publication_photo_id = photo_id
            continue
        notice = SearchNotice(
            id=uuid.uuid4(),
            case_id=case.id,
            person_id=case.person_id,
            station_id=case.station_id,
            kind=old.kind,
            region=old.region,
            region_basis=old.region_basis,
            status=NoticeStatus.PUBLISHING,
            payload=payload,
            requested_by=f"search:{why}"[:200],
            requested_at=uow.now,
            attempts=1,
            override_id=old.override_id,
            publication_photo_id=photo_id,
        )
        uow.add(notice)
        ids.append(notice.id)
        old.status = NoticeStatus.TAKEDOWN_PENDING
        old.takedown_reason = f"{SUPERSEDED}{why}"[:100]
        old.takedown_requested_at = uow.now
        pending = pending or old.external_id is not None
    if ids:
        publish_once_committed(uow, ids)
    if pending:
        take_down_once_committed(uow, case.id)
    return ids


def publish_once_committed(uow: UnitOfWork, notice_ids: Sequence[uuid.UUID]) -> None:
    """Once the transaction commits, send these notices recorded as ``publishing``
    (nothing if it rolls back)."""
    session, runtime = uow.session, uow.runtime
    session.info.setdefault("notice_publications", []).extend(notice_ids)
    if session.info.get("notice_publication_hook"):
        return
    session.info["notice_publication_hook"] = True
    sync = session.sync_session

    def committed(_session) -> None:
        ids = list(session.info.pop("notice_publications", []))
        if ids:
            task = asyncio.get_running_loop().create_task(_publish(runtime, ids))
            _background.add(task)
            task.add_done_callback(_background.discard)

    def rolled_back(_session) -> None:
        session.info.pop("notice_publications", None)

    event.listen(sync, "after_commit", committed)
    event.listen(sync, "after_soft_rollback", rolled_back)


async def _publish(runtime: Runtime, notice_ids: list[uuid.UUID]) -> None:
    async with runtime.sessions() as session:
        await publish_recorded(UnitOfWork(session, runtime), notice_ids)


# ---- taking down ---------------------------------------------------------------


async def close_notices(uow: UnitOfWork, case_id: uuid.UUID, reason: str) -> None:
    """No new notice for the case from now on (identity confirmed, person left)."""
    flags = await uow.get(NoticeProtection, case_id, lock=True)
    if flags is None:
        flags = NoticeProtection(case_id=case_id, endangered=False)
        uow.add(flags)
    if flags.closed_at is None:
        flags.closed_at = uow.now
        flags.closed_reason = reason[:100]


# A notice that may be up, or may still go up: taken down with its case.
UP = (NoticeStatus.PUBLISHING, NoticeStatus.PUBLISHED, NoticeStatus.FAILED)


async def take_down_notices(
    uow: UnitOfWork, case: SearchCase, reason: str, *, close: bool = True
) -> None:
    """Take every live notice of the case down (identity confirmed, person left).

    Runs inside the caller's transaction: it records the intent
    (``takedown_pending``) and no new notice may go up for the case; the HTTP
    takedown runs once that transaction commits (nothing happens if it rolls
    back). ``close=False`` (protection) keeps the case open for notices later.
    """
    now = uow.now
    if close:
        await close_notices(uow, case.id, reason)
    pending = False
    for notice in await uow.find(SearchNotice, case_id=case.id, lock=True):
        if notice.status not in UP:
            continue
        notice.takedown_reason = reason[:100]
        notice.takedown_requested_at = now
        if notice.status == NoticeStatus.FAILED:
            # never went up: nothing to take down, and no retry any more
            notice.status = NoticeStatus.TAKEN_DOWN
            notice.taken_down_at = now
        else:
            notice.status = NoticeStatus.TAKEDOWN_PENDING
            pending = pending or notice.external_id is not None
    if pending:
        take_down_once_committed(uow, case.id)


_background: set[asyncio.Task] = set()


def take_down_once_committed(uow: UnitOfWork, case_id: uuid.UUID) -> None:
    """Once the transaction commits, take the case's pending notices down."""
    session, runtime = uow.session, uow.runtime
    cases: set[uuid.UUID] = session.info.setdefault("notice_takedowns", set())
    cases.add(case_id)
    if session.info.get("notice_takedown_hook"):
        return
    session.info["notice_takedown_hook"] = True
    sync = session.sync_session

    def committed(_session) -> None:
        todo = set(session.info.pop("notice_takedowns", set()))
        for case in todo:
            task = asyncio.get_running_loop().create_task(take_down_pending(runtime, case))
            _background.add(task)
            task.add_done_callback(_background.discard)

    def rolled_back(_session) -> None:
        session.info.pop("notice_takedowns", None)

    event.listen(sync, "after_commit", committed)
    event.listen(sync, "after_soft_rollback", rolled_back)


async def take_down_pending(runtime: Runtime, case_id: uuid.UUID | None = None) -> int:
    """Call the adapter for the ``takedown_pending`` notices (of one case, or all)
    and record each result in a transaction of its own. How many came down."""
    query = select(SearchNotice).where(
        SearchNotice.status == NoticeStatus.TAKEDOWN_PENDING,
        SearchNotice.external_id.is_not(None),
    )
    if case_id is not None:
        query = query.where(SearchNotice.case_id == case_id)
    async with runtime.sessions() as session:
        notices = (await session.scalars(query.limit(100))).all()
        session.expunge_all()
    done = 0
    adapter = channel(runtime)
    for notice in notices:
        try:
            await adapter.take_down(NoticeKind(notice.kind), notice.external_id or "")
            error = None
        except Exception as exc:  # stays pending; the sweep retries
            error = str(exc)[:300] if isinstance(exc, NoticeError) else type(exc).__name__
            log.warning("taking notice %s down failed: %s", notice.id, error)
        async with runtime.sessions() as session, session.begin():
            current = await session.get(SearchNotice, notice.id, with_for_update=True)
            if current is None or current.status != NoticeStatus.TAKEDOWN_PENDING:
                continue
            current.attempts += 1
            if error is not None:
                current.last_error = error
                continue
            now = datetime.now(UTC)
            current.status = NoticeStatus.TAKEN_DOWN
            current.taken_down_at = now
            current.last_error = None
            done += 1
            await runtime.outbox.stage(
                session,
                NoticeTakenDownV1(
                    person_id=current.person_id,
                    case_id=current.case_id,
                    notice_id=current.id,
                    station_id=current.station_id,
                    kind=NoticeKind(current.kind),
                    region=current.region,
                    taken_down_at=now,
                    reason=current.takedown_reason or "taken_down",
                    purpose=purpose_of(current.payload),
                ),
            )
    return done


# ---- protection as stored --------------------------------------------------------


async def latest_override(uow: UnitOfWork, case_id: uuid.UUID) -> NoticeOverride | None:
    found = await uow.find(NoticeOverride, case_id=case_id, order_by=NoticeOverride.authorised_at)
    return found[-1] if found else None


async def protection_of(uow: UnitOfWork, case: SearchCase) -> Protection:
    flags = await uow.get(NoticeProtection, case.id)
    override = await latest_override(uow, case.id)
    endangered_at = flags.marked_at if flags is not None and flags.endangered else None
    return protection(
        case.categories or [], endangered_at, override.authorised_at if override else None
    )


async def chosen_photo_id(uow: UnitOfWork, case: SearchCase) -> uuid.UUID | None:
    """The published image a new notice of the case shows: the one staff chose,
    never for a protected person (even with an override: her face is not public)."""
    choice = await uow.get(PublicationPhotoChoice, case.id)
    if choice is None or (await protection_of(uow, case)).protected:
        return None
    return choice.photo_id


# ---- the sweep -------------------------------------------------------------------


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    """Retries: failed or stuck publications (while allowed), pending takedowns.
    (Add to search.sweeps.jobs to run it.)"""

    async def retry_notices(session: AsyncSession, now: datetime) -> int:
        settings = runtime.settings
        stuck = now - timedelta(seconds=getattr(settings, "notice_stuck_after_seconds", 300))
        max_attempts = getattr(settings, "notice_max_publish_attempts", 5)
        due = (
            await session.scalars(
                select(SearchNotice)
                .where(
                    or_(
                        SearchNotice.status == NoticeStatus.FAILED,
                        (SearchNotice.status == NoticeStatus.PUBLISHING)
                        & (SearchNotice.requested_at < stuck),
                    ),
                    SearchNotice.attempts < max_attempts,
                )
                .order_by(SearchNotice.requested_at)
                .limit(10)
                .with_for_update(skip_locked=True)
            )
        ).all()
        changed = 0
        for notice in due:
            case = await session.get(SearchCase, notice.case_id)
            flags = await session.get(NoticeProtection, notice.case_id)
            if (
                case is None
                or case.status != "open"
                or (flags is not None and flags.closed_at is not None)
                or not (
                    await protection_of(UnitOfWork(session, runtime), case)
                ).public_notice_allowed
            ):
                notice.attempts = max_attempts  # no more retries
                continue
            notice.attempts += 1
            notice.status = NoticeStatus.PUBLISHING
            # the row stays locked: a sweep elsewhere skips it
            external_id, error = await send(runtime, notice)
            await record_result(session, runtime, notice.id, external_id, error, now)
            changed += 1
        await session.commit()
        return changed + await take_down_pending(runtime)

    return [PeriodicJob("notice_retries", retry_notices)]
