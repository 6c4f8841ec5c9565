"""Real crashes and signals against `chunkup serve` processes on one data directory.

SIGKILL in the middle of chunk uploads and of a completion, SIGTERM while chunk
bodies are still arriving: after a restart, clients resume and complete, nothing
half-written is ever visible, and `chunkup gc` leaves exactly the media files.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from chunkup.auth import mint_token
from tests.robustness.test_concurrency import complete, pdf_like, post_chunk
from tests.support import CHUNK, SECRET, ServerProcess, md5_of

MiB = 1024 * 1024
TOKEN = mint_token(SECRET, 1)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Servers:
    """`chunkup serve` processes, one after another, on one data directory."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.data_dir = cwd / "data"
        self.env = {"CHUNKUP_JWT_SECRET": SECRET, "CHUNKUP_DATA_DIR": str(self.data_dir)}
        self.started: list[ServerProcess] = []

    def start(self) -> ServerProcess:
        # one process: SIGKILL of its pid is the crash of the whole server
        server = ServerProcess(self.cwd, "--workers", "1", env=self.env)
        self.started.append(server)
        return server.start()

    def close(self) -> None:
        for server in self.started:
            if server.process is not None and server.process.poll() is None:
                server.process.kill()
                server.process.wait(timeout=10)
            if hasattr(server, "log"):
                server.log.close()

    def gc(self) -> dict[str, int]:
        """`chunkup gc --orphan-grace 0s` as an operator runs it; its JSON report."""
        done = subprocess.run(
            [sys.executable, "-m", "chunkup", "gc", "--data-dir", str(self.data_dir)]
            + ["--orphan-grace", "0s"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **self.env},
        )
        assert done.returncode == 0, done.stderr
        report: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
        return report

    def stored_files(self) -> list[Path]:
        storage = self.data_dir / "storage"
        return sorted(p for p in storage.rglob("*") if p.is_file())

    def files_of(self, media: dict[str, Any]) -> list[Path]:
        """Where a Media's files live (file, preview, thumbnail, renditions): a URL path is
        a storage key."""
        thumbnail = media["image_thumbnail"] or {}
        renditions = {rendition["url"] for rendition in media["image_renditions"]}
        urls = {media["url"], media["image"], thumbnail.get("url"), *renditions} - {None}
        storage = self.data_dir / "storage"
        return sorted(storage / unquote(urlsplit(url).path).lstrip("/") for url in urls)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    group = Servers(tmp_path)
    yield group
    group.close()


def kill_9(server: ServerProcess) -> None:
    server.process.kill()
    assert server.process.wait(timeout=10) == -signal.SIGKILL
    server.stop()  # the process is gone: this only closes its log


def try_post_chunk(*args: Any) -> httpx.Response | None:
    """A chunk request; None where the server died under it."""
    try:
        return post_chunk(*args)
    except httpx.TransportError:
        return None


def try_complete(*args: Any) -> httpx.Response | None:
    try:
        return complete(*args)
    except httpx.TransportError:
        return None


