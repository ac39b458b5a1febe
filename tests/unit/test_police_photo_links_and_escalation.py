"""Issue 28, police: the photo behind a short-lived signed link (rescue_chassis.photo_links
and intake's check of it) and an unverifiable identity check passed up the police
levels (逐级上报), on an in-memory unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr, ValidationError

from intake.partner_photos import LinkRefused, PartnerPhotoLink, photo_for_partner
from intake.settings import IntakeSettings
from intake.tables.record import PersonPhoto
from referral.settings import ReferralSettings
from rescue_chassis import photo_links
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts.search_police import (
    PoliceCheckAnsweredV1,
    PoliceCheckEscalatedV1,
    PoliceCheckResult,
    PoliceCheckUnverifiableAtTopV1,
    PoliceIdentityCheckRequestedV1,
)
from search import statements
from search.commands import police
from search.police import DEFAULT_ESCALATION_CHAIN, escalation_chain, next_level
from search.tables import PoliceCheck, SearchCase, SharedPhoto

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KEY = b"k" * 32
BASE = "https://intake.example.org"
PHOTO = uuid.UUID("0b6f1c1e-8d4e-4c55-9a57-4f0f3f6d2b11")
LEVELS = SimpleNamespace(police_levels=escalation_chain(DEFAULT_ESCALATION_CHAIN))


def presented(url: str) -> dict:
    """The link's parts as intake's route receives them."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return {
        "photo_id": uuid.UUID(parts.path.rsplit("/", 1)[1]),
        "agency_id": query["agency"],
        "expires": int(query["expires"]),
        "signature": query["signature"],
        **({"request_id": uuid.UUID(query["request_id"])} if "request_id" in query else {}),
    }


def link(agency: str = "gushi-police", expires_at: datetime = NOW + timedelta(minutes=15), **kw):
    return presented(photo_links.mint(KEY, BASE, PHOTO, agency, expires_at, **kw))


def checked(parts: dict, now: datetime = NOW, key: bytes = KEY):
    return photo_links.check(
        key,
        parts["photo_id"],
        parts["agency_id"],
        parts["expires"],
        parts["signature"],
        now,
        request_id=parts.get("request_id"),
    )


# ---- photo links ------------------------------------------------------------


def test_a_minted_link_points_at_intakes_partner_route_and_checks_out():
    url = photo_links.mint(KEY, BASE + "/", PHOTO, "gushi-police", NOW + timedelta(minutes=5))
    assert url.startswith(f"{BASE}/partner/photos/{PHOTO}?agency=gushi-police&expires=")
    assert checked(presented(url)) is None


def test_an_expired_link_is_refused_naming_expires():
    parts = link(expires_at=NOW + timedelta(minutes=15))
    assert checked(parts, now=NOW + timedelta(minutes=14, seconds=59)) is None
    refused = checked(parts, now=NOW + timedelta(minutes=15))
    assert refused is not None and refused.field == "expires"


