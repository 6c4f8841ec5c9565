"""A chunk's object: its bytes written, then recorded, or else removed.

On local disk a chunk is appended to its upload's one file, and its key (the
byte range) is known only once the bytes are written; on an object store it
gets a key of its own first. Either way the key is a value handed on: to the
caller's transaction (``record(conn, key)``) and back with its result. No
object is filled in by one thread for another to read.

This module owns an object until a transaction records it: when the
transaction refuses it (a ``ChunkupError``, or ``Duplicate``: rolled back, so
no row names the key) the object is removed here before the error goes on.
An object the caller decides not to keep after all (a repeated chunk, which
recorded nothing) it hands back to ``remove``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

from chunkup.db import Connection, Database
from chunkup.db import queries as q
from chunkup.errors import ChunkupError
from chunkup.storage import Storage
from chunkup.storage.base import BlockingAppend
from chunkup.uploads import keys

T = TypeVar("T")
Data = bytes | bytearray | memoryview
# what a recording transaction raises when it recorded nothing: its object is garbage
REFUSED = (ChunkupError, q.Duplicate)


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
        upload_id: str,
        start: int,
        end: int,
        data: Data,
        record: Callable[[Connection, str], T],
        *,
        create: bool = True,
    ) -> tuple[str, T]:
        """Write the bytes ``start..end`` of an upload, then run ``record(conn,
        key)`` in a write transaction; the key and ``record``'s result.

        A store that appends (local disk) writes in the database's own
        hand-off to a worker thread, right before the transaction: one hop per
        chunk (``Database.write_after``). With ``create=False`` it only appends
        to the upload's existing file: where there is none it raises
        ``FileNotFoundError`` having written nothing (an id the caller has not
        checked yet must not make one).
        """
        if self._append_blocking is not None:
            append, prefix = self._append_blocking, keys.chunk_prefix(upload_id)

            def write() -> str:
                return append(prefix, data, create=create)

            def recorded(conn: Connection, key: str) -> tuple[str, T]:
                return key, record(conn, key)

            return await self.db.write_after(write, recorded, undo=self._unless_recorded)
        key = await self.store(upload_id, start, end, data)
        return key, await self.record([key], lambda conn: record(conn, key))

    async def store_then_call(
        self,
        upload_id: str,
        start: int,
        end: int,
        data: Data,
        record: Callable[[str], Awaitable[T]],
        *,
        create: bool = True,
    ) -> tuple[str, T]:
        """``store_then`` for a database that records a chunk in one statement
        (``Database.one_statement_chunks``): the bytes written as there, then
        ``record(key)`` awaited on the event loop."""
        key = await self.store(upload_id, start, end, data, create=create)
        try:
            return key, await record(key)
        except REFUSED:
            await self.remove(key)
            raise

    async def store(
        self, upload_id: str, start: int, end: int, data: Data, *, create: bool = True
    ) -> str:
        """Write the bytes ``start..end`` of an upload, recording nothing; their key.

        For bytes recorded later, together (tus pieces waiting for their
        checksum, ``record``): appended to the upload's file like every chunk
        on local disk, an object of their own on an object store.
        """
        if self._append_blocking is not None:
            prefix = keys.chunk_prefix(upload_id)
            return await self.db.run_blocking(
                partial(self._append_blocking, prefix, data, create=create)
            )
        key = keys.chunk_key(upload_id, start, end)
        await self.storage.put(key, data)
        return key

    async def record(self, stored: Sequence[str], work: Callable[[Connection], T]) -> T:
        """Run ``work``, which records the objects ``stored``, in a write
        transaction; if it refuses them they are removed."""
        try:
            return await self.db.write(work)
        except REFUSED:
            for key in stored:
                await self.remove(key)
            raise

    async def remove(self, key: str) -> None:
        """Remove an object no transaction recorded (a refused or repeated chunk)."""
        await self.storage.delete(key)

    async def _unless_recorded(self, key: str, error: Exception) -> None:
        """``write_after``'s undo: the object of a refused chunk is removed; after
        an error that is no refusal (a bug) it is left to garbage collection."""
        if isinstance(error, REFUSED):
            await self.remove(key)
