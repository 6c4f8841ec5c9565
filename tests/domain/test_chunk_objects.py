"""Where a chunk's bytes go, their key's way to the recording transaction, and
the removal of an object no transaction recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chunkup.db import Connection
from chunkup.db import queries as q
from chunkup.errors import RangeConflict
from chunkup.storage import Storage, open_storage
from chunkup.storage.local import LocalStorage, appended_range
from chunkup.uploads import keys
from chunkup.uploads.objects import ChunkObjects
from tests.domain.conftest import Domain

UPLOAD = "c" * 32
PREFIX = keys.chunk_prefix(UPLOAD)


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


async def assert_removed(objects: ChunkObjects, key: str, length: int) -> None:
    if isinstance(objects.storage, LocalStorage):  # a range of the appended file: a hole
        assert await read(objects.storage, key) == bytes(length)
    else:  # an object of its own: gone
        with pytest.raises(FileNotFoundError):
            await read(objects.storage, key)


async def test_the_transaction_gets_the_key_of_the_bytes_written_before_it(
    objects: ChunkObjects,
):
    def record(_conn: Connection, key: str) -> str:
        return f"recorded {key}"

    key, result = await objects.store_then(UPLOAD, 0, 4, b"hello", record)
    assert result == f"recorded {key}"
    assert key.startswith(PREFIX)
    assert await read(objects.storage, key) == b"hello"


async def test_two_chunks_keep_their_own_bytes(objects: ChunkObjects):
    first, _ = await objects.store_then(UPLOAD, 0, 2, b"abc", lambda _c, _k: None)
    second, _ = await objects.store_then(UPLOAD, 3, 5, b"def", lambda _c, _k: None)
    assert first != second
    assert await read(objects.storage, first) == b"abc"
    assert await read(objects.storage, second) == b"def"


@pytest.mark.parametrize("refusal", [RangeConflict(), q.Duplicate()], ids=["error", "duplicate"])
async def test_a_refused_chunks_object_is_removed_before_the_error_goes_on(
    objects: ChunkObjects, refusal: Exception
):
    given: list[str] = []

    def refuse(_conn: Connection, key: str) -> None:
        given.append(key)
        raise refusal

    with pytest.raises(type(refusal)):
        await objects.store_then(UPLOAD, 0, 4, b"hello", refuse)
    assert len(given) == 1
    await assert_removed(objects, given[0], 5)


async def test_an_error_that_is_no_refusal_leaves_the_object_to_garbage_collection(
    objects: ChunkObjects,
):
    given: list[str] = []

    def fail(_conn: Connection, key: str) -> None:
        given.append(key)
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        await objects.store_then(UPLOAD, 0, 4, b"hello", fail)
    assert await read(objects.storage, given[0]) == b"hello"


async def test_without_create_an_upload_with_no_file_gets_nothing_written(
    domain: Domain, tmp_path: Path
):
    storage = open_storage((tmp_path / "storage").as_uri())
    objects = ChunkObjects(domain.services.db, storage)
    ran: list[str] = []
    try:
        with pytest.raises(FileNotFoundError):
            await objects.store_then(
                UPLOAD, 0, 4, b"hello", lambda _c, key: ran.append(key), create=False
            )
        assert ran == []  # no transaction
        assert [key async for key, _ in storage.list(PREFIX)] == []
        assert not (tmp_path / "storage" / "chunks").exists()
    finally:
        await storage.aclose()


async def test_the_one_statement_form_gets_the_key_and_removes_a_refused_object(
    objects: ChunkObjects,
):
    async def record(key: str) -> str:
        return key

    key, result = await objects.store_then_call(UPLOAD, 0, 4, b"hello", record)
    assert result == key and await read(objects.storage, key) == b"hello"

    given: list[str] = []

    async def refuse(key: str) -> None:
        given.append(key)
        raise RangeConflict()

    with pytest.raises(RangeConflict):
        await objects.store_then_call(UPLOAD, 5, 9, b"world", refuse)
    await assert_removed(objects, given[0], 5)


async def test_stored_pieces_are_appended_like_chunks_and_removed_if_refused(
    objects: ChunkObjects,
):
    pieces = [
        await objects.store(UPLOAD, 0, 2, b"abc"),
        await objects.store(UPLOAD, 3, 5, b"def"),
    ]
    assert [await read(objects.storage, key) for key in pieces] == [b"abc", b"def"]
    listed = [key async for key, _ in objects.storage.list(PREFIX)]
    if isinstance(objects.storage, LocalStorage):  # both in the upload's one file
        assert all(appended_range(key) for key in pieces) and len(listed) == 1
    else:
        assert sorted(listed) == sorted(pieces)

    def refuse(_conn: Connection) -> None:
        raise RangeConflict()

    with pytest.raises(RangeConflict):
        await objects.record(pieces, refuse)
    for key in pieces:
        await assert_removed(objects, key, 3)
