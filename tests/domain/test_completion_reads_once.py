"""On an object store, completion reads every stored byte once.

Compose streams the chunks into the file; inspection reads a local copy made
from that same stream, not a second download of the composed object.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from chunkup.services import Services
from chunkup.storage import Storage, open_storage
from chunkup.storage.base import ObjectInfo, Observer
from tests.domain.conftest import DB_FILE, Domain
from tests.support import FakeClock, md5_of, noise_image, settings_for

MiB = 1024 * 1024


class CountingStorage:
    """A store that counts the bytes read from it: by ``read`` and by ``compose``."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.bytes_read = 0

    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        await self.inner.put(key, data)

    async def probe(self) -> None:
        await self.inner.probe()

    async def compose(self, keys: Sequence[str], dest: str, observe: Observer) -> int:
        def counted(block: bytes | memoryview) -> None:
            self.bytes_read += len(block)
            observe(block)

        return await self.inner.compose(keys, dest, counted)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        async for block in self.inner.read(key, start, end):
            self.bytes_read += len(block)
            yield block

    async def stat(self, key: str) -> ObjectInfo:
        return await self.inner.stat(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def delete_prefix(self, prefix: str) -> int:
        return await self.inner.delete_prefix(prefix)

    def list(self, prefix: str) -> AsyncIterator[tuple[str, ObjectInfo]]:
        return self.inner.list(prefix)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_50_mib_completion_reads_each_stored_byte_once(tmp_path: Path, migrated_db: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_db, data_dir / DB_FILE)
    settings = settings_for(
        data_dir,
        migrate_on_start=False,
        storage_url="memory://",
        image_max_bytes=64 * MiB,
    )
    storage = CountingStorage(open_storage("memory://"))
    clock = FakeClock()
    services = await Services.start(settings, clock=clock, storage=storage)
    try:
        domain = Domain(services, clock, services.tus)
        data = noise_image(4200, 4200)  # a PNG of random pixels: ~50 MiB
        assert len(data) > 50 * MiB
        upload_id = await domain.upload(1, data)
        storage.bytes_read = 0
        media = await services.completion.complete(1, upload_id, md5_of(data), None)
        assert (media.width, media.size) == (4200, len(data))
        # every byte once, and the first chunk's leading bytes that name the format
        assert len(data) <= storage.bytes_read <= len(data) + 64 * 1024
    finally:
        await services.close()
