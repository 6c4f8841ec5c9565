"""Object-store storage on obstore: S3 and S3-compatible stores (SeaweedFS, MinIO…),
Google Cloud Storage, Azure Blob Storage, and an in-memory store for tests.

The URL names the store and a prefix inside it; its query carries obstore options::

    s3://bucket/prefix?endpoint=http://127.0.0.1:8333&region=us-east-1
    gs://bucket/prefix
    az://container/prefix?account_name=…
    memory://

Query keys that are HTTP client options (``timeout``, ``connect_timeout``,
``allow_http``, ``proxy_url``…) configure the client; every other key is a store
option (``endpoint``, ``region``, ``access_key_id``, ``secret_access_key``,
``skip_signature``, ``conditional_put``…). Options not in the URL come from the
standard environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT``,
``GOOGLE_SERVICE_ACCOUNT``, ``AZURE_STORAGE_ACCOUNT_NAME``…). An ``http://``
endpoint turns on ``allow_http``.

How the Protocol maps onto an object store:

- ``put`` is a single PUT with ``If-None-Match: *`` (obstore's ``mode="create"``),
  so a racing retry cannot clobber a chunk. A store that cannot do conditional
  writes is configured with ``conditional_put=disabled``; obstore then refuses
  create-only puts, and this backend falls back to plain puts (logged once).
  That is safe for chunks: every chunk write has a key of its own (random
  suffix, see ``uploads/keys.py``), so no two writes ever target one key.
- ``compose`` streams the sources one after the other through ``observe`` into
  the destination. Up to ``PART`` bytes it buffers them and writes one
  create-only PUT; beyond that it hands the stream to obstore's multipart upload
  (parts of ``PART`` bytes, ``PART_CONCURRENCY`` in flight), so memory stays
  bounded whatever the size. Either way the object appears whole or not at all:
  a PUT is atomic, and a multipart upload is invisible until it completes (a
  failure aborts it). A multipart upload cannot be create-only through obstore,
  so an existing destination is refused by a HEAD beforehand; destinations are
  fresh random keys per completion attempt, so nothing races for one.
- Errors: a missing object is ``FileNotFoundError`` (obstore raises it already),
  a taken key ``ObjectExists``, and everything else the store or network says
  (5xx, timeouts, refused connections, 403) ``StorageUnavailable``, raised from
  the original and logged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError, NotSupportedError
from obstore.store import MemoryStore, from_url

from chunkup.errors import StorageUnavailable
from chunkup.storage.base import ObjectExists, ObjectInfo, Observer

if TYPE_CHECKING:
    from obstore import GetOptions, ObjectMeta
    from obstore.store import AzureStore, GCSStore, ObjectStore, RetryConfig, S3Store

log = logging.getLogger(__name__)

BLOCK = 1024 * 1024  # smallest block a read yields (but the last)
PART = 5 * 1024 * 1024  # multipart part size (S3's minimum); smaller composes are one PUT
PART_CONCURRENCY = 2  # parts uploading at once: memory is about (2 + 2) * PART
DELETE_BATCH = 1000  # S3's DeleteObjects limit
PROBE_KEY = "readyz/probe"  # asked for by /readyz; never written

OBJECT_STORE_SCHEMES = frozenset({"s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "memory"})
_CLIENT_OPTIONS = frozenset(
    {
        "allow_http",
        "allow_invalid_certificates",
        "connect_timeout",
        "default_content_type",
        "http1_only",
        "http2_keep_alive_interval",
        "http2_keep_alive_timeout",
        "http2_keep_alive_while_idle",
        "http2_only",
        "pool_idle_timeout",
        "pool_max_idle_per_host",
        "proxy_url",
        "proxy_ca_certificate",
        "proxy_excludes",
        "randomize_addresses",
        "read_timeout",
        "timeout",
        "user_agent",
    }
)
# obstore's default request timeout (30 s) would cut off a large file streamed to a
# slow client; its default retries (10, for up to 3 minutes) would hold a chunk
# request far longer than a client waits for its answer.
_CLIENT_DEFAULTS: dict[str, Any] = {"connect_timeout": "5s", "timeout": "10min"}
_RETRY: RetryConfig = {
    "max_retries": 3,
    "retry_timeout": timedelta(seconds=20),
    "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2)},
}


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def _check_prefix(prefix: str) -> str:
    return _check_key(prefix.rstrip("/")) + "/"


def _info(meta: ObjectMeta) -> ObjectInfo:
    modified = meta["last_modified"].timestamp()
    etag = meta["e_tag"] or f"{meta['size']:x}-{int(modified * 1000):x}"
    if not etag.startswith(('"', 'W/"')):
        etag = f'"{etag}"'
    return ObjectInfo(meta["size"], etag, modified)


@contextlib.contextmanager
def _translated(operation: str, key: str) -> Iterator[None]:
    """Translate obstore's errors into the Protocol's (see the module docstring)."""
    try:
        yield
    except (FileNotFoundError, FileExistsError):
        raise
    except AlreadyExistsError as exc:
        raise ObjectExists(key) from exc
    except (BaseError, OSError) as exc:
        log.warning("storage %s of %r failed: %s", operation, key, str(exc).split("\n", 1)[0])
        raise StorageUnavailable() from exc


class ObjectStorage:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.conditional_put = True

    @classmethod
    def from_url(cls, url: str) -> ObjectStorage:
        parts = urlsplit(url)
        if parts.scheme not in OBJECT_STORE_SCHEMES:
            raise ValueError(f"not an object store URL: {parts.scheme}://")
        if parts.scheme == "memory":
            return cls(MemoryStore())
        config: dict[str, str] = {}
        client: dict[str, Any] = dict(_CLIENT_DEFAULTS)
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            (client if name in _CLIENT_OPTIONS else config)[name] = value
        endpoint = config.get("endpoint") or config.get("aws_endpoint") or ""
        if endpoint.startswith("http://"):
            client.setdefault("allow_http", True)
        location = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        try:
            # options from the URL's query, for whichever store the scheme names: obstore
            # checks them at run time, its overloads (one per store) cannot
            store = from_url(  # type: ignore[call-overload]
                location,
                config=config or None,
                client_options=client,
                retry_config=_RETRY,
            )
        except (BaseError, ValueError) as exc:
            message = str(exc).split("\n", 1)[0]
            raise ValueError(f"invalid storage URL {location!r}: {message}") from exc
        return SignedObjectStorage(store)

    # -- writing ---------------------------------------------------------------

    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        _check_key(key)
        with _translated("put", key):
            await self._put_new(key, data)

    async def _put_new(self, key: str, data: bytes | bytearray | memoryview) -> None:
        """One PUT that fails with ``AlreadyExistsError`` if ``key`` is taken."""
        if self.conditional_put:
            try:
                await obstore.put_async(self.store, key, data, mode="create")
                return
            except (NotImplementedError, NotSupportedError):
                # conditional_put=disabled: safe for chunks, whose keys are unique
                log.warning("the object store has no conditional put: plain puts from now on")
                self.conditional_put = False
        await obstore.put_async(self.store, key, data, use_multipart=False)

    async def compose(self, keys: Sequence[str], dest: str, observe: Observer) -> int:
        for key in (*keys, dest):
            _check_key(key)
        size = 0

        async def blocks() -> AsyncGenerator[bytes]:
            nonlocal size
            for key in keys:
                result = await obstore.get_async(self.store, key)
                async for block in result.stream(min_chunk_size=BLOCK):
                    observe(block)
                    size += len(block)
                    yield block

        async def chained(
            first: bytearray, rest: AsyncIterator[bytes]
        ) -> AsyncIterator[bytes | bytearray]:
            yield first
            async for block in rest:
                yield block

        with _translated("compose", dest):
            if await self._exists(dest):
                raise ObjectExists(dest)
            source = blocks()
            try:
                first = bytearray()
                async for block in source:
                    first += block
                    if len(first) > PART:
                        break
                else:
                    await self._put_new(dest, first)
                    return size
                await obstore.put_async(
                    self.store,
                    dest,
                    chained(first, source),
                    chunk_size=PART,
                    max_concurrency=PART_CONCURRENCY,
                )
            finally:
                # after a cancellation obstore's task may still be inside the generator:
                # it then stops at its next block and is collected with it
                with contextlib.suppress(RuntimeError):
                    await source.aclose()
        return size

    async def _exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self.store, key)
        except FileNotFoundError:
            return False
        return True

    # -- reading ---------------------------------------------------------------

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        _check_key(key)
        options: GetOptions = {}
        if end is not None:
            options["range"] = (start, end + 1)
        elif start:
            options["range"] = {"offset": start}
        with _translated("read", key):
            try:
                result = await obstore.get_async(self.store, key, options=options)
            except BaseError:
                # a range starting at or past the end is an error for the store
                # (416), but nothing to read for the Protocol, as for a file
                if options and (await obstore.head_async(self.store, key))["size"] <= start:
                    return
                raise
            async for block in result.stream(min_chunk_size=BLOCK):
                yield block

    async def probe(self) -> None:
        """The store answers a request (a missing object is an answer)."""
        try:
            await self.stat(PROBE_KEY)
        except FileNotFoundError:
            return

    async def stat(self, key: str) -> ObjectInfo:
        _check_key(key)
        with _translated("stat", key):
            return _info(await obstore.head_async(self.store, key))

    async def list(self, prefix: str) -> AsyncIterator[tuple[str, ObjectInfo]]:
        prefix = _check_prefix(prefix)
        with _translated("list", prefix):
            async for batch in obstore.list(self.store, prefix, chunk_size=DELETE_BATCH):
                for meta in batch:
                    yield meta["path"], _info(meta)

    # -- removing --------------------------------------------------------------

    async def delete(self, key: str) -> None:
        _check_key(key)
        with _translated("delete", key), contextlib.suppress(FileNotFoundError):
            # S3 answers a missing key with success; GCS and Azure with "not found"
            await obstore.delete_async(self.store, key)

    async def delete_prefix(self, prefix: str) -> int:
        prefix = _check_prefix(prefix)
        count = 0
        with _translated("delete_prefix", prefix):
            async for batch in obstore.list(self.store, prefix, chunk_size=DELETE_BATCH):
                paths = [meta["path"] for meta in batch]
                try:
                    await obstore.delete_async(self.store, paths)
                except FileNotFoundError:  # one vanished meanwhile (GCS, Azure): the rest
                    for path in paths:
                        with contextlib.suppress(FileNotFoundError):
                            await obstore.delete_async(self.store, path)
                count += len(paths)
        return count

    async def aclose(self) -> None:
        return None  # obstore's connection pool goes with the store


class SignedObjectStorage(ObjectStorage):
    """A cloud store (S3, GCS, Azure), which can also hand out presigned URLs."""

    async def presigned_url(self, key: str, expires_in: timedelta) -> str:
        _check_key(key)
        with _translated("sign", key):
            store = cast("S3Store | GCSStore | AzureStore", self.store)  # see from_url
            return await obstore.sign_async(store, "GET", key, expires_in)
