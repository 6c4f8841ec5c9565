"""A webhook receiver for the tests: a threaded HTTP server on a loopback port.

It records every request (headers, body, when it started and ended), counts
deliveries of one ``webhook-id`` that overlap in time (two in flight at once:
what the outbox's claims must prevent), and can be stopped and started again
on the same port, as a receiver that crashes and comes back. ``answer`` decides
each response; the tests wait on its condition with deadlines, never sleep.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support import free_port

Answer = Callable[["Delivery", int], tuple[int, str]]  # (delivery, nth attempt of its id)


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    started: float
    ended: float = 0.0
    status: int = 0

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def accept(_delivery: Delivery, _attempt: int) -> tuple[int, str]:
    return 204, ""


@dataclass
class Receiver:
    answer: Answer = accept
    hold: float = 0.0  # seconds each request takes to answer (the receiver's own work)
    gate: threading.Event | None = None  # when given, no request is answered before it is set
    # the sender's own timeout: an attempt held longer than this has been given up by its
    # sender (connection closed, retried later), so it no longer counts as in flight
    sender_timeout: float | None = None
    port: int = field(default_factory=free_port)
    deliveries: list[Delivery] = field(default_factory=list)
    overlaps: int = 0
    restarts: int = 0

    def __post_init__(self) -> None:
        self.changed = threading.Condition()
        self._in_flight: dict[str, int] = {}
        self._started: dict[str, list[float]] = {}  # monotonic starts of unanswered attempts
        self._attempts: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until ``start`` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def restart(self) -> None:
        self.stop()
        self.start()
        self.restarts += 1

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0"))
        body = request.rfile.read(length)
        delivery = Delivery({k.lower(): v for k, v in request.headers.items()}, body, time.time())
        key = delivery.webhook_id
        now = time.monotonic()
        with self.changed:
            held = self._started.setdefault(key, [])
            if any(self.sender_timeout is None or now - t < self.sender_timeout for t in held):
                self.overlaps += 1
            held.append(now)
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
            self.changed.notify_all()
        try:
            if self.hold:
                time.sleep(self.hold)  # the receiver's work: widens any overlap to see
            if self.gate is not None:
                self.gate.wait(timeout=60)
            status, text = self.answer(delivery, attempt)
            payload = text.encode()
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
            delivery.status = status
        finally:
            delivery.ended = time.time()
            with self.changed:
                self._in_flight[key] -= 1
                self._started[key].remove(now)
                self.deliveries.append(delivery)
                self.changed.notify_all()

    def in_flight(self) -> int:
        """Requests received and not answered yet."""
        with self.changed:
            return sum(self._in_flight.values())

    def accepted(self) -> list[Delivery]:
        """Deliveries answered with a 2xx (what the receiver took)."""
        with self.changed:
            return [d for d in self.deliveries if 200 <= d.status < 300]

    def wait_for(self, ready: Callable[[Receiver], bool], timeout: float = 30.0) -> None:
        """Until ``ready(self)`` holds, woken by each request; AssertionError at the deadline."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not ready(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver: condition not met in {timeout}s")
                self.changed.wait(left)
