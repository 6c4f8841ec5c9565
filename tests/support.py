"""Test support: a real chunkup server on a loopback port, files, and a chunk client.

``LiveServer`` runs the real app under uvicorn in a background thread, so the
tests talk HTTP to it like any client, while still being able to move its
clock or hand it a storage that fails on purpose.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import hashlib
import io
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from PIL import Image

from chunkup.api import create_app
from chunkup.api.protocol import uvicorn_options
from chunkup.auth import mint_token
from chunkup.models import Chunk
from chunkup.settings import Settings
from chunkup.storage import Storage

CHUNK = 204800
START_TIMEOUT = 90  # seconds a server process may take to answer
T = TypeVar("T")
SECRET = "test-secret-test-secret-test-secret"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Default(enum.Enum):
    """The "not given" of ``LiveServer.client``, where None already means "no token"."""

    USER = "the server's user"


@dataclass
class LiveServer:
    """``user`` is the user a token or client stands for when none is named: the
    ``server`` fixture makes it a fresh one for every test sharing the server."""

    settings: Settings
    clock: FakeClock = field(default_factory=FakeClock)
    storage: Storage | None = None
    port: int = field(default_factory=free_port)
    user: int = 1

    def __post_init__(self) -> None:
        self.app = app = create_app(self.settings, clock=self.clock, storage=self.storage)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            **uvicorn_options("warning", self.settings),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self._gc_rounds, self._gc_done, self._gc_counted = 0, threading.Condition(), False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def wait_gc_rounds(self, rounds: int, timeout: float = 30) -> None:
        """Block until the server's background garbage collector has finished ``rounds``
        more rounds: an event to wait for, where a sleep would only hope for them."""
        if not self._gc_counted:
            gc = self.app.state.services.gc
            collect = gc.collect

            async def counted(**kwargs: Any) -> Any:
                try:
                    return await collect(**kwargs)
                finally:
                    with self._gc_done:
                        self._gc_rounds += 1
                        self._gc_done.notify_all()

            gc.collect = counted
            self._gc_counted = True
        with self._gc_done:
            target = self._gc_rounds + rounds
            if not self._gc_done.wait_for(lambda: self._gc_rounds >= target, timeout):
                raise TimeoutError(f"the garbage collector did not finish {rounds} rounds")

    def chunk_objects(self, upload_id: str) -> list[str]:
        """The names of the objects stored for ``upload_id``'s chunks, on any backend."""
        return [key.rsplit("/", 1)[-1] for key in self.stored_keys(f"chunks/{upload_id}/")]

    def read_object(self, key: str) -> bytes:
        return StoredData(self.settings).read(key)

    def stored_keys(self, prefix: str) -> list[str]:
        return StoredData(self.settings).keys(prefix)

    def chunk_records(self, upload_id: str) -> list[Chunk]:
        return StoredData(self.settings).records(upload_id)

    def stored_upload_bytes(self, upload_id: str) -> bytes:
        return StoredData(self.settings).upload_bytes(upload_id)

    def unreferenced_chunk_bytes(self, upload_id: str) -> int:
        return StoredData(self.settings).unreferenced_bytes(upload_id)

    def token(self, user_id: int | None = None, **claims: Any) -> str:
        """A token for ``user_id``, by default the server's ``user`` (the test's own)."""
        user = self.user if user_id is None else user_id
        return mint_token(SECRET, user) if not claims else _token_with(user, claims)

    def client(self, user_id: int | None | Default = Default.USER) -> ChunkClient:
        """A chunk client as ``user_id`` (by default the server's ``user``; None: no token)."""
        user = self.user if user_id is Default.USER else user_id
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user is not None else {}
        http = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        return ChunkClient(http, user)


