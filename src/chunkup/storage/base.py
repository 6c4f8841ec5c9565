"""The storage Protocol: a handful of async methods every backend provides.

Shaped after what the upload state machine needs, not after any one store: a
chunk is written once under its own key (create-only, so a racing retry cannot
clobber it; a local store appends it to its upload's file instead, see
``BlockingAppend``), completion streams a list of keys into one final object while the
caller observes the bytes (to hash them in the same pass), files are read back
by byte range, and whole uploads are dropped by key prefix.

Backends translate their own failures: a missing object is ``FileNotFoundError``,
an existing one on a create-only write is ``ObjectExists``, and anything that
means "the store cannot take this now" (disk full, permission, network) is
``chunkup.errors.StorageUnavailable``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable


class ObjectExists(FileExistsError):
    """A create-only write found the key already taken."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    etag: str
    modified: float  # seconds since the epoch


Observer = Callable[[bytes | memoryview], None]


@runtime_checkable
class Storage(Protocol):
    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` under a new ``key``; ``ObjectExists`` if it is taken."""
        ...

    async def compose(self, keys: Sequence[str], dest: str, observe: Observer) -> int:
        """Write the objects ``keys`` in order into the new object ``dest``.

        ``observe`` sees every block on its way, in order. Returns the size.
        ``dest`` appears whole or not at all.
        """
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes ``start..end`` (inclusive; ``None``: to the end)."""
        ...

    async def stat(self, key: str) -> ObjectInfo: ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix`` (ending in ``/``); returns the count."""
        ...

    def list(self, prefix: str) -> AsyncIterator[tuple[str, ObjectInfo]]:
        """Every object under ``prefix``, with its info (for garbage collection)."""
        ...

    async def probe(self) -> None:
        """Raise (``OSError``, ``StorageUnavailable``) unless the storage can take
        writes now: what ``/readyz`` asks."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class LocalPaths(Protocol):
    """Optional: a backend whose objects are plain local files."""

    def local_path(self, key: str) -> Path: ...


@runtime_checkable
class BlockingAppend(Protocol):
    """Optional: a backend that appends small objects to one file per prefix (local disk).

    Writing is a blocking call, so the caller runs it in a worker thread of its
    choosing: the chunk path runs it in the same hand-off as its database
    transaction. The key returned names the new object for every other method.
    With ``create=False`` nothing is created: where the prefix has no file yet
    it raises ``FileNotFoundError`` (the caller checks first whether it may).
    """

    def append_blocking(
        self, prefix: str, data: bytes | bytearray | memoryview, *, create: bool = True
    ) -> str: ...


@runtime_checkable
class PresignedUrls(Protocol):
    """Optional: a backend that can hand out time-limited URLs to fetch an object."""

    async def presigned_url(self, key: str, expires_in: timedelta) -> str:
        """A URL that GETs ``key`` without credentials until ``expires_in`` from now."""
        ...
