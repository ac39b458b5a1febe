"""Face encoders: a photo in, every face found in it out, each with its embedding.

``FaceEncoder`` is the interface the matching engine depends on. The default is
``DlibFaceEncoder``, the offline dlib model (HOG frontal face detector, 5-point
shape predictor, ResNet v1 → 128-d embeddings, Euclidean distance; 0.6 is the
model's usual "same person likely" threshold). A police or vendor service can
replace it with any object of the same shape; embeddings of different encoders
are not comparable, so each stored embedding carries its encoder's name.

Encoding is CPU-bound: call it from a thread
(``await asyncio.to_thread(encoder.encode, photo)``).
"""

from __future__ import annotations

import importlib.util
import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "MAX_PHOTO_BYTES",
    "MAX_PHOTO_PIXELS",
    "MIN_PHOTO_SIDE",
    "DetectedFace",
    "DlibFaceEncoder",
    "FaceEncoder",
    "FaceProblem",
    "PhotoProblem",
    "decode_photo",
    "default_encoder",
    "the_only_face",
]

MAX_PHOTO_BYTES = 20 * 1024 * 1024  # a phone photo is 2–8 MB
MAX_PHOTO_PIXELS = 50_000_000  # 50 MP: beyond any phone camera; refuses decompression bombs
MIN_PHOTO_SIDE = 48  # a face needs ≥ 40 px for the detector (with one upsampling)
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")

PhotoReason = Literal["not_an_image", "too_large", "too_small"]