def api(base_url: str, path: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as http:
        return http.get(path)


def served(media: dict[str, Any]) -> bytes:
    with httpx.Client(timeout=60) as http:
        response = http.get(media["url"] or media["image"])
    assert response.status_code == 200, response.text
    return response.content


def chunk_starts(total: int) -> list[int]:
    return list(range(0, total, CHUNK))


def missing_chunks(total: int, ranges: list[list[int]]) -> list[int]:
    """The chunk starts whose bytes the stored (merged, inclusive) ranges do not cover."""

    def covered(start: int) -> bool:
        end = min(start + CHUNK, total) - 1
        return any(lo <= start and end <= hi for lo, hi in ranges)

    return [start for start in chunk_starts(total) if not covered(start)]


def upload_all(base_url: str, data: bytes, workers: int = 8) -> str:
    first = post_chunk(base_url, TOKEN, data[:CHUNK], 0, len(data), None)
    assert first.status_code == 201, first.text
    upload_id: str = first.json()["upload_id"]
    with ThreadPoolExecutor(workers) as pool:
        responses = list(
            pool.map(
                lambda s: post_chunk(base_url, TOKEN, data[s : s + CHUNK], s, len(data), upload_id),
                chunk_starts(len(data))[1:],
            )
        )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    return upload_id


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


# -- SIGKILL while chunks are arriving -------------------------------------------


def test_kill_9_during_chunk_uploads_then_resume_completes(servers: Servers):
    data = pdf_like(40 * CHUNK - 1234)
    total = len(data)
    first = servers.start()
    opening = post_chunk(first.url, TOKEN, data[:CHUNK], 0, total, None)
    assert opening.status_code == 201, opening.text
    upload_id = opening.json()["upload_id"]

    acknowledged = [0]  # chunk starts answered 201 before the crash
    lock = threading.Lock()
    enough = threading.Event()

    def send(start: int) -> tuple[int, int | None]:
        response = try_post_chunk(
            first.url, TOKEN, data[start : start + CHUNK], start, total, upload_id
        )
        if response is None:
            return start, None
        if response.status_code == 201:
            with lock:
                acknowledged.append(start)
                if len(acknowledged) >= 15:
                    enough.set()
        return start, response.status_code

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(send, start) for start in chunk_starts(total)[1:]]
        assert enough.wait(60), "15 chunks were not answered in 60 s"
        kill_9(first)
        outcomes = [future.result(timeout=60) for future in futures]
    assert {status for _s, status in outcomes} <= {201, None}, outcomes
    assert any(status is None for _s, status in outcomes), "the kill came after the last chunk"

    second = servers.start()
    status = api(second.url, f"/api/v2/media/upload/{upload_id}/")
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["status"] == "uploading" and body["total"] == total
    missing = missing_chunks(total, body["ranges"])
    # every acknowledged chunk survived the crash; the ones cut off are resent
    assert not set(acknowledged) & set(missing), (acknowledged, body["ranges"])
    assert missing, "nothing was lost, the crash came too late"
    for start in missing:
        response = post_chunk(
            second.url, TOKEN, data[start : start + CHUNK], start, total, upload_id
        )
        assert response.status_code == 201, response.text
    done = complete(second.url, TOKEN, upload_id, md5_of(data))
    assert done.status_code == 201, done.text
    media = done.json()
    assert media["size"] == total
    assert served(media) == data

    servers.gc()
    assert not (servers.data_dir / "storage" / "chunks" / upload_id).exists()
    listed = api(second.url, "/api/v2/media/").json()
    assert listed["count"] == 1
    # no orphan chunk object, no .part file: the files are the media's, exactly
    expected = sorted(p for m in listed["results"] for p in servers.files_of(m))
    assert servers.stored_files() == expected


# -- SIGKILL while a completion assembles the file --------------------------------


def _media_files(servers: Servers, part: bool) -> bool:
    media_dir = servers.data_dir / "storage" / "media"
    if not media_dir.is_dir():
        return False
    return any(p.is_file() and (p.name.endswith(".part") == part) for p in media_dir.rglob("*"))


