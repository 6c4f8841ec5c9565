"""Where a chunk's bytes go, and their hand-off to the recording transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chunkup.db import Connection
from chunkup.storage import Storage, open_storage
from chunkup.storage.local import LocalStorage
from chunkup.uploads.objects import ChunkObjects, StoredObject
from tests.domain.conftest import Domain

UPLOAD = "c" * 32


class Refused(Exception):
    """What a recording transaction raises to refuse a chunk."""


@pytest.fixture(params=["memory", "local"])
async def objects(
    request: pytest.FixtureRequest, domain: Domain, tmp_path: Path
) -> AsyncIterator[ChunkObjects]:
    """Chunk objects on obstore's memory store (an object per chunk) or the local disk
    (ranges appended to one file per upload)."""
    storage: Storage = (
        open_storage("memory://")
        if request.param == "memory"
        else open_storage((tmp_path / "storage").as_uri())
    )
    yield ChunkObjects(domain.services.db, storage)
    await storage.aclose()


async def read(storage: Storage, key: str) -> bytes:
    return b"".join([block async for block in storage.read(key)])


async def test_the_bytes_are_stored_before_the_transaction_sees_their_key(
    objects: ChunkObjects,
):
    stored = StoredObject()
    seen: list[bytes] = []

    def record(_conn: Connection) -> str:
        seen.append(b"")  # the transaction runs once, after the write
        assert stored.key
        return stored.key

    key = await objects.store_then(stored, UPLOAD, 0, 4, b"hello", record)
    assert key == stored.key and seen == [b""]
    assert key.startswith(f"chunks/{UPLOAD}/")
    assert await read(objects.storage, key) == b"hello"


async def test_two_chunks_keep_their_own_bytes(objects: ChunkObjects):
    first, second = StoredObject(), StoredObject()
    await objects.store_then(first, UPLOAD, 0, 2, b"abc", lambda _c: None)
    await objects.store_then(second, UPLOAD, 3, 5, b"def", lambda _c: None)
    assert first.key != second.key
    assert await read(objects.storage, first.key) == b"abc"
    assert await read(objects.storage, second.key) == b"def"


async def test_a_refused_chunks_object_is_removed_by_the_caller(objects: ChunkObjects):
    stored = StoredObject()

    def refuse(_conn: Connection) -> None:
        raise Refused()

    with pytest.raises(Refused):
        await objects.store_then(stored, UPLOAD, 0, 4, b"hello", refuse)
    assert stored.key  # written, unrecorded
    await objects.remove(stored)
    if isinstance(objects.storage, LocalStorage):  # a range of the appended file: a hole
        assert await read(objects.storage, stored.key) == bytes(5)
    else:  # an object of its own: gone
        with pytest.raises(FileNotFoundError):
            await read(objects.storage, stored.key)
    await objects.remove(StoredObject())  # nothing written: nothing to do