class PhotoProblem(ValueError):
    """The photo cannot be used; ``reason`` is machine-readable:
    ``not_an_image`` (not a JPEG/PNG/WebP, or damaged), ``too_large`` (bytes or
    pixels over the limits), ``too_small`` (too few pixels to hold a face)."""

    def __init__(self, reason: PhotoReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: PhotoReason = reason
        self.detail = detail


@dataclass(frozen=True)
class DetectedFace:
    """One face in a photo. The box is in pixels of the decoded photo (after its
    EXIF orientation is applied), clamped to the image; ``score`` is the
    detector's confidence (dlib HOG: SVM margin, > 0 means detected, ~1+ is clear)."""

    top: int
    right: int
    bottom: int
    left: int
    embedding: tuple[float, ...]
    score: float | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(top, right, bottom, left), the order of the face_recognition library."""
        return (self.top, self.right, self.bottom, self.left)

    @property
    def area(self) -> int:
        return max(0, self.bottom - self.top) * max(0, self.right - self.left)

    @property
    def vector(self) -> np.ndarray:
        return np.asarray(self.embedding, dtype=np.float32)


class FaceProblem(ValueError):
    """A usable photo, but not of exactly one face where one is needed; ``reason``:
    ``no_face`` (none found: frontal, ≥ 40 px, not covered) or ``several_faces``
    (``faces`` holds them all, largest first, so the caller can ask which one)."""

    def __init__(self, reason: Literal["no_face", "several_faces"], faces: list[DetectedFace]):
        detail = "no face found" if reason == "no_face" else f"{len(faces)} faces found"
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.faces = faces


def the_only_face(faces: list[DetectedFace]) -> DetectedFace:
    """The one face of a photo meant to show one person (an admission's portrait);
    ``FaceProblem`` when there is none or there are several."""
    if not faces:
        raise FaceProblem("no_face", faces)
    if len(faces) > 1:
        raise FaceProblem("several_faces", faces)
    return faces[0]


@runtime_checkable
class FaceEncoder(Protocol):
    """Finds faces in a photo and encodes each one.

    ``encode`` raises ``PhotoProblem`` for unusable input, returns ``[]`` when the
    photo holds no face, and every face otherwise, largest first. It must be safe
    to call from several threads at once."""

    name: str
    dimensions: int

    def encode(self, image: bytes) -> list[DetectedFace]: ...


def decode_photo(
    data: bytes,
    *,
    max_bytes: int = MAX_PHOTO_BYTES,
    max_pixels: int = MAX_PHOTO_PIXELS,
    min_side: int = MIN_PHOTO_SIDE,
) -> np.ndarray:
    """A JPEG, PNG or WebP photo → an RGB ``uint8`` array (height, width, 3), turned
    upright by its EXIF orientation. Raises ``PhotoProblem`` for anything else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise PhotoProblem("not_an_image", f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise PhotoProblem("too_large", f"{len(data)} bytes, at most {max_bytes}")
    if len(data) == 0:
        raise PhotoProblem("not_an_image", "empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns (and over 2× its own limit raises) about decompression bombs;
            # our own, stricter pixel limit below decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
            width, height = image.size  # from the header, nothing decoded yet
            if width * height > max_pixels:
                raise PhotoProblem(
                    "too_large", f"{width}×{height} pixels, at most {max_pixels} pixels"
                )
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
            array = np.asarray(image, dtype=np.uint8)
    except PhotoProblem:
        raise
    except Image.DecompressionBombError as error:
        raise PhotoProblem("too_large", str(error)) from error
    except (
        UnidentifiedImageError,
        OSError,
        EOFError,
        SyntaxError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
    ) as error:  # what Pillow's decoders raise on damaged or hostile input
        # Words only: Pillow's message names Python objects (<_io.BytesIO object at …>).
        raise PhotoProblem(
            "not_an_image", "not a JPEG, PNG or WebP image, or a damaged one"
        ) from error
    if min(array.shape[0], array.shape[1]) < min_side:
        raise PhotoProblem(
            "too_small", f"{array.shape[1]}×{array.shape[0]} pixels, each side at least {min_side}"
        )
    return np.ascontiguousarray(array)


def _models_dir() -> Path:
    # Not `import face_recognition_models`: its __init__ imports pkg_resources.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face-recognition-models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibFaceEncoder:
    """The offline default: dlib's HOG frontal face detector (upsampled once, so
    faces from ~40 px), the 5-point shape predictor to align, and the ResNet v1
    face recognition model (128-d, Euclidean; LFW accuracy 99.38%).

    Models load once, on first use. Photos whose longer side exceeds
    ``detect_max_side`` are scaled down for detection only (boxes are mapped
    back); landmarks and embeddings use the full-resolution photo.
    """

    name = "dlib-resnet-v1"
    dimensions = 128

    def __init__(
        self,
        *,
        upsample: int = 1,
        detect_max_side: int = 1280,
        min_score: float = 0.0,
        jitters: int = 0,
        concurrency: int = 2,
        models_dir: Path | None = None,
    ) -> None:
        self.upsample = upsample
        self.detect_max_side = detect_max_side
        self.min_score = min_score
        self.jitters = jitters  # 0: one pass; n > 0: n random jitters averaged (n× slower)
        self._models_dir = models_dir
        # dlib's detector and network keep scratch state: one set of models per
        # concurrent call. dlib releases the GIL, so ``concurrency`` calls run in
        # parallel; more wait. Sets are created on demand (≈30 MB each).
        self.concurrency = concurrency
        self._idle: list[tuple] = []
        self._created = 0
        self._available = threading.Condition()

    def _load(self) -> tuple:
        import dlib

        folder = self._models_dir or _models_dir()
        return (
            dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat")),
            dlib.face_recognition_model_v1(
                str(folder / "dlib_face_recognition_resnet_model_v1.dat")
            ),
        )

    @contextmanager
    def _models(self) -> Iterator[tuple]:
        with self._available:
            while not self._idle and self._created >= self.concurrency:
                self._available.wait()
            models = self._idle.pop() if self._idle else None
            if models is None:
                self._created += 1
        if models is None:
            try:
                models = self._load()
            except BaseException:
                with self._available:
                    self._created -= 1
                    self._available.notify()
                raise
        try:
            yield models
        finally:
            with self._available:
                self._idle.append(models)
                self._available.notify()

    def warm_up(self) -> None:
        """Load the models now (e.g. at service start) rather than on the first photo."""
        with self._models():
            pass

    def encode(self, image: bytes) -> list[DetectedFace]:
        return self.encode_array(decode_photo(image))

    def encode_array(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Faces of an already decoded RGB ``uint8`` array (height, width, 3)."""

        with self._models() as models:
            return self._encode(models, rgb)

    def _encode(self, models: tuple, rgb: np.ndarray) -> list[DetectedFace]:
        import dlib

        detector, predictor, network = models
        height, width = rgb.shape[:2]
        scale = min(1.0, self.detect_max_side / max(height, width))
        if scale < 1.0:
            small = Image.fromarray(rgb).resize(
                (max(1, round(width * scale)), max(1, round(height * scale))),
                Image.Resampling.BILINEAR,
                reducing_gap=2.0,
            )
            detect_on = np.asarray(small)
        else:
            detect_on = rgb
        rects, scores, _ = detector.run(detect_on, self.upsample, self.min_score)

        faces: list[DetectedFace] = []
        for rect, score in zip(rects, scores, strict=True):
            # Back to full-resolution pixels.
            full = dlib.rectangle(
                round(rect.left() / scale),
                round(rect.top() / scale),
                round(rect.right() / scale),
                round(rect.bottom() / scale),
            )
            shape = predictor(rgb, full)
            if self.jitters > 0:
                descriptor = network.compute_face_descriptor(rgb, shape, self.jitters)
            else:
                descriptor = network.compute_face_descriptor(rgb, shape)
            faces.append(
                DetectedFace(
                    top=max(0, full.top()),
                    right=min(width, full.right()),
                    bottom=min(height, full.bottom()),
                    left=max(0, full.left()),
                    embedding=tuple(float(x) for x in descriptor),
                    score=float(score),
                )
            )
        faces.sort(key=lambda face: face.area, reverse=True)
        return faces


_default: DlibFaceEncoder | None = None
_default_lock = threading.Lock()


def default_encoder() -> DlibFaceEncoder:
    """The process-wide dlib encoder (models loaded once)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = DlibFaceEncoder()
        return _default