@pytest.mark.parametrize(
    "tamper",
    [
        {"expires": lambda e: e + 3600},  # a later expiry: not signed
        {"photo_id": lambda _: uuid.uuid4()},  # another person's photo
        {"agency_id": lambda _: "xixian-police"},  # the link taken over by another agency
        {"signature": lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB")},
        {"request_id": lambda _: uuid.uuid4()},  # another check
    ],
    ids=["expiry", "photo", "agency", "signature", "request"],
)
def test_a_tampered_link_is_refused_naming_the_signature(tamper):
    parts = link(request_id=uuid.uuid4())
    (name, change), *_ = tamper.items()
    parts[name] = change(parts[name])
    refused = checked(parts)
    assert refused is not None and refused.field == "signature"


def test_a_link_under_another_key_is_refused():
    refused = checked(link(), key=b"x" * 32)
    assert refused is not None and refused.field == "signature"


def test_another_agency_presenting_a_genuine_link_is_refused_naming_agency():
    parts = link("gushi-police")
    args = [KEY, *(parts[k] for k in ("photo_id", "agency_id", "expires", "signature")), NOW]
    assert photo_links.check_caller(*args, "gushi-police") is None
    refused = photo_links.check_caller(*args, "xixian-police")
    assert refused is not None and refused.field == "agency"


def test_a_short_key_or_a_naive_expiry_makes_no_link():
    with pytest.raises(ValueError, match="32 bytes"):
        photo_links.mint(b"short", BASE, PHOTO, "gushi-police", NOW)
    with pytest.raises(ValueError, match="time zone"):
        photo_links.mint(KEY, BASE, PHOTO, "gushi-police", datetime(2026, 11, 23, 10, 0))


def test_intake_and_referral_read_one_network_wide_key_and_base_url(monkeypatch):
    monkeypatch.setenv("RESCUE_PHOTO_LINK_KEY", "s" * 40)
    monkeypatch.setenv("RESCUE_PHOTO_LINK_BASE_URL", "https://intake.example.org")
    required = {"database_url": "x", "kafka_bootstrap_servers": "y", "jwt_secret": "j" * 40}
    found = [
        photo_links.link_settings(cls(**required)) for cls in (IntakeSettings, ReferralSettings)
    ]
    assert found[0] == found[1] == photo_links.LinkSettings(b"s" * 40, "https://intake.example.org")
    monkeypatch.setenv("RESCUE_PHOTO_LINK_KEY", "too-short")
    with pytest.raises(ValidationError, match="RESCUE_PHOTO_LINK_KEY"):
        IntakeSettings(**required)


# ---- intake's partner route -------------------------------------------------


def officer(agency_id: str) -> Principal:
    return Principal(subject="张警官", station_id=agency_id, roles=frozenset({"partner", "police"}))


def stored_photo(kind: str = "face") -> PersonPhoto:
    return PersonPhoto(
        id=PHOTO,
        person_id=uuid.uuid4(),
        station_id="gushi",
        kind=kind,
        content_type="image/jpeg",
        size_bytes=4,
        sha256="0" * 64,
        image=b"\xff\xd8\xff\xd9",
        taken_at=NOW - timedelta(days=1),
        added_by="王芳",
        added_at=NOW - timedelta(days=1),
    )


def intake_uow(agency_id: str, photo: PersonPhoto, now: datetime = NOW) -> FakeUnitOfWork:
    settings = SimpleNamespace(photo_link_key=SecretStr(KEY.decode()), photo_link_base_url=BASE)
    return FakeUnitOfWork(actor=officer(agency_id), rows=[photo], now=now, settings=settings)


def as_presented(parts: dict) -> PartnerPhotoLink:
    return PartnerPhotoLink(
        parts["photo_id"],
        parts["agency_id"],
        parts["expires"],
        parts["signature"],
        parts.get("request_id"),
    )


async def test_intake_opens_the_face_photo_to_the_agency_the_link_is_for():
    photo = stored_photo()
    parts = link("gushi-police", request_id=uuid.uuid4())
    found = await photo_for_partner(intake_uow("gushi-police", photo), as_presented(parts))
    assert found.image == b"\xff\xd8\xff\xd9"


@pytest.mark.parametrize(
    ("caller", "now", "field"),
    [
        ("gushi-police", NOW + timedelta(hours=1), "expires"),
        ("xixian-police", NOW, "agency"),
    ],
)
async def test_intake_refuses_a_late_or_borrowed_link_with_403_naming_why(caller, now, field):
    uow = intake_uow(caller, stored_photo(), now=now)
    with pytest.raises(LinkRefused) as refused:
        await photo_for_partner(uow, as_presented(link("gushi-police")))
    assert refused.value.status == 403
    assert refused.value.errors == [{"field": field, "reason": refused.value.reason}]


async def test_intake_without_a_key_honours_no_link():
    uow = intake_uow("gushi-police", stored_photo())
    uow.settings = SimpleNamespace(photo_link_key=None, photo_link_base_url=None)
    with pytest.raises(LinkRefused) as refused:
        await photo_for_partner(uow, as_presented(link()))
    assert refused.value.field == "signature"


async def test_only_face_photos_are_reachable_by_a_link():
    uow = intake_uow("gushi-police", stored_photo(kind="belongings"))
    with pytest.raises(NotFound):
        await photo_for_partner(uow, as_presented(link()))


# ---- the request names the face photo ---------------------------------------


def case_at(station_id: str = "gushi", **columns) -> SearchCase:
    given = {
        "status": "open",
        "arrived_at": NOW - timedelta(days=1),
        "opened_at": NOW - timedelta(days=1),
        "notice_due_at": NOW,
        "stated_names": "李建国",
        "sex": "male",
        "estimated_age": 50,
        "categories": [],
        **columns,
    }
    return SearchCase(id=uuid.uuid4(), person_id=uuid.uuid4(), station_id=station_id, **given)


def shared(case: SearchCase, minutes_ago: int, status: str = "enrolled") -> SharedPhoto:
    return SharedPhoto(
        photo_id=uuid.uuid4(),
        person_id=case.person_id,
        case_id=case.id,
        station_id=case.station_id,
        sha256="0" * 64,
        status=status,
        received_at=NOW - timedelta(minutes=minutes_ago),
    )


def staff() -> Principal:
    return Principal(subject="王芳", station_id="gushi", roles=frozenset({"station_staff"}))


@pytest.fixture
def tasks_done(monkeypatch):
    async def complete_task(uow, case_id, kind):
        return True

    monkeypatch.setattr(statements, "complete_task", complete_task)


async def ask(uow, case, **given):
    await police.request_police_check(
        police.RequestPoliceCheck(case_id=case.id, agency_id="gushi-police", **given), uow
    )
    (asked,) = uow.events
    return asked


async def test_the_request_names_the_latest_face_photo_with_a_face_found(tasks_done):
    case = case_at()
    older, newer, faceless = shared(case, 60), shared(case, 30), shared(case, 5, "not_enrolled")
    uow = FakeUnitOfWork(actor=staff(), rows=[case, older, newer, faceless], now=NOW)
    asked = await ask(uow, case)
    assert isinstance(asked, PoliceIdentityCheckRequestedV1)
    assert asked.face_photo_id == newer.photo_id


async def test_the_request_names_the_photo_staff_chose_or_refuses_another_persons(tasks_done):
    case, other = case_at(), case_at()
    older, newer, others = shared(case, 60), shared(case, 30), shared(other, 1)
    rows = [case, other, older, newer, others]
    asked = await ask(
        FakeUnitOfWork(actor=staff(), rows=rows, now=NOW), case, face_photo_id=older.photo_id
    )
    assert asked.face_photo_id == older.photo_id
    with pytest.raises(Refused) as refused:
        await ask(
            FakeUnitOfWork(actor=staff(), rows=rows, now=NOW), case, face_photo_id=others.photo_id
        )
    assert refused.value.field == "face_photo_id"


async def test_a_person_without_a_shared_face_photo_is_asked_about_without_one(tasks_done):
    case = case_at()
    asked = await ask(FakeUnitOfWork(actor=staff(), rows=[case], now=NOW), case)
    assert asked.face_photo_id is None


# ---- 逐级上报: an unverifiable check passed up ----------------------------------


def test_the_chain_gives_each_agency_its_next_level_and_refuses_loops():
    chain = escalation_chain(
        "gushi-police>xinyang-police>henan-police;xixian-police>xinyang-police"
    )
    assert next_level(chain, "gushi-police") == "xinyang-police"
    assert next_level(chain, "xixian-police") == "xinyang-police"
    assert next_level(chain, "xinyang-police") == "henan-police"
    assert next_level(chain, "henan-police") is None
    assert next_level(chain, "unknown-police") is None
    with pytest.raises(ValueError, match="loops"):
        escalation_chain("a>b;b>c>a")
    with pytest.raises(ValueError, match="two levels"):
        escalation_chain("a>b;a>c")


def asked_of(case: SearchCase, agency_id: str, **columns) -> PoliceCheck:
    columns = {"status": "requested", **columns}
    return PoliceCheck(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        sex="male",
        estimated_age=50,
        stated_names="李建国、李建军",
        description="左手背有疤",
        face_photo_id=PHOTO,
        requested_by="王芳",
        requested_at=NOW - timedelta(hours=1),
        agency_id=agency_id,
        **columns,
    )


async def answer(uow, check, result=PoliceCheckResult.UNVERIFIABLE):
    return await police.answer_police_check(
        police.AnswerPoliceCheck(request_id=check.id, result=result), uow
    )


async def test_an_unverifiable_county_check_is_asked_again_of_the_city(tasks_done):
    case = case_at(categories=["domestic_violence_victim"])
    first = asked_of(case, "gushi-police")
    uow = FakeUnitOfWork(
        actor=officer("gushi-police"), rows=[case, first], now=NOW, settings=LEVELS
    )

    await answer(uow, first)

    answered, passed_up, escalated = uow.events
    assert isinstance(answered, PoliceCheckAnsweredV1) and answered.result == "unverifiable"
    assert isinstance(passed_up, PoliceIdentityCheckRequestedV1)
    assert (passed_up.agency_id, passed_up.escalates_request_id) == ("xinyang-police", first.id)
    assert (passed_up.face_photo_id, passed_up.stated_names) == (PHOTO, ["李建国", "李建军"])
    assert passed_up.station_id == "center"  # still never the victim's own station
    assert isinstance(escalated, PoliceCheckEscalatedV1)
    assert (escalated.request_id, escalated.escalated_request_id) == (
        first.id,
        passed_up.request_id,
    )
    assert (escalated.from_agency_id, escalated.to_agency_id) == ("gushi-police", "xinyang-police")
    assert (first.escalation, first.escalated_to_request_id) == ("escalated", passed_up.request_id)
    second = uow.rows[(PoliceCheck, passed_up.request_id)]
    assert (second.status, second.agency_id, second.escalates_request_id) == (
        "requested",
        "xinyang-police",
        first.id,
    )


async def test_the_city_answers_the_passed_up_check_and_the_province_gets_it_next(tasks_done):
    case = case_at()
    first = asked_of(case, "gushi-police", status="answered", escalation="escalated")
    second = asked_of(case, "xinyang-police", escalates_request_id=first.id)
    uow = FakeUnitOfWork(
        actor=officer("xinyang-police"), rows=[case, first, second], now=NOW, settings=LEVELS
    )
    await answer(uow, second)
    _, passed_up, _ = uow.events
    assert (passed_up.agency_id, passed_up.escalates_request_id) == ("henan-police", second.id)


async def test_at_the_top_level_the_check_stays_unverified_and_is_flagged(tasks_done):
    case = case_at()
    top = asked_of(case, "henan-police")
    uow = FakeUnitOfWork(actor=officer("henan-police"), rows=[case, top], now=NOW, settings=LEVELS)

    await answer(uow, top)

    answered, flagged = uow.events
    assert isinstance(flagged, PoliceCheckUnverifiableAtTopV1)
    assert (flagged.request_id, flagged.agency_id, flagged.station_id) == (
        top.id,
        "henan-police",
        "gushi",
    )
    assert (top.escalation, top.escalated_to_request_id, case.status) == ("top_level", None, "open")
    assert [r for (kind, _), r in uow.rows.items() if kind is PoliceCheck] == [top]


@pytest.mark.parametrize(
    "result",
    [PoliceCheckResult.INCONCLUSIVE, PoliceCheckResult.NO_MATCH, PoliceCheckResult.IDENTIFIED],
)
async def test_other_answers_are_not_passed_up(result, tasks_done):
    case = case_at()
    first = asked_of(case, "gushi-police")
    uow = FakeUnitOfWork(
        actor=officer("gushi-police"), rows=[case, first], now=NOW, settings=LEVELS
    )
    await answer(uow, first, result)
    assert [type(e) for e in uow.events] == [PoliceCheckAnsweredV1]
    assert first.escalation is None


async def test_a_case_identified_meanwhile_is_not_passed_up(tasks_done):
    case = case_at(status="identified")
    first = asked_of(case, "gushi-police")
    uow = FakeUnitOfWork(
        actor=officer("gushi-police"), rows=[case, first], now=NOW, settings=LEVELS
    )
    await answer(uow, first)
    assert [type(e) for e in uow.events] == [PoliceCheckAnsweredV1]
    assert first.escalation is None


async def test_an_unverifiable_answer_on_the_answers_topic_is_passed_up_too(tasks_done):
    case = case_at()
    first = asked_of(case, "gushi-police")
    uow = FakeUnitOfWork(rows=[case, first], now=NOW, settings=LEVELS)  # no actor: the topic
    await police.answer_police_check(
        police.AnswerPoliceCheck(
            request_id=first.id,
            agency_id="gushi-police",
            person_id=case.person_id,
            result=PoliceCheckResult.UNVERIFIABLE,
        ),
        uow,
    )
    assert [type(e) for e in uow.events][1:] == [
        PoliceIdentityCheckRequestedV1,
        PoliceCheckEscalatedV1,
    ]
