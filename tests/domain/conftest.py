"""In-process harness for the domain services: no HTTP, no server, milliseconds a rule.

``domain`` is the app's ``Services`` (upload service, completion, garbage
collector, chunk objects, tus) built as the server builds them, on a temporary
SQLite database and obstore's in-memory store, with a ``FakeClock`` the test
moves. The schema is migrated once per session into a template file that each
test copies, so a test starts in a few milliseconds.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from chunkup.db import Database
from chunkup.models import Kind
from chunkup.services import Services
from chunkup.storage import open_storage
from chunkup.uploads.ranges import ChunkRange
from chunkup.uploads.service import ChunkIn, UploadState
from chunkup.uploads.tus import TusService
from tests.support import CHUNK, FakeClock, settings_for

DB_FILE = "chunkup.db"


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file, copied for every test."""
    path = tmp_path_factory.mktemp("domain-template") / DB_FILE

    async def migrate() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            await db.migrate()
        finally:
            await db.dispose()

    asyncio.run(migrate())
    return path


@dataclass
class Domain:
    """The services of one app, and shortcuts that speak in the domain's terms."""

    services: Services
    clock: FakeClock
    tus: TusService

    async def chunk(
        self,
        user_id: int,
        data: bytes,
        start: int,
        total: int,
        *,
        upload_id: str | None = None,
        kind: Kind = Kind.IMAGE,
        filename: str | None = "file.bin",
        expires: datetime | None = None,
    ) -> UploadState:
        """One chunk of ``data`` at ``start`` of a ``total``-byte upload."""
        content_range = ChunkRange(start, start + len(data) - 1, total)
        chunk = ChunkIn(kind, data, content_range, upload_id, filename, expires)
        return await self.services.uploads.accept_chunk(user_id, chunk)

    async def upload(
        self, user_id: int, data: bytes, *, kind: Kind = Kind.IMAGE, filename: str = "file.bin"
    ) -> str:
        """Every chunk of ``data``, in order; the upload id."""
        first = await self.chunk(user_id, data[:CHUNK], 0, len(data), kind=kind, filename=filename)
        upload_id = first.upload.id
        for start in range(CHUNK, len(data), CHUNK):
            await self.chunk(
                user_id,
                data[start : start + CHUNK],
                start,
                len(data),
                upload_id=upload_id,
                kind=kind,
            )
        return upload_id

    async def keys(self, prefix: str) -> list[str]:
        """Every stored key under ``prefix``, sorted."""
        return sorted([key async for key, _info in self.services.storage.list(prefix)])


@pytest.fixture
async def domain(tmp_path: Path, migrated_db: Path) -> AsyncIterator[Domain]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_db, data_dir / DB_FILE)
    settings = settings_for(data_dir, migrate_on_start=False, storage_url="memory://")
    clock = FakeClock()
    services = await Services.start(settings, clock=clock, storage=open_storage("memory://"))
    try:
        yield Domain(services, clock, services.tus)
    finally:
        await services.close()
