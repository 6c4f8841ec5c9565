"""HTTP-layer limits: what a client without a token can make a worker hold.

Each attack goes over a raw socket to a real ``chunkup serve`` process with
short timeouts (so no test waits the 10 s default), and must end in the right
status with the contract's JSON error (or a closed connection where nothing was
asked), quickly, without the server's memory growing with the attack, while
another user's upload completes. Defaults and settings: README "Security".
The figures printed (``-rP``) are the ones the issue asks for.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from importlib.metadata import version
from pathlib import Path

import pytest

from chunkup.auth import mint_token
from tests.robustness.test_hostile_input import (
    SOCKET_TIMEOUT,
    RawResponse,
    assert_error,
    bystander_for,
    connection_is_closed,
    head,
    memory_mib,
    read_response,
    report,
    reset_peak,
)
from tests.support import SECRET, ServerProcess

MiB = 1024 * 1024
HEADER_TIMEOUT = 2.0
KEEP_ALIVE = 0.5
# time for the server to act on a timeout, on a loaded 2-core machine
SLACK = 3.0


def start_server(cwd: Path, *args: str, **env: str) -> ServerProcess:
    environment = {
        "CHUNKUP_JWT_SECRET": SECRET,
        "CHUNKUP_DATA_DIR": str(cwd / "data"),
        "CHUNKUP_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "CHUNKUP_HTTP_KEEP_ALIVE_TIMEOUT": str(KEEP_ALIVE),
        **env,
    }
    return ServerProcess(cwd, "--log-level", "warning", *args, env=environment).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(tmp_path_factory.mktemp("limits"))
    yield process
    process.stop()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)


def get(path: str = "/healthz", *headers: str, close: bool = True) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def send_while_reading(port: int, payload: bytes) -> tuple[RawResponse | None, float]:
    """Send ``payload`` from a thread while reading the answer: a server that
    answers before reading it all must not need the client to finish first."""
    with connect(port) as sock:
        started = time.monotonic()

        def send() -> None:
            try:
                sock.sendall(payload)
            except OSError:
                pass  # the server stopped reading: what it should do

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        response = read_response(sock)
        elapsed = time.monotonic() - started
        sock.shutdown(socket.SHUT_RDWR)
        sender.join(timeout=SOCKET_TIMEOUT)
    return response, elapsed


def attack(server: ServerProcess, label: str, payload: bytes) -> RawResponse:
    """The answer to ``payload``, with the server's peak memory and time reported
    and bounded; the server still completes another user's upload afterwards."""
    pid = server.process.pid
    before = reset_peak(pid)
    response, elapsed = send_while_reading(server.port, payload)
    after = memory_mib(pid)
    assert response is not None, f"{label}: closed without an answer"
    report(
        label,
        status=response.status_code,
        seconds=round(elapsed, 3),
        rss_before_mib=round(before["VmRSS"]),
        peak_mib=round(after["VmHWM"]),
    )
    assert elapsed < 2, f"{label}: answered after {elapsed:.1f}s"
    assert after["VmHWM"] - before["VmRSS"] < 16, (label, before, after)
    with bystander_for(server) as bystander:
        bystander.finish()
    return response


# -- sizes -----------------------------------------------------------------------------


def test_a_32_mib_header_line_is_431_before_it_is_read(server: ServerProcess):
    payload = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (32 * MiB) + b"\r\n\r\n"
    response = attack(server, "32 MiB header line", payload)
    assert_error(response, 431, "request_header_fields_too_large")
    assert response.headers["connection"] == "close"


def test_a_head_of_16_kib_passes_and_one_byte_more_is_431(server: ServerProcess):
    def request_with_head_of(size: int) -> bytes:
        start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
        padding = size - len(start) - len(b"\r\n\r\n")
        return start + b"p" * padding + b"\r\n\r\n"

    assert len(request_with_head_of(16384)) == 16384
    response, _ = send_while_reading(server.port, request_with_head_of(16384))
    assert response is not None and response.status_code == 200, response
    response, _ = send_while_reading(server.port, request_with_head_of(16385))
    assert response is not None
    assert_error(response, 431, "request_header_fields_too_large")


