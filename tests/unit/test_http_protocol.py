"""The HTTP protocol's limits (``api/protocol.py``) on an in-process uvicorn, over raw sockets.

``tests/robustness/test_http_limits.py`` attacks a real ``chunkup serve`` process with
the defaults; this file runs the same protocol class in a thread of the test process,
under a small ASGI app whose requests the test holds and releases, with limits small
enough that a timer fires in a fraction of a second. Each test starts its own server
(milliseconds): its socket is bound before uvicorn starts, so a client connects at
once and nothing waits for the server to come up.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from chunkup.api import protocol
from chunkup.api.protocol import HttpLimits, LimitedHttpToolsProtocol
from tests.robustness.test_hostile_input import (
    RawResponse,
    assert_error,
    connection_is_closed,
    read_response,
)
from tests.support import settings_for

WAIT = 10.0  # seconds a test waits for something that should happen at once


@dataclass
class App:
    """An ASGI app whose ``/hold`` requests wait for ``release``.

    - ``GET /``: 200 ``ok``;
    - ``/hold``: says it runs (``running``), waits for ``release``, reads its body, 200;
    - ``/early``: 200 at once, its body left unread;
    - ``/started``: starts its 200, then reads its body, then ends the answer.
    """

    running: queue.Queue[str] = field(default_factory=queue.Queue)
    release: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]

        async def body() -> int:
            size, more = 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
                size += len(message.get("body", b""))
                more = message.get("more_body", False)
            return size

        async def start(length: int | None = None) -> None:
            headers = [] if length is None else [(b"content-length", str(length).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})

        if path == "/hold":
            self.running.put(path)
            await asyncio.to_thread(self.release.wait, WAIT)
        if path == "/started":
            await start()
            size = await body()
        else:
            size = 0 if path == "/early" else await body()
            await start(len(f"ok {size}"))
        await send({"type": "http.response.body", "body": f"ok {size}".encode()})


@contextmanager
def serve(
    app: App | None = None,
    *,
    protocol_class: type[LimitedHttpToolsProtocol] = LimitedHttpToolsProtocol,
    **limits: Any,
) -> Iterator[int]:
    """``protocol_class`` with ``limits`` serving ``app`` on a loopback port; the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    limited = HttpLimits(**limits)
    config = uvicorn.Config(
        app or App(),
        lifespan="off",
        log_config=None,
        log_level="warning",
        loop="uvloop",
        http=functools.partial(protocol_class, limits=limited),  # type: ignore[arg-type]
        timeout_keep_alive=limited.keep_alive_timeout,  # type: ignore[arg-type]
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT)
        sock.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT)


def request(method: str = "GET", path: str = "/", *headers: str, length: int = 0) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: node.test", *headers]
    if length:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def ask(sock: socket.socket, payload: bytes) -> RawResponse:
    sock.sendall(payload)
    response = read_response(sock)
    assert response is not None, "the server closed the connection without an answer"
    return response


