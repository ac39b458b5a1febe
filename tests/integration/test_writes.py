"""A transaction's inserts in one statement (rescue_chassis.writes), on the real
embedded Postgres with intake's schema: the same rows as the ORM writes, one
transaction's fate, and the columns it must leave to the ORM."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from support import migrated_database

from intake.app import service as intake_service
from intake.tables import Lead, Person, Stay
from rescue_chassis.crypto import PREFIX, bind_key_ring, development_key_ring
from rescue_chassis.problems import Problem
from rescue_chassis.writes import MAX_PARAMETERS, Writes
from rescue_events.driver import autocommit, begun

pytestmark = pytest.mark.integration
RING = development_key_ring("a test secret, long enough for the keys")


@pytest.fixture
async def engine(postgres):
    url = await migrated_database(postgres, intake_service.migrations_dir)
    engine = create_async_engine(url)
    bind_key_ring(engine, RING)  # a patrol's handover record is encrypted at rest
    yield engine
    await engine.dispose()


def a_person() -> Person:
    return Person(
        id=uuid.uuid4(),
        station_id="gushi",
        identity_status="unknown",
        sex="female",
        estimated_age=70,
        stated_names=["王", "老王"],
        stated_places=[],
        dialect=None,
        categories=["elderly"],
    )


def a_stay(person: Person, handover: dict | None) -> Stay:
    now = datetime.now(UTC)
    return Stay(
        id=uuid.uuid4(),
        person_id=person.id,
        sequence=1,
        station_id="gushi",
        arrival_route="own_request",
        arrived_at=now,
        admitted_at=now,
        admitted_by="dev-user",
        consent_given=True,
        handover=handover,
    )


async def row(engine, table: str, row_id: uuid.UUID) -> dict:
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                # Every column but the ids and times, which differ by construction.
                f"SELECT to_jsonb(t) - 'id' - 'person_id' - 'current_stay_id' - 'arrived_at' "
                f"- 'admitted_at' FROM {table} t WHERE id = :id"
            ),
            {"id": row_id},
        )
        return found.scalar_one()


@pytest.mark.parametrize("handover", [None, {"officer": "刘队长", "reference_number": "CG-1"}])
async def test_a_person_and_stay_written_in_one_statement_are_the_rows_the_orm_writes(
    engine, handover
):
    by_orm, by_writes = a_person(), a_person()
    orm_stay, writes_stay = a_stay(by_orm, handover), a_stay(by_writes, handover)
    ids = (by_orm.id, orm_stay.id, by_writes.id, writes_stay.id)
    async with AsyncSession(engine) as session:
        session.add_all([by_orm, orm_stay])
        await session.commit()
    async with AsyncSession(engine) as session:
        writes = Writes(engine.dialect)
        writes.insert(by_writes)
        writes.insert(writes_stay)  # names the person inserted beside it
        await writes.send(await begun(session))
        await session.commit()

    assert await row(engine, "persons", ids[2]) == await row(engine, "persons", ids[0])
    written, by_the_orm = await row(engine, "stays", ids[3]), await row(engine, "stays", ids[1])
    sealed = [written.pop("handover"), by_the_orm.pop("handover")]
    assert written == by_the_orm
    # encrypted alike (each with its own nonce), or SQL NULL for None as the ORM writes it
    if handover is None:
        assert sealed == [None, None]
    else:
        assert all(v.startswith(PREFIX) for v in sealed)
        assert [json.loads(RING.decrypt(v, "stays.handover")) for v in sealed] == [handover] * 2


async def test_a_check_that_fails_after_the_statement_leaves_nothing_written(engine):
    person = a_person()
    refused = []

    def in_progress(rows: int) -> None:
        refused.append(rows)
        raise Problem(409, "Request in progress", "taken")

    async with AsyncSession(engine) as session:
        writes = Writes()
        writes.insert(person)
        writes.add(
            "INSERT INTO persons (id, station_id, status, identity_status, sex, stated_names, "
            "stated_places, categories) SELECT $1, 'gushi', 'in_station', 'unknown', 'male', "
            "'{}', '{}', '{}' WHERE false RETURNING id",
            uuid.uuid4(),
            then=in_progress,
        )
        with pytest.raises(Problem):
            await writes.send(await begun(session))
        await session.rollback()

    assert refused == [0]
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM persons WHERE id = :id"), {"id": person.id}
        )
    assert count == 0


async def test_a_refused_insert_rolls_back_the_others_of_the_statement(engine):
    person = a_person()
    orphan = a_stay(a_person(), None)  # its person is nowhere: the foreign key refuses it
    async with AsyncSession(engine) as session:
        writes = Writes()
        writes.insert(person)
        writes.insert(orphan)
        with pytest.raises(Exception, match="foreign key"):
            await writes.send(await begun(session))
        await session.rollback()
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM persons WHERE id = :id"), {"id": person.id}
        )
    assert count == 0


def test_a_column_its_type_converts_is_left_to_the_orm():
    lead = Lead(caller_phone="13800000000")  # encrypted at rest by its column type
    with pytest.raises(ValueError, match="caller_phone"):
        Writes().insert(lead)


def test_a_missing_value_the_orm_would_default_is_refused():
    person = a_person()
    person.status = None  # the column's default ('in_station') is the ORM's to apply
    with pytest.raises(ValueError, match="persons.status has a default"):
        Writes().insert(person)


# -- with a claim, in autocommit: one statement, nothing else around it ---------------

CLAIM = (
    "INSERT INTO idempotency_keys (key, subject, request_hash, status_code, response) "
    "VALUES ($1, 'dev-user', 'h', 201, '{}') ON CONFLICT (key, subject) DO NOTHING RETURNING key"
)


async def count(engine, table: str, row_id: uuid.UUID) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(
            text(f"SELECT count(*) FROM {table} WHERE id = :id"), {"id": row_id}
        )


def claimed_admission(key: str) -> tuple[Writes, Person, Stay]:
    person = a_person()
    stay = a_stay(person, None)
    writes = Writes()
    writes.insert(person)
    writes.insert(stay)
    writes.claim(CLAIM, key)
    return writes, person, stay


async def test_a_new_claim_writes_everything_in_one_committed_statement(engine):
    key = f"k-{uuid.uuid4()}"
    writes, person, stay = claimed_admission(key)
    async with autocommit(engine) as driver:
        await writes.send(driver)
        assert not driver.is_in_transaction()  # nothing left open: it committed itself
    assert writes.claimed is True
    assert (await count(engine, "persons", person.id), await count(engine, "stays", stay.id)) == (
        1,
        1,
    )


async def test_a_claim_taken_before_writes_nothing_else(engine):
    key = f"k-{uuid.uuid4()}"
    first, _, _ = claimed_admission(key)
    again, person, stay = claimed_admission(key)
    async with autocommit(engine) as driver:
        await first.send(driver)
        await again.send(driver)
    assert (first.claimed, again.claimed) == (True, False)
    assert (await count(engine, "persons", person.id), await count(engine, "stays", stay.id)) == (
        0,
        0,
    )


async def test_a_refused_insert_leaves_the_claim_untaken(engine):
    key = f"k-{uuid.uuid4()}"
    writes = Writes()
    person = a_person()
    writes.insert(person)
    writes.insert(a_stay(a_person(), None))  # its person is nowhere: refused
    writes.claim(CLAIM, key)
    async with autocommit(engine) as driver:
        with pytest.raises(Exception, match="foreign key"):
            await writes.send(driver)
    assert await count(engine, "persons", person.id) == 0
    retry, again, _ = claimed_admission(key)  # the key is still free for a retry
    async with autocommit(engine) as driver:
        await retry.send(driver)
    assert retry.claimed is True and await count(engine, "persons", again.id) == 1


def test_a_claim_must_be_an_insert_that_can_do_nothing_and_say_so():
    with pytest.raises(ValueError, match="ON CONFLICT"):
        Writes().claim("INSERT INTO idempotency_keys (key) VALUES ($1)", "k")
    writes = Writes()
    writes.add("INSERT INTO persons (id) VALUES ($1) ON CONFLICT DO NOTHING", uuid.uuid4())
    writes.claim(CLAIM, "k")
    with pytest.raises(ValueError, match="one-row INSERT"):
        writes.statement()  # only a plain VALUES insert can be made to depend on it


async def test_more_inserts_than_one_statement_takes_go_as_several_in_one_transaction(engine):
    persons = [a_person() for _ in range(4_000)]
    inserted = []
    async with AsyncSession(engine) as session:
        writes = Writes()
        for person in persons:
            writes.insert(person)
        writes.add(
            "INSERT INTO persons (id, station_id, status, identity_status, sex, stated_names, "
            "stated_places, categories) VALUES ($1, 'gushi', 'in_station', 'unknown', 'male', "
            "'{}', '{}', '{}') RETURNING id",
            uuid.uuid4(),
            then=inserted.append,
        )
        assert len(writes._args) > MAX_PARAMETERS  # more than asyncpg sends at once
        await writes.send(await begun(session))
        # nothing is committed before the caller commits
        async with engine.connect() as other:
            seen = await other.scalar(
                text("SELECT count(*) FROM persons WHERE id = ANY(:ids)"),
                {"ids": [p.id for p in persons]},
            )
        assert seen == 0
        await session.commit()
    assert inserted == [1]
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM persons WHERE id = ANY(:ids)"),
            {"ids": [p.id for p in persons]},
        )
    assert count == len(persons)
    first, last = persons[0].id, persons[-1].id  # the last statement's rows as the first's
    assert await row(engine, "persons", last) == await row(engine, "persons", first)


async def test_a_claim_too_big_for_one_statement_is_refused_before_anything_is_sent(engine):
    writes = Writes()
    writes.claim(
        "INSERT INTO persons (id, station_id, status, identity_status, sex, stated_names, "
        "stated_places, categories) VALUES ($1, 'gushi', 'in_station', 'unknown', 'male', "
        "'{}', '{}', '{}') ON CONFLICT DO NOTHING RETURNING id",
        uuid.uuid4(),
    )
    for _ in range(4_000):
        writes.insert(a_person())
    async with autocommit(engine) as driver:
        with pytest.raises(ValueError, match="at most 32767 parameters"):
            await writes.send(driver)
