"""Face embeddings in Postgres (pgvector): enrol a face, find the nearest faces of
every station through the HNSW index, and read them as a person's wandering trail.

Distances are Euclidean (L2), the metric the dlib model is trained for: two photos
of the same person are usually under 0.6 apart (the model's customary threshold,
"same person likely"; the same person's photos are typically 0.3–0.5 apart,
different people 0.7–1.1). ``similarity`` maps that onto 0..1, monotonically:
``clamp(1 - distance / 1.2)`` — 0.6 ↔ 0.5, 0.3 ↔ 0.75, 0 ↔ 1, ≥ 1.2 ↔ 0.

Every record keeps its encoder's name, and searches only compare embeddings of the
same encoder. Nothing here decides an identity: the matches go to people for review.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from sqlalchemy import Select, and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from search.faces.encoder import DetectedFace, DlibFaceEncoder
from search.tables.faces import FACE_DIMENSIONS, FaceRecord

__all__ = [
    "EF_SEARCH",
    "SAME_PERSON_DISTANCE",
    "FaceNeighbour",
    "TrailPerson",
    "TrailStay",
    "enrol_face",
    "find_trail",
    "nearest_faces",
    "nearest_faces_query",
    "photo_sha256",
    "similarity",
    "wandering_trail",
]

SAME_PERSON_DISTANCE = 0.6  # dlib's customary threshold: closer is likely the same person
ZERO_SIMILARITY_DISTANCE = 1.2  # at or beyond this distance the similarity is 0
# Candidates the HNSW search keeps (pgvector's default is 40): more, for the recall
# bench/face_search.py checks.
EF_SEARCH = 100

Source = Literal["admission", "report"]


def similarity(distance: float) -> float:
    """0..1 from an L2 distance between dlib embeddings (see the module's doc)."""
    return min(1.0, max(0.0, 1.0 - distance / ZERO_SIMILARITY_DISTANCE))


def photo_sha256(photo: bytes) -> str:
    return hashlib.sha256(photo).hexdigest()


def _vector(embedding: Sequence[float] | np.ndarray) -> np.ndarray:
    vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if vector.shape[0] != FACE_DIMENSIONS:
        raise ValueError(f"a face embedding has {FACE_DIMENSIONS} dimensions, not {len(vector)}")
    if not np.all(np.isfinite(vector)):
        raise ValueError("a face embedding must be finite")
    return vector


async def enrol_face(
    session: AsyncSession,
    *,
    face: DetectedFace,
    person_id: uuid.UUID,
    station_id: str,
    source: Source,
    photo_sha256: str,
    encoder_name: str = DlibFaceEncoder.name,
    case_id: uuid.UUID | None = None,
    report_id: uuid.UUID | None = None,
    photographed_at: datetime | None = None,
    found_place: str | None = None,
    enrolled_at: datetime | None = None,
    record_id: uuid.UUID | None = None,
) -> FaceRecord:
    """Store one face of a photo (within the caller's transaction; not committed).

    Idempotent: the same face (box) of the same photo (sha256) by the same encoder for
    the same person is stored once; enrolling it again returns the stored record."""
    if source not in ("admission", "report"):
        raise ValueError(f"source is admission or report, not {source!r}")
    values = dict(
        id=record_id or uuid.uuid4(),
        person_id=person_id,
        case_id=case_id,
        report_id=report_id,
        station_id=station_id,
        source=source,
        photographed_at=photographed_at,
        enrolled_at=enrolled_at or datetime.now(UTC),
        found_place=found_place,
        encoder=encoder_name,
        photo_sha256=photo_sha256,
        box_top=face.top,
        box_right=face.right,
        box_bottom=face.bottom,
        box_left=face.left,
        detection_score=face.score,
        embedding=_vector(face.embedding),
    )
    inserted = await session.scalar(
        insert(FaceRecord)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_face_records_person_photo_face")
        .returning(FaceRecord)
    )
    if inserted is not None:
        return inserted
    return await session.scalar(
        select(FaceRecord).where(
            FaceRecord.person_id == person_id,
            FaceRecord.photo_sha256 == photo_sha256,
            FaceRecord.encoder == encoder_name,
            FaceRecord.box_top == face.top,
            FaceRecord.box_right == face.right,
            FaceRecord.box_bottom == face.bottom,
            FaceRecord.box_left == face.left,
        )
    )


@dataclass(frozen=True)
class FaceNeighbour:
    """A stored face near the query face: the record (without its embedding) and how near."""

    record_id: uuid.UUID
    person_id: uuid.UUID
    case_id: uuid.UUID | None
    report_id: uuid.UUID | None
    station_id: str
    source: str
    photographed_at: datetime | None
    enrolled_at: datetime
    found_place: str | None
    encoder: str
    photo_sha256: str
    box: tuple[int, int, int, int]  # top, right, bottom, left
    distance: float  # L2 between the embeddings
    similarity: float  # 0..1, see similarity()

    @property
    def when(self) -> datetime:
        """When the person was there: the photo's time, else the enrolment's."""
        return self.photographed_at or self.enrolled_at

    @property
    def same_person_likely(self) -> bool:
        return self.distance < SAME_PERSON_DISTANCE


_COLUMNS = (
    FaceRecord.id,
    FaceRecord.person_id,
    FaceRecord.case_id,
    FaceRecord.report_id,
    FaceRecord.station_id,
    FaceRecord.source,
    FaceRecord.photographed_at,
    FaceRecord.enrolled_at,
    FaceRecord.found_place,
    FaceRecord.encoder,
    FaceRecord.photo_sha256,
    FaceRecord.box_top,
    FaceRecord.box_right,
    FaceRecord.box_bottom,
    FaceRecord.box_left,
)


def nearest_faces_query(
    embedding: Sequence[float] | np.ndarray,
    *,
    limit: int = 10,
    exclude_person_id: uuid.UUID | None = None,
    encoder_name: str | None = DlibFaceEncoder.name,
) -> Select:
    """The k-nearest-neighbour query ``nearest_faces`` runs: ORDER BY the L2 distance
    operator with a LIMIT, the shape the HNSW index (vector_l2_ops) serves."""
    distance = FaceRecord.embedding.l2_distance(_vector(embedding)).label("distance")
    conditions = []
    if encoder_name is not None:
        conditions.append(FaceRecord.encoder == encoder_name)
    if exclude_person_id is not None:
        conditions.append(FaceRecord.person_id != exclude_person_id)
    query = select(*_COLUMNS, distance)
    if conditions:
        query = query.where(and_(*conditions))
    return query.order_by(distance).limit(limit)


async def nearest_faces(
    session: AsyncSession,
    embedding: Sequence[float] | np.ndarray,
    *,
    limit: int = 10,
    exclude_person_id: uuid.UUID | None = None,
    max_distance: float | None = None,
    encoder_name: str | None = DlibFaceEncoder.name,
    ef_search: int = EF_SEARCH,
) -> list[FaceNeighbour]:
    """The ``limit`` stored faces nearest to ``embedding`` across every station, nearest
    first (approximate: the HNSW index, recall@10 ≥ 0.95). ``exclude_person_id`` leaves
    out the person's own records (e.g. the admission just enrolled); ``max_distance``
    keeps only the closer ones (``SAME_PERSON_DISTANCE`` for likely matches only).

    Sets ``hnsw.ef_search`` (and a strict-order iterative scan, so filtered-out rows
    do not shorten the answer) for the caller's current transaction only."""
    if limit < 1:
        return []
    await session.execute(
        select(
            func.set_config("hnsw.ef_search", str(min(1000, max(ef_search, limit))), True),
            func.set_config("hnsw.iterative_scan", "strict_order", True),
        )
    )
    query = nearest_faces_query(
        embedding, limit=limit, exclude_person_id=exclude_person_id, encoder_name=encoder_name
    )
    neighbours = [_neighbour(row) for row in await session.execute(query)]
    if max_distance is not None:
        # Rows come nearest first: cutting here gives what a WHERE on the distance
        # would, without making the index scan look further for rows that pass.
        neighbours = [n for n in neighbours if n.distance <= max_distance]
    return neighbours


def _neighbour(row) -> FaceNeighbour:
    return FaceNeighbour(
        record_id=row.id,
        person_id=row.person_id,
        case_id=row.case_id,
        report_id=row.report_id,
        station_id=row.station_id,
        source=row.source,
        photographed_at=row.photographed_at,
        enrolled_at=row.enrolled_at,
        found_place=row.found_place,
        encoder=row.encoder,
        photo_sha256=row.photo_sha256,
        box=(row.box_top, row.box_right, row.box_bottom, row.box_left),
        distance=float(row.distance),
        similarity=similarity(float(row.distance)),
    )


@dataclass(frozen=True)
class TrailStay:
    """One earlier record of the person: which station, when, where found, how alike."""

    record_id: uuid.UUID
    station_id: str
    source: str  # admission | report
    case_id: uuid.UUID | None
    report_id: uuid.UUID | None
    when: datetime  # photographed_at, else enrolled_at
    photographed_at: datetime | None
    enrolled_at: datetime
    found_place: str | None
    distance: float
    similarity: float


@dataclass(frozen=True)
class TrailPerson:
    """An earlier person of the network's records whose face is like the query's, with
    their records in time order: the wandering trail (流浪轨迹)."""

    person_id: uuid.UUID
    similarity: float  # the best of the person's records
    distance: float  # the smallest
    stays: tuple[TrailStay, ...]  # oldest first

    @property
    def stations(self) -> tuple[str, ...]:
        """The stations in the order the person passed them (repeats collapsed)."""
        route: list[str] = []
        for stay in self.stays:
            if not route or route[-1] != stay.station_id:
                route.append(stay.station_id)
        return tuple(route)

    @property
    def first_seen(self) -> datetime:
        return self.stays[0].when

    @property
    def last_seen(self) -> datetime:
        return self.stays[-1].when

    @property
    def same_person_likely(self) -> bool:
        return self.distance < SAME_PERSON_DISTANCE


def wandering_trail(neighbours: Iterable[FaceNeighbour]) -> list[TrailPerson]:
    """Group neighbours by person: each person's records oldest first; the persons by
    their best similarity (most alike first), ties by the latest record (recent first)."""
    by_person: dict[uuid.UUID, list[FaceNeighbour]] = {}
    for neighbour in neighbours:
        by_person.setdefault(neighbour.person_id, []).append(neighbour)
    persons = []
    for person_id, records in by_person.items():
        records.sort(key=lambda n: (n.when, n.enrolled_at, str(n.record_id)))
        best = min(n.distance for n in records)
        persons.append(
            TrailPerson(
                person_id=person_id,
                similarity=similarity(best),
                distance=best,
                stays=tuple(
                    TrailStay(
                        record_id=n.record_id,
                        station_id=n.station_id,
                        source=n.source,
                        case_id=n.case_id,
                        report_id=n.report_id,
                        when=n.when,
                        photographed_at=n.photographed_at,
                        enrolled_at=n.enrolled_at,
                        found_place=n.found_place,
                        distance=n.distance,
                        similarity=n.similarity,
                    )
                    for n in records
                ),
            )
        )
    persons.sort(key=lambda p: (p.distance, -p.last_seen.timestamp()))
    return persons


async def find_trail(
    session: AsyncSession,
    embedding: Sequence[float] | np.ndarray,
    *,
    limit: int = 10,
    exclude_person_id: uuid.UUID | None = None,
    max_distance: float | None = SAME_PERSON_DISTANCE,
    encoder_name: str | None = DlibFaceEncoder.name,
    ef_search: int = EF_SEARCH,
) -> list[TrailPerson]:
    """The wandering trails of the persons whose faces are nearest to ``embedding``: the
    ``limit`` nearest faces pick the persons (within ``max_distance``), then every record
    of those persons is read (by person_id, so a trail longer than ``limit`` is whole),
    each with its distance to the query."""
    neighbours = await nearest_faces(
        session,
        embedding,
        limit=limit,
        exclude_person_id=exclude_person_id,
        max_distance=max_distance,
        encoder_name=encoder_name,
        ef_search=ef_search,
    )
    person_ids = list(dict.fromkeys(n.person_id for n in neighbours))
    if not person_ids:
        return []
    distance = FaceRecord.embedding.l2_distance(_vector(embedding)).label("distance")
    query = select(*_COLUMNS, distance).where(FaceRecord.person_id.in_(person_ids))
    if encoder_name is not None:
        query = query.where(FaceRecord.encoder == encoder_name)
    return wandering_trail(_neighbour(row) for row in await session.execute(query))