def read_all(sock: socket.socket) -> bytes:
    """Every byte until the server closes ``sock``."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


# -- the head --------------------------------------------------------------------------


def test_one_header_field_more_than_allowed_is_431_and_close() -> None:
    with serve(max_header_fields=8) as port, connect(port) as sock:
        fields = [f"X-Field-{i}: {i}" for i in range(8)]  # Host makes it nine
        response = ask(sock, request("GET", "/", *fields))

        body = assert_error(response, 431, "request_header_fields_too_large")
        assert body["detail"] == "More than 8 header fields were sent."
        assert response.headers["connection"] == "close"
        assert connection_is_closed(sock, WAIT)

    with serve(max_header_fields=8) as port, connect(port) as sock:
        assert ask(sock, request("GET", "/", *fields[:7])).status_code == 200  # eight: fine


def test_a_head_that_stops_arriving_is_408_after_the_header_timeout() -> None:
    with serve(header_timeout=0.3) as port, connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: node.test\r\nX-Slow: ")

        response = read_response(sock)

        assert response is not None
        assert_error(response, 408, "request_timeout")
        assert response.json()["detail"] == "The request's headers did not arrive in time."
        assert response.headers["connection"] == "close"


def test_a_connection_that_sends_nothing_is_closed_without_an_answer() -> None:
    with serve(header_timeout=0.3) as port, connect(port) as sock:
        assert read_all(sock) == b""


def test_an_unsupported_upgrade_is_answered_as_plain_http() -> None:
    with serve() as port, connect(port) as sock:
        response = ask(sock, request("GET", "/", "Connection: Upgrade", "Upgrade: h2c"))

        assert (response.status_code, response.body) == (200, b"ok 0")


# -- the body's arrival rate -----------------------------------------------------------


def test_a_body_below_the_minimum_rate_is_408_once_its_grace_time_is_over() -> None:
    with serve(min_body_rate=1_000_000, body_grace=0.3) as port, connect(port) as sock:
        sock.sendall(request("POST", "/echo", length=100_000) + b"x" * 10)

        response = read_response(sock)

        assert response is not None
        assert_error(response, 408, "request_timeout")
        assert response.json()["detail"] == "The request body arrives too slowly."


def test_a_slow_body_of_an_answer_already_started_ends_the_connection() -> None:
    """The status line is out: no 408 can follow it, the connection is closed."""
    with serve(min_body_rate=1_000_000, body_grace=0.3) as port, connect(port) as sock:
        sock.sendall(request("POST", "/started", length=100_000) + b"x" * 10)

        received = read_all(sock)

        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"408" not in received and b"ok 10" not in received


def test_time_the_app_leaves_the_body_unread_is_not_held_against_the_client() -> None:
    """A client that sent its body at once must not be cut off as slow because the app
    was busy and uvicorn stopped reading: the rate check sees reading paused."""
    app, checked = App(), threading.Event()
    body = b"b" * (2 * 1024 * 1024)

    class Observed(LimitedHttpToolsProtocol):
        def _check_body_rate(self) -> None:
            super()._check_body_rate()
            checked.set()

    # at 4 MB/s the 0.3 s grace expects 1.2 MB, more than uvicorn buffers before pausing
    limits: dict[str, Any] = {"min_body_rate": 4_000_000, "body_grace": 0.3}
    with serve(app, protocol_class=Observed, **limits) as port, connect(port) as sock:
        payload = request("POST", "/hold", length=len(body)) + body
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert app.running.get(timeout=WAIT) == "/hold"
        assert checked.wait(WAIT)  # the check ran while the app held the body

        app.release.set()
        response = read_response(sock)
        sender.join(WAIT)

    assert response is not None
    assert (response.status_code, response.body) == (200, f"ok {len(body)}".encode())


def test_a_request_answered_before_its_body_arrived_is_left_to_the_keep_alive_timer() -> None:
    """Once the answer is out, the unread rest of the body is not the rate check's
    business: the connection ends at the keep-alive timeout, not at the check."""
    limits: dict[str, Any] = {
        "min_body_rate": 1_000_000,
        "body_grace": 0.5,  # the app answers at once: within it even on a loaded machine
        "keep_alive_timeout": 1.5,
    }
    with serve(**limits) as port, connect(port) as sock:
        started = time.monotonic()
        sock.sendall(request("POST", "/early", length=100_000) + b"x" * 10)

        received = read_all(sock)

        assert time.monotonic() - started >= 1.45  # the keep-alive timer's (loop clock: ms)
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        assert received.endswith(b"ok 0")


# -- the connection cap ----------------------------------------------------------------


def test_at_the_cap_a_new_connection_closes_the_one_idle_the_longest() -> None:
    limits: dict[str, Any] = {
        "max_connections": 2,
        "header_timeout": WAIT,
        "keep_alive_timeout": WAIT,
    }
    with serve(**limits) as port, connect(port) as oldest, connect(port) as newer:
        assert ask(oldest, request()).status_code == 200
        assert ask(newer, request()).status_code == 200

        with connect(port) as third:
            assert ask(third, request()).status_code == 200
            assert connection_is_closed(oldest, WAIT)
            assert ask(newer, request()).status_code == 200  # still open, still served


def test_at_the_cap_with_every_connection_busy_a_new_one_is_503_and_the_others_finish() -> None:
    app = App()
    limits: dict[str, Any] = {
        "max_connections": 2,
        "header_timeout": WAIT,
        "keep_alive_timeout": WAIT,
    }
    with serve(app, **limits) as port, connect(port) as first, connect(port) as second:
        for sock in (first, second):
            sock.sendall(request("GET", "/hold"))
            assert app.running.get(timeout=WAIT) == "/hold"

        with connect(port) as third:
            refused = read_response(third)
            assert refused is not None
            assert_error(refused, 503, "server_busy")
            assert refused.headers["connection"] == "close"

        app.release.set()
        for sock in (first, second):
            response = read_response(sock)
            assert response is not None and response.status_code == 200


# -- the cap's ceiling -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("soft_limit", "cap"),
    [(200, 200 - protocol.RESERVED_FDS), (32, 16), (resource.RLIM_INFINITY, 1000)],
    ids=["room for 136", "never under 16", "unlimited"],
)
def test_the_cap_leaves_file_descriptors_for_the_rest_of_the_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, soft_limit: int, cap: int
) -> None:
    """Past the descriptor limit ``accept`` fails and nothing can be refused politely."""
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (soft_limit, soft_limit))

    limits = HttpLimits.from_settings(settings_for(tmp_path, http_max_connections=1000))

    assert limits.max_connections == cap
