"""Responsive renditions and the BlurHash, over a real server: listed, served, deleted."""

from __future__ import annotations

import io

import blurhash as reference
import httpx
import pytest
from PIL import Image

from tests.media.samples import animated_gif, encoded, noise, opened, phone_jpeg
from tests.support import ChunkClient, LiveServer, pdf_document


def complete(client: ChunkClient, data: bytes, filename: str, field: str = "image") -> dict:
    response = client.upload(data, field=field, filename=filename)
    assert response.status_code == 201, response.text
    return response.json()


def gradient(width: int, height: int) -> Image.Image:
    """Red to blue left to right, dark to light top to bottom: smooth, so WebP keeps it."""
    red = Image.linear_gradient("L").rotate(90).resize((width, height))
    blue = red.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    green = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", (red, green, blue))


def test_an_image_lists_webp_renditions_at_the_standard_widths_below_its_own(
    client: ChunkClient,
):
    media = complete(client, encoded(gradient(2000, 1500), "JPEG", quality=90), "wide.jpg")
    renditions = media["image_renditions"]
    assert [(r["width"], r["height"], r["mimetype"]) for r in renditions] == [
        (320, 240, "image/webp"),
        (640, 480, "image/webp"),
        (1280, 960, "image/webp"),
        (1920, 1440, "image/webp"),
    ]
    for listed in renditions:
        picture = opened(httpx.get(listed["url"]).content)
        assert (picture.format, picture.size) == ("WEBP", (listed["width"], listed["height"]))


def test_renditions_are_never_enlarged(client: ChunkClient):
    media = complete(client, encoded(noise(700, 500), "PNG"), "small.png")
    assert [r["width"] for r in media["image_renditions"]] == [320, 640]
    tiny = complete(client, encoded(noise(300, 200), "PNG"), "tiny.png")
    assert tiny["image_renditions"] == []


def test_renditions_of_a_sideways_photo_are_upright(client: ChunkClient):
    media = complete(client, phone_jpeg(1400, 700, orientation=6), "photo.jpg")
    assert (media["image_width"], media["image_height"]) == (700, 1400)
    assert [(r["width"], r["height"]) for r in media["image_renditions"]] == [
        (320, 640),
        (640, 1280),
    ]


def test_an_animation_has_no_still_renditions(client: ChunkClient):
    media = complete(client, animated_gif(), "moving.gif")
    assert media["image_renditions"] == []
    assert media["image_thumbnail"] is not None


def test_renditions_are_served_like_the_thumbnail(client: ChunkClient):
    media = complete(client, encoded(noise(900, 600), "PNG"), "photo.png")
    url = media["image_renditions"][-1]["url"]
    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "image/webp"
    assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert whole.headers["x-content-type-options"] == "nosniff"
    part = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == whole.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(whole.content)}"


def test_renditions_are_deleted_with_the_media(server: LiveServer, client: ChunkClient):
    media = complete(client, encoded(noise(1400, 1000), "PNG"), "photo.png")
    token = media["image"].split("/media/", 1)[1].split("/")[0]
    urls = [r["url"] for r in media["image_renditions"]]
    assert len(urls) == 3
    assert len(server.stored_keys(f"media/{token}/renditions/")) == 3
    assert client.http.delete(f"/api/v2/media/{media['id']}/").status_code == 204
    for url in urls:
        assert httpx.get(url).status_code == 404, url
    assert server.stored_keys(f"media/{token}/") == []


def test_a_pdf_preview_has_renditions_below_its_own_width(client: ChunkClient):
    data = pdf_document(pages=1, width=300, height=400)
    media = complete(client, data, "scan.pdf", field="document")
    assert media["image_width"] == 768  # the preview: 1024 px on its long side
    assert [(r["width"], r["mimetype"]) for r in media["image_renditions"]] == [
        (320, "image/webp"),
        (640, "image/webp"),
    ]
    assert httpx.get(media["image_renditions"][0]["url"]).status_code == 200


def test_the_blurhash_is_the_libraries_blurhash_of_the_thumbnail(client: ChunkClient):
    media = complete(client, encoded(gradient(1200, 900), "PNG"), "gradient.png")
    thumbnail = opened(httpx.get(media["image_thumbnail"]["url"]).content).convert("RGB")
    # the server reduces the thumbnail to 32 px before encoding (the components are the
    # lowest frequencies, which the reduction keeps); the library sees the same pixels
    small = thumbnail.resize((32, 24), Image.Resampling.BOX)
    rows = [[list(small.getpixel((x, y))) for x in range(32)] for y in range(24)]
    assert media["image_blurhash"] == reference.encode(rows, components_x=4, components_y=3)
    assert len(media["image_blurhash"]) == 28  # 4 x 3 components


def test_the_colour_is_kept_beside_the_blurhash(client: ChunkClient):
    media = complete(client, encoded(Image.new("RGB", (500, 300), (255, 0, 0)), "PNG"), "red.png")
    assert media["image_thumbnail"]["color"] == "#ff0000"
    red, green, blue = reference.decode(media["image_blurhash"], 1, 1)[0][0]
    assert red > 250 and green < 5 and blue < 5


@pytest.mark.parametrize("kind", ["image_renditions", "image_blurhash"])
def test_the_sdk_media_carries_the_new_fields(client: ChunkClient, kind: str):
    from chunkup.client import Media

    media = Media.model_validate(complete(client, encoded(noise(700, 500), "PNG"), "p.png"))
    assert getattr(media, kind)
    if kind == "image_renditions":
        assert [r.width for r in media.image_renditions] == [320, 640]


def test_a_rendition_name_of_another_media_is_not_served(client: ChunkClient):
    first = complete(client, encoded(noise(700, 500), "PNG"), "a.png")
    second = complete(client, encoded(noise(700, 500), "PNG"), "b.png")
    stolen = first["image_renditions"][0]["url"].rsplit("/renditions/", 1)[1]
    base = second["image"].rsplit("/", 1)[0]
    assert httpx.get(f"{base}/renditions/{stolen}").status_code == 404
    assert httpx.get(f"{base}/renditions/b-9999.webp").status_code == 404


def test_webp_bytes_are_what_the_listing_says(client: ChunkClient):
    media = complete(client, encoded(noise(700, 500), "PNG"), "p.png")
    data = httpx.get(media["image_renditions"][1]["url"]).content
    assert Image.open(io.BytesIO(data)).size == (640, 457)
