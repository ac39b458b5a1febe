"""Face photos made to fit the broker (intake.broker_images)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from support import shared_testdata

from intake.broker_images import fit_for_broker

FACE = shared_testdata() / "faces" / "test" / "obama1.jpg"


def jpeg(picture: Image.Image, quality: int = 97) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def test_a_photo_that_fits_travels_as_it_is():
    photo = FACE.read_bytes()
    assert fit_for_broker(photo, limit=len(photo)) is photo


def test_a_photo_over_the_limit_travels_as_a_smaller_jpeg_that_fits():
    face = Image.open(FACE)
    large = jpeg(face.resize((face.width * 3, face.height * 3)))
    fitted = fit_for_broker(large, limit=300 * 1024)
    assert fitted is not None and len(fitted) <= 300 * 1024
    copy = Image.open(io.BytesIO(fitted))
    assert copy.format == "JPEG"
    assert max(copy.size) <= 2048
    assert copy.width / copy.height == pytest.approx(face.width / face.height, rel=0.01)


def test_a_png_over_the_limit_becomes_a_jpeg():
    face = Image.open(FACE)
    out = io.BytesIO()
    face.save(out, format="PNG")
    fitted = fit_for_broker(out.getvalue(), limit=200 * 1024)
    assert fitted is not None and fitted.startswith(b"\xff\xd8")


def test_a_sideways_phone_photo_travels_upright():
    face = Image.open(FACE)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    out = io.BytesIO()
    face.save(out, format="JPEG", quality=97, exif=exif)
    fitted = fit_for_broker(out.getvalue(), limit=len(out.getvalue()) - 1)
    assert fitted is not None
    assert Image.open(io.BytesIO(fitted)).size == (face.height, face.width)


def test_what_cannot_be_decoded_or_made_to_fit_gives_none():
    assert fit_for_broker(b"\xff\xd8\xff\xe0" + bytes(4096), limit=1024) is None
    face = Image.open(FACE)
    assert fit_for_broker(jpeg(face), limit=100) is None