@dataclass
class StoredData:
    """What a server's database and storage hold, read from outside it, on any backend."""

    settings: Settings

    def _with_storage(self, use: Callable[[Storage], Awaitable[T]]) -> T:
        from chunkup.storage import open_storage

        async def run() -> T:
            storage = open_storage(self.settings.resolved_storage_url)
            try:
                return await use(storage)
            finally:
                await storage.aclose()

        return asyncio.run(run())

    def read(self, key: str) -> bytes:
        """The bytes of one stored object."""
        return self.read_all([key])

    def read_all(self, keys: list[str]) -> bytes:
        """The bytes of these objects, one after another."""

        async def read(storage: Storage) -> bytes:
            return b"".join([block for key in keys async for block in storage.read(key)])

        return self._with_storage(read)

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, sorted."""
        return [key for key, _size in self._listing(prefix)]

    def _listing(self, prefix: str) -> list[tuple[str, int]]:
        async def collect(storage: Storage) -> list[tuple[str, int]]:
            return sorted([(key, info.size) async for key, info in storage.list(prefix)])

        return self._with_storage(collect)

    def records(self, upload_id: str) -> list[Chunk]:
        """The chunks the database records for ``upload_id``, in order."""
        from chunkup.db import Database
        from chunkup.db import queries as q

        async def load() -> list[Chunk]:
            db = Database(self.settings.resolved_database_url)
            try:
                return await db.read(lambda conn: q.list_chunks(conn, upload_id))
            finally:
                await db.dispose()

        return asyncio.run(load())

    def upload_bytes(self, upload_id: str) -> bytes:
        """The recorded chunks' bytes, read back from storage in order."""
        return self.read_all([c.key for c in self.records(upload_id)])

    def unreferenced_bytes(self, upload_id: str) -> int:
        """Bytes stored under the upload's chunk prefix that no recorded chunk
        uses: what a refused or repeated chunk must not leave behind. Objects
        of their own count whole; in a local store's appended file, the
        allocated blocks outside the recorded ranges (with their padding)."""
        from chunkup.storage import open_storage
        from chunkup.storage.local import APPEND_ALIGN, APPENDED, LocalStorage, appended_range

        recorded = {c.key for c in self.records(upload_id)}
        used: dict[str, list[tuple[int, int]]] = {}
        for key in recorded:
            if (appended := appended_range(key)) is not None:
                file_key, offset, length = appended
                padded = length + -length % APPEND_ALIGN
                used.setdefault(file_key, []).append((offset, offset + padded))
        unreferenced = 0
        for key, size in self._listing(f"chunks/{upload_id}/"):
            if key.rsplit("/", 1)[-1] != APPENDED:  # an object of its own
                unreferenced += 0 if key in recorded else size
                continue
            storage = open_storage(self.settings.resolved_storage_url)
            assert isinstance(storage, LocalStorage)
            for start, end in _data_extents(storage.local_path(key)):
                covered = sum(max(0, min(end, b) - max(start, a)) for a, b in used.get(key, []))
                unreferenced += end - start - covered
        return unreferenced


def _data_extents(path: Path) -> list[tuple[int, int]]:
    """The byte ranges of a file that hold data (not holes)."""
    extents = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size, at = os.fstat(fd).st_size, 0
        while at < size:
            try:
                start = os.lseek(fd, at, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # only a hole is left
                    break
                raise
            at = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append((start, at))
    finally:
        os.close(fd)
    return extents


def _token_with(user_id: int, claims: dict[str, Any]) -> str:
    import jwt

    now = int(time.time())
    body: dict[str, Any] = {
        "token_type": "access",
        "user_id": user_id,
        "iat": now,
        "exp": now + 3600,
        "jti": "t",
    }
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET, algorithm="HS256")


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "jwt_secret": SECRET}
    values.update(overrides)
    return Settings(**values)


class ChunkClient:
    """The chunk protocol as the contract describes it, one request per call."""

    def __init__(self, http: httpx.Client, user_id: int | None = None) -> None:
        self.http = http
        self.user_id = user_id  # whose token it sends (None: no token)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ChunkClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def chunk(
        self,
        data: bytes,
        start: int,
        total: int,
        *,
        upload_id: str | None = None,
        field: str = "image",
        filename: str | None = "file.bin",
        content_range: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:
        end = start + len(data) - 1
        header = content_range if content_range is not None else f"bytes {start}-{end}/{total}"
        fields = dict(extra or {})
        if upload_id is not None:
            fields["upload_id"] = upload_id
        files = {field: (filename, data, "application/octet-stream")}
        headers = {"Content-Range": header} if header else {}
        return self.http.post(
            "/api/v2/media/upload/chunk/", data=fields, files=files, headers=headers
        )

    def upload_chunks(
        self,
        data: bytes,
        *,
        field: str = "image",
        filename: str = "file.bin",
        chunk_size: int = CHUNK,
        order: list[int] | None = None,
    ) -> str:
        """Send every chunk (first one first); return the upload id."""
        starts = list(range(0, len(data), chunk_size))
        first = self.chunk(data[:chunk_size], 0, len(data), field=field, filename=filename)
        assert first.status_code == 201, first.text
        upload_id: str = first.json()["upload_id"]
        rest = starts[1:]
        if order is not None:
            rest = [rest[i] for i in order]
        for start in rest:
            response = self.chunk(
                data[start : start + chunk_size],
                start,
                len(data),
                upload_id=upload_id,
                field=field,
            )
            assert response.status_code == 201, response.text
        return upload_id

    def complete(
        self, upload_id: str, md5: str, type_: str | None = None, *, as_: str = "form"
    ) -> httpx.Response:
        body = {"upload_id": upload_id, "md5": md5}
        if type_ is not None:
            body["type"] = type_
        url = "/api/v2/media/upload/complete/"
        if as_ == "json":
            return self.http.post(url, json=body)
        if as_ == "multipart":
            return self.http.post(url, files={k: (None, v) for k, v in body.items()})
        return self.http.post(url, data=body)

    def upload(
        self,
        data: bytes,
        *,
        field: str = "image",
        filename: str = "file.bin",
        type_: str | None = None,
    ) -> httpx.Response:
        upload_id = self.upload_chunks(data, field=field, filename=filename)
        return self.complete(upload_id, md5_of(data), type_)

    def status(self, upload_id: str) -> httpx.Response:
        return self.http.get(f"/api/v2/media/upload/{upload_id}/")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The contract's error shape: the status, ``{"detail": str, "code": str}``, no traceback."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    return body


