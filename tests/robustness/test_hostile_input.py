"""Hostile input: what an attacker, a broken proxy or a buggy client sends.

Every case must end in the contract's status with a JSON ``{"detail", "code"}``
body (never a 500, never a traceback) and must not hurt anybody else's upload:
many tests keep a legitimate upload by another user (a ``Bystander``) going
around the attack and check that it still completes with the right MD5.

Bodies that no HTTP client library would send (lying lengths, stalls, two
framing headers) go over raw sockets. Memory is measured on a real
``chunkup serve`` process (``ServerProcess``) from ``/proc/<pid>/status``.
Cases that ``tests/api/test_chunk_upload.py`` and ``tests/api/test_auth.py``
already cover are not repeated here.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from chunkup.auth import mint_token
from tests.support import (
    CHUNK,
    SECRET,
    ChunkClient,
    LiveServer,
    ServerProcess,
    md5_of,
    noise_image,
    pdf_document,
    settings_for,
    starts_like,
)

URL = "/api/v2/media/upload/chunk/"
COMPLETE = "/api/v2/media/upload/complete/"
MiB = 1024 * 1024
IMAGE_LIMIT = 5 * MiB
BOUNDARY = "----chunkupHostile9f8e7d6c5b4a"
SOCKET_TIMEOUT = 10.0
ATTACKER = 1
BYSTANDER = 7
RANGE_USER = 8


# -- the contract's error shape --------------------------------------------------------


def assert_error_body(status: int, body: bytes, codes: set[str] | None = None) -> dict:
    """``{"detail": str, "code": str}`` (code among ``codes`` if given), no traceback."""
    assert b"Traceback" not in body, body[:2000]
    try:
        error = json.loads(body)
    except ValueError:
        pytest.fail(f"{status} with a body that is not the contract's JSON error: {body[:300]!r}")
    assert isinstance(error, dict), error
    assert isinstance(error.get("detail"), str) and error["detail"], error
    assert isinstance(error.get("code"), str) and error["code"], error
    if codes is not None:
        assert error["code"] in codes, (status, error)
    return error


def assert_error(
    response: httpx.Response | RawResponse,
    statuses: int | set[int],
    codes: str | set[str] | None,
) -> dict:
    allowed = {statuses} if isinstance(statuses, int) else statuses
    body = response.content if isinstance(response, httpx.Response) else response.body
    assert response.status_code in allowed, (response.status_code, body[:500])
    return assert_error_body(
        response.status_code, body, {codes} if isinstance(codes, str) else codes
    )


# -- raw HTTP over a socket -------------------------------------------------------------


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def read_response(sock: socket.socket) -> RawResponse | None:
    """The next response on ``sock``; ``None`` if the server closed it without one."""
    response = http.client.HTTPResponse(sock)
    try:
        response.begin()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return RawResponse(response.status, headers, response.read())
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        return None
    finally:
        response.close()


def connection_is_closed(sock: socket.socket, wait: float = 2.0) -> bool:
    """True once the server has closed ``sock`` (EOF or reset) within ``wait`` seconds."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)


