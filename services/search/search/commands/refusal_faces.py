"""The face of a person who refused help (劝导), recognised (refusal_photo_shared →
refusal_face_recognised): compared with every admitted person's face, of every
station, and with the faces of earlier refusals; then kept, so a later refusal of
the same man finds this one.

Refusal faces live apart from face_records (tables/refusal_faces.py): a refusal
is no case, and must never show as a case's face. What goes back to intake are
suggestions for staff, never a link. A protected person (a domestic-violence
victim, or marked endangered: visibility.protected_case) is suggested to her own
station only: another station must not learn where she was seen.

Face data is sensitive personal information (PIPL): the image is never stored,
only the face's 128 numbers and the photo's SHA-256.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

import numpy as np
from sqlalchemy import select

from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.refusals import Problem
from rescue_events.contracts.intake_arrivals import RefusalPhotoSharedV1
from rescue_events.contracts.search import (
    RefusalFaceCandidate,
    RefusalFaceKind,
    RefusalFaceRecognisedV1,
)
from search import statements
from search.commands import faces
from search.faces.encoder import DetectedFace, FaceProblem, the_only_face
from search.faces.store import similarity
from search.ranking import FACE_CLOSE_DISTANCE
from search.tables.core import SearchCase
from search.tables.refusal_faces import RefusalFace
from search.visibility import protected_case

#: Faces further than this are not suggested at all (the trails' "close": look again).
CANDIDATE_DISTANCE = FACE_CLOSE_DISTANCE
#: At most this many suggestions of each kind (persons, earlier refusals).
CANDIDATES = 10
#: The nearest admission faces that pick the persons.
NEIGHBOURS = 20


class RefusalFaceStatus(StrEnum):
    COMPARED = "compared"
    NOT_COMPARED = "not_compared"  # no image, or not exactly one face: said in `reason`


class RecogniseRefusalFace(Command):
    """A face photo intake took of a person who refused help, by its photo id."""

    photo_id: uuid.UUID
    refusal_id: uuid.UUID
    person_id: uuid.UUID
    station_id: str
    sha256: str
    taken_at: datetime
    image: str | None = None
    withheld: str | None = None

    @classmethod
    def of(cls, event: RefusalPhotoSharedV1) -> RecogniseRefusalFace:
        return cls(
            photo_id=event.photo_id,
            refusal_id=event.refusal_id,
            person_id=event.person_id,
            station_id=event.station_id,
            sha256=event.sha256,
            taken_at=event.taken_at,
            image=event.image,
            withheld=event.withheld.value if event.withheld else None,
        )


async def recognise_refusal_face(command: RecogniseRefusalFace, uow: UnitOfWork) -> RefusalFace:
    """Who the face may be, answered to intake (refusal_face_recognised, possibly
    nobody), and the face kept for later refusals; once per photo id: a photo
    handled before is left as it was and not answered again."""
    handled = await uow.get(RefusalFace, command.photo_id)
    if handled is not None:
        return handled
    kept = RefusalFace(
        photo_id=command.photo_id,
        refusal_id=command.refusal_id,
        person_id=command.person_id,
        station_id=command.station_id,
        sha256=command.sha256,
        status=RefusalFaceStatus.NOT_COMPARED.value,
        photographed_at=command.taken_at,
        received_at=uow.now,
    )
    candidates: list[RefusalFaceCandidate] = []
    face, kept.reason = await _the_face(command)
    if face is not None:
        encoder = faces.default_encoder().name
        candidates = await _candidates(uow, command, face, encoder)
        kept.status = RefusalFaceStatus.COMPARED.value
        kept.encoder = encoder
        kept.embedding = [float(x) for x in face.vector]
        kept.candidates = len(candidates)
    uow.add(kept)
    await uow.publish(
        RefusalFaceRecognisedV1(
            person_id=command.person_id,
            refusal_id=command.refusal_id,
            photo_id=command.photo_id,
            station_id=command.station_id,
            candidates=candidates,
            reason=kept.reason,
            recognised_at=uow.now,
        )
    )
    return kept


async def _the_face(command: RecogniseRefusalFace) -> tuple[DetectedFace | None, str | None]:
    """The photo's one face, or why there is none (said, not retried)."""
    if command.image is None:
        return None, f"intake shared no image ({command.withheld or 'withheld'}): nothing compared"
    try:
        found = await faces._faces(faces._image(command.image))
    except Problem as problem:  # not an image, too large, too small
        return None, problem.detail[:500]
    try:
        return the_only_face(found), None
    except FaceProblem as problem:
        if problem.reason == "no_face":
            return None, "no face was found: add a photo facing the camera, in good light"
        return None, f"{len(problem.faces)} faces were found: add a photo of the person alone"


