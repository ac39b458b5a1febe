"""The face encoder (search.faces.encoder) with the real dlib model on real photos
(../shared/testdata/faces): every arrival in test/ is found at rank 1 among the
enrolled train/ photos; photos with no face, several faces or no image at all get a
clear answer."""

from __future__ import annotations

import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import shared_testdata

from search.faces import (
    SAME_PERSON_DISTANCE,
    DetectedFace,
    DlibFaceEncoder,
    FaceEncoder,
    FaceNeighbour,
    FaceProblem,
    PhotoProblem,
    decode_photo,
    similarity,
    the_only_face,
    wandering_trail,
)

FACES = shared_testdata() / "faces"
# The enrolled people in each arrival's photo, largest face first.
ARRIVALS = {
    "alex_lacamoire1.jpg": ["alex_lacamoire"],
    "johnsnow_test1.jpg": ["kit_harington"],
    "obama1.jpg": ["obama"],
    "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
    "obama_and_biden.jpg": ["obama", "biden"],
}


def png(image: Image.Image, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", **params)
    return out.getvalue()


def jpeg(image: Image.Image, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92, **params)
    return out.getvalue()


@pytest.fixture(scope="module")
def encoder() -> DlibFaceEncoder:
    return DlibFaceEncoder()


@pytest.fixture(scope="module")
def enrolled(encoder) -> tuple[list[str], np.ndarray]:
    """One embedding per train/ photo, labelled with its folder (the person)."""
    labels, vectors = [], []
    for photo in sorted(FACES.glob("train/*/*")):
        faces = encoder.encode(photo.read_bytes())
        assert len(faces) == 1, f"{photo}: {len(faces)} faces"
        labels.append(photo.parent.name)
        vectors.append(faces[0].vector)
    return labels, np.stack(vectors)


@pytest.fixture(scope="module")
def arrivals(encoder) -> dict[str, list[DetectedFace]]:
    return {name: encoder.encode((FACES / "test" / name).read_bytes()) for name in ARRIVALS}


def ranked(enrolled, face: DetectedFace) -> list[tuple[str, float]]:
    """Exact nearest-neighbour ranking of the enrolled photos (numpy, L2)."""
    labels, vectors = enrolled
    distances = np.linalg.norm(vectors - face.vector, axis=1)
    return [(labels[i], float(distances[i])) for i in np.argsort(distances)]


def test_the_encoder_meets_the_interface(encoder):
    assert isinstance(encoder, FaceEncoder)
    assert encoder.name == "dlib-resnet-v1"
    assert encoder.dimensions == 128


def test_every_train_photo_of_one_person_is_closer_than_any_other_persons(enrolled):
    labels, vectors = enrolled
    assert len(set(labels)) == 5 and len(labels) == 9
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    same = [distances[i, j] for i in range(9) for j in range(9) if i < j and labels[i] == labels[j]]
    other = [distances[i, j] for i in range(9) for j in range(9) if labels[i] != labels[j]]
    assert max(same) < SAME_PERSON_DISTANCE < min(other)


@pytest.mark.parametrize("photo", sorted(ARRIVALS))
def test_each_person_of_an_arrival_is_found_at_rank_1(enrolled, arrivals, photo):
    faces = arrivals[photo]
    people = ARRIVALS[photo]
    assert len(faces) >= len(people)
    for face, person in zip(faces, people, strict=False):
        best, distance = ranked(enrolled, face)[0]
        assert best == person, f"{photo}: {person}'s face ranked {best} first"
        assert distance < SAME_PERSON_DISTANCE
        assert similarity(distance) > 0.5
        assert face.score is not None and face.score > 0


def test_a_photo_of_two_enrolled_people_yields_both_largest_first(arrivals):
    kit, rose = arrivals["kit_with_rose.jpg"]
    assert len(arrivals["kit_with_rose.jpg"]) == 2
    assert kit.area >= rose.area
    obama, biden, *others = arrivals["obama_and_biden.jpg"]
    assert obama.area >= biden.area
    # Both faces sit side by side, Biden on the left: the boxes are where the faces are.
    assert biden.right <= obama.left
    for face in (kit, rose, obama, biden):
        assert 0 <= face.left < face.right and 0 <= face.top < face.bottom
        assert len(face.embedding) == 128


def test_a_face_of_nobody_enrolled_matches_no_one(enrolled, arrivals):
    # obama_and_biden.jpg also shows a child at its right edge (a real, smaller face):
    # found, and nobody enrolled is likely the same person.
    faces = arrivals["obama_and_biden.jpg"]
    for face in faces[2:]:
        assert ranked(enrolled, face)[0][1] > SAME_PERSON_DISTANCE


def test_a_photo_with_no_face_gives_no_faces(encoder):
    rng = np.random.default_rng(7)
    blank = Image.new("RGB", (320, 240), (200, 190, 180))
    noise = Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    assert encoder.encode(png(blank)) == []
    assert encoder.encode(jpeg(noise)) == []
    with pytest.raises(FaceProblem) as problem:
        the_only_face([])
    assert problem.value.reason == "no_face"


def test_one_face_is_wanted_but_several_are_an_answer_too(arrivals):
    assert the_only_face(arrivals["obama1.jpg"]) is arrivals["obama1.jpg"][0]
    with pytest.raises(FaceProblem) as problem:
        the_only_face(arrivals["kit_with_rose.jpg"])
    assert problem.value.reason == "several_faces"
    assert problem.value.faces == arrivals["kit_with_rose.jpg"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not a photo",
        b"%PDF-1.7\n" + b"0" * 200,
        b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # a JPEG's first bytes, then nothing
        pytest.param("gif", id="gif"),  # an image, but not a photo format we take
    ],
)
def test_what_is_not_a_photo_is_refused_as_not_an_image(encoder, data):
    if data == "gif":
        out = io.BytesIO()
        Image.new("RGB", (100, 100)).save(out, format="GIF")
        data = out.getvalue()
    with pytest.raises(PhotoProblem) as problem:
        encoder.encode(data)
    assert problem.value.reason == "not_an_image"


