"""uvicorn's HTTP protocol with the limits a server facing the internet needs.

Stock uvicorn (httptools) reads a request head of any size, with any number of
header lines, for as long as the client cares to send it, and holds a
connection that sends nothing forever. httptools also joins a header value or
a URL that arrives in many pieces by repeated concatenation, so a 32 MiB header
line costs time quadratic in its size on the event loop. uvicorn has no option
for any of this (its ``h11`` protocol has one size limit and is twice as slow
per request), so this subclass of its ``HttpToolsProtocol`` adds them where the
bytes come in:

- the request line and headers are counted in ``data_received`` *before* the
  parser sees them, fed in slices that never pass ``max_head_bytes``: ``431``;
- header fields are counted in ``on_header``: more than ``max_header_fields``
  is ``431``; the URL in ``on_url``: longer than ``max_url_bytes`` is ``414``;
- a timer from the connection's start (or from the first byte of a later
  request) to the end of the head: ``header_timeout`` then ``408`` and close
  (or only the close, when nothing at all was sent);
- an idle keep-alive connection is closed after ``keep_alive_timeout`` (uvicorn's
  timer), also when the client keeps dribbling a body the app did not read;
- a body must arrive at ``min_body_rate`` bytes a second on average once it has
  had ``body_grace`` seconds (Apache's ``mod_reqtimeout``): a byte a second
  never trips the app's idle timer, yet would hold a chunk request for days.
  Time the app leaves the body unread (uvicorn paused reading) is not held
  against the client. Past it: ``408`` and close;
- at most ``max_connections`` per worker: at the cap a new connection closes the
  one that has waited longest without a request running (a slow or idle one),
  and only when every connection is busy is the new one refused (``503``).

Every refusal is the contract's JSON error with ``Connection: close``; then the
write side is shut and what the client still sends is read and dropped for a
moment (``LINGER``), so that a client still writing its request gets to read
the answer instead of a reset connection (nginx's lingering close). Malformed
HTTP (two Content-Lengths, broken chunk framing) is refused the same way.

This relies on uvicorn's private ``httptools_impl`` (pinned in pyproject;
``tests/robustness/test_http_limits.py`` fails when what it uses moves).
"""

from __future__ import annotations

import asyncio
import functools
import json
import resource
import time
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from chunkup.errors import (
    ChunkupError,
    HeaderFieldsTooLarge,
    MalformedRequest,
    RequestTimeout,
    ServerBusy,
    UriTooLong,
)
from chunkup.settings import Settings

