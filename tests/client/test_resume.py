"""Resuming with the SDK: an upload id, a remembered one, and what the server says about it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from chunkup.client import BadRequest, Client, NotFound, ResumeFile
from chunkup.client.resume import resume_key
from tests.client.conftest import CountingTransport
from tests.client.proxy import Proxy
from tests.support import CHUNK, LiveServer, md5_of

# the SDK speaks HTTP: what it is tested for does not depend on the server's backend
pytestmark = pytest.mark.backend_agnostic

OVERHEAD = 1024  # headers and multipart framing of one chunk request, generously


class MemoryStore:
    """A ResumeStore in a dict, to see what the client remembers."""

    def __init__(self) -> None:
        self.saved: dict[str, str] = {}
        self.history: list[str] = []

    def load(self, key: str) -> str | None:
        return self.saved.get(key)

    def save(self, key: str, upload_id: str) -> None:
        self.saved[key] = upload_id
        self.history.append(upload_id)

    def discard(self, key: str) -> None:
        self.saved.pop(key, None)


def meddler(server: LiveServer, data: bytes, store: MemoryStore) -> Callable[[int, int], None]:
    """A progress callback that, once the upload exists, has someone else store bytes
    across two of its chunks (``CHUNK + 1000`` to ``2 * CHUNK + 999``): the client's own
    chunks there then meet a 409 each."""
    meddled = False

    def meddle(_done: int, _total: int) -> None:
        nonlocal meddled
        if not meddled:  # the upload exists, the rest is not sent yet
            meddled = True
            start, end = CHUNK + 1000, 2 * CHUNK + 999
            with server.client() as raw:
                answer = raw.chunk(
                    data[start : end + 1], start, len(data), upload_id=store.history[0]
                )
                assert answer.status_code == 201, answer.text

    return meddle


def key_of(url: str, path: Path) -> str:
    """The key a client of ``url`` remembers ``path``'s upload under."""
    stat = path.stat()
    return resume_key(url, str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def partial_upload(server: LiveServer, data: bytes, chunks: list[int]) -> str:
    """An upload holding only the given chunks (the first one always)."""
    with server.client() as raw:
        upload_id: str = raw.chunk(data[:CHUNK], 0, len(data), filename="photo.png").json()[
            "upload_id"
        ]
        for index in chunks:
            start = index * CHUNK
            raw.chunk(data[start : start + CHUNK], start, len(data), upload_id=upload_id)
    return upload_id


def test_an_upload_id_resumes_and_only_the_missing_chunks_are_sent(
    local_server: LiveServer, photo: Path
):
    data = photo.read_bytes()
    upload_id = partial_upload(local_server, data, [2, 3])
    stored = 3 * CHUNK
    reports: list[tuple[int, int]] = []
    with Proxy(local_server.port) as proxy, Client(proxy.url, local_server.token()) as client:
        media = client.upload(photo, upload_id=upload_id, progress=lambda *r: reports.append(r))
        sent = proxy.upstream_bytes
        assert media.image is not None and httpx.get(media.image).content == data
    assert reports[0] == (stored, len(data)) and reports[-1] == (len(data), len(data))
    assert len(data) - stored < sent < len(data) - stored + 5 * OVERHEAD


def test_a_remembered_upload_resumes_and_is_forgotten_once_done(
    local_server: LiveServer, photo: Path, tmp_path: Path
):
    data = photo.read_bytes()
    store = ResumeFile(tmp_path / "state" / "uploads.json")
    with Proxy(local_server.port) as proxy, Client(proxy.url, local_server.token()) as client:
        store.save(key_of(proxy.url, photo), partial_upload(local_server, data, [1, 4]))
        media = client.upload(photo, resume=store)
        sent = proxy.upstream_bytes
    assert len(data) - 3 * CHUNK < sent < len(data) - 3 * CHUNK + 5 * OVERHEAD
    assert media.size == len(data)
    assert store.load(key_of(proxy.url, photo)) is None


def test_a_remembered_upload_the_server_no_longer_has_starts_over(server: LiveServer, photo: Path):
    data = photo.read_bytes()
    store = MemoryStore()
    stale = partial_upload(server, data, [1])
    with Client(server.url, server.token()) as client:
        client.abort(stale)
        store.save(key_of(server.url, photo), stale)
        media = client.upload(photo, resume=store)
    assert media.size == len(data)
    assert len(store.history) == 2 and store.history[1] != stale and store.saved == {}


def test_a_changed_file_is_a_new_upload(server: LiveServer, photo: Path):
    store = MemoryStore()
    old_key = key_of(server.url, photo)
    old_id = partial_upload(server, photo.read_bytes(), [1])
    store.save(old_key, old_id)
    os.utime(photo, ns=(0, photo.stat().st_mtime_ns + 1_000_000))  # touched: another identity
    with Client(server.url, server.token()) as client:
        client.upload(photo, resume=store)
    assert len(store.history) == 2 and store.history[1] != old_id
    assert store.saved == {old_key: old_id}  # the new upload was remembered, then forgotten


def test_an_upload_completed_before_the_client_heard_returns_its_media(
    server: LiveServer, photo: Path
):
    data = photo.read_bytes()
    with server.client() as raw:
        upload_id = raw.upload_chunks(data, filename="photo.png")
        done = raw.complete(upload_id, md5_of(data)).json()
    transport = CountingTransport()
    with Client(server.url, server.token(), transport=transport) as client:
        media = client.upload(photo, upload_id=upload_id)
    assert media.id == done["id"]
    assert transport.statuses == [200, 200]  # the status, the media: no chunk sent again


def test_an_unknown_upload_id_raises_not_found(server: LiveServer, photo: Path):
    with Client(server.url, server.token()) as client, pytest.raises(NotFound) as caught:
        client.upload(photo, upload_id="f" * 32)
    assert caught.value.code == "upload_not_found"


def test_an_upload_id_of_another_size_is_refused(server: LiveServer, photo: Path, document: Path):
    upload_id = partial_upload(server, document.read_bytes(), [])
    with Client(server.url, server.token()) as client, pytest.raises(ValueError, match="bytes"):
        client.upload(photo, upload_id=upload_id)


def test_a_refused_completion_aborts_the_upload_and_forgets_it(server: LiveServer, document: Path):
    store = MemoryStore()
    with Client(server.url, server.token()) as client:
        with pytest.raises(BadRequest) as caught:
            client.upload(document, type="image", resume=store)
        assert caught.value.code == "invalid_image"
        assert store.saved == {} and len(store.history) == 1
        with pytest.raises(NotFound):
            client.status(store.history[0])


def test_a_range_conflict_asks_the_server_and_sends_only_what_it_lacks(
    server: LiveServer, photo: Path
):
    """Someone else stores bytes across two of our chunks: each 409 is settled by the status."""
    data = photo.read_bytes()
    store = MemoryStore()
    meddle = meddler(server, data, store)

    transport = CountingTransport()
    with Client(server.url, server.token(), transport=transport) as client:
        media = client.upload(photo, parallel=1, progress=meddle, resume=store)
    assert media.size == len(data)
    assert transport.statuses.count(409) == 2
    assert media.image is not None and httpx.get(media.image).content == data
