"""Protection at rest against a real Postgres: what the services store of national
identity numbers, phone numbers and DNA sample references is ciphertext; exact
national-id search works through the blind index; the re-encryption job moves old
rows (and rows written before encryption) to the current key."""

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
from intake.tables.arrivals import Lead
from rescue_chassis.app import build_runtime, create_app
from rescue_chassis.auth import mint_token
from rescue_chassis.crypto import PREFIX, DecryptionError, generate_key, stale_values
from rescue_chassis.periodic import run_once
from search.app import service as search_service
from search.settings import SearchSettings
from search.tables.core import SearchCase
from search.tables.evidence import IdentityEvidence, MissingPersonReport
from search.tables.police import DnaSample
from transfer.app import service as transfer_service
from transfer.settings import TransferSettings
from transfer.tables import Return

pytestmark = pytest.mark.integration

K1, K2, LOOKUP = generate_key(), generate_key(), generate_key()
NATIONAL_ID = "11010519491231002X"
PHONE = "13800138000"
SAMPLE_REF = "DNA-GS-2026-0042"
NOW = datetime.now(UTC)


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


def database_name(url: str) -> str:
    return make_url(url).database


async def raw_rows(postgres, url: str, table: str) -> list[dict]:
    conn = await asyncpg.connect(postgres.dsn(database_name(url)))
    try:
        return [dict(r) for r in await conn.fetch(f"select * from {table}")]  # noqa: S608
    finally:
        await conn.close()


async def raw_execute(postgres, url: str, sql: str, *args) -> None:
    conn = await asyncpg.connect(postgres.dsn(database_name(url)))
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


def a_case() -> SearchCase:
    return SearchCase(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id="gushi",
        status="identified",
        arrived_at=NOW,
        opened_at=NOW,
        notice_due_at=NOW + timedelta(days=1),
    )


def a_report(phone: str = PHONE) -> MissingPersonReport:
    return MissingPersonReport(
        id=uuid.uuid4(),
        station_id="gushi",
        status="open",
        reported_name="李建国",
        sex="male",
        last_seen_place="固始县城关镇",
        contact_name="李小红",
        contact_phone=phone,
        reported_by="worker-1",
        reported_at=NOW,
    )


def evidence(case: SearchCase, national_id: str | None = NATIONAL_ID) -> IdentityEvidence:
    return IdentityEvidence(
        case_id=case.id,
        national_id_number=national_id,
        evidence=[{"kind": "police_check", "reference": "固公核查〔2026〕1号"}],
        confirmed_by="reviewer-1",
        confirmed_at=NOW,
    )


def sample(case: SearchCase, ref: str = SAMPLE_REF) -> DnaSample:
    return DnaSample(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        sample_ref=ref,
        taken_at=NOW,
        taken_by="nurse-1",
        submitted_by="worker-1",
        submitted_at=NOW,
        status="submitted",
    )


@pytest.fixture
async def search_url(postgres) -> str:
    return await migrated_database(postgres, search_service.migrations_dir)


@pytest.fixture
async def runtimes():
    made = []

    def make(definition, settings_):
        runtime = build_runtime(definition, settings_)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        await runtime.engine.dispose()


def assert_no_plain(rows: list[dict], *plain: str) -> None:
    text = repr(rows)
    for value in plain:
        assert value not in text, f"{value!r} is stored in plain text"
        assert value.lower() not in text.lower()


