"""Nothing sensitive in plain text (issue 32), on the real Postgres: after writes
through the services' APIs, the stored idempotent answers, a patrol's handover
record, partner agencies' contacts and webhook secrets and a receiver's identity
document number are ciphertext in their tables; a row still plain (written before
encryption) and the rows under the old key are re-encrypted under the new key by
the rotation job, and read back by a ring holding the new key only."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url, select
from support import JWT_SECRET, migrated_database

from intake.app import service as intake_service
from intake.settings import IntakeSettings
from referral.app import service as referral_service
from referral.settings import ReferralSettings
from referral.tables import Agency
from rescue_chassis import audit
from rescue_chassis.app import create_app
from rescue_chassis.auth import mint_token
from rescue_chassis.crypto import PREFIX, generate_key
from rescue_chassis.periodic import run_once
from rescue_localnet.demo import signature_png
from transfer.app import service as transfer_service
from transfer.settings import TransferSettings
from transfer.tables import Return, Traveller

pytestmark = pytest.mark.integration

K1, K2, LOOKUP = generate_key(), generate_key(), generate_key()
PHONE = "13800138000"
NATIONAL_ID = "11010519491231002X"
WEBHOOK_SECRET = "whsec-" + "s3cr3t" * 6
NOW = datetime.now(UTC)
PATROL = {
    "escorting_unit": "固始县城市管理局",
    "officer": "刘队长",
    "reference_number": "CG-2026-0042",
    "found_place": "固始县人民广场",
    "found_at": (NOW - timedelta(hours=2)).isoformat(),
}


def keys(current: str, *kids: str) -> dict[str, str]:
    known = {"k1": K1, "k2": K2}
    return dict(
        data_keys=",".join(f"{kid}:{known[kid]}" for kid in kids),
        data_key_current=current,
        lookup_key=LOOKUP,
    )


def settings(cls, url: str, **values):
    return cls(
        database_url=url, kafka_bootstrap_servers="127.0.0.1:1", jwt_secret=JWT_SECRET, **values
    )


def bearer(station: str, *roles: str) -> dict[str, str]:
    token = mint_token(secret=JWT_SECRET, subject="w-1", station_id=station, roles=list(roles))
    return {"Authorization": f"Bearer {token}"}


STAFF = bearer("gushi", "station_staff")


@pytest.fixture
async def apps():
    """Services on their own databases, called in-process (no broker: the outbox keeps
    the events); closed at the end."""
    made = []

    def make(definition, settings_):
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            app = create_app(definition, settings_)
        finally:
            root.handlers[:], root.level = handlers, level
        made.append(app)
        transport = httpx.ASGITransport(app=app)
        return app, httpx.AsyncClient(transport=transport, base_url="http://service")

    yield make
    await audit.drain()
    for app in made:
        await app.state.runtime.engine.dispose()


async def raw(postgres, url: str, sql: str, *args) -> list[dict]:
    conn = await asyncpg.connect(postgres.dsn(make_url(url).database))
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def sealed_under(value: object, kid: str) -> bool:
    return isinstance(value, str) and value.startswith(f"{PREFIX}{kid}:")


def assert_no_plain(rows: list[dict], *plain: str) -> None:
    text = repr(rows)
    for value in plain:
        assert value not in text, f"{value!r} is stored in plain text"


async def answers(postgres, url: str) -> list[str]:
    return [
        r["response"] for r in await raw(postgres, url, "select response from idempotency_keys")
    ]


async def rotated(app) -> None:
    """The rotation job run until nothing is left under an old key or in plain text."""
    runtime = app.state.runtime
    (job,) = [j for j in runtime.periodic if j.name == "reencrypt-personal-data"]
    for _ in range(20):
        if not await run_once(runtime.sessions, job):
            return
    raise AssertionError("the rotation job did not finish")


async def test_intake_seals_the_handover_record_and_the_stored_answers(postgres, apps):
    url = await migrated_database(postgres, intake_service.migrations_dir)
    app, client = apps(intake_service, settings(IntakeSettings, url, **keys("k1", "k1")))
    patrol = {
        "arrival_route": "street_patrol",
        "sex": "male",
        "estimated_age": 50,
        "consent_given": True,
        "handover": PATROL,
    }
    lead = {"caller_phone": PHONE, "reported": "桥下有一位老人", "place": "固始县史河大桥"}
    own = {"arrival_route": "own_request", "sex": "female", "full_name": "王秀英"}
    sent = [  # through the session; through one statement (the driver); a phone number
        ("/persons", patrol, "admit-patrol"),
        ("/persons", own, "admit-own"),
        ("/leads", lead, "lead-1"),
    ]
    first = []
    for path, body, key in sent:
        answer = await client.post(path, json=body, headers=STAFF | {"Idempotency-Key": key})
        assert answer.status_code == 201, answer.text
        first.append(answer.json())
    assert first[0]["stays"][0]["handover"]["reference_number"] == "CG-2026-0042"
    assert first[2]["caller_phone"] == PHONE

    stays = await raw(postgres, url, "select handover from stays")
    stored = await answers(postgres, url)
    assert_no_plain(stays + [{"r": a} for a in stored], "CG-2026-0042", "刘队长", PHONE, "王秀英")
    assert [sealed_under(s["handover"], "k1") for s in stays if s["handover"]] == [True]
    assert len(stored) == 3 and all(sealed_under(a, "k1") for a in stored)

    # a retry is answered from the stored answer, decrypted: as the first time
    for (path, body, key), answer in zip(sent, first, strict=True):
        again = await client.post(path, json=body, headers=STAFF | {"Idempotency-Key": key})
        assert (again.status_code, again.json()) == (201, answer)
    person = await client.get(f"/persons/{first[0]['id']}", headers=STAFF)
    assert person.json()["stays"][0]["handover"]["officer"] == "刘队长"

    # rows written before encryption: plain JSON text, read as is until rotated
    await raw(postgres, url, "update stays set handover = $1", '{"officer": "旧记录"}')
    await raw(
        postgres, url, "update idempotency_keys set response = '{\"id\": 1}' where key = 'lead-1'"
    )
    new, client = apps(intake_service, settings(IntakeSettings, url, **keys("k2", "k1", "k2")))
    await rotated(new)

    stays = await raw(postgres, url, "select handover from stays")
    stored = await answers(postgres, url)
    assert all(sealed_under(s["handover"], "k2") for s in stays)
    assert len(stored) == 3 and all(sealed_under(a, "k2") for a in stored)
    assert_no_plain(stays, "旧记录")

    only_new, client = apps(intake_service, settings(IntakeSettings, url, **keys("k2", "k2")))
    person = await client.get(f"/persons/{first[0]['id']}", headers=STAFF)
    assert person.json()["stays"][0]["handover"] == {"officer": "旧记录"}
    again = await client.post("/leads", json=lead, headers=STAFF | {"Idempotency-Key": "lead-1"})
    assert again.json() == {"id": 1}  # the legacy answer, sealed and opened again


async def test_referral_seals_agency_contacts_and_webhook_secrets(postgres, apps):
    url = await migrated_database(postgres, referral_service.migrations_dir)
    app, client = apps(referral_service, settings(ReferralSettings, url, **keys("k1", "k1")))
    entry = {
        "name": "信阳市妇女联合会",
        "partner_type": "womens_federation",
        "jurisdiction_code": "4115",
        "contacts": [{"name": "张主任", "phone": PHONE, "role": "值班"}],
        "webhook_url": "https://hooks.example.org/rescue",
        "webhook_secret": WEBHOOK_SECRET,
    }
    admin = bearer("center", "admin")
    put = await client.put(
        "/partners/xinyang-fulian", json=entry, headers=admin | {"Idempotency-Key": "agency-1"}
    )
    assert put.status_code == 200, put.text
    assert put.json()["contacts"][0]["phone"] == PHONE and "webhook_secret" not in put.json()

    agencies = await raw(postgres, url, "select contacts, webhook_secret from agencies")
    stored = await answers(postgres, url)
    assert_no_plain(agencies + [{"r": a} for a in stored], PHONE, "张主任", WEBHOOK_SECRET)
    [agency] = agencies
    assert sealed_under(agency["contacts"], "k1") and sealed_under(agency["webhook_secret"], "k1")
    assert [sealed_under(a, "k1") for a in stored] == [True]

    listed = await client.get("/partners", headers=admin)
    assert listed.json()[0]["contacts"] == entry["contacts"]
    async with app.state.runtime.sessions() as session:  # what the webhook signs with
        assert (await session.get(Agency, "xinyang-fulian")).webhook_secret == WEBHOOK_SECRET

    # an agency stored before encryption, then a new key
    await raw(
        postgres,
        url,
        "insert into agencies (id, name, partner_type, jurisdiction_code, contacts, webhook_url,"
        " webhook_secret, active, created_at) values ('old-agency', '旧机构', 'police', '41',"
        " $1, 'https://old.example.org/hook', $2, true, now())",
        '[{"name": "李警官", "phone": "13900139000"}]',
        "old-" + WEBHOOK_SECRET,
    )
    new, _ = apps(referral_service, settings(ReferralSettings, url, **keys("k2", "k1", "k2")))
    await rotated(new)
    agencies = await raw(postgres, url, "select contacts, webhook_secret from agencies")
    assert_no_plain(agencies, "13900139000", WEBHOOK_SECRET)
    assert all(sealed_under(a[c], "k2") for a in agencies for c in ("contacts", "webhook_secret"))
    assert all(sealed_under(a, "k2") for a in await answers(postgres, url))

    only_new, _ = apps(referral_service, settings(ReferralSettings, url, **keys("k2", "k2")))
    async with only_new.state.runtime.sessions() as session:
        old = await session.get(Agency, "old-agency")
        assert old.contacts == [{"name": "李警官", "phone": "13900139000"}]
        assert old.webhook_secret == "old-" + WEBHOOK_SECRET


async def test_transfer_seals_the_receivers_identity_document_number(postgres, apps):
    url = await migrated_database(postgres, transfer_service.migrations_dir)
    app, client = apps(transfer_service, settings(TransferSettings, url, **keys("k1", "k1")))
    in_transit = a_return("in_transit")
    async with app.state.runtime.sessions() as session:
        session.add(
            Traveller(
                person_id=in_transit.person_id,
                station_id="gushi",
                sex="male",
                estimated_age=70,
                categories=[],
            )
        )
        session.add(in_transit)
        await session.commit()
    receipt = {
        "receiver_kind": "family",
        "received_by": "李红",
        "relation": "daughter",
        "id_document_type": "resident_id_card",
        "id_document_number": NATIONAL_ID.lower(),
        "place": "河南省信阳市固始县城关镇",
        "signature_png": signature_png(),
    }
    handed = await client.post(
        f"/returns/{in_transit.id}/handover",
        json=receipt,
        headers=STAFF | {"Idempotency-Key": "handover-1"},
    )
    assert handed.status_code == 200, handed.text

    [row] = await raw(postgres, url, "select receiver_id_document_number from returns")
    assert sealed_under(row["receiver_id_document_number"], "k1")
    assert_no_plain([row] + [{"r": a} for a in await answers(postgres, url)], NATIONAL_ID)
    async with app.state.runtime.sessions() as session:
        stored = await session.get(Return, in_transit.id)
        assert stored.receiver_id_document_number == NATIONAL_ID  # checked and normalised

    # a receiver's number still plain (recorded before encryption), then a new key
    legacy = a_return("handed_over")
    async with app.state.runtime.sessions() as session:
        session.add(legacy)
        await session.commit()
    await raw(
        postgres,
        url,
        "update returns set receiver_id_document_number = $1 where id = $2",
        "410101196001011234",
        legacy.id,
    )
    new, _ = apps(transfer_service, settings(TransferSettings, url, **keys("k2", "k1", "k2")))
    await rotated(new)
    rows = await raw(postgres, url, "select id, receiver_id_document_number from returns")
    assert_no_plain(rows, NATIONAL_ID, "410101196001011234")
    assert all(sealed_under(r["receiver_id_document_number"], "k2") for r in rows)
    assert all(sealed_under(a, "k2") for a in await answers(postgres, url))

    only_new, _ = apps(transfer_service, settings(TransferSettings, url, **keys("k2", "k2")))
    async with only_new.state.runtime.sessions() as session:
        numbers = set(await session.scalars(select(Return.receiver_id_document_number)))
    assert numbers == {NATIONAL_ID, "410101196001011234"}


def a_return(status: str) -> Return:
    return Return(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id="gushi",
        escort_station_id="gushi",
        cross_province=False,
        status=status,
        full_name="李建国",
        destination_province="河南省",
        home_address="河南省信阳市固始县城关镇",
        opened_at=NOW,
        opened_by="identity_confirmed",
    )