async def _candidates(
    uow: UnitOfWork, command: RecogniseRefusalFace, face: DetectedFace, encoder: str
) -> list[RefusalFaceCandidate]:
    """The admitted persons and the earlier refusals' persons with a face like this
    one, most alike first, without what the refusal's station may not be told."""
    found = [
        *(await _persons(uow, command, face))[:CANDIDATES],
        *(await _refusals(uow, command, face, encoder))[:CANDIDATES],
    ]
    protected = await protected_persons(uow, (c.person_id for c in found))
    here = {command.station_id}
    shown = [
        c
        for c in found
        # her case and the face found must both be the refusal's station's
        if c.person_id not in protected or ({c.station_id} | protected[c.person_id]) == here
    ]
    return sorted(shown, key=lambda c: -c.similarity)


async def _persons(
    uow: UnitOfWork, command: RecogniseRefusalFace, face: DetectedFace
) -> list[RefusalFaceCandidate]:
    """Admitted persons (their cases' faces, every station): the nearest of their
    records, at the station where it was taken."""
    trails = await statements.trails(
        uow,
        face,
        limit=NEIGHBOURS,
        max_distance=CANDIDATE_DISTANCE,
        exclude_person_id=command.person_id,
    )
    found = []
    for trail in trails:
        admissions = [s for s in trail.stays if s.source == "admission"]
        if not admissions:  # a family's photo (a report) is no person of the network
            continue
        best = min(admissions, key=lambda s: s.distance)
        if best.distance > CANDIDATE_DISTANCE:
            continue
        found.append(
            RefusalFaceCandidate(
                person_id=trail.person_id,
                similarity=round(similarity(best.distance), 3),
                station_id=best.station_id,
                kind=RefusalFaceKind.PERSON,
            )
        )
    return sorted(found, key=lambda c: -c.similarity)


async def _refusals(
    uow: UnitOfWork, command: RecogniseRefusalFace, face: DetectedFace, encoder: str
) -> list[RefusalFaceCandidate]:
    """Earlier refusals' persons: each by the nearest of their refusal faces."""
    best: dict[uuid.UUID, RefusalFaceCandidate] = {}
    for refusal_id, person_id, station_id, distance in await nearest_refusals(
        uow,
        face.vector,
        encoder=encoder,
        person_id=command.person_id,
        refusal_id=command.refusal_id,
    ):
        if distance > CANDIDATE_DISTANCE or person_id in best:
            continue  # nearest first: a person's first row is their best
        best[person_id] = RefusalFaceCandidate(
            person_id=person_id,
            similarity=round(similarity(distance), 3),
            station_id=station_id,
            kind=RefusalFaceKind.REFUSAL,
            refusal_id=refusal_id,
        )
    return list(best.values())


async def nearest_refusals(
    uow: UnitOfWork,
    vector: np.ndarray,
    *,
    encoder: str,
    person_id: uuid.UUID,
    refusal_id: uuid.UUID,
) -> list[tuple[uuid.UUID, uuid.UUID, str, float]]:
    """Other persons' refusal faces nearest to ``vector`` (same encoder), nearest
    first: (refusal_id, person_id, station_id, distance). Exact: no index."""
    distance = RefusalFace.embedding.l2_distance(np.asarray(vector, dtype=np.float32))
    rows = await uow.session.execute(
        select(
            RefusalFace.refusal_id,
            RefusalFace.person_id,
            RefusalFace.station_id,
            distance.label("distance"),
        )
        .where(
            RefusalFace.embedding.is_not(None),
            RefusalFace.encoder == encoder,
            RefusalFace.person_id != person_id,
            RefusalFace.refusal_id != refusal_id,
        )
        .order_by(distance)
        .limit(NEIGHBOURS)
    )
    return [(r.refusal_id, r.person_id, r.station_id, float(r.distance)) for r in rows]


async def protected_persons(
    uow: UnitOfWork, person_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    """The protected persons among these, with the stations of their cases."""
    ids = set(person_ids)
    if not ids:
        return {}
    rows = await uow.session.execute(
        select(SearchCase.person_id, SearchCase.station_id).where(
            SearchCase.person_id.in_(ids), protected_case()
        )
    )
    found: dict[uuid.UUID, set[str]] = {}
    for row in rows:
        found.setdefault(row.person_id, set()).add(row.station_id)
    return found
