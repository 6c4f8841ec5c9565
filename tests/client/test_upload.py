"""``Client.upload`` and ``AsyncClient.upload`` against a real server: images, PDFs, progress."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from chunkup.client import AsyncClient, Client, Media
from tests.support import CHUNK, LiveServer, md5_of, noise_image

# the SDK speaks HTTP: what it is tested for does not depend on the server's backend
pytestmark = pytest.mark.backend_agnostic


def upload_with(flavour: str, server: LiveServer, source: Any, **options: Any) -> Media:
    """One upload through the blocking or the asyncio client."""
    if flavour == "sync":
        with Client(server.url, server.token()) as client:
            return client.upload(source, **options)

    async def run() -> Media:
        async with AsyncClient(server.url, server.token()) as client:
            return await client.upload(source, **options)

    return asyncio.run(run())


FLAVOURS = pytest.mark.parametrize("flavour", ["sync", "async"])


@FLAVOURS
def test_an_image_uploads_as_its_media_and_serves_the_same_bytes(
    server: LiveServer, photo: Path, flavour: str
):
    media = upload_with(flavour, server, photo)
    assert media.type == "image" and media.mimetype == "image/png"
    assert media.size == photo.stat().st_size
    assert (media.image_width, media.image_height) == (600, 600)
    assert media.url is None and media.image is not None
    assert httpx.get(media.image).content == photo.read_bytes()


@FLAVOURS
def test_a_pdf_is_sniffed_and_uploads_as_a_document(
    server: LiveServer, document: Path, flavour: str
):
    media = upload_with(flavour, server, document, parallel=2)
    assert media.type == "doc" and media.mimetype == "application/pdf"
    assert media.title == "report.pdf" and media.size == document.stat().st_size
    assert media.page_count == 2
    assert media.url is not None
    assert httpx.get(media.url).content == document.read_bytes()


@FLAVOURS
def test_a_binary_file_object_uploads_from_memory(server: LiveServer, flavour: str):
    data = noise_image(300, 300)
    media = upload_with(flavour, server, io.BytesIO(data), filename="inline.png", type="eimage")
    assert media.type == "eimage" and media.size == len(data)
    assert media.image is not None and media.image.endswith("/inline.png")
    assert md5_of(httpx.get(media.image).content) == md5_of(data)


@FLAVOURS
def test_progress_climbs_chunk_by_chunk_to_the_total(server: LiveServer, photo: Path, flavour: str):
    reports: list[tuple[int, int]] = []
    upload_with(flavour, server, photo, parallel=3, progress=lambda *r: reports.append(r))
    size = photo.stat().st_size
    assert reports[0] == (CHUNK, size)  # the first chunk alone, once it created the upload
    assert reports[-1] == (size, size)
    assert len(reports) == -(-size // CHUNK)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


def test_a_smaller_chunk_size_sends_more_chunks(server: LiveServer, photo: Path):
    reports: list[int] = []
    media = upload_with(
        "sync", server, photo, chunk_size=65536, progress=lambda d, _t: reports.append(d)
    )
    assert media.size == photo.stat().st_size
    assert len(reports) == -(-media.size // 65536)


def test_the_type_decides_the_file_part_over_sniffing(server: LiveServer, document: Path):
    """A PDF sent as ``image`` goes up through the image field and is refused at completion."""
    from chunkup.client import BadRequest

    with pytest.raises(BadRequest) as caught:
        upload_with("sync", server, document, type="image")
    assert caught.value.code == "invalid_image" and caught.value.status == 400


def test_arguments_that_cannot_work_are_refused_before_any_request(
    server: LiveServer, tmp_path: Path, photo: Path
):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with Client(server.url, server.token()) as client:
        with pytest.raises(ValueError, match="empty"):
            client.upload(empty)
        with pytest.raises(ValueError, match="type"):
            client.upload(photo, type="video")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="parallel"):
            client.upload(photo, parallel=0)
        with pytest.raises(FileNotFoundError):
            client.upload(tmp_path / "missing.png")
