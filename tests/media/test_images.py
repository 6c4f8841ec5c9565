"""Completing images: displayed size, stripped metadata, thumbnail, colour, animation."""

from __future__ import annotations

import httpx
import pytest
from PIL import ExifTags

from tests.media.samples import (
    animated_gif,
    cmyk_jpeg,
    encoded,
    noise,
    opened,
    phone_jpeg,
    png16,
    png_bomb,
    png_with_text,
    solid_png,
    srgb_icc,
    stored_media,
)
from tests.support import ChunkClient, LiveServer, assert_error, md5_of, settings_for

ORIENTATION = ExifTags.Base.Orientation


def complete(client: ChunkClient, data: bytes, filename: str, type_: str | None = None) -> dict:
    response = client.upload(data, filename=filename, type_=type_)
    assert response.status_code == 201, response.text
    return response.json()


def fetch(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response


# -- a phone photo: sideways, with GPS -------------------------------------------------------


def test_a_sideways_photo_has_its_displayed_size(client: ChunkClient):
    media = complete(client, phone_jpeg(640, 480, orientation=6), "photo.jpg")
    assert (media["image_width"], media["image_height"]) == (480, 640)
    assert media["mimetype"] == "image/jpeg"


def test_a_photo_is_stored_without_gps_and_camera_tags(client: ChunkClient):
    media = complete(client, phone_jpeg(), "photo.jpg")
    served = fetch(media["image"]).content
    exif = opened(served).getexif()
    assert exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert ExifTags.Base.Make not in exif and ExifTags.Base.Model not in exif
    assert b"Phone Maker" not in served and b"taken at home" not in served


def test_a_stripped_photo_keeps_its_orientation_icc_and_pixels(client: ChunkClient):
    data = phone_jpeg()
    media = complete(client, data, "photo.jpg")
    served = opened(fetch(media["image"]).content)
    assert served.getexif().get(ORIENTATION) == 6
    assert served.info.get("icc_profile") == srgb_icc()
    assert served.tobytes() == opened(data).tobytes()


def test_the_size_is_the_stored_files(server: LiveServer, client: ChunkClient):
    data = phone_jpeg()
    media = complete(client, data, "photo.jpg")
    served = fetch(media["image"]).content
    assert media["size"] == len(served) < len(data)
    assert stored_media(server, media["id"]).extra["metadata_stripped"] is True


def test_a_photo_without_metadata_is_stored_byte_for_byte(client: ChunkClient):
    data = encoded(noise(300, 200), "JPEG", icc_profile=srgb_icc())
    media = complete(client, data, "plain.jpg")
    assert fetch(media["image"]).content == data
    assert media["size"] == len(data)


def test_stripping_can_be_turned_off(tmp_path, backend: dict[str, str]):
    live = LiveServer(settings_for(tmp_path / "data", strip_image_metadata=False, **backend))
    live.start()
    try:
        with live.client(1) as client:
            data = phone_jpeg()
            media = complete(client, data, "photo.jpg")
            assert fetch(media["image"]).content == data
            assert (media["image_width"], media["image_height"]) == (480, 640)
    finally:
        live.stop()


# -- thumbnails ------------------------------------------------------------------------------


def test_the_thumbnail_is_an_upright_webp_of_at_most_400_px(client: ChunkClient):
    media = complete(client, phone_jpeg(640, 480, orientation=6), "photo.jpg")
    thumbnail = media["image_thumbnail"]
    response = fetch(thumbnail["url"])
    assert response.headers["content-type"] == "image/webp"
    image = opened(response.content)
    assert image.format == "WEBP"
    assert image.size == (thumbnail["width"], thumbnail["height"]) == (300, 400)


def test_the_thumbnail_colour_of_a_solid_red_image_is_ff0000(client: ChunkClient):
    media = complete(client, solid_png((255, 0, 0)), "red.png")
    assert media["image_thumbnail"]["color"] == "#ff0000"


def test_a_small_image_is_not_enlarged_in_its_thumbnail(client: ChunkClient):
    media = complete(client, solid_png((0, 0, 255), size=(120, 90)), "small.png")
    thumbnail = media["image_thumbnail"]
    assert (thumbnail["width"], thumbnail["height"]) == (120, 90)
    assert thumbnail["color"] == "#0000ff"


def test_an_eimage_has_a_thumbnail_too(client: ChunkClient):
    media = complete(client, solid_png((0, 255, 0)), "e.png", type_="eimage")
    assert media["type"] == "eimage"
    assert media["image_thumbnail"]["color"] == "#00ff00"


# -- kinds of images -------------------------------------------------------------------------


def test_an_animated_gif_stays_animated_and_its_thumbnail_is_the_first_frame(
    server: LiveServer, client: ChunkClient
):
    media = complete(client, animated_gif(((255, 0, 0), (0, 255, 0), (0, 0, 255))), "a.gif")
    served = opened(fetch(media["image"]).content)
    assert served.format == "GIF" and served.n_frames == 3
    assert "comment" not in served.info
    thumbnail = opened(fetch(media["image_thumbnail"]["url"]).content)
    assert thumbnail.format == "WEBP" and getattr(thumbnail, "n_frames", 1) == 1
    red, green, blue = thumbnail.convert("RGB").getpixel((5, 5))
    assert red > 200 and green < 50 and blue < 50
    assert media["image_thumbnail"]["color"] == "#ff0000"
    assert stored_media(server, media["id"]).extra["frames"] == 3


def test_a_cmyk_jpeg_is_accepted_with_an_rgb_thumbnail(client: ChunkClient):
    media = complete(client, cmyk_jpeg((255, 0, 0, 0)), "cmyk.jpg")
    assert (media["mimetype"], media["image_width"], media["image_height"]) == (
        "image/jpeg",
        320,
        240,
    )
    thumbnail = opened(fetch(media["image_thumbnail"]["url"]).content).convert("RGB")
    red, green, blue = thumbnail.getpixel((10, 10))
    assert red < 40 and green > 200 and blue > 200


def test_a_16_bit_png_is_accepted_with_a_mid_grey_thumbnail(client: ChunkClient):
    data = png16(value=32768)
    media = complete(client, data, "deep.png")
    assert (media["image_width"], media["image_height"]) == (300, 200)
    assert media["image_thumbnail"]["color"] in ("#7f7f7f", "#808080")
    assert fetch(media["image"]).content == data


def test_png_text_metadata_is_stripped(client: ChunkClient):
    data = png_with_text()
    media = complete(client, data, "text.png")
    served = opened(fetch(media["image"]).content)
    assert not {"Author", "Comment", "Location"} & set(served.info)
    assert served.tobytes() == opened(data).tobytes()


def test_the_mimetype_comes_from_the_content_not_the_name(client: ChunkClient):
    media = complete(client, encoded(noise(64, 64), "WEBP"), "looks-like.png")
    assert media["mimetype"] == "image/webp"
    assert media["image"].endswith(".webp")


@pytest.mark.parametrize("type_", ["image", "eimage"])
def test_a_decompression_bomb_is_invalid_image(client: ChunkClient, type_: str):
    bomb = png_bomb(20_000, 20_000)  # 400 Mpx in a few kilobytes
    upload_id = client.upload_chunks(bomb, filename="bomb.png")
    assert_error(client.complete(upload_id, md5_of(bomb), type_), 400, "invalid_image")
