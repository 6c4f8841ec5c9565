"""A chunk's object: its bytes written, then recorded, in one hand-off.

On local disk a chunk is appended to its upload's one file, and its key (the
byte range) is known only once the bytes are written; on an object store it
gets a key of its own first. Either way the caller's transaction records that
key, and an object whose transaction refused it is removed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from chunkup.db import Connection, Database
from chunkup.storage import Storage
from chunkup.storage.base import BlockingAppend
from chunkup.uploads import keys

T = TypeVar("T")


@dataclass(slots=True)
class StoredObject:
    """Where a chunk's bytes went: ``key`` is set once they are written."""

    key: str = ""


class ChunkObjects:
    def __init__(self, db: Database, storage: Storage) -> None:
        self.db = db
        self.storage = storage
        # looked up once: a runtime Protocol check costs more than the file write's hop
        self._append_blocking = (
            storage.append_blocking if isinstance(storage, BlockingAppend) else None
        )

    async def store_then(
        self,
        stored: StoredObject,
        upload_id: str,
        start: int,
        end: int,
        data: bytes | bytearray | memoryview,
        record: Callable[[Connection], T],
        *,
        create: bool = True,
    ) -> T:
        """Write the bytes ``start..end`` of an upload (the key goes to
        ``stored``), then run ``record`` in a write transaction.

        A store that appends (local disk) writes in the database's own
        hand-off to a worker thread, right before the transaction: one hop per
        chunk. With ``create=False`` it only appends to the upload's existing
        file: where there is none it raises ``FileNotFoundError`` having
        written nothing (an id the caller has not checked yet must not make one).
        """
        if self._append_blocking is not None:
            append, prefix = self._append_blocking, keys.chunk_prefix(upload_id)

            def write() -> None:
                stored.key = append(prefix, data, create=create)

            return await self.db.write(record, first=write)
        stored.key = keys.chunk_key(upload_id, start, end)
        await self.storage.put(stored.key, data)
        return await self.db.write(record)

    async def store_then_call(
        self,
        stored: StoredObject,
        upload_id: str,
        start: int,
        end: int,
        data: bytes | bytearray | memoryview,
        record: Callable[[], Awaitable[T]],
        *,
        create: bool = True,
    ) -> T:
        """``store_then`` for a database that records a chunk in one statement
        (``Database.one_statement_chunks``): the bytes written as there, then
        ``record`` awaited on the event loop."""
        if self._append_blocking is not None:
            stored.key = await self.db.run_blocking(
                partial(self._append_blocking, keys.chunk_prefix(upload_id), data, create=create)
            )
        else:
            stored.key = keys.chunk_key(upload_id, start, end)
            await self.storage.put(stored.key, data)
        return await record()

    async def remove(self, stored: StoredObject) -> None:
        """Remove an object no transaction recorded (a refused or repeated chunk)."""
        if stored.key:
            await self.storage.delete(stored.key)
