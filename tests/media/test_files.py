"""Thumbnails and previews are served like the file, only where the Media names them,
and go with the Media."""

from __future__ import annotations

import httpx

from tests.media.samples import phone_jpeg
from tests.support import ChunkClient, LiveServer, pdf_document


def test_a_thumbnail_is_served_with_the_files_headers(client: ChunkClient):
    media = client.upload(phone_jpeg(), filename="photo.jpg").json()
    response = httpx.get(media["image_thumbnail"]["url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == str(len(response.content))
    ranged = httpx.get(media["image_thumbnail"]["url"], headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == response.content[:10]


def test_a_thumbnail_lives_under_the_media_token(client: ChunkClient):
    media = client.upload(phone_jpeg(), filename="photo.jpg").json()
    token = media["image"].split("/media/", 1)[1].split("/")[0]
    assert media["image_thumbnail"]["url"].endswith(f"/media/{token}/thumbnail/photo.webp")


def test_other_names_under_the_token_are_not_served(client: ChunkClient):
    media = client.upload(phone_jpeg(), filename="photo.jpg").json()
    base = media["image"].rsplit("/", 1)[0]
    for name in ("thumbnail/other.webp", "preview/photo.webp", "thumbnail", "photo.webp"):
        assert httpx.get(f"{base}/{name}").status_code == 404, name


def test_deleting_a_photo_removes_its_thumbnail(server: LiveServer, client: ChunkClient):
    media = client.upload(phone_jpeg(), filename="photo.jpg").json()
    token = media["image"].split("/media/", 1)[1].split("/")[0]
    # the photo (480 px wide once upright), its thumbnail, its 320 px rendition
    assert len(server.stored_keys(f"media/{token}/")) == 3
    assert client.http.delete(f"/api/v2/media/{media['id']}/").status_code == 204
    assert httpx.get(media["image_thumbnail"]["url"]).status_code == 404
    assert httpx.get(media["image"]).status_code == 404
    assert server.stored_keys(f"media/{token}/") == []


def test_deleting_a_document_removes_its_preview_and_thumbnail(
    server: LiveServer, client: ChunkClient
):
    data = pdf_document(pages=2, width=300, height=400)
    media = client.upload(data, field="document", filename="doc.pdf").json()
    token = media["url"].split("/media/", 1)[1].split("/")[0]
    # the PDF, its preview (768 px wide), its thumbnail, renditions at 320 and 640 px
    assert len(server.stored_keys(f"media/{token}/")) == 5
    assert client.http.delete(f"/api/v2/media/{media['id']}/").status_code == 204
    for url in (media["image"], media["image_thumbnail"]["url"], media["url"]):
        assert httpx.get(url).status_code == 404, url
    assert server.stored_keys(f"media/{token}/") == []
