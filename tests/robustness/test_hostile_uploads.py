"""The upload domain under hostile use (issue 14): what a client with a token can make us spend.

- Tiny and gapped chunks: an upload holds a bounded number of chunk objects and
  of separate byte ranges, and quotas count what its chunks take in storage.
- Refused chunks leave nothing behind: no file, no folder, no bytes, whichever
  rule refused them.
- (A tus final upload whose completion is refused: ``tests/tus/test_refused_final.py``.)
- Media ids never come back after a delete.

Each runs on every backend: SQLite and PostgreSQL, local disk and S3.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chunkup.storage.local import APPENDED
from tests.support import (
    ChunkClient,
    LiveServer,
    assert_error,
    md5_of,
    noise_image,
    settings_for,
    start_upload,
    starts_like,
)

MakeServer = Callable[..., LiveServer]


@pytest.fixture
def make_server(tmp_path: Path, backend: dict[str, str]) -> Iterator[MakeServer]:
    """A live server on the test's backend with settings of the test's own."""
    started: list[LiveServer] = []

    def make(**overrides: Any) -> LiveServer:
        live = LiveServer(settings_for(tmp_path / "data", **backend, **overrides)).start()
        started.append(live)
        return live

    yield make
    for live in started:
        live.stop()


def traces(server: LiveServer, upload_id: str) -> list[str]:
    """Whatever storage holds for ``upload_id``'s chunks: objects, and on local disk its folder."""
    found = server.stored_keys(f"chunks/{upload_id}/")
    url = server.settings.resolved_storage_url
    if url.startswith("file://"):
        folder = Path(url.removeprefix("file://")) / "chunks" / upload_id
        if folder.exists():
            found.append(f"folder {folder.name}")
    return found


def allocated_bytes(server: LiveServer, upload_id: str) -> int | None:
    """The disk blocks the upload's appended file takes (None off local disk)."""
    url = server.settings.resolved_storage_url
    if not url.startswith("file://"):
        return None
    path = Path(url.removeprefix("file://")) / "chunks" / upload_id / APPENDED
    return os.stat(path).st_blocks * 512


# -- tiny chunks and gaps ----------------------------------------------------------------


def test_an_upload_holds_a_bounded_number_of_separate_ranges(server: LiveServer, client):
    total, limit = server.settings.image_max_bytes, server.settings.upload_max_ranges
    upload_id = start_upload(client, total=total, size=100)  # one range: 0-99
    for i in range(1, limit):  # each chunk a range of its own
        response = client.chunk(b"g" * 10, i * 1000, total, upload_id=upload_id)
        assert response.status_code == 201, response.text

    one_more = client.chunk(b"g" * 10, limit * 1000, total, upload_id=upload_id)
    body = assert_error(one_more, 400, "too_many_ranges")
    assert body["offset"] == "100"
    # a chunk that fills a gap adds no range: still welcome
    filler = client.chunk(b"f" * 900, 100, total, upload_id=upload_id)
    assert filler.status_code == 201, filler.text
    assert filler.json()["offset"] == "1010"
    ranges = client.status(upload_id).json()["ranges"]
    assert len(ranges) == limit - 1
    assert server.unreferenced_chunk_bytes(upload_id) == 0  # the refused chunk's bytes went


def test_an_upload_is_stored_in_a_bounded_number_of_chunks(server: LiveServer, client):
    total = 300
    limit = server.settings.upload_chunk_factor * 2  # 300 bytes need one chunk, plus one
    upload_id = start_upload(client, total=total, size=1)
    for start in range(1, limit):  # one byte a chunk
        response = client.chunk(b"t", start, total, upload_id=upload_id)
        assert response.status_code == 201, response.text

    refused = client.chunk(b"t", limit, total, upload_id=upload_id)
    body = assert_error(refused, 400, "too_many_chunks")
    assert body["offset"] == str(limit)
    assert len(server.chunk_records(upload_id)) == limit
    assert server.unreferenced_chunk_bytes(upload_id) == 0
    allocated = allocated_bytes(server, upload_id)
    # at most a block per allowed chunk: 64 KiB for a 300-byte file, not 4 KiB a byte
    assert allocated is None or allocated <= limit * 4096


