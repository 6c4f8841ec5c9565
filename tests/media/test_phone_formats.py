"""Photos from phones: HEIC/HEIF (made here with pillow-heif) and AVIF (Pillow's encoder).

Accepted as images, their type told truthfully, stored without EXIF and XMP,
upright, and with a full-size JPEG among their renditions for browsers that
cannot show them.
"""

from __future__ import annotations

import httpx
import pytest
from PIL import ExifTags, Image

from chunkup.media.sniff import sniff, sniff_ftyp
from tests.media.samples import camera_exif, encoded, opened
from tests.support import ChunkClient, LiveServer, assert_error, md5_of, settings_for

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">taken at 12 Some Street</x:xmpmeta>'


@pytest.fixture(scope="module", autouse=True)
def heif_plugin() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


def two_halves(width: int, height: int) -> Image.Image:
    """Red on the left half, blue on the right, as stored."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def phone_photo(fmt: str, width: int = 600, height: int = 400, orientation: int = 6) -> bytes:
    """A photo as a phone saves it: camera EXIF with GPS, XMP, turned by ``orientation``."""
    exif = camera_exif(orientation).tobytes()
    return encoded(two_halves(width, height), fmt, quality=90, exif=exif, xmp=XMP)


def complete(client: ChunkClient, data: bytes, filename: str) -> dict:
    response = client.upload(data, filename=filename)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize(
    ("fmt", "mimetype", "extension"),
    [("HEIF", "image/heic", ".heic"), ("AVIF", "image/avif", ".avif")],
)
def test_a_phone_photo_is_an_image_of_its_true_type(
    client: ChunkClient, fmt: str, mimetype: str, extension: str
):
    media = complete(client, phone_photo(fmt), f"IMG_0001{extension.upper()}")
    assert media["type"] == "image"
    assert media["mimetype"] == mimetype
    assert media["image"].endswith(extension)
    served = httpx.get(media["image"])
    assert served.headers["content-type"] == mimetype
    assert (media["image_width"], media["image_height"]) == (400, 600)  # upright


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_phone_photo_is_stored_without_exif_and_xmp(client: ChunkClient, fmt: str):
    uploaded = phone_photo(fmt)
    assert b"Phone Maker" in uploaded and b"Some Street" in uploaded
    media = complete(client, uploaded, "photo")
    stored = httpx.get(media["image"]).content
    assert b"Phone Maker" not in stored and b"Some Street" not in stored
    picture = opened(stored)
    assert ExifTags.IFD.GPSInfo not in picture.getexif()
    assert ExifTags.Base.Make not in picture.getexif()
    assert media["size"] == len(stored)
    # the image itself is untouched: same pixels as the upload decodes to
    assert picture.tobytes() == opened(uploaded).tobytes()


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_phone_photo_has_a_full_size_upright_jpeg(client: ChunkClient, fmt: str):
    media = complete(client, phone_photo(fmt, 1400, 1000, orientation=6), "photo")
    assert (media["image_width"], media["image_height"]) == (1000, 1400)
    renditions = media["image_renditions"]
    assert [(r["width"], r["mimetype"]) for r in renditions] == [
        (320, "image/webp"),
        (640, "image/webp"),
        (1000, "image/jpeg"),
    ]
    full = renditions[-1]
    response = httpx.get(full["url"])
    assert response.headers["content-type"] == "image/jpeg"
    picture = opened(response.content)
    assert (picture.format, picture.size) == ("JPEG", (1000, 1400))
    assert not picture.getexif()  # nothing of the camera's EXIF
    # orientation 6 turns the stored picture clockwise: its red left half is on top
    red, _green, blue = picture.convert("RGB").getpixel((500, 200))
    assert red > 200 and blue < 60


def test_a_heic_thumbnail_is_upright_and_has_a_blurhash(client: ChunkClient):
    media = complete(client, phone_photo("HEIF"), "photo.heic")
    thumbnail = media["image_thumbnail"]
    assert (thumbnail["width"], thumbnail["height"]) == (267, 400)
    assert len(media["image_blurhash"]) == 28


def test_a_truncated_heic_is_invalid_image(client: ChunkClient):
    data = phone_photo("HEIF")
    cut = data[: len(data) // 2]
    upload_id = client.upload_chunks(cut, filename="cut.heic")
    assert_error(client.complete(upload_id, md5_of(cut)), 400, "invalid_image")


def test_a_heic_above_the_pixel_ceiling_is_refused_before_decoding(tmp_path, backend):
    live = LiveServer(settings_for(tmp_path / "data", image_max_pixels=100_000, **backend))
    live.start()
    try:
        with live.client(1) as client:
            data = phone_photo("HEIF", 600, 400)  # 240 000 pixels
            upload_id = client.upload_chunks(data, filename="big.heic")
            assert_error(client.complete(upload_id, md5_of(data)), 400, "invalid_image")
    finally:
        live.stop()


@pytest.mark.parametrize(
    ("head", "mimetype"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "image/avif"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "image/heif"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image/avif"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42", None),  # a video
        (b"\x00\x00\x00\x18ftypmsf1\x00\x00\x00\x00msf1hevc", None),  # an image sequence
    ],
)
def test_the_ftyp_brand_tells_heic_heif_and_avif(head: bytes, mimetype: str | None):
    assert sniff_ftyp(head) == mimetype


def test_the_first_bytes_of_a_heic_sniff_as_an_image():
    assert sniff(phone_photo("HEIF")[:16]) == "image/heic"
    assert sniff(phone_photo("AVIF")[:16]) == "image/avif"
