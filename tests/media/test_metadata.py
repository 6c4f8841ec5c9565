"""Stripping metadata at the container level: what goes, what stays, pixels untouched."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from chunkup.media.metadata import minimal_exif, strip_metadata
from tests.media.samples import (
    animated_gif,
    camera_exif,
    cmyk_jpeg,
    encoded,
    noise,
    opened,
    phone_jpeg,
    png_with_text,
    srgb_icc,
)

GPS_IFD = ExifTags.IFD.GPSInfo
ORIENTATION = ExifTags.Base.Orientation


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def with_segments(jpeg: bytes, *segments: bytes) -> bytes:
    """``jpeg`` with ``segments`` inserted right after its SOI marker."""
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


# -- files with nothing to strip stay byte for byte ------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "save"),
    [
        pytest.param("JPEG", {}, id="jpeg"),
        pytest.param("JPEG", {"icc_profile": None}, id="jpeg-with-icc"),
        pytest.param("JPEG", {"progressive": True}, id="progressive-jpeg"),
        pytest.param("PNG", {}, id="png"),
        pytest.param("PNG", {"dpi": (300, 300), "icc_profile": None}, id="png-with-icc-and-dpi"),
        pytest.param("GIF", {}, id="gif"),
        pytest.param("WEBP", {}, id="webp"),
        pytest.param("WEBP", {"icc_profile": None}, id="webp-with-icc"),
    ],
)
def test_a_file_without_metadata_is_left_as_it_is(fmt: str, save: dict):
    if "icc_profile" in save:
        save["icc_profile"] = srgb_icc()
    data = encoded(noise(64, 48), fmt, **save)
    assert strip_metadata(data, Image.MIME[fmt], None) is None


def test_a_cmyk_jpeg_keeps_its_adobe_marker():
    data = cmyk_jpeg()
    assert b"Adobe" in data
    assert strip_metadata(data, "image/jpeg", None) is None


# -- JPEG --------------------------------------------------------------------------------------


def test_jpeg_loses_gps_make_and_comment_but_keeps_orientation_and_icc():
    data = phone_jpeg()
    stripped = strip_metadata(data, "image/jpeg", 6)
    assert stripped is not None
    image = opened(stripped)
    exif = image.getexif()
    assert dict(exif) == {ORIENTATION: 6}
    assert exif.get_ifd(GPS_IFD) == {}
    assert image.info.get("icc_profile") == srgb_icc()
    assert "comment" not in image.info
    assert b"Phone Maker" not in stripped


def test_jpeg_pixels_are_not_re_encoded():
    data = phone_jpeg()
    stripped = strip_metadata(data, "image/jpeg", 6)
    assert stripped is not None
    assert opened(stripped).tobytes() == opened(data).tobytes()
    # the entropy-coded scan is copied verbatim
    assert data[data.index(b"\xff\xda") :] == stripped[stripped.index(b"\xff\xda") :]


def test_jpeg_without_orientation_loses_its_whole_exif():
    stripped = strip_metadata(phone_jpeg(orientation=None), "image/jpeg", None)
    assert stripped is not None
    assert b"Exif\x00\x00" not in stripped
    assert dict(opened(stripped).getexif()) == {}


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param(jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"), id="xmp"),
        pytest.param(jpeg_segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04"), id="iptc"),
        pytest.param(jpeg_segment(0xE0, b"JFXX\x00\x10" + b"\xff\xd8\xff\xd9"), id="jfxx-thumb"),
        pytest.param(jpeg_segment(0xE2, b"MPF\x00II*\x00"), id="mpf"),
        pytest.param(jpeg_segment(0xEC, b"Ducky\x00\x01"), id="vendor-app12"),
        pytest.param(jpeg_segment(0xFE, b"a comment"), id="comment"),
    ],
)
def test_jpeg_metadata_segments_are_dropped(segment: bytes):
    plain = encoded(noise(64, 48), "JPEG")
    stripped = strip_metadata(with_segments(plain, segment), "image/jpeg", None)
    assert stripped == plain


def test_jpeg_data_after_the_end_of_image_is_dropped():
    plain = encoded(noise(64, 48), "JPEG")
    appended = plain + encoded(noise(16, 16), "JPEG", exif=camera_exif())  # as MPF does
    assert strip_metadata(appended, "image/jpeg", None) == plain


@pytest.mark.parametrize(
    "save",
    [
        pytest.param({"progressive": True}, id="progressive"),
        pytest.param({"restart_marker_blocks": 4}, id="restart-markers"),
        pytest.param({"subsampling": 0, "quality": 100}, id="no-subsampling"),
    ],
)
def test_jpeg_scans_survive_stripping(save: dict):
    data = encoded(noise(160, 120), "JPEG", exif=camera_exif(), **save)
    stripped = strip_metadata(data, "image/jpeg", 6)
    assert stripped is not None
    assert opened(stripped).tobytes() == opened(data).tobytes()
    assert opened(stripped).getexif().get_ifd(GPS_IFD) == {}


def test_minimal_exif_reads_back_as_only_the_orientation():
    exif = Image.Exif()
    exif.load(b"Exif\x00\x00" + minimal_exif(8))
    assert dict(exif) == {ORIENTATION: 8}


# -- PNG ---------------------------------------------------------------------------------------


def test_png_text_chunks_are_dropped_and_pixels_kept():
    data = png_with_text()
    stripped = strip_metadata(data, "image/png", None)
    assert stripped is not None
    image = opened(stripped)
    assert not {"Author", "Comment", "Location"} & set(image.info)
    assert image.tobytes() == opened(data).tobytes()


def test_png_exif_keeps_only_the_orientation_and_the_icc_profile_stays():
    info = PngImagePlugin.PngInfo()
    info.add(b"tIME", b"\x07\xea\x01\x01\x00\x00\x00")
    data = encoded(noise(40, 30), "PNG", exif=camera_exif(), icc_profile=srgb_icc(), pnginfo=info)
    stripped = strip_metadata(data, "image/png", 6)
    assert stripped is not None
    image = opened(stripped)
    assert dict(image.getexif()) == {ORIENTATION: 6}
    assert image.info.get("icc_profile") == srgb_icc()
    assert b"tIME" not in stripped


def test_animated_png_keeps_its_frames():
    frames = [noise(40, 30) for _ in range(3)]
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "x")
    data = encoded(frames[0], "PNG", save_all=True, append_images=frames[1:], pnginfo=info)
    stripped = strip_metadata(data, "image/png", None)
    assert stripped is not None
    image = Image.open(io.BytesIO(stripped))
    assert image.n_frames == 3
    image.seek(2)
    assert image.convert("RGB").tobytes() == frames[2].tobytes()


# -- WebP and GIF ------------------------------------------------------------------------------


def test_webp_loses_exif_and_xmp_but_keeps_icc():
    data = encoded(
        noise(64, 48),
        "WEBP",
        lossless=True,
        exif=camera_exif(orientation=None),
        xmp=b"<x:xmpmeta>secret</x:xmpmeta>",
        icc_profile=srgb_icc(),
    )
    stripped = strip_metadata(data, "image/webp", None)
    assert stripped is not None
    image = opened(stripped)
    assert "exif" not in image.info and "xmp" not in image.info
    assert image.info.get("icc_profile") == srgb_icc()
    assert image.tobytes() == opened(data).tobytes()


def test_webp_keeps_an_orientation_only_exif():
    data = encoded(noise(64, 48), "WEBP", exif=camera_exif(orientation=3))
    stripped = strip_metadata(data, "image/webp", 3)
    assert stripped is not None
    assert dict(opened(stripped).getexif()) == {ORIENTATION: 3}


def test_gif_loses_its_comment_and_keeps_its_animation():
    data = animated_gif(((255, 0, 0), (0, 255, 0), (0, 0, 255)))
    stripped = strip_metadata(data, "image/gif", None)
    assert stripped is not None
    image = Image.open(io.BytesIO(stripped))
    assert "comment" not in image.info
    assert image.info.get("loop") == 0
    assert image.n_frames == 3
    image.seek(2)
    assert image.convert("RGB").getpixel((0, 0)) == (0, 0, 255)


def test_gif_data_after_the_trailer_is_dropped():
    plain = encoded(noise(8, 8), "GIF")
    assert strip_metadata(plain + b"*/alert(1)//", "image/gif", None) == plain