def test_100_000_header_lines_are_431(server: ServerProcess):
    lines = b"".join(b"X-%d: v\r\n" % i for i in range(100_000))
    response = attack(
        server, "100 000 header lines", b"GET /healthz HTTP/1.1\r\n" + lines + b"\r\n"
    )
    assert_error(response, 431, "request_header_fields_too_large")


def test_100_header_fields_pass_and_101_are_431(server: ServerProcess):
    def request_with_fields(count: int) -> bytes:
        fields = [f"X-{i}: v" for i in range(count - 2)]  # plus Host and Connection
        return get("/healthz", *fields)

    response, _ = send_while_reading(server.port, request_with_fields(100))
    assert response is not None and response.status_code == 200, response
    response, _ = send_while_reading(server.port, request_with_fields(101))
    assert response is not None
    body = assert_error(response, 431, "request_header_fields_too_large")
    assert "100" in body["detail"]


def test_a_32_mib_url_is_414_before_it_is_read(server: ServerProcess):
    payload = b"GET /healthz?q=" + b"a" * (32 * MiB) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    response = attack(server, "32 MiB URL", payload)
    assert_error(response, 414, "uri_too_long")


def test_a_url_of_8_kib_passes_and_longer_is_414(server: ServerProcess):
    path = "/healthz?q="
    fits = path + "a" * (8192 - len(path))
    response, _ = send_while_reading(server.port, get(fits))
    assert response is not None and response.status_code == 200, response
    response, _ = send_while_reading(server.port, get(fits + "a"))
    assert response is not None
    assert_error(response, 414, "uri_too_long")


def test_keep_alive_requests_each_get_the_whole_head_limit(server: ServerProcess):
    """The head budget is per request: three 12 KiB heads on one connection, one
    after another and then pipelined, are all served."""
    big = get("/healthz", "X-Pad: " + "p" * 12000, close=False)
    with connect(server.port) as sock:
        for _ in range(3):
            sock.sendall(big)
            response = read_response(sock)
            assert response is not None and response.status_code == 200, response
        sock.sendall(big * 2 + get("/healthz"))  # the last one closes the connection
        answers = read_until_closed(sock)
    assert answers.count(b"HTTP/1.1 200 OK\r\n") == 3, answers[:1000]


