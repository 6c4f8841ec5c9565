"""Operations: request ids, JSON access logs, Prometheus metrics, health and readiness.

``RequestContext`` is a pure ASGI middleware (no extra hop per body chunk, unlike
``BaseHTTPMiddleware``): it names every request with an id (the client's
``X-Request-ID`` if sane, else a new one), times it, logs one line when it ends
and records its latency by route.

Metrics are per node. With several worker processes on one port a scrape reaches
any one of them, so each worker writes its counts to files in a directory of the
run (prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``, set by
``chunkup serve`` before the workers start: ``metrics_directory``) and a scrape
sums every worker's files, those of workers that died included, so no counter
ever goes backwards.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str] = ContextVar("request_id", default="-")
access_log = logging.getLogger("chunkup.access")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_directory(data_dir: Path) -> Path:
    """A fresh directory for this run's worker metrics, ``<data dir>/metrics/<pid>``.

    Directories of earlier runs whose process is gone are removed: their counts
    belong to a server that no longer answers, and would be summed into this one's.
    """
    root = data_dir.resolve() / "metrics"
    root.mkdir(parents=True, exist_ok=True)
    for run in root.iterdir():
        if run.name == str(os.getpid()) or not (run.name.isdigit() and _alive(int(run.name))):
            with contextlib.suppress(FileNotFoundError):  # another server's clean-up won
                shutil.rmtree(run)
    mine = root / str(os.getpid())
    mine.mkdir()
    return mine


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class Metrics:
    """The service's Prometheus metrics, in a registry of the app's own; ``exposed``
    is what a scrape reads.

    In one process that is the same registry. Under ``PROMETHEUS_MULTIPROC_DIR``
    (``chunkup serve --workers N``) the metrics write their values to that
    directory, and ``exposed`` collects the files of every worker (a metric added
    here needs nothing more; a Gauge would need its ``multiprocess_mode``).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.exposed = self.registry
        directory = os.environ.get(MULTIPROCESS_ENV)
        if directory:
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, path=directory)  # type: ignore[no-untyped-call]
        self.requests = Histogram(
            "chunkup_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.chunks = Counter("chunkup_chunks_total", "Chunks accepted", registry=self.registry)
        self.chunk_bytes = Counter(
            "chunkup_chunk_bytes_total", "Bytes of accepted chunks", registry=self.registry
        )
        self.completions = Counter(
            "chunkup_completions_total",
            "Uploads completed into a Media",
            ["type"],
            registry=self.registry,
        )
        self.errors = Counter(
            "chunkup_errors_total",
            "Error responses by contract code",
            ["code"],
            registry=self.registry,
        )


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        rid = given if given and _SANE_ID.fullmatch(given) else secrets.token_hex(8)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status)).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
                )
            request_id.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the request being served."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        for field in ("status", "duration_ms"):
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # our access log replaces uvicorn's (it carries the request id and duration)
    logging.getLogger("uvicorn.access").disabled = True
