"""The real Python tus client, tuspy (``tusclient``), unchanged, against chunkup."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient

from tests.support import LiveServer, noise_image, pdf_document
from tests.tus.conftest import TUS


def tuspy_upload(server: LiveServer, path: Path, type_: str, **options: object) -> httpx.Response:
    """Upload ``path`` with tuspy; the HEAD of the finished upload (it carries Media-Id)."""
    token = server.token(1)
    client = TusClient(server.url + TUS, headers={"Authorization": f"Bearer {token}"})
    # tuspy leaves a file it opened itself unclosed: hand it an open stream instead
    with path.open("rb") as stream:
        uploader = client.uploader(
            file_stream=stream,
            metadata={"filename": path.name, "filetype": _filetype(path), "type": type_},
            **options,
        )
        uploader.upload()
    assert uploader.offset == path.stat().st_size
    return httpx.head(
        uploader.url, headers={"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    )


def _filetype(path: Path) -> str:
    return "application/pdf" if path.suffix == ".pdf" else "image/png"


def served_media(server: LiveServer, head: httpx.Response) -> dict:
    with server.client(1) as client:
        media: dict = client.http.get(f"/api/v2/media/{head.headers['Media-Id']}/").json()
    return media


@pytest.mark.parametrize(
    "options",
    [{"chunk_size": 65536}, {}, {"chunk_size": 300000, "upload_checksum": True}],
    ids=["small-chunks", "default-one-patch", "checksummed"],
)
def test_tuspy_uploads_a_png(server: LiveServer, tmp_path: Path, options: dict):
    data = noise_image(400, 300)
    path = tmp_path / "tuspy.png"
    path.write_bytes(data)
    media = served_media(server, tuspy_upload(server, path, "image", **options))
    assert (media["type"], media["image_width"], media["image_height"]) == ("image", 400, 300)
    assert httpx.get(media["image"]).content == data


@pytest.mark.parametrize("options", [{"chunk_size": 100000}, {}], ids=["small-chunks", "default"])
def test_tuspy_uploads_a_pdf(server: LiveServer, tmp_path: Path, options: dict):
    data = pdf_document(pages=2)
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    media = served_media(server, tuspy_upload(server, path, "doc", **options))
    assert (media["type"], media["title"], media["size"]) == ("doc", "report.pdf", len(data))
    assert httpx.get(media["url"]).content == data
