"""The asyncio client's own paths (status, abort, media calls, resuming), mirroring the
blocking client's tests: the two share the planning (``_job.py``) but not the I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from chunkup.client import AsyncClient, BadRequest, NotFound, PermissionDenied, ResumeFile
from tests.client.test_resume import MemoryStore, meddler
from tests.support import CHUNK, LiveServer, noise_image, pdf_document, starts_like

# the SDK speaks HTTP: what it is tested for does not depend on the server's backend
pytestmark = pytest.mark.backend_agnostic


async def test_status_abort_and_the_media_calls(server: LiveServer, photo: Path):
    data = noise_image(400, 400)
    with server.client() as raw:
        first = raw.chunk(data[:CHUNK], 0, len(data), filename="p.png")
    upload_id = first.json()["upload_id"]
    async with AsyncClient(server.url, server.token()) as client:
        status = await client.status(upload_id)
        assert status.offset == str(CHUNK) and status.ranges == [[0, CHUNK - 1]]
        await client.abort(upload_id)
        with pytest.raises(NotFound):
            await client.status(upload_id)

        media = await client.upload(photo)
        assert await client.get_media(media.id) == media
        page = await client.list_media(limit=5)
        assert page.count == 1 and page.results == [media]
        async with AsyncClient(server.url, server.token(2)) as other:
            with pytest.raises(PermissionDenied):
                await other.delete_media(media.id)
        await client.delete_media(media.id)
        with pytest.raises(NotFound):
            await client.get_media(media.id)


async def test_an_upload_id_resumes_with_only_the_missing_chunks(
    server: LiveServer, tmp_path: Path
):
    data = noise_image(500, 500)
    path = tmp_path / "resumed.png"
    path.write_bytes(data)
    with server.client() as raw:
        first = raw.chunk(data[:CHUNK], 0, len(data), filename="resumed.png")
    upload_id = first.json()["upload_id"]
    async with AsyncClient(server.url, server.token()) as client:
        media = await client.upload(path, upload_id=upload_id, parallel=2)
        assert media.size == len(data)
        # finished before the client heard: the same upload id answers with its media
        assert await client.upload(path, upload_id=upload_id) == media


async def test_a_remembered_upload_is_forgotten_once_done(server: LiveServer, tmp_path: Path):
    data = noise_image(300, 300)
    path = tmp_path / "remembered.png"
    path.write_bytes(data)
    store = ResumeFile(tmp_path / "resume.json")
    async with AsyncClient(server.url, server.token()) as client:
        media = await client.upload(path, resume=store)
        assert media.size == len(data)
        assert (await client.upload(path, resume=store)).id != media.id  # nothing remembered


async def test_a_refused_completion_aborts_and_an_unknown_id_is_not_found(
    server: LiveServer, tmp_path: Path
):
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_document(pages=1))
    async with AsyncClient(server.url, server.token()) as client:
        with pytest.raises(BadRequest):
            await client.upload(path, type="image")  # a PDF is no image
        with pytest.raises(NotFound):
            await client.upload(path, upload_id="0" * 32)
        with pytest.raises(ValueError):
            await client.upload(path, upload_id=(await _started(server, path)))


async def _started(server: LiveServer, path: Path) -> str:
    """An upload of another size than ``path``: not one the file can resume."""
    with server.client() as raw:
        response = raw.chunk(
            starts_like(b"x" * 10, "document"), 0, 20, filename=path.name, field="document"
        )
    upload_id: str = response.json()["upload_id"]
    return upload_id


async def test_a_range_conflict_is_settled_by_the_status_and_an_abort_stops_the_upload(
    server: LiveServer, photo: Path
):
    """Someone else stores bytes across two of our chunks: each 409 is settled by asking
    the server; then an upload aborted under the client fails with the server's answer."""
    data = photo.read_bytes()
    store = MemoryStore()
    meddle = meddler(server, data, store)

    async with AsyncClient(server.url, server.token()) as client:
        media = await client.upload(photo, parallel=1, progress=meddle, resume=store)
        assert media.size == len(data)

        aborted = False

        def abort(_done: int, _total: int) -> None:
            nonlocal aborted
            if not aborted:
                aborted = True
                with server.client() as raw:
                    upload_id = store.history[-1]
                    assert raw.http.delete(f"/api/v2/media/upload/{upload_id}/").status_code == 204

        with pytest.raises(NotFound):
            await client.upload(photo, parallel=2, progress=abort, resume=store)
