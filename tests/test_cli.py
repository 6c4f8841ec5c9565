"""The chunkup command: token minting and garbage collection from the shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest

from tests.support import SECRET, FakeClock, LiveServer, noise_image, settings_for, starts_like


def chunkup(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chunkup", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_token_is_an_access_jwt_for_the_user_with_the_generated_secret(tmp_path: Path):
    token = chunkup("token", "--user", "42", "--ttl", "30m", "--data-dir", str(tmp_path)).strip()
    secret = (tmp_path / "jwt-secret").read_text().strip()
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["user_id"] == 42 and claims["token_type"] == "access"
    assert claims["exp"] - claims["iat"] == 1800 and claims["jti"]


def test_token_uses_the_configured_secret(tmp_path: Path):
    token = chunkup(
        "token", "--user", "3", "--data-dir", str(tmp_path), env={"CHUNKUP_JWT_SECRET": SECRET}
    ).strip()
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["user_id"] == 3
    assert not (tmp_path / "jwt-secret").exists()


def back_in_time(delta: timedelta) -> FakeClock:
    clock = FakeClock()
    clock.advance(-delta)
    return clock


@pytest.fixture
def past_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A server living ``request.param`` in the past: its uploads are old by now."""
    live = LiveServer(settings_for(tmp_path / "data"), clock=back_in_time(request.param))
    yield live.start()
    live.stop()


def gc(data_dir: Path, *extra: str) -> dict[str, int]:
    return json.loads(chunkup("gc", "--data-dir", str(data_dir), *extra))


def chunk_dirs(data_dir: Path) -> list[Path]:
    root = data_dir / "storage" / "chunks"
    return list(root.iterdir()) if root.exists() else []


@pytest.mark.parametrize("past_server", [timedelta(hours=25)], indirect=True)
def test_gc_expires_old_uploads_removes_their_chunks_and_they_answer_410(past_server: LiveServer):
    data_dir = past_server.settings.data_dir
    with past_server.client() as client:
        first = client.chunk(noise_image(100, 100)[:1000], 0, 5000)
        upload_id = first.json()["upload_id"]
        assert len(chunk_dirs(data_dir)) == 1
        report = gc(data_dir)
        assert report["expired"] == 1 and report["forgotten"] == 0
        assert chunk_dirs(data_dir) == []
        status = client.status(upload_id)
    assert status.status_code == 410
    assert status.json()["code"] == "upload_expired"


@pytest.mark.parametrize("past_server", [timedelta(days=8, hours=1)], indirect=True)
def test_gc_forgets_uploads_expired_longer_than_the_retention(past_server: LiveServer):
    with past_server.client() as client:
        upload_id = client.chunk(starts_like(b"x" * 100), 0, 500).json()["upload_id"]
        report = gc(past_server.settings.data_dir)
        assert report["expired"] == 1 and report["forgotten"] == 1
        status = client.status(upload_id)
    assert status.status_code == 404
    assert status.json()["code"] == "upload_not_found"


def test_gc_removes_orphaned_chunks_but_not_live_ones(tmp_path: Path):
    data_dir = tmp_path / "data"
    server = LiveServer(settings_for(data_dir)).start()  # on the local disk: orphans made by hand
    with server.client() as client:
        live_id = client.chunk(starts_like(b"x" * 100), 0, 500).json()["upload_id"]
    server.stop()
    orphan = data_dir / "storage" / "chunks" / ("ab" * 16) / "000000000000000-000000000000009.x"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"0123456789")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    report = gc(data_dir)
    assert report["orphan_uploads"] == 1
    assert [p.name for p in chunk_dirs(data_dir)] == [live_id]


def test_server_collects_garbage_in_the_background(tmp_path: Path):
    settings = settings_for(tmp_path / "data", gc_interval=timedelta(seconds=0.1))
    server = LiveServer(settings).start()
    try:
        with server.client() as client:
            upload_id = client.chunk(starts_like(b"x" * 100), 0, 500).json()["upload_id"]
            server.clock.advance(timedelta(hours=25))
            server.wait_gc_rounds(2)  # the second one began after the clock moved
            assert chunk_dirs(settings.data_dir) == []
            assert client.status(upload_id).json()["code"] == "upload_expired"
    finally:
        server.stop()


def test_serve_with_two_workers_serves_uploads_from_both(tmp_path: Path):
    import httpx

    from tests.support import ChunkClient, ServerProcess

    env = {"CHUNKUP_JWT_SECRET": SECRET, "CHUNKUP_DATA_DIR": str(tmp_path / "data")}
    server = ServerProcess(tmp_path, "--workers", "2", env=env).start()
    try:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        workers = [
            pid
            for pid in children.read_text().split()
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2  # under one supervisor
        data = noise_image(300, 300)
        token = jwt.encode(
            {
                "token_type": "access",
                "user_id": 1,
                "iat": int(time.time()),
                "exp": int(time.time()) + 600,
                "jti": "w",
            },
            SECRET,
            algorithm="HS256",
        )
        http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
        with ChunkClient(http) as client:
            media = client.upload(data, filename="w.png")
        assert media.status_code == 201, media.text
        assert httpx.get(media.json()["image"]).content == data
    finally:
        server.stop()
