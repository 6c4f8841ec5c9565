"""`chunkup serve` with its default several workers: the node lives and dies whole.

The supervisor (uvicorn's) is SIGKILLed in the middle of an upload: its workers
must not live on holding the port. A new server on the same port and data
directory then serves, and the client resumes and completes with exact bytes.
SIGTERM and Ctrl-C still drain the workers gracefully.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chunkup.supervision import SUPERVISOR_PID_VARIABLE
from tests.robustness.test_concurrency import complete, pdf_like, post_chunk
from tests.robustness.test_crashes import TOKEN, api, missing_chunks, served, wait_for
from tests.support import CHUNK, SECRET, ServerProcess, md5_of

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads processes from /proc")

WORKERS = 2


def children_of(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc: ppid is field 4 of /proc/PID/stat)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # it exited while we looked
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def port_is_free(port: int) -> bool:
    """Nothing listens: a new server could bind it (as uvicorn does, with SO_REUSEADDR,
    so connections of the dead server in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Node:
    """`chunkup serve --workers 2` on one port and data directory, started again and again."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {"CHUNKUP_JWT_SECRET": SECRET, "CHUNKUP_DATA_DIR": str(cwd / "data")}
        self.port: int | None = None
        self.started: list[ServerProcess] = []

    def start(self) -> ServerProcess:
        server = ServerProcess(
            self.cwd, "--workers", str(WORKERS), env=self.env, port=self.port
        ).start()
        self.port = server.port
        self.started.append(server)
        log = self.cwd / f"server-{server.port}.log"  # written anew by each start
        assert wait_for(
            lambda: log.read_text().count("Application startup complete") >= WORKERS, timeout=60
        ), "the workers did not start in 60 s"
        return server

    def close(self) -> None:
        for server in self.started:
            if server.process.poll() is None:
                server.process.kill()
                server.process.wait(timeout=10)
            for pid in children_of(server.process.pid):
                os.kill(pid, signal.SIGKILL)
            server.log.close()


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    group = Node(tmp_path)
    yield group
    group.close()


def test_a_killed_supervisor_takes_its_workers_and_the_port_with_it(node: Node):
    data = pdf_like(6 * CHUNK - 777)
    total = len(data)
    first = node.start()
    workers = children_of(first.process.pid)  # the workers and multiprocessing's helper
    assert len(workers) >= WORKERS, workers

    opening = post_chunk(first.url, TOKEN, data[:CHUNK], 0, total, None)
    assert opening.status_code == 201, opening.text
    upload_id = opening.json()["upload_id"]
    for start in (CHUNK, 2 * CHUNK):
        sent = post_chunk(first.url, TOKEN, data[start : start + CHUNK], start, total, upload_id)
        assert sent.status_code == 201, sent.text

    # a chunk in flight: headers and half its body sent when the supervisor dies
    in_flight = socket.create_connection(("127.0.0.1", node.port))
    in_flight.sendall(
        b"POST /api/v2/media/upload/chunk/ HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
        b"Content-Range: bytes 614400-819199/" + str(total).encode() + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 205000\r\n\r\n"
        b'--b\r\nContent-Disposition: form-data; name="upload_id"\r\n\r\n'
        + upload_id.encode()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="document"; filename="x"\r\n\r\n'
        + data[3 * CHUNK : 3 * CHUNK + CHUNK // 2]
    )

    os.kill(first.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    assert first.process.wait(timeout=10) == -signal.SIGKILL
    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=2), [
        pid for pid in workers if alive(pid)
    ]
    assert wait_for(lambda: port_is_free(first.port), timeout=2)
    print(f"workers gone and port free {time.monotonic() - killed:.3f} s after the SIGKILL")
    in_flight.close()

    second = node.start()
    assert second.port == first.port
    status = api(second.url, f"/api/v2/media/upload/{upload_id}/")
    assert status.status_code == 200, status.text
    missing = missing_chunks(total, status.json()["ranges"])
    assert missing == [3 * CHUNK, 4 * CHUNK, 5 * CHUNK]
    for start in missing:
        sent = post_chunk(second.url, TOKEN, data[start : start + CHUNK], start, total, upload_id)
        assert sent.status_code == 201, sent.text
    done = complete(second.url, TOKEN, upload_id, md5_of(data))
    assert done.status_code == 201, done.text
    assert served(done.json()) == data


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stopped_supervisor_drains_its_workers_gracefully(node: Node, stop: signal.Signals):
    server = node.start()
    workers = children_of(server.process.pid)
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200

    os.kill(server.process.pid, stop)
    assert server.process.wait(timeout=40) == 0
    # the workers were joined; multiprocessing's resource tracker follows a moment later
    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=2)
    assert port_is_free(server.port)
    log = (node.cwd / f"server-{server.port}.log").read_text()
    # each worker ran its lifespan's end; none was orphaned
    assert log.count("Application shutdown complete") == WORKERS
    assert "is gone: process" not in log


def worker_start_up(env: dict[str, str]) -> int:
    """A process that runs a worker's start-up check; its exit code.

    A process of its own: the check arms a death signal on whoever runs it.
    """
    code = "from chunkup.supervision import die_with_supervisor; die_with_supervisor()"
    return subprocess.run([sys.executable, "-c", code], env=env, timeout=60).returncode


def test_a_worker_whose_supervisor_died_before_it_started_exits_at_once():
    """The race: the supervisor is gone before the worker arms the death signal."""
    env = {**os.environ, SUPERVISOR_PID_VARIABLE: "1"}  # not the parent: pytest is
    assert worker_start_up(env) == 1


def test_a_process_not_started_by_a_supervisor_is_left_alone():
    env = {k: v for k, v in os.environ.items() if k != SUPERVISOR_PID_VARIABLE}
    assert worker_start_up(env) == 0


def test_a_worker_of_a_live_supervisor_goes_on():
    env = {**os.environ, SUPERVISOR_PID_VARIABLE: str(os.getpid())}
    assert worker_start_up(env) == 0