def parse_expires(value: str) -> datetime:
    """An ``expires`` of the contract: ISO 8601 in UTC with a ``Z``."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def start_upload(client: ChunkClient, total: int = 300, size: int = 100, **kw: Any) -> str:
    """A first chunk of ``size`` bytes of a ``total``-byte upload; its id."""
    data = starts_like(b"a" * size, kw.get("field", "image"))
    response = client.chunk(data, 0, total, **kw)
    assert response.status_code == 201, response.text
    upload_id: str = response.json()["upload_id"]
    return upload_id


SIGNATURES = {"image": b"\x89PNG\r\n\x1a\n", "document": b"%PDF-"}


def starts_like(data: bytes, field: str = "image") -> bytes:
    """``data`` with its first bytes made the signature of the field's kind (a PNG's
    for ``image``, ``%PDF-`` for ``document``), its length kept: the server refuses
    a first chunk that cannot begin a file of its kind, at once."""
    signature = SIGNATURES[field]
    return signature[: len(data)] + data[len(signature) :]


def metric(text: str, name: str) -> float:
    """One sample of a Prometheus text exposition (0 when absent)."""
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def metrics_delta(
    http: httpx.Client, names: list[str], action: Callable[[], object]
) -> list[float]:
    """How much each of ``names`` grew on the server's ``/metrics`` while ``action`` ran:
    counters of a shared server also count other tests' requests, so tests compare."""
    before = http.get("/metrics").text
    action()
    after = http.get("/metrics").text
    return [metric(after, name) - metric(before, name) for name in names]


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def noise_image(width: int, height: int, fmt: str = "PNG", **save: Any) -> bytes:
    """An image of random pixels: it does not compress, so it spans several chunks."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def pdf_document(pages: int = 3, width: int = 600, height: int = 800) -> bytes:
    """A real multi-page PDF (Pillow writes it, pypdf must read it)."""
    images = [
        Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
        for _ in range(pages)
    ]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


class ServerProcess:
    """``chunkup serve`` as its own process, as an operator runs it."""

    def __init__(
        self, cwd: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None
    ) -> None:
        self.cwd = cwd
        self.port = port or free_port()
        self.args = ["serve", "--port", str(self.port), *args]
        if "--workers" not in args:
            self.args += ["--workers", "1"]  # one process: its pid is the server's
        self.env = {**os.environ, **(env or {})}
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        import sys

        self.log = open(self.cwd / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chunkup", *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        # a generous deadline: on a busy shared machine start-up alone has taken 30 s
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                raise RuntimeError(f"server exited: {(self.cwd / self.log.name).read_text()}")
            try:
                httpx.get(f"{self.url}/openapi.json", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)  # an external process: polled, with a deadline
        self.stop()  # never leave a server that did not come up running
        raise RuntimeError(f"server did not answer in {START_TIMEOUT} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()  # a worker hung in its shutdown: the data is throwaway
                self.process.wait(timeout=10)
        self.log.close()


NODE_DIR = Path(__file__).resolve().parent / "node"


def node_packages(package: str) -> Path:
    """``tests/node`` with its locked npm packages, as ``make test`` provisions them
    (``tests/provision.py``); skips the test (fails it under CI) when they are not
    installed. ``package`` names the one the caller needs, for the message."""
    from tests.provision import node_packages_missing, unprovisioned

    reason = node_packages_missing(NODE_DIR)
    if reason is not None:
        unprovisioned(f"{reason} (needed: {package})")
    return NODE_DIR
