"""Where a Media's file URLs point: the node (default), presigned storage URLs, a public base."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tests.seaweed import Seaweed
from tests.support import LiveServer, noise_image, settings_for


def test_presigned_urls_fetch_the_file_straight_from_s3(tmp_path: Path, seaweed: Seaweed):
    settings = settings_for(
        tmp_path / "data",
        storage_url=seaweed.storage_url(f"presign-{uuid.uuid4().hex}"),
        file_urls="presigned",
    )
    server = LiveServer(settings).start()
    try:
        data = noise_image(300, 200)
        with server.client() as client:
            media = client.upload(data, filename="signed.png").json()
        url = media["image"]
        assert url.startswith(seaweed.endpoint) and "X-Amz-Signature=" in url
        assert httpx.get(url).content == data
    finally:
        server.stop()


def test_public_urls_are_the_configured_base_and_the_key(tmp_path: Path):
    base = "https://cdn.example.test/chunkup"
    settings = settings_for(tmp_path / "data", file_urls="public", file_url_base=base)
    server = LiveServer(settings).start()
    try:
        with server.client() as client:
            media = client.upload(noise_image(50, 50), filename="pub.png").json()
            again = client.http.get(f"/api/v2/media/{media['id']}/").json()
        assert media["image"].startswith(f"{base}/media/") and media["image"].endswith("/pub.png")
        assert again["image"] == media["image"]
    finally:
        server.stop()