async def test_search_stores_ciphertext_and_finds_a_national_id_by_its_blind_index(
    postgres, search_url, runtimes
):
    runtime = runtimes(search_service, settings(SearchSettings, search_url, **keys("k1", "k1")))
    case, other = a_case(), a_case()
    async with runtime.sessions() as session:
        session.add_all([case, other])
        await session.flush()
        session.add_all([a_report(), evidence(case), evidence(other, None), sample(case)])
        await session.commit()

    reports = await raw_rows(postgres, search_url, "missing_person_reports")
    evidences = await raw_rows(postgres, search_url, "identity_evidence")
    samples = await raw_rows(postgres, search_url, "dna_samples")
    assert_no_plain(reports + evidences + samples, NATIONAL_ID, PHONE, SAMPLE_REF)
    assert reports[0]["contact_phone"].startswith(f"{PREFIX}k1:")
    stored = {r["case_id"]: r for r in evidences}
    assert stored[case.id]["national_id_number"].startswith(f"{PREFIX}k1:")
    assert len(stored[case.id]["national_id_lookup"]) == 64
    assert stored[other.id]["national_id_number"] is None
    assert stored[other.id]["national_id_lookup"] is None
    assert samples[0]["sample_ref"].startswith(f"{PREFIX}k1:")

    async with runtime.sessions() as session:
        # the model reads plain text back
        report = await session.scalar(select(MissingPersonReport))
        assert report.contact_phone == PHONE
        # exact search by the blind index, whatever the case of the check character
        found = (
            await session.scalars(
                select(IdentityEvidence).where(
                    IdentityEvidence.national_id_lookup == NATIONAL_ID.lower()
                )
            )
        ).all()
        assert [(e.case_id, e.national_id_number) for e in found] == [(case.id, NATIONAL_ID)]
        assert await session.scalar(
            select(DnaSample.id).where(DnaSample.sample_ref_lookup == f" {SAMPLE_REF} ")
        )
        assert not await session.scalar(
            select(DnaSample.id).where(DnaSample.sample_ref_lookup == "DNA-OTHER")
        )

    # and through the API: a reviewer looks the number up
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        app = create_app(search_service, settings(SearchSettings, search_url, **keys("k1", "k1")))
    finally:
        root.handlers[:], root.level = handlers, level
    token = mint_token(
        secret=JWT_SECRET, subject="r-1", station_id="gushi", roles=["search_specialist"]
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://search"
    ) as client:
        answer = await client.post(
            "/cases/identity-lookup",
            json={"national_id_number": "11010519491231002x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        assert [(v["id"], v["national_id_number"]) for v in answer.json()] == [
            (str(case.id), NATIONAL_ID)
        ]
        other_station = mint_token(
            secret=JWT_SECRET, subject="r-2", station_id="xixian", roles=["search_specialist"]
        )
        hidden = await client.post(
            "/cases/identity-lookup",
            json={"national_id_number": NATIONAL_ID},
            headers={"Authorization": f"Bearer {other_station}"},
        )
        assert hidden.status_code == 200 and hidden.json() == []

        # what is left to re-encrypt, and the job doing it, as ops sees them
        metrics = (await client.get("/metrics")).text
        assert (
            'rescue_encryption_stale_values{column="national_id_number",service="search",'
            'table="identity_evidence"} 0.0'
        ) in metrics
        ops = mint_token(secret=JWT_SECRET, subject="o-1", station_id="center", roles=["ops"])
        jobs = await client.get("/ops/periodic", headers={"Authorization": f"Bearer {ops}"})
        assert "reencrypt-personal-data" in [j["name"] for j in jobs.json()]
    await app.state.runtime.engine.dispose()


async def test_intake_and_transfer_store_ciphertext(postgres, runtimes):
    intake_url = await migrated_database(postgres, intake_service.migrations_dir)
    intake = runtimes(intake_service, settings(IntakeSettings, intake_url, **keys("k1", "k1")))
    async with intake.sessions() as session:
        session.add(
            Lead(
                id=uuid.uuid4(),
                person_id=uuid.uuid4(),
                station_id="gushi",
                status="received",
                caller_name="王先生",
                caller_phone=PHONE,
                reported="桥下有一位老人",
                place="固始县城关镇",
                received_at=NOW,
                received_by="hotline-1",
            )
        )
        await session.commit()
    leads = await raw_rows(postgres, intake_url, "leads")
    assert_no_plain(leads, PHONE)
    assert leads[0]["caller_phone"].startswith(f"{PREFIX}k1:")
    async with intake.sessions() as session:
        assert (await session.scalar(select(Lead))).caller_phone == PHONE

    transfer_url = await migrated_database(postgres, transfer_service.migrations_dir)
    transfer = runtimes(
        transfer_service, settings(TransferSettings, transfer_url, **keys("k1", "k1"))
    )
    document = "410101196001011234"
    async with transfer.sessions() as session:
        session.add(
            Return(
                id=uuid.uuid4(),
                person_id=uuid.uuid4(),
                station_id="gushi",
                escort_station_id="gushi",
                cross_province=False,
                status="handed_over",
                full_name="李建国",
                destination_province="河南省",
                home_address="河南省信阳市固始县",
                opened_at=NOW,
                opened_by="identity_confirmed",
                receiver_id_document_type="resident_id_card",
                receiver_id_document_number=document,
            )
        )
        await session.commit()
    returns = await raw_rows(postgres, transfer_url, "returns")
    assert_no_plain(returns, document)
    async with transfer.sessions() as session:
        assert (await session.scalar(select(Return))).receiver_id_document_number == document


async def test_the_rotation_job_moves_old_and_plain_rows_to_the_current_key(
    postgres, search_url, runtimes
):
    old = runtimes(search_service, settings(SearchSettings, search_url, **keys("k1", "k1")))
    cases = [a_case() for _ in range(3)]
    async with old.sessions() as session:
        session.add_all(cases)
        await session.flush()
        session.add_all([evidence(cases[0]), sample(cases[0]), a_report()])
        session.add(evidence(cases[1], "110105194912310011"))
        await session.commit()
    # a row written before encryption: plain text, no blind index
    await raw_execute(
        postgres,
        search_url,
        "insert into identity_evidence (case_id, national_id_number, evidence, confirmed_by,"
        " confirmed_at) values ($1, $2, '[]', 'reviewer-0', now())",
        cases[2].id,
        "41152519800101001X",
    )

    new = runtimes(
        search_service,
        settings(SearchSettings, search_url, data_key_rotation_batch=1, **keys("k2", "k1", "k2")),
    )
    # new writes use the new key; old rows are still read
    async with new.sessions() as session:
        session.add(a_report("13900139000"))
        await session.commit()
        phones = sorted(r.contact_phone for r in await session.scalars(select(MissingPersonReport)))
        assert phones == [PHONE, "13900139000"]
    kids = sorted(
        r["contact_phone"][:10]
        for r in await raw_rows(postgres, search_url, "missing_person_reports")
    )
    assert kids == [f"{PREFIX}k1:", f"{PREFIX}k2:"]

    async with new.sessions() as session:
        stale = {
            (t, c): n
            for t, c, n in await stale_values(
                session, new_ring(new), search_service.tables.metadata
            )
        }
    assert stale[("identity_evidence", "national_id_number")] == 3
    assert stale[("identity_evidence", "national_id_lookup")] == 1
    assert stale[("missing_person_reports", "contact_phone")] == 1
    assert stale[("dna_samples", "sample_ref")] == 1

    (job,) = [j for j in new.periodic if j.name == "reencrypt-personal-data"]
    runs = 0
    while await run_once(new.sessions, job):  # a row per table per run
        runs += 1
    assert runs == 3
    async with new.sessions() as session:
        left = await stale_values(session, new_ring(new), search_service.tables.metadata)
    assert all(n == 0 for _, _, n in left), left

    evidences = await raw_rows(postgres, search_url, "identity_evidence")
    samples = await raw_rows(postgres, search_url, "dna_samples")
    reports = await raw_rows(postgres, search_url, "missing_person_reports")
    assert_no_plain(evidences, NATIONAL_ID, "110105194912310011", "41152519800101001X")
    for value in [r["national_id_number"] for r in evidences] + [
        samples[0]["sample_ref"],
        *(r["contact_phone"] for r in reports),
    ]:
        assert value.startswith(f"{PREFIX}k2:")

    # the old key can go now: a ring with the new key only reads everything
    only_new = runtimes(search_service, settings(SearchSettings, search_url, **keys("k2", "k2")))
    async with only_new.sessions() as session:
        numbers = {
            e.case_id: e.national_id_number for e in await session.scalars(select(IdentityEvidence))
        }
        assert numbers == {
            cases[0].id: NATIONAL_ID,
            cases[1].id: "110105194912310011",
            cases[2].id: "41152519800101001X",
        }
        # the legacy row got its blind index
        found = await session.scalar(
            select(IdentityEvidence.case_id).where(
                IdentityEvidence.national_id_lookup == "41152519800101001x"
            )
        )
        assert found == cases[2].id
        assert (await session.scalar(select(DnaSample))).sample_ref == SAMPLE_REF
    # while a process that only knows the old key cannot read them, loudly
    async with old.sessions() as session:
        with pytest.raises(DecryptionError, match="'k2', which is not in the key ring"):
            await session.scalar(select(DnaSample))


def new_ring(runtime):
    from rescue_chassis.crypto import key_ring_of

    return key_ring_of(runtime.engine.dialect)
