"""Storage that fails: 503 with a clear code, nothing stored is lost, the upload resumes."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chunkup.errors import StorageUnavailable
from chunkup.storage.local import LocalStorage, appended_range
from tests.support import (
    CHUNK,
    ChunkClient,
    LiveServer,
    md5_of,
    noise_image,
    settings_for,
    starts_like,
)


class FailingStorage(LocalStorage):
    """Local storage whose writes can be made to fail, as a full disk would."""

    failing = False

    def put_blocking(self, key: str, data: bytes | bytearray | memoryview) -> None:
        # ``put`` comes here (media files, checksummed tus pieces)
        self._fail_if_full()
        super().put_blocking(key, data)

    def append_blocking(
        self, prefix: str, data: bytes | bytearray | memoryview, *, create: bool = True
    ) -> str:
        # the chunk path's own hand-off (chunks, tus pieces) comes here
        self._fail_if_full()
        return super().append_blocking(prefix, data, create=create)

    def _fail_if_full(self) -> None:
        if self.failing:
            raise StorageUnavailable("Storage write failed: No space left on device.")


@pytest.fixture
def failing(tmp_path: Path) -> Iterator[tuple[LiveServer, FailingStorage]]:
    storage = FailingStorage(tmp_path / "data" / "storage")
    live = LiveServer(settings_for(tmp_path / "data"), storage=storage).start()
    yield live, storage
    live.stop()


def send_rest(client: ChunkClient, data: bytes, upload_id: str, starts: list[int]) -> None:
    for start in starts:
        response = client.chunk(data[start : start + CHUNK], start, len(data), upload_id=upload_id)
        assert response.status_code == 201, response.text


def test_a_failed_write_is_503_and_the_upload_resumes_after(
    failing: tuple[LiveServer, FailingStorage],
):
    server, storage = failing
    data = noise_image(400, 400)
    starts = list(range(CHUNK, len(data), CHUNK))
    with server.client() as client:
        upload_id = client.chunk(data[:CHUNK], 0, len(data)).json()["upload_id"]
        storage.failing = True
        refused = client.chunk(data[CHUNK : 2 * CHUNK], CHUNK, len(data), upload_id=upload_id)
        assert refused.status_code == 503
        assert refused.json()["code"] == "storage_unavailable"
        status = client.status(upload_id).json()
        assert status["ranges"] == [[0, CHUNK - 1]]  # what was stored is still there
        storage.failing = False
        send_rest(client, data, upload_id, starts)
        media = client.complete(upload_id, md5_of(data))
    assert media.status_code == 201, media.text
    assert httpx.get(media.json()["image"]).content == data


def test_a_failed_first_chunk_creates_no_upload(failing: tuple[LiveServer, FailingStorage]):
    server, storage = failing
    storage.failing = True
    with server.client() as client:
        refused = client.chunk(starts_like(b"x" * 100), 0, 100)
        assert refused.status_code == 503
        assert client.http.get("/api/v2/media/").json()["count"] == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, where the machine lets us mount one."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_really_full_disk_is_503_then_more_room_lets_it_finish(tmp_path: Path, tiny_disk: Path):
    settings = settings_for(tmp_path / "data", storage_url=tiny_disk.as_uri())
    server = LiveServer(settings).start()
    data = noise_image(700, 700)  # about 1.4 MiB: more than the disk holds
    try:
        with server.client() as client:
            upload_id = client.chunk(data[:CHUNK], 0, len(data)).json()["upload_id"]
            refused = None
            for start in range(CHUNK, len(data), CHUNK):
                response = client.chunk(
                    data[start : start + CHUNK], start, len(data), upload_id=upload_id
                )
                if response.status_code != 201:
                    refused = response
                    break
            assert refused is not None and refused.status_code == 503
            assert refused.json()["code"] == "storage_unavailable"
            ranges = client.status(upload_id).json()["ranges"]
            subprocess.run(["mount", "-o", "remount,size=20m", str(tiny_disk)], check=True)
            stored_until = ranges[0][1] + 1
            send_rest(client, data, upload_id, list(range(stored_until, len(data), CHUNK)))
            media = client.complete(upload_id, md5_of(data))
        assert media.status_code == 201, media.text
        assert httpx.get(media.json()["image"]).content == data
    finally:
        server.stop()


def test_a_chunk_the_store_lost_is_503_on_complete_not_500(
    failing: tuple[LiveServer, FailingStorage],
):
    server, storage = failing
    data = noise_image(300, 300)
    with server.client() as client:
        upload_id = client.upload_chunks(data)
        # the store loses the second chunk: its file is cut after the first
        first = server.chunk_records(upload_id)[0]
        appended = appended_range(first.key)
        assert appended is not None
        os.truncate(storage.local_path(appended[0]), CHUNK)
        response = client.complete(upload_id, md5_of(data))
    assert response.status_code == 503
    assert response.json()["code"] == "storage_unavailable"
