"""Face records in the real embedded Postgres with pgvector (search.faces.store): the
train/ photos enrolled by the real dlib encoder as earlier stays of several persons at
several stations; each test/ face finds its person first through the HNSW index, and
the person's records read as a wandering trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from support import migrated_database, shared_testdata

from search.faces import (
    SAME_PERSON_DISTANCE,
    DetectedFace,
    DlibFaceEncoder,
    enrol_face,
    find_trail,
    nearest_faces,
    nearest_faces_query,
    photo_sha256,
    wandering_trail,
)
from search.tables.faces import FaceRecord

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "search" / "migrations"
FACES = shared_testdata() / "faces"
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
PERSONS = {name: uuid.uuid4() for name in ("alex", "biden", "kit", "obama", "rose")}
# Each train photo is one earlier stay: (person, photo, station, days after T0, found at).
STAYS = [
    ("alex", "alex_lacamoire/img1.jpg", "xinyang", 3, "信阳火车站"),
    ("biden", "biden/biden.jpg", "gushi", 10, "固始县汽车站"),
    ("biden", "biden/biden2.jpg", "zhengzhou", 40, "郑州二七广场"),
    ("kit", "kit_harington/john1.jpeg", "zhengzhou", 5, "郑州火车站东广场"),
    ("kit", "kit_harington/john2.jpeg", "gushi", 90, "固始县城关镇桥下"),
    ("obama", "obama/obama2.jpg", "luohe", 60, "漯河市源汇区"),
    ("obama", "obama/obama.jpg", "gushi", 20, None),
    ("rose", "rose_leslie/img1.jpg", "xinyang", 30, "信阳浉河区"),
]
# The family of Rose reported her missing with another photo (a report, not a stay).
REPORT_ID = uuid.uuid4()
ARRIVALS = {
    "alex_lacamoire1.jpg": ["alex"],
    "johnsnow_test1.jpg": ["kit"],
    "obama1.jpg": ["obama"],
    "kit_with_rose.jpg": ["kit", "rose"],
    "obama_and_biden.jpg": ["obama", "biden"],
}


@pytest.fixture(scope="module")
def encoder() -> DlibFaceEncoder:
    return DlibFaceEncoder()


@pytest.fixture(scope="module")
async def sessions(postgres):
    engine = create_async_engine(await migrated_database(postgres, MIGRATIONS))
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture(scope="module")
async def enrolled(sessions, encoder) -> dict[str, FaceRecord]:
    records = {}
    async with sessions() as session:
        for person, photo, station, day, place in STAYS:
            data = (FACES / "train" / photo).read_bytes()
            (face,) = encoder.encode(data)
            records[photo] = await enrol_face(
                session,
                face=face,
                person_id=PERSONS[person],
                case_id=uuid.uuid4(),
                station_id=station,
                source="admission",
                photographed_at=T0 + timedelta(days=day),
                found_place=place,
                encoder_name=encoder.name,
                photo_sha256=photo_sha256(data),
            )
        data = (FACES / "train/rose_leslie/img2.jpg").read_bytes()
        (face,) = encoder.encode(data)
        records["report"] = await enrol_face(
            session,
            face=face,
            person_id=REPORT_ID,
            report_id=REPORT_ID,
            station_id="zhoukou",
            source="report",
            found_place=None,
            encoder_name=encoder.name,
            photo_sha256=photo_sha256(data),
        )
        await session.commit()
        await session.execute(text("ANALYZE face_records"))
    return records


@pytest.fixture(scope="module")
def arrivals(encoder) -> dict[str, list[DetectedFace]]:
    return {name: encoder.encode((FACES / "test" / name).read_bytes()) for name in ARRIVALS}


def who(person_id: uuid.UUID) -> str:
    """The person a record shows: the report's photo is of Rose too."""
    return "rose" if person_id == REPORT_ID else person_of(person_id)


def person_of(person_id: uuid.UUID) -> str:
    return next((name for name, pid in PERSONS.items() if pid == person_id), "report")


async def test_each_arrival_finds_its_person_first_through_the_hnsw_index(
    sessions, enrolled, arrivals
):
    for photo, people in ARRIVALS.items():
        for face, person in zip(arrivals[photo], people, strict=False):
            async with sessions() as session:
                # Nine rows would be read by a sequential scan: make the planner use the
                # index, and check that it does.
                await session.execute(text("SET LOCAL enable_seqscan = off"))
                neighbours = await nearest_faces(session, face.embedding, limit=10)
                plan = "\n".join(
                    await session.scalars(
                        text("EXPLAIN " + str(compiled(nearest_faces_query(face.embedding))))
                    )
                )
            assert "ix_face_records_embedding_hnsw" in plan, plan
            assert len(neighbours) == 9
            first = neighbours[0]
            # Rose's nearest may be her family's report photo: the same woman.
            assert who(first.person_id) == person, (photo, person, neighbours[:2])
            assert first.distance < SAME_PERSON_DISTANCE and first.similarity > 0.5
            assert [n.distance for n in neighbours] == sorted(n.distance for n in neighbours)


def compiled(query):
    from sqlalchemy.dialects import postgresql

    return query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})