# seconds a refused connection is still read (and dropped) after the answer
LINGER = 2.0
# seconds between two checks of a body's arrival rate, once past its grace time
BODY_RATE_CHECK = 5.0
# file descriptors a worker keeps for other things than client connections
# (database, storage, logs, the listening socket)
RESERVED_FDS = 64


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one connection may cost a worker (see the module docstring)."""

    max_head_bytes: int = 16 * 1024
    max_header_fields: int = 100
    max_url_bytes: int = 8 * 1024
    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 1000
    min_body_rate: float = 500.0
    body_grace: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_head_bytes=settings.http_max_head_bytes,
            max_header_fields=settings.http_max_header_fields,
            max_url_bytes=settings.http_max_url_bytes,
            header_timeout=settings.http_header_timeout,
            keep_alive_timeout=settings.http_keep_alive_timeout,
            max_connections=min(settings.http_max_connections, _connection_budget()),
            min_body_rate=settings.http_min_body_rate,
            body_grace=settings.body_timeout,
        )


def _connection_budget() -> int:
    """Connections the process's file descriptor limit leaves room for.

    Past it ``accept`` fails (EMFILE) and the server cannot even refuse politely,
    so the cap never exceeds it.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 30
    return max(16, soft - RESERVED_FDS)


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the protocol answers ``error``."""

    def __init__(self, error: ChunkupError) -> None:
        super().__init__(error.detail)
        self.error = error


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with size, count, time and connection limits."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HttpLimits | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits or HttpLimits()
        self._head_bytes = 0  # bytes of the current request's head fed so far
        self._reading_head = True  # between the end of one message and its next head's end
        self._header_fields = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_bytes = 0
        self._body_since = 0.0
        self._refused = False
        self._idle_since = time.monotonic()  # finer than the loop's clock

    # -- connections ---------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        at_cap = len(self.connections) >= self.limits.max_connections
        if at_cap:
            at_cap = not self._evict_one_idle()
        super().connection_made(transport)
        if at_cap:
            self.logger.warning("connection refused: %d open", len(self.connections))
            self._refuse(ServerBusy())
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def _request_running(self) -> bool:
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _evict_one_idle(self) -> bool:
        """Close the connection waiting longest without a request running; whether one was."""
        idle = [
            c
            for c in self.connections
            if isinstance(c, LimitedHttpToolsProtocol)
            and not c._refused
            and not c._request_running()
            and not c.transport.is_closing()
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c._idle_since)
        oldest.transport.close()
        self.connections.discard(oldest)
        return True

    # -- bytes in ------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: read and dropped
        if not self._draining_unread_body():
            self._unset_keepalive_if_required()
        view = memoryview(data)
        while view and not self._refused:
            if self._reading_head:
                self._arm_header_timer()
                room = self.limits.max_head_bytes - self._head_bytes
                piece, view = view[:room], view[room:]
                self._head_bytes += len(piece)
            else:
                piece, view = view, view[:0]
            if not self._feed(piece):
                return
            if self._reading_head and self._head_bytes >= self.limits.max_head_bytes:
                self._refuse(HeaderFieldsTooLarge())
                return

    def _draining_unread_body(self) -> bool:
        """The response went out before the app read the whole body: what still
        comes is dropped, and it must not keep the connection open."""
        return self.cycle is not None and self.cycle.response_complete and self.cycle.more_body

    def _feed(self, piece: memoryview) -> bool:
        """Parse ``piece``; whether to go on with what follows it."""
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserError as exc:
            refusal = exc.__context__
            if isinstance(refusal, _Refused):
                self._refuse(refusal.error)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return not self._refused

    # -- parser callbacks ----------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_fields = 0

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > self.limits.max_url_bytes:
            raise _Refused(UriTooLong())
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_fields += 1
        if self._header_fields > self.limits.max_header_fields:
            raise _Refused(
                HeaderFieldsTooLarge(
                    f"More than {self.limits.max_header_fields} header fields were sent."
                )
            )
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._cancel_header_timer()
        super().on_headers_complete()
        if self.limits.min_body_rate > 0:
            self._body_bytes = 0
            self._body_since = self.loop.time()
            self._body_timer = self.loop.call_later(self.limits.body_grace, self._check_body_rate)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()
        self._reading_head = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._idle_since = time.monotonic()  # finer than the loop's clock

    # -- timers --------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout, self._header_timed_out
            )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._refused:
            return
        if self._head_bytes == 0 and not self._request_running():
            self.transport.close()  # nothing was asked: nothing to answer
            return
        self._refuse(RequestTimeout("The request's headers did not arrive in time."))

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _check_body_rate(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or self._refused or cycle is None:
            return
        if cycle.response_complete:
            return  # answered already: an unread rest is the keep-alive timer's
        now = self.loop.time()
        if self.flow.read_paused:
            # the app is not taking the body: that time is not the client's
            self._body_since += BODY_RATE_CHECK
        elif self._body_bytes < (now - self._body_since) * self.limits.min_body_rate:
            self.logger.warning("request body below %s B/s: cut off", self.limits.min_body_rate)
            if not cycle.response_started:
                # the app's answer is dropped (uvicorn sends nothing once
                # disconnected) and it reads the end of the body
                cycle.disconnected = True
                cycle.message_event.set()
                self._refuse(RequestTimeout("The request body arrives too slowly."))
            else:
                self.transport.close()
            return
        self._body_timer = self.loop.call_later(BODY_RATE_CHECK, self._check_body_rate)

    def timeout_keep_alive_handler(self) -> None:
        # a request that arrived with the end of an unread body may be running
        if not self._request_running():
            super().timeout_keep_alive_handler()

    # -- refusing ------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        self._refuse(MalformedRequest(f"Malformed HTTP request: {msg}"))

    def _refuse(self, error: ChunkupError) -> None:
        """Answer ``error`` and close, reading a little longer what the client still sends."""
        self._refused = True
        self._cancel_header_timer()
        self._cancel_body_timer()
        self._unset_keepalive_if_required()
        if self._request_running() and not self.cycle.disconnected:
            # a pipelined request's head: the running request answers first, then closes
            self.cycle.keep_alive = False
            return
        self.transport.write(_error_bytes(error, self.server_state.default_headers))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.flow.resume_reading()
            self.loop.call_later(LINGER, self.transport.close)
        else:
            self.transport.close()


def _error_bytes(error: ChunkupError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole response for ``error``: the contract's JSON body, ``Connection: close``."""
    body = json.dumps(error.body()).encode()
    lines = [STATUS_LINE[error.status]]
    headers = [
        *default_headers,
        *((name.encode("latin-1"), value.encode("latin-1")) for name, value in _headers(error)),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"connection", b"close"),
    ]
    for name, value in headers:
        lines.extend([name, b": ", value, b"\r\n"])
    lines.extend([b"\r\n", body])
    return b"".join(lines)


def _headers(error: ChunkupError) -> list[tuple[str, str]]:
    return list((error.headers() or {}).items())


def uvicorn_options(log_level: str = "info", settings: Settings | None = None) -> dict[str, Any]:
    """How chunkup runs under uvicorn, for ``chunkup serve`` and the tests alike.

    The protocol is a ``functools.partial`` of a module-level class so that
    uvicorn can hand it to worker processes (it pickles the config).
    """
    limits = HttpLimits.from_settings(settings) if settings is not None else HttpLimits()
    return {
        "loop": "uvloop",
        "http": functools.partial(LimitedHttpToolsProtocol, limits=limits),
        "log_level": log_level,
        "log_config": None,
        "timeout_graceful_shutdown": 30,
        "timeout_keep_alive": limits.keep_alive_timeout,
        "server_header": False,
    }