def test_too_large_and_too_small_photos_are_refused():
    photo = png(Image.new("RGB", (200, 100)))
    with pytest.raises(PhotoProblem) as problem:
        decode_photo(photo, max_bytes=len(photo) - 1)
    assert problem.value.reason == "too_large"
    with pytest.raises(PhotoProblem) as problem:
        decode_photo(photo, max_pixels=200 * 100 - 1)  # judged from the header
    assert problem.value.reason == "too_large"
    with pytest.raises(PhotoProblem) as problem:
        decode_photo(png(Image.new("RGB", (200, 20))))
    assert problem.value.reason == "too_small"
    assert decode_photo(photo).shape == (100, 200, 3)


def test_webp_grey_and_transparent_photos_decode_to_rgb():
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(out, format="WEBP", lossless=True)
    assert decode_photo(out.getvalue())[0, 0].tolist() == [10, 20, 30]
    assert decode_photo(png(Image.new("L", (64, 64), 128))).shape == (64, 64, 3)
    assert decode_photo(png(Image.new("RGBA", (64, 64), (1, 2, 3, 0)))).shape == (64, 64, 3)


def test_the_exif_orientation_is_applied_before_looking_for_faces(encoder):
    upright = Image.open(FACES / "train/kit_harington/john2.jpeg").convert("RGB")
    (face,) = encoder.encode(jpeg(upright))
    # The camera stored the pixels turned a quarter left and says so in EXIF
    # (orientation 6: turn 90° clockwise to show).
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    decoded = decode_photo(jpeg(sideways, exif=exif))
    assert decoded.shape == (upright.height, upright.width, 3)
    (turned,) = encoder.encode(jpeg(sideways, exif=exif))
    assert np.linalg.norm(turned.vector - face.vector) < 0.15
    assert abs(turned.top - face.top) < 12 and abs(turned.left - face.left) < 12
    # Without the tag the face lies on its side and the frontal detector misses it.
    assert encoder.encode(jpeg(sideways)) == []