def closes_by(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``sock`` by ``deadline`` (what it answers first is read)."""
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (pipelined answers, unparsed)."""
    received = []
    while block := sock.recv(65536):
        received.append(block)
    return b"".join(received)


# -- time ------------------------------------------------------------------------------


def test_headers_sent_a_line_at_a_time_are_cut_off_with_408(server: ServerProcess):
    started = time.monotonic()
    with connect(server.port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        line = 0
        try:
            while time.monotonic() - started < HEADER_TIMEOUT + SLACK:
                sock.sendall(b"X-%d: v\r\n" % line)  # the attack's pace, not a wait
                line += 1
                if connection_is_closed_or_answered(sock, wait=0.1):
                    break
        except OSError:
            pass  # closed while we were writing
        elapsed = time.monotonic() - started
        sock.settimeout(1)
        response = read_response(sock)
    report("a header line every 0.1 s", seconds=round(elapsed, 2), lines=line)
    assert elapsed < HEADER_TIMEOUT + SLACK, f"still open after {elapsed:.1f}s"
    assert response is not None, "closed without the 408"
    assert_error(response, 408, "request_timeout")


def connection_is_closed_or_answered(sock: socket.socket, wait: float) -> bool:
    """Whether the server answered or closed within ``wait`` seconds (nothing is consumed)."""
    sock.settimeout(wait)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        pass
    return True


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess):
    started = time.monotonic()
    with connect(server.port) as sock:
        closed = connection_is_closed(sock, wait=HEADER_TIMEOUT + SLACK)
    elapsed = time.monotonic() - started
    report("a connection that sends nothing", seconds=round(elapsed, 2))
    assert closed, "a silent connection stays open"


def test_an_idle_keep_alive_connection_is_closed(server: ServerProcess):
    with connect(server.port) as sock:
        sock.sendall(get("/healthz", close=False))
        response = read_response(sock)
        assert response is not None and response.status_code == 200
        started = time.monotonic()
        assert connection_is_closed(sock, wait=KEEP_ALIVE + SLACK)
    assert time.monotonic() - started >= KEEP_ALIVE * 0.9


def test_a_body_nobody_reads_dribbled_after_the_answer_does_not_hold_the_connection(
    server: ServerProcess,
):
    """A route answers without reading the body (here: 404); the client keeps
    sending it a byte at a time. The connection closes after the keep-alive time."""
    started = time.monotonic()
    with connect(server.port) as sock:
        sock.sendall(b"POST /no-such-route HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nx")
        response = read_response(sock)
        assert response is not None and response.status_code == 404
        closed = False
        try:
            while time.monotonic() - started < KEEP_ALIVE + SLACK and not closed:
                sock.sendall(b"x")  # the attack's pace, not a wait
                closed = connection_is_closed(sock, wait=0.1)
        except OSError:
            closed = True
    elapsed = time.monotonic() - started
    report("an unread body a byte per 0.1 s", seconds=round(elapsed, 2))
    assert closed, f"still open after {elapsed:.1f}s"
    assert elapsed < KEEP_ALIVE + 1.5, f"closed only after {elapsed:.1f}s"


def test_a_chunk_body_sent_a_byte_at_a_time_is_cut_off_with_408(tmp_path: Path):
    """Bytes every 0.1 s never leave the body idle for ``CHUNKUP_BODY_TIMEOUT``, yet
    would take a 200 KB chunk days: below the minimum rate it is cut off."""
    slow = start_server(tmp_path, CHUNKUP_BODY_TIMEOUT="1", CHUNKUP_HTTP_MIN_BODY_RATE="1000")
    try:
        started = time.monotonic()
        with connect(slow.port) as sock:
            sock.sendall(head(mint_token(SECRET, 1), length=200_000))
            answered = False
            try:
                while time.monotonic() - started < 1 + SLACK and not answered:
                    sock.sendall(b"-")  # the attack's pace, not a wait
                    answered = connection_is_closed_or_answered(sock, wait=0.1)
            except OSError:
                pass  # closed while we were writing
            elapsed = time.monotonic() - started
            sock.settimeout(1)
            response = read_response(sock)
        report("a chunk body a byte per 0.1 s", seconds=round(elapsed, 2))
        assert elapsed < 1 + SLACK, f"still open after {elapsed:.1f}s"
        assert response is not None, "closed without the 408"
        assert_error(response, 408, "request_timeout")
        with bystander_for(slow) as bystander:
            bystander.finish()
    finally:
        slow.stop()


# -- connections -----------------------------------------------------------------------


def test_200_slow_and_idle_connections_do_not_stop_an_upload_and_are_all_closed(
    server: ServerProcess,
):
    pid = server.process.pid
    before = reset_peak(pid)
    token = mint_token(SECRET, 1)
    started = time.monotonic()
    with ExitStack() as stack:
        idle = [stack.enter_context(connect(server.port)) for _ in range(100)]
        slow = [stack.enter_context(connect(server.port)) for _ in range(100)]
        for sock in slow:
            sock.sendall(head(token).split(b"\r\n", 1)[0] + b"\r\n")  # a request line only
        with bystander_for(server) as bystander:
            bystander.finish()
        finished = time.monotonic() - started
        assert finished < HEADER_TIMEOUT, "too slow to show anything: raise HEADER_TIMEOUT"
        deadline = started + HEADER_TIMEOUT + SLACK
        still_open = [s for s in idle + slow if not closes_by(s, deadline)]
    after = memory_mib(pid)
    report(
        "200 slow or idle connections",
        upload_seconds=round(finished, 2),
        all_closed_after=round(time.monotonic() - started, 2),
        rss_before_mib=round(before["VmRSS"]),
        peak_mib=round(after["VmHWM"]),
    )
    assert not still_open, f"{len(still_open)} of 200 connections still open"


def test_at_the_connection_cap_the_longest_idle_connection_makes_room(
    tmp_path: Path,
):
    capped = start_server(tmp_path, "--max-connections", "8", "--header-timeout", "60")
    try:
        with ExitStack() as stack:
            idle = [stack.enter_context(connect(capped.port)) for _ in range(8)]
            with bystander_for(capped) as bystander:
                bystander.finish()  # one connection of its own: the oldest idle one made room
            assert connection_is_closed(idle[0], wait=SLACK)
            assert not connection_is_closed(idle[-1], wait=0.2)
    finally:
        capped.stop()


def test_when_every_connection_is_busy_a_new_one_is_503(tmp_path: Path):
    capped = start_server(tmp_path, "--max-connections", "4")
    try:
        token = mint_token(SECRET, 1)
        with ExitStack() as stack:
            busy = [stack.enter_context(connect(capped.port)) for _ in range(4)]
            for sock in busy:  # a chunk request whose body never comes: the app waits for it
                sock.sendall(head(token, length=400, extra=("Expect: 100-continue",)))
            for sock in busy:  # uvicorn says 100 Continue once the app reads the body
                assert sock.recv(100).startswith(b"HTTP/1.1 100 ")
            with connect(capped.port) as extra:
                response = read_response(extra)
            assert response is not None
            assert_error(response, 503, "server_busy")
            assert response.headers["retry-after"] == "1"
        # the busy ones gone, the server serves again
        with bystander_for(capped) as bystander:
            bystander.finish()
    finally:
        capped.stop()


# -- the uvicorn internals the protocol relies on --------------------------------------

# sha256 of the uvicorn methods chunkup's protocol replaces or extends: a change in
# any of them is a change to review in src/chunkup/api/protocol.py
REVIEWED = {
    "data_received": "010a7ae59a5d3b1a",
    "send_400_response": "ae5a4a3782b646fd",
    "on_url": "37be44e962b04ca8",
    "on_header": "65d62c044f61fdbd",
    "on_headers_complete": "1ea8589acfad92d8",
    "on_message_begin": "96d377fdc7c2baef",
    "on_message_complete": "1fbad42dc31fc01f",
    "on_response_complete": "64e254f28e389e76",
    "timeout_keep_alive_handler": "8b53bf5f2e202970",
    "connection_made": "6efb565ff3d36b91",
    "connection_lost": "c91a4c9bf2e29c55",
    "on_body": "dba9c32aeba35b6a",
    "_unset_keepalive_if_required": "00a6a4e47214e68e",
}


def _uvicorn_pin() -> tuple[str, str]:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pin = next(d for d in dependencies if d.startswith("uvicorn"))
    match = re.fullmatch(r"uvicorn>=([0-9.]+),<([0-9.]+)", pin)
    assert match, f"uvicorn must be pinned to a range the protocol was checked on: {pin}"
    return match.group(1), match.group(2)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:3])


def test_the_uvicorn_internals_the_protocol_uses_have_not_moved():
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    low, high = _uvicorn_pin()
    installed = _version_tuple(version("uvicorn"))
    assert _version_tuple(low) <= installed < _version_tuple(high)
    changed = {
        name: hashlib.sha256(
            inspect.getsource(getattr(HttpToolsProtocol, name)).encode()
        ).hexdigest()[:16]
        for name in REVIEWED
    }
    assert changed == REVIEWED, "uvicorn's HttpToolsProtocol changed: review api/protocol.py"