@pytest.mark.parametrize(
    "kill_when",
    [
        pytest.param("part_file", id="while-the-part-file-is-written"),
        pytest.param("final_file", id="after-the-rename-before-the-commit"),
    ],
)
def test_kill_9_during_completion_leaves_no_half_visible_media(servers: Servers, kill_when: str):
    data = pdf_like(50 * MiB - 4321)
    first = servers.start()
    upload_id = upload_all(first.url, data)

    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        finishing: Future[httpx.Response | None] = pool.submit(
            try_complete, first.url, TOKEN, upload_id, md5_of(data)
        )
        seen = wait_for(
            lambda: finishing.done() or _media_files(servers, part=kill_when == "part_file"),
            timeout=30,
            step=0.001,
        )
        killed_after = time.monotonic() - started
        kill_9(first)
        answer = finishing.result(timeout=30)
    assert seen and answer is None, (
        f"the completion was not caught {kill_when} (answered {answer} after {killed_after:.3f}s)"
    )

    second = servers.start()
    listed = api(second.url, "/api/v2/media/").json()
    assert listed["count"] in (0, 1), listed
    before: dict[str, Any] | None = None
    if listed["count"] == 1:
        before = listed["results"][0]
        assert before["size"] == len(data)
        assert served(before) == data  # listed means whole: never missing or partial
    else:
        status = api(second.url, f"/api/v2/media/upload/{upload_id}/").json()
        assert status["status"] == "uploading"
        assert status["ranges"] == [[0, len(data) - 1]]  # chunks kept until publication

    done = complete(second.url, TOKEN, upload_id, md5_of(data))
    assert done.status_code == 201, done.text
    media = done.json()
    assert media["size"] == len(data)
    if before is not None:
        assert media["id"] == before["id"]
    assert md5_of(served(media)) == md5_of(data)
    listed = api(second.url, "/api/v2/media/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == media["id"]

    servers.gc()
    assert servers.stored_files() == servers.files_of(media)


# -- SIGTERM while chunk bodies are still arriving --------------------------------


def multipart_chunk(data: bytes, upload_id: str) -> tuple[bytes, str]:
    boundary = os.urandom(12).hex()
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="upload_id"\r\n\r\n'
        f"{upload_id}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="document"; filename="blob.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def slowly(body: bytes, pieces: int, delay: float, sending: threading.Event) -> Iterator[bytes]:
    """The body in ``pieces`` parts ``delay`` apart; ``sending`` once the headers are out."""
    size = -(-len(body) // pieces)
    for index, offset in enumerate(range(0, len(body), size)):
        if index == 1:
            sending.set()  # httpx asks for the body after writing the headers
        if index:
            time.sleep(delay)
        yield body[offset : offset + size]


def post_slow_chunk(
    base_url: str, data: bytes, start: int, total: int, upload_id: str, sending: threading.Event
) -> httpx.Response:
    body, content_type = multipart_chunk(data, upload_id)
    headers = {
        **AUTH,
        "Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}",
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
    }
    with httpx.Client(base_url=base_url, timeout=30) as http:
        return http.post(
            "/api/v2/media/upload/chunk/",
            content=slowly(body, pieces=12, delay=0.12, sending=sending),
            headers=headers,
        )


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_sigterm_lets_in_flight_chunks_finish_and_refuses_new_ones(servers: Servers):
    data = pdf_like(4 * CHUNK)
    total = len(data)
    first = servers.start()
    opening = post_chunk(first.url, TOKEN, data[:CHUNK], 0, total, None)
    assert opening.status_code == 201, opening.text
    upload_id = opening.json()["upload_id"]

    slow = chunk_starts(total)[1:]
    sending = {start: threading.Event() for start in slow}
    with ThreadPoolExecutor(len(slow)) as pool:
        in_flight = {
            start: pool.submit(
                post_slow_chunk,
                first.url,
                data[start : start + CHUNK],
                start,
                total,
                upload_id,
                sending[start],
            )
            for start in slow
        }
        assert all(event.wait(10) for event in sending.values())
        time.sleep(0.05)  # the first body bytes reach the server
        assert not any(f.done() for f in in_flight.values()), "the bodies were not slow enough"
        terminated = time.monotonic()
        first.process.terminate()
        # uvicorn stops listening as soon as it starts shutting down (it notices the
        # signal within 0.1 s), while the slow requests are still being received
        assert wait_for(lambda: refuses_connections(first.port), timeout=5)
        assert not any(f.done() for f in in_flight.values())
        with pytest.raises(httpx.ConnectError):
            post_chunk(first.url, TOKEN, data[:CHUNK], 0, total, None)
        responses = {start: future.result(timeout=40) for start, future in in_flight.items()}
        code = first.process.wait(timeout=40)
        exited_after = time.monotonic() - terminated
    first.stop()

    for response in responses.values():
        assert response.status_code == 201, response.text
    text = (servers.cwd / f"server-{first.port}.log").read_text()
    assert "timeout graceful shutdown exceeded" not in text
    assert exited_after < 30, exited_after  # timeout_graceful_shutdown
    # uvicorn re-raises the captured SIGTERM once its graceful shutdown is done, so
    # the exit status is "terminated by SIGTERM"; the 201s above show it drained first
    assert code in (0, -signal.SIGTERM), text

    second = servers.start()
    status = api(second.url, f"/api/v2/media/upload/{upload_id}/")
    assert status.status_code == 200, status.text
    assert status.json()["ranges"] == [[0, total - 1]]
    done = complete(second.url, TOKEN, upload_id, md5_of(data))
    assert done.status_code == 201, done.text
    assert served(done.json()) == data
