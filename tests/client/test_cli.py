"""``chunkup upload`` and ``chunkup media`` as a user runs them, against a real server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.client.proxy import Proxy
from tests.support import LiveServer, noise_image

# the SDK speaks HTTP: what it is tested for does not depend on the server's backend
pytestmark = pytest.mark.backend_agnostic


def run_chunkup(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chunkup", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def client_env(server: LiveServer, tmp_path: Path, url: str | None = None) -> dict[str, str]:
    return {
        "CHUNKUP_SERVER": url or server.url,
        "CHUNKUP_TOKEN": server.token(),
        "CHUNKUP_STATE_FILE": str(tmp_path / "state" / "uploads.json"),
    }


def test_upload_prints_each_files_media_as_a_json_line(
    server: LiveServer, photo: Path, document: Path, tmp_path: Path
):
    done = run_chunkup(
        "upload", str(photo), str(document), "--parallel", "3", env=client_env(server, tmp_path)
    )
    assert done.returncode == 0, done.stderr
    image, doc = (json.loads(line) for line in done.stdout.splitlines())
    assert image["type"] == "image" and image["size"] == photo.stat().st_size
    assert doc["type"] == "doc" and doc["title"] == "report.pdf"
    assert httpx.get(image["image"]).content == photo.read_bytes()
    assert httpx.get(doc["url"]).content == document.read_bytes()
    state = json.loads((tmp_path / "state" / "uploads.json").read_text())
    assert state["uploads"] == {}  # remembered while under way, forgotten once done


def test_upload_takes_server_and_token_as_flags_and_the_type(
    server: LiveServer, photo: Path, tmp_path: Path
):
    done = run_chunkup(
        "upload",
        str(photo),
        "--server",
        server.url,
        "--token",
        server.token(),
        "--type",
        "eimage",
        "--no-progress",
        "--no-resume",
        env={"CHUNKUP_STATE_FILE": str(tmp_path / "unused.json")},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["type"] == "eimage"
    assert not (tmp_path / "unused.json").exists()


def test_each_failed_file_gets_one_line_and_the_exit_is_non_zero(
    server: LiveServer, photo: Path, tmp_path: Path
):
    missing = tmp_path / "missing.png"
    done = run_chunkup(
        "upload", str(missing), str(photo), "--no-progress", env=client_env(server, tmp_path)
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["size"] == photo.stat().st_size  # the good one went up
    assert done.stderr.splitlines() == [f"chunkup: {missing}: No such file or directory"]


def test_a_bad_token_is_one_clear_line(server: LiveServer, photo: Path, tmp_path: Path):
    env = {**client_env(server, tmp_path), "CHUNKUP_TOKEN": "expired"}
    done = run_chunkup("upload", str(photo), "--no-progress", env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [f"chunkup: {photo}: 401 invalid_token: Invalid token."]


def test_media_get_prints_the_media_and_delete_removes_it(
    server: LiveServer, photo: Path, tmp_path: Path
):
    env = client_env(server, tmp_path)
    uploaded = json.loads(run_chunkup("upload", str(photo), "--no-progress", env=env).stdout)
    media_id = str(uploaded["id"])
    got = run_chunkup("media", "get", media_id, env=env)
    assert got.returncode == 0 and json.loads(got.stdout) == uploaded
    deleted = run_chunkup("media", "delete", media_id, env=env)
    assert deleted.returncode == 0, deleted.stderr
    again = run_chunkup("media", "get", media_id, env=env)
    assert again.returncode == 1
    assert again.stderr.startswith(f"chunkup: media {media_id}: 404 media_not_found: ")


def test_upload_killed_half_way_resumes_sending_only_what_is_missing(
    local_server: LiveServer, tmp_path: Path
):
    path = tmp_path / "big.png"
    path.write_bytes(noise_image(1000, 1000))  # ~3 MB: 15 chunks
    size = path.stat().st_size
    with Proxy(local_server.port, rate=1_000_000) as proxy:  # 1 MB/s: ~3 s for the file
        env = client_env(local_server, tmp_path, url=proxy.url)
        args = [sys.executable, "-m", "chunkup", "upload", str(path), "--parallel", "1"]
        first = subprocess.Popen(
            args, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 60
            while proxy.upstream_bytes < size * 0.6 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            first.kill()  # SIGKILL: no chance to clean up
            out, _err = first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL and out == b""
        sent_first = proxy.upstream_bytes
        assert size * 0.6 <= sent_first < size

        proxy.rate = None
        second = run_chunkup("upload", str(path), "--parallel", "1", env=env)
        sent_second = proxy.upstream_bytes - sent_first
        assert second.returncode == 0, second.stderr
        media = json.loads(second.stdout)
        assert httpx.get(media["image"]).content == path.read_bytes()
    print(
        f"\nresume: {size} bytes; first run sent {sent_first} before SIGKILL, "
        f"second run {sent_second} ({sent_second / size:.0%} of the file)"
    )
    assert sent_second < sent_first and sent_first + sent_second < size * 1.15
    assert json.loads(Path(env["CHUNKUP_STATE_FILE"]).read_text())["uploads"] == {}