def test_large_photos_are_scaled_down_for_detection_and_the_boxes_mapped_back():
    photo = (FACES / "test/obama_and_biden.jpg").read_bytes()  # 2000 × 1428
    full = DlibFaceEncoder(detect_max_side=4000).encode(photo)
    small = DlibFaceEncoder(detect_max_side=800).encode(photo)
    assert len(full) == len(small)

    def centre(face: DetectedFace) -> np.ndarray:
        return np.array([(face.top + face.bottom) / 2, (face.left + face.right) / 2])

    for a in full:
        b = min(small, key=lambda b: np.linalg.norm(centre(a) - centre(b)))
        size = a.right - a.left
        # The detector's windows come in steps: the same face, boxed a little differently.
        assert np.linalg.norm(centre(a) - centre(b)) < 0.15 * size
        assert 0.75 < (b.right - b.left) / size < 1.33
        assert np.linalg.norm(a.vector - b.vector) < 0.25


def test_the_encoder_may_be_used_from_several_threads(encoder):
    photos = [
        (FACES / "train/kit_harington/john2.jpeg").read_bytes(),
        (FACES / "train/rose_leslie/img2.jpg").read_bytes(),
    ] * 3
    alone = [encoder.encode(p) for p in photos[:2]]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(encoder.encode, photos))
    for i, faces in enumerate(together):
        assert faces == alone[i % 2]


def test_shared_testdata_is_where_the_photos_are():
    assert isinstance(FACES, Path) and (FACES / "README.md").is_file()


# ---- the store's pure parts (search.faces.store) ------------------------------------


def neighbour(person: uuid.UUID, station: str, day: int, distance: float) -> FaceNeighbour:
    when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)
    return FaceNeighbour(
        record_id=uuid.uuid4(),
        person_id=person,
        case_id=None,
        report_id=None,
        station_id=station,
        source="admission",
        photographed_at=when,
        enrolled_at=when + timedelta(hours=1),
        found_place=f"{station} station square",
        encoder="dlib-resnet-v1",
        photo_sha256="0" * 64,
        box=(0, 10, 10, 0),
        distance=distance,
        similarity=similarity(distance),
    )


def test_similarity_falls_with_the_distance_and_the_threshold_is_one_half():
    distances = [0.0, 0.3, 0.45, SAME_PERSON_DISTANCE, 0.9, 1.2, 2.0]
    values = [similarity(d) for d in distances]
    assert values == sorted(values, reverse=True)
    assert values[0] == 1.0 and values[-1] == values[-2] == 0.0
    assert similarity(SAME_PERSON_DISTANCE) == pytest.approx(0.5)


def test_the_trail_groups_by_person_most_alike_first_each_in_time_order():
    a, b = uuid.uuid4(), uuid.uuid4()
    trail = wandering_trail(
        [
            neighbour(a, "luohe", 50, 0.41),
            neighbour(b, "gushi", 5, 0.35),
            neighbour(a, "gushi", 10, 0.38),
            neighbour(a, "gushi", 20, 0.52),
            neighbour(b, "xinyang", 1, 0.70),
        ]
    )
    assert [p.person_id for p in trail] == [b, a]
    assert trail[0].distance == 0.35 and trail[0].similarity == similarity(0.35)
    assert [s.station_id for s in trail[0].stays] == ["xinyang", "gushi"]
    assert trail[1].stations == ("gushi", "luohe")  # gushi twice, then luohe
    assert [s.when.day for s in trail[1].stays] == [11, 21, 20]  # Jan 11, Jan 21, Feb 20
    assert trail[1].first_seen < trail[1].last_seen
    assert trail[1].stays[0].found_place == "gushi station square"
    assert wandering_trail([]) == []