async def test_the_wandering_trail_lists_a_persons_stays_in_time_order(
    sessions, enrolled, arrivals
):
    (obama,) = arrivals["obama1.jpg"]
    async with sessions() as session:
        neighbours = await nearest_faces(session, obama.embedding, limit=10)
    trail = wandering_trail(neighbours)
    assert [person_of(p.person_id) for p in trail][0] == "obama"
    assert len(trail) == 6  # five persons, and the report
    first = trail[0]
    assert [s.station_id for s in first.stays] == ["gushi", "luohe"]  # day 20, then day 60
    assert first.stations == ("gushi", "luohe")
    assert [s.when for s in first.stays] == [T0 + timedelta(days=20), T0 + timedelta(days=60)]
    assert [s.found_place for s in first.stays] == [None, "漯河市源汇区"]
    assert first.similarity == max(s.similarity for s in first.stays)
    assert first.same_person_likely and not trail[1].same_person_likely
    assert [p.similarity for p in trail] == sorted((p.similarity for p in trail), reverse=True)


async def test_find_trail_keeps_the_likely_persons_with_all_their_records(
    sessions, enrolled, arrivals
):
    kit, rose = arrivals["kit_with_rose.jpg"]
    async with sessions() as session:
        # limit=1: only the nearest face picks the person; the trail still has both stays.
        (kit_trail,) = await find_trail(session, kit.embedding, limit=1)
        rose_trails = await find_trail(session, rose.embedding)
    assert person_of(kit_trail.person_id) == "kit"
    assert [(s.station_id, s.found_place) for s in kit_trail.stays] == [
        ("zhengzhou", "郑州火车站东广场"),
        ("gushi", "固始县城关镇桥下"),
    ]
    assert all(s.source == "admission" and s.case_id for s in kit_trail.stays)
    # Rose: her stay at Xinyang and her family's report, nobody else within 0.6.
    assert {person_of(p.person_id) for p in rose_trails} == {"rose", "report"}
    (report,) = [p for p in rose_trails if p.person_id == REPORT_ID]
    assert report.stays[0].source == "report" and report.stays[0].report_id == REPORT_ID
    assert report.stays[0].when == enrolled["report"].enrolled_at


async def test_excluding_a_person_and_a_distance_limit(sessions, enrolled, arrivals):
    (obama,) = arrivals["obama1.jpg"]
    async with sessions() as session:
        others = await nearest_faces(session, obama.embedding, exclude_person_id=PERSONS["obama"])
        likely = await nearest_faces(
            session,
            obama.embedding,
            exclude_person_id=PERSONS["obama"],
            max_distance=SAME_PERSON_DISTANCE,
        )
        own = await nearest_faces(session, obama.embedding, max_distance=SAME_PERSON_DISTANCE)
    assert len(others) == 7 and PERSONS["obama"] not in {n.person_id for n in others}
    assert likely == []
    assert {person_of(n.person_id) for n in own} == {"obama"} and len(own) == 2


async def test_enrolling_the_same_face_again_is_a_no_op(sessions, enrolled, encoder):
    data = (FACES / "train/obama/obama.jpg").read_bytes()
    (face,) = encoder.encode(data)
    async with sessions() as session:
        again = await enrol_face(
            session,
            face=face,
            person_id=PERSONS["obama"],
            station_id="gushi",
            source="admission",
            photo_sha256=photo_sha256(data),
        )
        await session.commit()
        count = await session.scalar(select(func.count()).select_from(FaceRecord))
    assert again.id == enrolled["obama/obama.jpg"].id
    assert count == 9


async def test_only_embeddings_of_the_same_encoder_are_compared(sessions, enrolled, arrivals):
    (alex,) = arrivals["alex_lacamoire1.jpg"]
    async with sessions() as session:
        vendor = await enrol_face(
            session,
            face=alex,
            person_id=uuid.uuid4(),
            station_id="xinyang",
            source="admission",
            photo_sha256="0" * 64,
            encoder_name="vendor-x",
        )
        ours = await nearest_faces(session, alex.embedding)
        theirs = await nearest_faces(session, alex.embedding, encoder_name="vendor-x")
        vendor_id = vendor.id
        await session.rollback()
    assert vendor_id not in {n.record_id for n in ours}
    assert [n.record_id for n in theirs] == [vendor_id] and theirs[0].distance == 0


async def test_a_wrong_embedding_or_source_is_refused(sessions, arrivals):
    (alex,) = arrivals["alex_lacamoire1.jpg"]
    short = DetectedFace(top=0, right=1, bottom=1, left=0, embedding=(0.1,) * 64)
    async with sessions() as session:
        with pytest.raises(ValueError, match="128"):
            await nearest_faces(session, short.embedding)
        with pytest.raises(ValueError, match="128"):
            await enrol_face(
                session,
                face=short,
                person_id=uuid.uuid4(),
                station_id="x",
                source="admission",
                photo_sha256="1" * 64,
            )
        with pytest.raises(ValueError, match="source"):
            await enrol_face(
                session,
                face=alex,
                person_id=uuid.uuid4(),
                station_id="x",
                source="rumour",
                photo_sha256="1" * 64,
            )
