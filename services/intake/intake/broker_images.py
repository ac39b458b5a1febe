"""Face photos made to fit the broker: an image over SHARED_PHOTO_MAX_BYTES travels
as a smaller JPEG copy (the kept photo is never changed), so search can enrol every
intake photo without a second upload."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from rescue_events.contracts.intake_care import SHARED_PHOTO_MAX_BYTES

#: Longest sides tried, largest first: a face stays recognisable far below the smallest.
SIDES = (2048, 1600, 1280, 1024, 800)
QUALITIES = (85, 75)
#: An image claiming more pixels than this is not decoded (a decompression bomb).
MAX_PIXELS = 50_000_000


def fit_for_broker(image: bytes, limit: int = SHARED_PHOTO_MAX_BYTES) -> bytes | None:
    """The image itself when it fits ``limit``; else a JPEG copy, upright and shrunk
    until it fits; None when it cannot be decoded. CPU-bound for large images: call
    it through ``asyncio.to_thread`` from a request."""
    if len(image) <= limit:
        return image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image)) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    return None
                picture = ImageOps.exif_transpose(opened).convert("RGB")
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        return None
    for side in SIDES:
        copy = picture.copy()
        copy.thumbnail((side, side), Image.Resampling.LANCZOS)
        for quality in QUALITIES:
            out = io.BytesIO()
            copy.save(out, format="JPEG", quality=quality, optimize=True)
            if out.tell() <= limit:
                return out.getvalue()
    return None