def test_quotas_count_what_tiny_chunks_take_in_storage(make_server: MakeServer):
    # 16 one-byte chunks of a 300-byte upload take 16 blocks where one would do: the quota
    # counts 300 bytes + 15 blocks
    server = make_server(max_open_bytes=300 + 15 * 4096 + 500)
    with server.client(1) as client:
        upload_id = start_upload(client, total=300, size=1)
        for start in range(1, 16):
            assert client.chunk(b"t", start, 300, upload_id=upload_id).status_code == 201
        refused = client.chunk(starts_like(b"n" * 100), 0, 1000)
        assert_error(refused, 429, "upload_quota_exceeded")
        assert (
            client.chunk(starts_like(b"n" * 100), 0, 400).status_code == 201
        )  # what is left of it


# -- refused chunks leave nothing ---------------------------------------------------------


def test_chunks_for_unknown_upload_ids_leave_nothing_behind(server: LiveServer, client):
    before = set(server.stored_keys("chunks/"))  # the shared server's other tests' chunks
    for _ in range(20):
        upload_id = secrets.token_hex(16)
        response = client.chunk(b"x" * 100, 100, 300, upload_id=upload_id)
        assert_error(response, 404, "upload_not_found")
        assert traces(server, upload_id) == []
    assert set(server.stored_keys("chunks/")) - before == set()


def test_chunks_for_a_completed_upload_leave_nothing_behind(server: LiveServer, client):
    data = noise_image(16, 16)
    upload_id = client.upload_chunks(data)
    assert client.complete(upload_id, md5_of(data)).status_code == 201
    assert traces(server, upload_id) == []

    response = client.chunk(data, 0, len(data), upload_id=upload_id)
    assert_error(response, 400, "upload_completed")
    assert traces(server, upload_id) == []


def test_a_refused_first_chunk_leaves_nothing_behind(make_server: MakeServer):
    server = make_server(max_open_uploads=1)
    with server.client(1) as client:
        kept = start_upload(client)
        assert_error(client.chunk(starts_like(b"x" * 100), 0, 300), 429, "too_many_uploads")
    assert [key.split("/")[1] for key in server.stored_keys("chunks/")] == [kept]


def _as_user_2(server: LiveServer, _client: ChunkClient, upload_id: str) -> httpx.Response:
    with server.client(2) as other:
        return other.chunk(b"o" * 100, 100, 300, upload_id=upload_id)


REFUSALS: dict[str, tuple[Callable[[LiveServer, ChunkClient, str], httpx.Response], int, str]] = {
    "not the owner": (
        _as_user_2,
        404,
        "upload_not_found",
    ),
    "expired": (
        lambda server, c, uid: (
            server.clock.advance(timedelta(hours=25)),
            c.chunk(b"e" * 100, 100, 300, upload_id=uid),
        )[1],
        410,
        "upload_expired",
    ),
    "another total": (
        lambda _s, c, uid: c.chunk(b"t" * 100, 100, 301, upload_id=uid),
        400,
        "total_mismatch",
    ),
    "another field": (
        lambda _s, c, uid: c.chunk(b"f" * 100, 100, 300, upload_id=uid, field="document"),
        400,
        "field_mismatch",
    ),
    "a total above the limit": (
        lambda _s, c, uid: c.chunk(b"l" * 100, 100, 6 * 1024 * 1024, upload_id=uid),
        400,
        "file_too_large",
    ),
    "a range conflict": (
        lambda _s, c, uid: c.chunk(b"r" * 100, 50, 300, upload_id=uid),
        409,
        "range_conflict",
    ),
    "a changed retry": (
        lambda _s, c, uid: c.chunk(starts_like(b"z" * 100), 0, 300, upload_id=uid),
        409,
        "range_conflict",
    ),
}


@pytest.mark.parametrize(
    "refusal",
    # an upload expires when the clock moves on: that case needs a server to itself
    [pytest.param(r, marks=pytest.mark.own_server) if r == "expired" else r for r in REFUSALS],
)
def test_a_refused_chunk_leaves_no_bytes_behind(server: LiveServer, client, refusal: str):
    send, status, code = REFUSALS[refusal]
    upload_id = start_upload(client)  # 100 bytes of 300
    before = server.chunk_records(upload_id)
    assert_error(send(server, client, upload_id), status, code)
    assert server.chunk_records(upload_id) == before
    assert server.unreferenced_chunk_bytes(upload_id) == 0


# -- ids -------------------------------------------------------------------------------------


def test_a_deleted_media_id_is_never_given_again(client: ChunkClient):
    def upload() -> int:
        response = client.upload(noise_image(8, 8), filename="pic.png")
        assert response.status_code == 201, response.text
        media_id: int = response.json()["id"]
        return media_id

    upload()
    newest = upload()
    assert client.http.delete(f"/api/v2/media/{newest}/").status_code == 204
    assert upload() > newest