def head(
    token: str,
    *,
    path: str = URL,
    content_range: str | None = "bytes 0-99/100",
    content_type: str | None = f"multipart/form-data; boundary={BOUNDARY}",
    length: int | str | None = None,
    chunked: bool = False,
    extra: tuple[str, ...] = (),
) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    if content_range is not None:
        lines.append(f"Content-Range: {content_range}")
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def te_chunk(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` body."""
    return b"%x\r\n" % len(data) + data + b"\r\n"


TE_END = b"0\r\n\r\n"


def part(
    name: str,
    value: bytes,
    filename: str | None = None,
    boundary: str = BOUNDARY,
    headers: bytes = b"",
) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return (
        f"--{boundary}\r\n{disposition}\r\n".encode()
        + headers
        + b"Content-Type: application/octet-stream\r\n\r\n"
        + value
        + b"\r\n"
    )


def multipart(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def pieces(body: bytes, size: int = 8192) -> Iterator[bytes]:
    """A body as an iterator: httpx sends it with ``Transfer-Encoding: chunked``."""
    for i in range(0, len(body), size):
        yield body[i : i + size]


# -- memory of a server process ----------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes, if it runs any)."""
    pids = [pid]
    for current in pids:
        tasks = Path(f"/proc/{current}/task")
        for task in tasks.iterdir() if tasks.is_dir() else ():
            try:
                pids.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return pids


def memory_mib(pid: int) -> dict[str, float]:
    """``VmRSS`` (now) and ``VmHWM`` (peak so far) in MiB: the largest process of the tree."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/status") as status:
                for line in status:
                    key, _, value = line.partition(":")
                    if key in values:
                        values[key] = max(values[key], int(value.split()[0]) / 1024)
        except OSError:
            continue  # gone meanwhile
    assert values["VmRSS"] > 0, f"no memory figures for process {pid}"
    return values


def reset_peak(pid: int) -> dict[str, float]:
    """Reset ``VmHWM`` to the current RSS (``clear_refs`` 5) in the tree; return the figures.

    Where the kernel refuses, the peak stays the one since the process started,
    which only makes a bound on it stricter.
    """
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
        except OSError:
            continue
    return memory_mib(pid)


def report(label: str, **figures: object) -> None:
    """Printed figures show with ``pytest -s`` or ``-rP``."""
    print(f"[hostile] {label}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


# -- a legitimate upload that must survive whatever else happens ---------------------------


class Bystander:
    """Another user's two-chunk PNG upload: first chunk at once, the rest on ``finish()``."""

    def __init__(self, base_url: str, token: str) -> None:
        self.data = noise_image(300, 250)
        assert CHUNK < len(self.data) <= 2 * CHUNK
        self.client = ChunkClient(
            httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        )
        self.upload_id: str | None = None

    def __enter__(self) -> Bystander:
        first = self.client.chunk(self.data[:CHUNK], 0, len(self.data), filename="bystander.png")
        assert first.status_code == 201, first.text
        self.upload_id = first.json()["upload_id"]
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()

    def finish(self) -> dict:
        """The rest of the chunks and the completion: the Media serves exactly our bytes."""
        assert self.upload_id is not None
        rest = self.client.chunk(self.data[CHUNK:], CHUNK, len(self.data), upload_id=self.upload_id)
        assert rest.status_code == 201, rest.text
        assert rest.json()["offset"] == str(len(self.data))
        done = self.client.complete(self.upload_id, md5_of(self.data))
        assert done.status_code == 201, done.text
        media = done.json()
        assert media["size"] == len(self.data)
        served = self.client.http.get(media["image"])
        assert served.status_code == 200
        assert md5_of(served.content) == md5_of(self.data)
        return media


def bystander_for(target: LiveServer | ServerProcess) -> Bystander:
    return Bystander(target.url, mint_token(SECRET, BYSTANDER))


# -- servers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(settings_for(tmp_path_factory.mktemp("hostile") / "data")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def slow_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that cuts off a body stalled for more than half a second."""
    data_dir = tmp_path_factory.mktemp("stall") / "data"
    server = LiveServer(settings_for(data_dir, body_timeout=0.5)).start()
    yield server
    server.stop()


@pytest.fixture
def attacker(live: LiveServer) -> Iterator[ChunkClient]:
    with live.client(ATTACKER) as client:
        yield client


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``chunkup serve`` as its own process; each memory test resets its peak first."""
    cwd = tmp_path_factory.mktemp("process")
    env = {"CHUNKUP_JWT_SECRET": SECRET, "CHUNKUP_DATA_DIR": str(cwd / "data")}
    server = ServerProcess(cwd, "--log-level", "warning", env=env).start()
    yield server
    server.stop()


def small_chunk_body(size: int = 100) -> bytes:
    return multipart(part("image", b"x" * size, "a.bin"))


# == bodies over raw sockets ===============================================================


def test_10_gb_content_length_is_413_before_reading_and_costs_no_memory(process: ServerProcess):
    pid = process.process.pid
    token = mint_token(SECRET, ATTACKER)
    before = reset_peak(pid)
    stop = threading.Event()
    sent = 0

    def keep_sending(sock: socket.socket) -> None:
        nonlocal sent
        block = b"x" * 65536
        try:
            while not stop.is_set() and sent < 64 * MiB:
                sock.sendall(block)
                sent += len(block)
        except OSError:
            pass  # the server closed or stopped reading: fine

    started = time.monotonic()
    with connect(process.port) as sock:
        sock.sendall(head(token, content_range="bytes 0-9/100", length=10_000_000_000))
        sender = threading.Thread(target=keep_sending, args=(sock,), daemon=True)
        sender.start()
        try:
            response = read_response(sock)
            elapsed = time.monotonic() - started
        finally:
            stop.set()
            sender.join(timeout=SOCKET_TIMEOUT)
    assert response is not None, "the server closed without answering"
    assert_error(response, 413, "request_too_large")
    assert elapsed < 5, f"the 413 took {elapsed:.1f}s"
    after = memory_mib(pid)
    report(
        "10 GB Content-Length",
        sent_mib=round(sent / MiB, 1),
        rss_before=round(before["VmRSS"]),
        rss_after=round(after["VmRSS"]),
        peak=round(after["VmHWM"]),
    )
    assert after["VmHWM"] - before["VmRSS"] < 16, (before, after)
    with bystander_for(process) as bystander:
        bystander.finish()


@pytest.mark.parametrize("how", ["half-close", "close", "reset"])
def test_body_shorter_than_its_content_length_then_the_client_goes(live: LiveServer, how: str):
    """Content-Length says more than is sent, then the client leaves: no harm, no hang."""
    with bystander_for(live) as bystander:
        body = small_chunk_body()
        response: RawResponse | None = None
        with connect(live.port) as sock:
            sock.sendall(head(live.token(ATTACKER), length=len(body) + 5000) + body)
            if how == "half-close":
                sock.shutdown(socket.SHUT_WR)
                response = read_response(sock)
            elif how == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if response is not None:  # a server may still answer a half-closed connection
            assert_error(response, 400, None)
        # the server goes on serving: a fresh request and the other user's upload
        with live.client(ATTACKER) as client:
            assert client.http.get("/api/v2/media/").status_code == 200
        bystander.finish()


def assert_any_error(response: RawResponse | None, status: int) -> dict:
    assert response is not None, "the server closed the connection without a response"
    assert response.status_code == status, (response.status_code, response.body[:300])
    return assert_error_body(response.status_code, response.body)


@pytest.mark.parametrize(
    "arrival",
    [
        pytest.param("later", id="rest-arrives-later"),
        pytest.param("together", id="rest-in-the-same-segment"),
    ],
)
@pytest.mark.parametrize("cut", [30, 100, 140], ids=lambda n: f"cut-{n}")
def test_content_length_shorter_than_the_multipart_body_is_a_json_400(
    live: LiveServer, arrival: str, cut: int
):
    """The multipart is cut at the declared length: 400, and the rest is not a request.

    What follows the declared length is garbage as a next request; whether it
    arrives in the same TCP segment or later, the client's request is answered
    by the contract's JSON 400 (the bytes cut from the file part make it
    ``invalid_body``).
    """
    with bystander_for(live) as bystander:
        body = small_chunk_body()
        declared = len(body) - cut
        with connect(live.port) as sock:
            request = head(live.token(ATTACKER), length=declared)
            if arrival == "together":
                sock.sendall(request + body)
            else:
                sock.sendall(request + body[:declared])
                time.sleep(0.3)
                sock.sendall(body[declared:])
            response = read_response(sock)
        error = assert_any_error(response, 400)
        # the app refuses the cut multipart, or the protocol the bytes left over after it
        assert error["code"] in ("invalid_body", "invalid_request"), error
        bystander.finish()


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        pytest.param(
            ("Content-Length: {n}", "Content-Length: {m}"), small_chunk_body(), id="two-lengths"
        ),
        pytest.param(
            ("Content-Length: {n}", "Transfer-Encoding: chunked"),
            te_chunk(small_chunk_body())
            + TE_END
            + b"GET /api/v2/media/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            id="length-and-chunked-smuggling",
        ),
        pytest.param(("Content-Length: abc",), small_chunk_body(), id="length-not-a-number"),
        pytest.param(("Content-Length: -1",), small_chunk_body(), id="length-negative"),
        pytest.param(
            ("Content-Length: 99999999999999999999999",), small_chunk_body(), id="length-overflow"
        ),
    ],
)
def test_ambiguous_or_broken_framing_is_one_json_400_and_a_closed_connection(
    live: LiveServer, framing: tuple[str, ...], body: bytes
):
    """Framing a proxy could read differently (request smuggling) is refused outright.

    The request is not processed, no second request is read from its body, the
    connection is closed, and the answer is the contract's JSON error.
    """
    with bystander_for(live) as bystander:
        extra = tuple(h.format(n=len(body), m=len(body) + 7) for h in framing)
        with connect(live.port) as sock:
            sock.sendall(head(live.token(ATTACKER), extra=extra) + body)
            response = read_response(sock)
            assert response is not None, "the server closed the connection without a response"
            assert response.status_code == 400, response
            assert connection_is_closed(sock), "the connection stays open after a framing error"
        assert_error_body(response.status_code, response.body)
        bystander.finish()


def test_chunked_body_far_beyond_the_chunk_limit_is_cut_off_without_buffering(
    process: ServerProcess,
):
    """50 MB streamed as one chunk: refused at the limit; memory stays flat."""
    pid = process.process.pid
    token = mint_token(SECRET, ATTACKER)
    total = 50 * MiB
    before = reset_peak(pid)
    stop = threading.Event()
    streamed_on = threading.Event()  # set once `streamed_on_until` bytes went out
    sent, streamed_on_until = 0, total

    def stream(sock: socket.socket) -> None:
        nonlocal sent
        block = te_chunk(b"\x00" * 65536)
        try:
            sock.sendall(
                te_chunk(
                    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; '
                    'filename="huge.png"\r\n\r\n'.encode()
                )
            )
            while not stop.is_set() and sent < total:
                sock.sendall(block)
                sent += 65536
                if sent >= streamed_on_until:
                    streamed_on.set()
            if sent >= total:
                sock.sendall(te_chunk(f"\r\n--{BOUNDARY}--\r\n".encode()) + TE_END)
        except OSError:
            pass  # the server closed the connection after refusing: fine
        finally:
            streamed_on.set()  # nothing more will be sent

    started = time.monotonic()
    with connect(process.port) as sock:
        sock.sendall(head(token, content_range=f"bytes 0-{CHUNK - 1}/{5 * MiB}", chunked=True))
        sender = threading.Thread(target=stream, args=(sock,), daemon=True)
        sender.start()
        try:
            response = read_response(sock)
            elapsed = time.monotonic() - started
        finally:
            # stream 4 MiB more after the answer (or until the server hangs up): the
            # server must discard them, not collect them
            streamed_on_until = sent + 4 * MiB
            streamed_on.wait(SOCKET_TIMEOUT)
            stop.set()
            sender.join(timeout=SOCKET_TIMEOUT)
    after = memory_mib(pid)
    report(
        "50 MB chunked body",
        sent_mib=round(sent / MiB, 1),
        seconds_to_refusal=round(elapsed, 2),
        rss_before=round(before["VmRSS"]),
        peak=round(after["VmHWM"]),
    )
    assert response is not None, "the server closed without answering"
    if response.status_code == 413:
        assert_error(response, 413, "request_too_large")
    else:
        assert_error(response, 400, "chunk_too_large")
    assert elapsed < 10, f"refused after {elapsed:.1f}s"
    assert after["VmHWM"] < 150, f"server peak {after['VmHWM']:.0f} MiB"
    assert after["VmHWM"] - before["VmRSS"] < 40, (before, after)
    with bystander_for(process) as bystander:
        bystander.finish()


STALLS = {
    # endpoint, Content-Type, the bytes sent before the client stalls (of 400 declared)
    "chunk-after-headers": (URL, f"multipart/form-data; boundary={BOUNDARY}", b""),
    "chunk-mid-file-part": (
        URL,
        f"multipart/form-data; boundary={BOUNDARY}",
        small_chunk_body()[:120],
    ),
    "complete-form": (
        COMPLETE,
        "application/x-www-form-urlencoded",
        b"upload_id=00000000000000000000000000000000&md5=",
    ),
    "complete-json": (COMPLETE, "application/json", b'{"upload_id": "0000000000'),
    "complete-multipart": (
        COMPLETE,
        f"multipart/form-data; boundary={BOUNDARY}",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload_id"\r\n\r\n00'.encode(),
    ),
}


@pytest.mark.parametrize("stall", list(STALLS))
def test_a_stalled_body_is_cut_off_while_others_are_served(slow_live: LiveServer, stall: str):
    """Headers and part of a body, then silence: 408 (or a close) within seconds.

    Ten such connections at once do not keep the server from completing another
    user's upload meanwhile.
    """
    path, content_type, sent = STALLS[stall]
    token = slow_live.token(ATTACKER)
    sockets = [connect(slow_live.port) for _ in range(10)]
    try:
        started = time.monotonic()
        for sock in sockets:
            sock.sendall(head(token, path=path, content_type=content_type, length=400) + sent)
        with bystander_for(slow_live) as bystander:
            bystander.finish()
        outcomes = []
        for sock in sockets:
            sock.settimeout(max(0.1, started + 5 - time.monotonic()))
            try:
                response = read_response(sock)
            except TimeoutError:
                pytest.fail(
                    f"{stall}: no answer and the connection still open "
                    f"{time.monotonic() - started:.1f}s after the body stalled"
                )
            outcomes.append(response)
        elapsed = time.monotonic() - started
    finally:
        for sock in sockets:
            sock.close()
    for response in outcomes:
        if response is not None:
            assert_error(response, 408, "request_timeout")
    assert elapsed < 5, f"cut off after {elapsed:.1f}s"


def _parts(count: int) -> bytes:
    one = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="offset"\r\n\r\n0\r\n'.encode()
    return one * count + part("image", b"x" * 100, "a.bin")


BROKEN_BODIES: dict[str, tuple[str, bytes, bool, set[int]]] = {
    # Content-Type, body, sent chunked?, allowed statuses (413: refused by size first)
    "empty-boundary": ("multipart/form-data; boundary=", small_chunk_body(), False, {400}),
    "quoted-empty-boundary": ('multipart/form-data; boundary=""', small_chunk_body(), False, {400}),
    "boundary-of-300-chars": (
        "multipart/form-data; boundary=" + "b" * 300,
        multipart(part("image", b"x" * 100, "a.bin", boundary="b" * 300), boundary="b" * 300),
        False,
        {400},
    ),
    "boundary-not-in-body": (
        "multipart/form-data; boundary=somethingelse",
        small_chunk_body(),
        False,
        {400},
    ),
    "unterminated-part-streamed": (
        f"multipart/form-data; boundary={BOUNDARY}",
        part("image", b"x" * 100, "a.bin")[:-2],
        True,
        {400},
    ),
    "10000-parts-streamed": (
        f"multipart/form-data; boundary={BOUNDARY}",
        multipart(_parts(10_000)),
        True,
        {400, 413},
    ),
    "10000-parts-with-length": (
        f"multipart/form-data; boundary={BOUNDARY}",
        multipart(_parts(10_000)),
        False,
        {400, 413},
    ),
    "1-mb-header-line-streamed": (
        f"multipart/form-data; boundary={BOUNDARY}",
        multipart(part("image", b"x" * 100, "a.bin", headers=b"X-Big: " + b"a" * MiB + b"\r\n")),
        True,
        {400, 413},
    ),
    "1-mb-header-line-with-length": (
        f"multipart/form-data; boundary={BOUNDARY}",
        multipart(part("image", b"x" * 100, "a.bin", headers=b"X-Big: " + b"a" * MiB + b"\r\n")),
        False,
        {400, 413},
    ),
    "1-mb-header-name-streamed": (
        f"multipart/form-data; boundary={BOUNDARY}",
        multipart(part("image", b"x" * 100, "a.bin", headers=b"X" * MiB + b": 1\r\n")),
        True,
        {400, 413},
    ),
    "1-mb-filename-streamed": (
        f"multipart/form-data; boundary={BOUNDARY}",
        multipart(part("image", b"x" * 100, "n" * MiB)),
        True,
        {400, 413},
    ),
    "header-line-without-colon": (
        f"multipart/form-data; boundary={BOUNDARY}",
        multipart(part("image", b"x" * 100, "a.bin", headers=b"no colon here\r\n")),
        False,
        {400},
    ),
    "nul-in-part-header-name": (
        f"multipart/form-data; boundary={BOUNDARY}",
        multipart(part("image", b"x" * 100, "a.bin", headers=b"X-\x00: 1\r\n")),
        False,
        {400},
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_BODIES))
def test_broken_multipart_is_invalid_body(live: LiveServer, attacker: ChunkClient, case: str):
    content_type, body, streamed, statuses = BROKEN_BODIES[case]
    with bystander_for(live) as bystander:
        response = attacker.http.post(
            URL,
            content=pieces(body) if streamed else body,
            headers={"Content-Type": content_type, "Content-Range": "bytes 0-99/100"},
        )
        codes = {"invalid_body"} | ({"request_too_large"} if 413 in statuses else set())
        assert_error(response, statuses, codes)
        bystander.finish()


# == ranges ================================================================================


# Content-Range exactly as the contract spells it; anything else is malformed
CANONICAL = re.compile(r"bytes ([0-9]+)-([0-9]+)/([0-9]+)")
# what a lenient parser might also take (tabs or several spaces after the unit)
LENIENT = re.compile(r"bytes[ \t]+([0-9]+)-([0-9]+)/([0-9]+)")
INT64_MAX = 2**63 - 1
BODY_SIZE = 100


def contract_outcomes(start: int, end: int, total: int) -> set[tuple[int, str | None]]:
    """What the contract allows for a first chunk of ``BODY_SIZE`` bytes with this range.

    The contract does not order its rules, so where several apply, any of their
    codes is right.
    """
    if total == 0 or end < start or end >= total:
        return {(400, "invalid_content_range")}
    codes: set[str] = set()
    length = end - start + 1
    if length > CHUNK:
        codes.add("chunk_too_large")
    if length != BODY_SIZE:
        codes.add("chunk_size_mismatch")
    if total > IMAGE_LIMIT:
        codes.add("file_too_large")
    if start != 0:
        codes.add("invalid_content_range")  # a first chunk starts at 0
    if max(start, end, total) > INT64_MAX:
        codes.add("invalid_content_range")  # beyond any 64-bit offset: malformed too
    return {(400, code) for code in codes} or {(201, None)}


def allowed_outcomes(header: str) -> set[tuple[int, str | None]]:
    if header != header.strip():
        # ends in whitespace HTTP does not know (NBSP, 0xA0): malformed, but the server
        # strips it today; test_content_range_wrapped_in_nbsp_is_invalid pins that apart
        return _allowed_outcomes(header) | _allowed_outcomes(header.strip())
    return _allowed_outcomes(header)


def _allowed_outcomes(header: str) -> set[tuple[int, str | None]]:
    if header == "":
        return {(400, "content_range_required")}
    match = CANONICAL.fullmatch(header)
    if match:
        return contract_outcomes(*(int(g) for g in match.groups()))
    loose = LENIENT.fullmatch(header)
    if loose:
        return contract_outcomes(*(int(g) for g in loose.groups())) | {
            (400, "invalid_content_range")
        }
    return {(400, "invalid_content_range")}


# characters a header value can carry (h11 refuses control characters), tab included
HEADER_CHARS = st.characters(codec="latin-1", exclude_categories=("Cc",), include_characters="\t")
HEADER_TEXT = st.text(HEADER_CHARS, max_size=60)
NUMBERS = st.one_of(
    st.integers(0, 300),
    st.integers(IMAGE_LIMIT - 2, IMAGE_LIMIT + 2),
    st.integers(CHUNK - 2, CHUNK + 2),
    st.integers(-(10**6), -1),
    st.sampled_from([2**31, 2**32, 2**53, INT64_MAX, 2**63, 2**64, 10**19 - 1, 10**19, 10**30]),
    st.integers(0, 2**80),
)
TOTALS = st.one_of(NUMBERS, st.just("*"), st.just(""))
STRUCTURED = st.builds(
    lambda unit, start, end, total: f"{unit}{start}-{end}/{total}",
    st.sampled_from(["bytes ", "bytes ", "bytes ", "bytes\t", "bytes  ", "Bytes ", "bytes=", ""]),
    NUMBERS,
    NUMBERS,
    TOTALS,
)
NEAR_VALID = st.builds(
    lambda total: f"bytes 0-{BODY_SIZE - 1}/{total}",
    st.one_of(st.integers(BODY_SIZE - 1, IMAGE_LIMIT + 10), NUMBERS),
)
DECORATED = st.builds(
    lambda before, core, after: before + core + after,
    st.text(HEADER_CHARS, max_size=3),
    st.one_of(NEAR_VALID, STRUCTURED),
    st.text(HEADER_CHARS, max_size=3),
)
# h11 sends no leading or trailing SP/HTAB (HTTP strips them anyway)
CONTENT_RANGES = st.one_of(HEADER_TEXT, STRUCTURED, NEAR_VALID, DECORATED).map(
    lambda s: s.strip(" \t")
)


@pytest.fixture(scope="module")
def range_client(live: LiveServer) -> Iterator[httpx.Client]:
    # a user of its own: the uploads this creates count against nobody else's caps
    headers = {"Authorization": f"Bearer {live.token(RANGE_USER)}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as client:
        yield client


@settings(max_examples=60, deadline=None)
@given(header=CONTENT_RANGES)
def test_any_content_range_is_201_only_when_valid(range_client: httpx.Client, header: str):
    response = range_client.post(
        URL,
        files={"image": ("range.bin", starts_like(b"r" * BODY_SIZE), "application/octet-stream")},
        headers={"Content-Range": header.encode("latin-1")},
    )
    allowed = allowed_outcomes(header)
    if response.status_code == 201:
        assert (201, None) in allowed, (header, response.text)
        body = response.json()
        assert body["offset"] == str(BODY_SIZE), body
        return
    error = assert_error_body(response.status_code, response.content)
    assert (response.status_code, error["code"]) in allowed, (header, allowed, error)


@pytest.mark.parametrize(
    "header",
    ["bytes 0-99/100\xa0", "\xa0bytes 0-99/100", "\xa0\xa0bytes 0-99/100\xa0"],
    ids=["nbsp-after", "nbsp-before", "nbsp-around"],
)
def test_content_range_wrapped_in_nbsp_is_invalid(range_client: httpx.Client, header: str):
    """0xA0 is no HTTP whitespace (RFC 9110 OWS is SP and HTAB): the value is malformed."""
    response = range_client.post(
        URL,
        files={"image": ("range.bin", b"r" * BODY_SIZE, "application/octet-stream")},
        headers={"Content-Range": header.encode("latin-1")},
    )
    assert_error(response, 400, "invalid_content_range")


def test_two_content_range_headers_are_invalid(live: LiveServer):
    """Two Content-Range lines combine to a list (RFC 9110 §5.3): malformed, not "the first".

    Picking one of them is what lets a proxy and the server disagree about
    which bytes a chunk carries.
    """
    body = small_chunk_body()
    with connect(live.port) as sock:
        sock.sendall(
            head(
                live.token(ATTACKER),
                content_range="bytes 0-99/100",
                length=len(body),
                extra=("Content-Range: bytes 0-49/100",),
            )
            + body
        )
        response = read_response(sock)
    assert response is not None
    assert_error(response, 400, "invalid_content_range")


# == files =================================================================================


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of_zeros(width: int, height: int, bit_depth: int, color_type: int, bits_per_pixel: int):
    """A valid PNG whose pixels are all zero, written by hand: tiny file, huge image."""
    row = b"\x00" * (1 + (width * bits_per_pixel + 7) // 8)  # filter byte + the row
    compressor = zlib.compressobj(9)
    stream = []
    for first in range(0, height, 500):
        stream.append(compressor.compress(row * min(500, height - first)))
    stream.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"".join(stream))
        + _png_chunk(b"IEND", b"")
    )


def attacker_client(process: ServerProcess) -> ChunkClient:
    """A chunk client of the attacking user against the server process."""
    token = mint_token(SECRET, ATTACKER)
    headers = {"Authorization": f"Bearer {token}"}
    return ChunkClient(httpx.Client(base_url=process.url, headers=headers, timeout=60))


def upload_as(client: ChunkClient, data: bytes, field: str, filename: str) -> str:
    return client.upload_chunks(data, field=field, filename=filename)


def test_decompression_bomb_png_is_invalid_image_quickly_and_cheaply(process: ServerProcess):
    """50 000 x 50 000 pixels (2.5 Gpx) declared in a 300 KB PNG."""
    bomb = png_of_zeros(50_000, 50_000, bit_depth=1, color_type=0, bits_per_pixel=1)
    assert len(bomb) < 2 * MiB
    pid = process.process.pid
    with attacker_client(process) as client:
        upload_id = upload_as(client, bomb, "image", "bomb.png")
        before = reset_peak(pid)
        started = time.monotonic()
        with bystander_for(process) as bystander:
            with ThreadPoolExecutor(1) as pool:
                other = pool.submit(bystander.finish)  # completes alongside the bomb
                response = client.complete(upload_id, md5_of(bomb))
                elapsed = time.monotonic() - started
                other.result(timeout=60)
    after = memory_mib(pid)
    report(
        "50000x50000 PNG bomb",
        file_kib=len(bomb) // 1024,
        seconds=round(elapsed, 2),
        rss_before=round(before["VmRSS"]),
        peak=round(after["VmHWM"]),
    )
    assert_error(response, 400, "invalid_image")
    assert elapsed < 5, f"took {elapsed:.1f}s"
    assert after["VmHWM"] < 300, f"server peak {after['VmHWM']:.0f} MiB"


def test_png_just_under_the_pixel_ceiling_does_not_cost_300_mb(process: ServerProcess):
    """A 250 KB PNG of 7999 x 7999 RGBA pixels: 64 Mpx, 256 MB if it were decoded.

    Whatever the server answers (it may take the image or refuse it as
    invalid_image), a quarter-megabyte upload must not cost it a quarter of a
    gigabyte: that is the same decompression bomb, one notch under the ceiling,
    and a few of them completed in parallel exhaust the host.
    """
    bomb = png_of_zeros(7999, 7999, bit_depth=8, color_type=6, bits_per_pixel=32)
    assert len(bomb) < 2 * MiB
    pid = process.process.pid
    with attacker_client(process) as client:
        upload_id = upload_as(client, bomb, "image", "big.png")
        before = reset_peak(pid)
        started = time.monotonic()
        response = client.complete(upload_id, md5_of(bomb))
        elapsed = time.monotonic() - started
    after = memory_mib(pid)
    report(
        "7999x7999 RGBA PNG",
        file_kib=len(bomb) // 1024,
        status=response.status_code,
        seconds=round(elapsed, 2),
        rss_before=round(before["VmRSS"]),
        peak=round(after["VmHWM"]),
    )
    if response.status_code != 201:
        assert_error(response, 400, "invalid_image")
    assert after["VmHWM"] < 300, f"server peak {after['VmHWM']:.0f} MiB for a {len(bomb)} B file"


SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b'<script>alert(document.cookie)</script><rect width="64" height="64"/></svg>\n'
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"


@pytest.mark.parametrize(
    ("data", "filename"), [(SVG, "x.svg"), (HTML, "x.html")], ids=["svg", "html"]
)
def test_markup_in_the_image_field_is_invalid_image_at_its_first_chunk(
    attacker: ChunkClient, data: bytes, filename: str
):
    assert_error(attacker.chunk(data, 0, len(data), filename=filename), 400, "invalid_image")


@pytest.mark.parametrize("type_", ["image", "eimage"])
@pytest.mark.parametrize(
    ("data", "filename"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n" + HTML, "x.png", id="html-behind-png-magic"),
        pytest.param(b"GIF89a" + SVG, "x.gif", id="svg-behind-gif-magic"),
    ],
)
def test_markup_in_the_image_field_is_invalid_image(
    attacker: ChunkClient, data: bytes, filename: str, type_: str
):
    upload_id = upload_as(attacker, data, "image", filename)
    response = attacker.complete(upload_id, md5_of(data), type_)
    assert_error(response, 400, "invalid_image")


def _zip_with_html() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.html", "<script>alert(1)</script>")
    return buffer.getvalue()


def _not_quite_pdfs() -> dict[str, bytes]:
    real = pdf_document(pages=3, width=120, height=160)
    return {
        "pdf-header-on-a-zip": b"%PDF-1.7\n" + _zip_with_html(),
        "garbage-after-header-no-xref": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
        + bytes(range(256)) * 40
        + b"\n%%EOF\n",
        "catalog-but-no-xref-no-pages": b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
        + b"junk " * 2000
        + b"\n%%EOF\n",
        "first-half-of-a-real-pdf": real[: len(real) // 2],
        "real-pdf-without-its-last-byte-block": real[: len(real) - 200],
        "html-behind-pdf-magic": b"%PDF-" + HTML,
    }


NOT_QUITE_PDFS = _not_quite_pdfs()


@pytest.mark.parametrize("case", list(NOT_QUITE_PDFS))
def test_not_quite_pdfs_are_invalid_document(live: LiveServer, attacker: ChunkClient, case: str):
    data = NOT_QUITE_PDFS[case]
    with bystander_for(live) as bystander:
        upload_id = upload_as(attacker, data, "document", f"{case}.pdf")
        response = attacker.complete(upload_id, md5_of(data), "doc")
        assert_error(response, 400, "invalid_document")
        bystander.finish()


def test_real_pdf_with_a_zip_appended_is_a_pdf_or_refused_never_a_zip(attacker: ChunkClient):
    """A PDF/ZIP polyglot that is a readable PDF: served only as a PDF, or refused."""
    data = pdf_document(pages=1, width=64, height=64) + _zip_with_html()
    upload_id = upload_as(attacker, data, "document", "poly.zip")
    response = attacker.complete(upload_id, md5_of(data), "doc")
    if response.status_code != 201:
        assert_error(response, 400, "invalid_document")
        return
    media = response.json()
    assert media["mimetype"] == "application/pdf", media
    served = attacker.http.get(media["url"])
    assert served.status_code == 200
    assert served.headers["content-type"].split(";")[0] == "application/pdf"
    assert served.headers["x-content-type-options"] == "nosniff"


def gif_js_polyglot() -> bytes:
    """``GIF89a/*...*/=1;alert(1)//``: a GIF that is also a script (width bytes are ``/*``)."""
    buffer = io.BytesIO()
    Image.new("P", (1, 1)).save(buffer, "GIF")
    gif = b"GIF89a" + buffer.getvalue()[6:]
    polyglot = gif[:6] + b"/*" + gif[8:]
    assert b"*/" not in polyglot
    return polyglot + b"*/=1;alert(document.domain);//"


@pytest.mark.parametrize("filename", ["poly.gif", "poly.js", "poly.html"])
def test_gif_js_polyglot_is_a_gif_served_with_nosniff_or_refused(
    attacker: ChunkClient, filename: str
):
    data = gif_js_polyglot()
    upload_id = upload_as(attacker, data, "image", filename)
    response = attacker.complete(upload_id, md5_of(data))
    if response.status_code != 201:
        assert_error(response, 400, "invalid_image")
        return
    media = response.json()
    assert media["mimetype"] == "image/gif", media
    served = attacker.http.get(media["image"])
    assert served.status_code == 200
    content_type = served.headers["content-type"].split(";")[0].strip().lower()
    assert content_type == "image/gif", content_type
    assert "html" not in content_type and "javascript" not in content_type
    assert served.headers["x-content-type-options"] == "nosniff"
    assert not media["image"].lower().endswith((".js", ".html", ".htm")), media["image"]


# == authentication and ids ==================================================================


def _signed_huge_token(size: int) -> str:
    now = int(time.time())
    claims = {"token_type": "access", "user_id": ATTACKER, "iat": now, "exp": now + 3600}
    return jwt.encode({**claims, "jti": "x", "pad": "p" * size}, SECRET, algorithm="HS256")


HUGE_TOKENS = {
    "100-kb-signed": lambda: _signed_huge_token(100 * 1024),
    "100-kb-garbage": lambda: "e" * (100 * 1024),
    "100-kb-three-segments": lambda: ".".join(["a" * 34_000] * 3),
    "1-mb-signed": lambda: _signed_huge_token(MiB),
}
HUGE_TOKEN_CALLS = {
    "chunk": lambda h: h.post(
        URL,
        files={"image": ("a.bin", b"x" * 10, "application/octet-stream")},
        headers={"Content-Range": "bytes 0-9/10"},
    ),
    "status": lambda h: h.get(f"/api/v2/media/upload/{'0' * 32}/"),
    "complete": lambda h: h.post(COMPLETE, data={"upload_id": "0" * 32, "md5": "0" * 32}),
    "media list": lambda h: h.get("/api/v2/media/"),
}


@pytest.mark.parametrize("endpoint", list(HUGE_TOKEN_CALLS))
@pytest.mark.parametrize("token", list(HUGE_TOKENS))
def test_huge_token_is_401_or_431(live: LiveServer, token: str, endpoint: str):
    headers = {"Authorization": f"Bearer {HUGE_TOKENS[token]()}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as http:
        response = HUGE_TOKEN_CALLS[endpoint](http)
    assert response.status_code in (401, 431), response.text[:300]
    if response.status_code == 401:
        assert_error(response, 401, "invalid_token")
        assert response.headers["www-authenticate"].startswith("Bearer")
    # and the server is unharmed
    with live.client(ATTACKER) as client:
        assert client.http.get("/api/v2/media/").status_code == 200


HOSTILE_IDS = [
    "' OR 1=1 --",
    "'; DROP TABLE uploads; --",
    "1 UNION SELECT id, user_id FROM uploads",
    '" OR ""="',
    "0000000000000000000000000000000'",
    "..",
    "...",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/etc/passwd",
    "chunks",
    "\x00",
    "0" * 32 + "\x00",
    "*",
]


def _status(live: LiveServer, upload_id: str) -> RawResponse:
    return _raw_call(live, "GET", upload_id)


def _abort(live: LiveServer, upload_id: str) -> RawResponse:
    return _raw_call(live, "DELETE", upload_id)


def _raw_call(live: LiveServer, method: str, upload_id: str) -> RawResponse:
    """The id percent-encoded into one path segment, sent as is (no dot-segment removal)."""
    path = f"/api/v2/media/upload/{quote(upload_id, safe='')}/"
    if upload_id in ("..", "..."):
        path = f"/api/v2/media/upload/{upload_id}/"  # literal dots, as an attacker types them
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=SOCKET_TIMEOUT)
    try:
        connection.request(method, path, headers={"Authorization": f"Bearer {live.token(1)}"})
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return RawResponse(response.status, headers, response.read())
    finally:
        connection.close()


def _complete_with(encoding: str):
    def call(live: LiveServer, upload_id: str) -> httpx.Response:
        with live.client(ATTACKER) as client:
            return client.complete(upload_id, "0" * 32, as_=encoding)

    return call


ID_CALLS = {
    "status": _status,
    "abort": _abort,
    "complete-form": _complete_with("form"),
    "complete-json": _complete_with("json"),
    "complete-multipart": _complete_with("multipart"),
}


@pytest.fixture(scope="module")
def standing_upload(live: LiveServer) -> Iterator[Bystander]:
    """The attacker's own upload, in progress all along the id tests: no id may reach it."""
    with Bystander(live.url, live.token(ATTACKER)) as bystander:
        yield bystander


@pytest.mark.parametrize("call", list(ID_CALLS))
@pytest.mark.parametrize("upload_id", HOSTILE_IDS, ids=lambda s: repr(s[:40]))
def test_sql_and_path_fragment_ids_are_404_upload_not_found(
    live: LiveServer, standing_upload: Bystander, upload_id: str, call: str
):
    response = ID_CALLS[call](live, upload_id)
    assert_error(response, 404, "upload_not_found")
    # the standing upload is untouched: same chunk, still uploading
    status = standing_upload.client.status(standing_upload.upload_id or "")
    assert status.status_code == 200, status.text
    assert status.json()["ranges"] == [[0, CHUNK - 1]]
    assert status.json()["status"] == "uploading"


def test_an_overlong_upload_id_on_complete_is_upload_not_found_in_every_encoding(
    live: LiveServer,
):
    """The three encodings the contract accepts answer one request alike.

    5000 characters can be no upload id: unknown, so 404 ``upload_not_found``,
    as the chunk endpoint answers it (tests/api/test_chunk_upload.py).
    """
    answers = {}
    for encoding in ("json", "form", "multipart"):
        response = _complete_with(encoding)(live, "a" * 5000)
        answers[encoding] = (response.status_code, response.json().get("code"))
    assert set(answers.values()) == {(404, "upload_not_found")}, answers


def test_an_upload_standing_through_every_hostile_id_still_completes(live: LiveServer):
    """Every hostile id on every call, then the upload in progress meanwhile completes:
    in one test, so it means the same whatever runs before or after it."""
    with Bystander(live.url, live.token(ATTACKER)) as bystander:
        for upload_id in HOSTILE_IDS:
            for call in ID_CALLS.values():
                assert_error(call(live, upload_id), 404, "upload_not_found")
        bystander.finish()
