"""Accepting chunks: the per-chunk path, status and abort.

A chunk costs one object write and one short transaction. The object goes to
a key of its own first (on local disk, a range appended to the upload's one
file); the transaction then locks the upload row, checks the request against
it (owner, expiry, total, field, range, the upload's bounds in ``usage.py``)
and records the chunk. Whoever commits first owns a range; a loser's object is
never referenced and is removed before the answer, as is the object of any
refused chunk. On local disk a chunk is only appended to a file its upload
already has: where there is none (an unknown id, a completed or collected
upload, one with no bytes yet) the upload is checked first, so a refused
request never makes a file or a folder. Objects left behind by a crash are
harmless: garbage collection removes them with their upload. On PostgreSQL
that transaction is one server-side statement, one round trip
(``_one_statement``, ``db/chunk_record.py``), deciding exactly as here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from chunkup.db import Connection, Database
from chunkup.db import queries as q
from chunkup.db.chunk_record import ChunkRecord, record_chunk
from chunkup.errors import (
    ChunkSizeMismatch,
    ChunkTooLarge,
    FieldMismatch,
    FileTooLarge,
    InvalidContentRange,
    InvalidExpires,
    OffsetMismatch,
    RangeConflict,
    TooManyRequests,
    TooManyUploads,
    TotalMismatch,
    UploadCompleted,
    UploadExpired,
    UploadNotFound,
    UploadQuotaExceeded,
)
from chunkup.media.sniff import HEAD_BYTES, refuse_unless_leading_bytes_fit
from chunkup.models import Chunk, Kind, Upload, UploadStatus
from chunkup.settings import Settings
from chunkup.storage import Storage
from chunkup.uploads import keys
from chunkup.uploads.clock import Clock
from chunkup.uploads.filenames import sanitize_filename
from chunkup.uploads.kinds import SizeLimits
from chunkup.uploads.objects import ChunkObjects
from chunkup.uploads.ranges import ChunkRange, RangeSet
from chunkup.uploads.usage import UsageLimits, footprint
from chunkup.webhooks.pre_create import PreCreate

log = logging.getLogger(__name__)
T = TypeVar("T")
# "the range overlaps, but no stored chunk starts where this one does"
_NOTHING = Chunk("", -1, -1, "")


@dataclass(frozen=True, slots=True)
class ChunkIn:
    """One chunk as the HTTP layer parsed it."""

    kind: Kind
    data: bytes | bytearray | memoryview
    content_range: ChunkRange
    upload_id: str | None = None
    filename: str | None = None
    expires: datetime | None = None  # the client's requested expiry, if any


@dataclass(frozen=True, slots=True)
class UploadState:
    upload: Upload
    ranges: RangeSet

    @property
    def offset(self) -> int:
        return self.ranges.contiguous_from_zero()


def requested_expiry(when: datetime | None, now: datetime) -> datetime | None:
    """A client's requested expiry, refused if it is not in the future."""
    if when is not None and when <= now:
        raise InvalidExpires("'expires' is in the past.")
    return when


def visible_upload(upload: Upload | None, user_id: int, now: datetime) -> Upload:
    """The caller's upload, or the contract's 404/410 (never an existence oracle)."""
    if upload is None or upload.user_id != user_id:
        raise UploadNotFound()
    if upload.status is UploadStatus.EXPIRED or (
        upload.status is UploadStatus.UPLOADING and upload.expires_at <= now
    ):
        raise UploadExpired(expires=upload.expires_at)
    return upload


class UploadService:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        settings: Settings,
        clock: Clock,
        pre_create: PreCreate | None = None,
    ) -> None:
        self.pre_create = pre_create  # asked once per upload, before anything is stored
        self.db = db
        self.storage = storage
        self.settings = settings
        self.sizes = SizeLimits.of(settings)
        self.clock = clock
        self.objects = ChunkObjects(db, storage)
        self.limits = UsageLimits.from_settings(settings)

    # -- one chunk -------------------------------------------------------------

    async def accept_chunk(self, user_id: int, chunk: ChunkIn) -> UploadState:
        cr = chunk.content_range
        limit = self.settings.chunk_max_bytes
        if len(chunk.data) > limit or cr.length > limit:
            raise ChunkTooLarge(f"A chunk may carry at most {limit} bytes.")
        if len(chunk.data) != cr.length:
            raise ChunkSizeMismatch(
                f"Content-Range announces {cr.length} bytes, the chunk has {len(chunk.data)}."
            )
        max_total = self.sizes.for_kind(chunk.kind)
        if cr.total > max_total:
            raise FileTooLarge(f"A {chunk.kind} may be at most {max_total} bytes.")
        if cr.start == 0:  # fail fast: bytes that can begin no image or PDF are refused now
            refuse_unless_leading_bytes_fit(chunk.kind, chunk.data[:HEAD_BYTES])
        if chunk.upload_id:
            return await self._append(user_id, chunk)
        return await self._create(user_id, chunk)

    async def _create(self, user_id: int, chunk: ChunkIn) -> UploadState:
        cr = chunk.content_range
        if cr.start != 0:
            raise InvalidContentRange("The first chunk (no upload_id) must start at byte 0.")
        if self.pre_create is not None:
            await self.pre_create.check(
                user_id=user_id,
                kind=chunk.kind,
                size=cr.total,
                filename=sanitize_filename(chunk.filename),
                protocol="chunk",
            )
        now = self.clock()
        upload = Upload(
            id=keys.new_upload_id(),
            user_id=user_id,
            kind=chunk.kind,
            total=cr.total,
            filename=sanitize_filename(chunk.filename),
            ranges=[[cr.start, cr.end]],
            status=UploadStatus.UPLOADING,
            created_at=now,
            expires_at=self._expiry(chunk.expires, created=now, now=now),
            chunk_count=1,
            stored_bytes=footprint(cr.length),
        )

        def record(conn: Connection, key: str) -> None:
            count, declared = q.open_uploads_of(conn, user_id, now)
            if count >= self.settings.max_open_uploads:
                raise TooManyUploads(retry_after=60)
            if declared + cr.total > self.settings.max_open_bytes:
                raise UploadQuotaExceeded(retry_after=60)
            q.insert_upload(conn, upload)
            q.insert_chunk(conn, Chunk(upload.id, cr.start, cr.end, key))

        try:
            await self.objects.store_then(upload.id, cr.start, cr.end, chunk.data, record)
        except TooManyRequests:  # the upload never was: nothing of its id stays
            await self.storage.delete_prefix(keys.chunk_prefix(upload.id))
            raise
        return UploadState(upload, RangeSet(upload.ranges))

    async def _append(self, user_id: int, chunk: ChunkIn) -> UploadState:
        cr = chunk.content_range
        upload_id = chunk.upload_id or ""
        if not keys.is_upload_id(upload_id):
            raise UploadNotFound()
        now = self.clock()
        # Write first, then decide in one transaction; on any refusal the object
        # is ours alone (the transaction rolled back): ChunkObjects removes it.

        def record(conn: Connection, key: str) -> tuple[UploadState, Chunk | None]:
            """Check the chunk against the locked upload; record it unless it repeats."""
            upload = self._writable(q.get_upload(conn, upload_id, for_update=True), user_id, now)
            ranges = self._matching(upload, chunk)
            if ranges.overlaps(cr.start, cr.end):
                existing = q.get_chunk(conn, upload.id, cr.start)
                return UploadState(upload, ranges), existing or _NOTHING
            upload.expires_at = self._expiry(
                chunk.expires, created=upload.created_at, now=now, current=upload.expires_at
            )
            piece = Chunk(upload.id, cr.start, cr.end, key)
            self.limits.admit(upload, ranges, [piece])
            q.insert_chunk(conn, piece)
            q.save_upload_progress(conn, upload)
            return UploadState(upload, ranges), None

        one_statement = self._one_statement(user_id, chunk, now)

        def check(conn: Connection) -> None:
            self._writable(q.get_upload(conn, upload_id), user_id, now)

        try:
            key, (state, overlapped) = await self._store(
                chunk, record, create=False, call=one_statement
            )
        except FileNotFoundError:
            # no file for this upload yet: decide before any byte is written
            await self.db.read(check)
            key, (state, overlapped) = await self._store(
                chunk, record, create=True, call=one_statement
            )
        if overlapped is not None:  # a repeat recorded nothing: its object is garbage
            await self.objects.remove(key)
            await self._check_retry(overlapped, chunk, state)
        return state

    def _one_statement(
        self, user_id: int, chunk: ChunkIn, now: datetime
    ) -> Callable[[str], Awaitable[tuple[UploadState, Chunk | None]]] | None:
        """``_append``'s transaction as one statement (PostgreSQL, ``db/chunk_record.py``),
        or None where the database runs it as a transaction function.

        The function decides as ``record`` does, in the same order; on a refusal
        the same checks run here on the upload as it was, so the error, its
        message and its fields are the ones the transaction raises. A request
        whose ``expires`` is in the past keeps the transaction path, where that
        error comes only after the checks before it.
        """
        if not self.db.one_statement_chunks:
            return None
        try:
            requested = requested_expiry(chunk.expires, now)
        except InvalidExpires:
            return None
        cr = chunk.content_range
        upload_id = chunk.upload_id or ""

        async def record(key: str) -> tuple[UploadState, Chunk | None]:
            done = await record_chunk(
                self.db,
                ChunkRecord(
                    upload_id=upload_id,
                    user_id=user_id,
                    now=now,
                    total=cr.total,
                    kind=chunk.kind,
                    start=cr.start,
                    end=cr.end,
                    key=key,
                    expires=requested,
                    ttl=self.settings.upload_ttl,
                    footprint=footprint(cr.length),
                    max_chunks=self.limits.max_chunks(cr.total),
                    max_ranges=self.limits.max_ranges,
                ),
            )
            if done.upload is None:
                raise UploadNotFound()
            upload = done.upload
            state = UploadState(upload, RangeSet(upload.ranges))
            if done.outcome == "ok":
                return state, None
            if done.outcome == "overlap":
                if done.existing is not None and done.existing.key == key:
                    return state, None  # recorded by a try whose answer was lost
                return state, done.existing or _NOTHING
            upload = self._writable(upload, user_id, now)
            ranges = self._matching(upload, chunk)
            self.limits.admit(upload, ranges, [Chunk(upload_id, cr.start, cr.end, key)])
            raise RuntimeError(f"chunkup_record_chunk refused a chunk ({done.outcome}) we admit")

        return record

    def _matching(self, upload: Upload, chunk: ChunkIn) -> RangeSet:
        """The upload's ranges, if the chunk is one of its own (total and field)."""
        if upload.total != chunk.content_range.total:
            raise TotalMismatch(f"This upload's total is {upload.total} bytes.")
        if upload.kind is not chunk.kind:
            raise FieldMismatch(f"This upload's chunks go in the '{upload.kind}' field.")
        return RangeSet(upload.ranges)

    async def _store(
        self,
        chunk: ChunkIn,
        record: Callable[[Connection, str], T],
        *,
        create: bool,
        call: Callable[[str], Awaitable[T]] | None = None,
    ) -> tuple[str, T]:
        """Store the chunk and run ``record`` (or await ``call``, its one-statement
        form, see ``_one_statement``): the chunk's key and the result. A refused
        chunk's object is removed by ``ChunkObjects`` before the error goes on."""
        cr = chunk.content_range
        upload_id = chunk.upload_id or ""
        if call is not None:
            return await self.objects.store_then_call(
                upload_id, cr.start, cr.end, chunk.data, call, create=create
            )
        return await self.objects.store_then(
            upload_id, cr.start, cr.end, chunk.data, record, create=create
        )

    async def _check_retry(self, stored: Chunk, chunk: ChunkIn, state: UploadState) -> None:
        """A range that overlaps stored bytes: an exact retry is a no-op, else 409."""
        cr = chunk.content_range
        if (
            stored is _NOTHING
            or stored.end != cr.end
            or await self._read_all(stored.key) != chunk.data
        ):
            raise RangeConflict(offset=str(state.offset))

    async def _read_all(self, key: str) -> bytes:
        parts = [block async for block in self.storage.read(key)]
        return b"".join(parts)

    def _writable(self, upload: Upload | None, user_id: int, now: datetime) -> Upload:
        upload = visible_upload(upload, user_id, now)
        if upload.status is UploadStatus.COMPLETED:
            raise UploadCompleted()
        return upload

    def _expiry(
        self,
        requested: datetime | None,
        *,
        created: datetime,
        now: datetime,
        current: datetime | None = None,
    ) -> datetime:
        latest = created + self.settings.upload_ttl
        when = requested_expiry(requested, now)
        if when is None:
            return current or latest
        return min(when, latest)

    # -- status and abort ------------------------------------------------------

    async def status(self, user_id: int, upload_id: str) -> UploadState:
        if not keys.is_upload_id(upload_id):
            raise UploadNotFound()
        upload = await self.db.read(lambda conn: q.get_upload(conn, upload_id))
        upload = visible_upload(upload, user_id, self.clock())
        return UploadState(upload, RangeSet(upload.ranges))

    async def abort(self, user_id: int, upload_id: str) -> None:
        if not keys.is_upload_id(upload_id):
            raise UploadNotFound()

        def forget(conn: Connection) -> None:
            upload = q.get_upload(conn, upload_id, for_update=True)
            if upload is None or upload.user_id != user_id:
                raise UploadNotFound()
            if upload.status is UploadStatus.COMPLETED:
                raise UploadCompleted("A completed upload cannot be aborted; delete its media.")
            q.delete_upload(conn, upload_id)

        await self.db.write(forget)
        await self.storage.delete_prefix(keys.chunk_prefix(upload_id))

    # -- uploads that start empty and grow at their end (tus) ------------------

    async def create_empty(
        self,
        user_id: int,
        *,
        kind: Kind,
        total: int,
        filename: str | None,
        also: Callable[[Connection, Upload], None] | None = None,
    ) -> UploadState:
        """An upload with no bytes yet (tus creation), under the same caps as a first chunk.

        ``also`` runs in the same transaction, to record what the protocol adds.
        """
        max_total = self.sizes.for_kind(kind)
        if total > max_total:
            raise FileTooLarge(f"A {kind} may be at most {max_total} bytes.")
        if self.pre_create is not None:
            await self.pre_create.check(
                user_id=user_id,
                kind=kind,
                size=total,
                filename=sanitize_filename(filename),
                protocol="tus",
            )
        now = self.clock()
        upload = Upload(
            id=keys.new_upload_id(),
            user_id=user_id,
            kind=kind,
            total=total,
            filename=sanitize_filename(filename),
            ranges=[],
            status=UploadStatus.UPLOADING,
            created_at=now,
            expires_at=self._expiry(None, created=now, now=now),
        )

        def record(conn: Connection) -> None:
            count, declared = q.open_uploads_of(conn, user_id, now)
            if count >= self.settings.max_open_uploads:
                raise TooManyUploads(retry_after=60)
            if declared + total > self.settings.max_open_bytes:
                raise UploadQuotaExceeded(retry_after=60)
            q.insert_upload(conn, upload)
            if also is not None:
                also(conn, upload)

        await self.db.write(record)
        return UploadState(upload, RangeSet())

    async def append_contiguous(
        self, user_id: int, upload_id: str, pieces: Sequence[Chunk]
    ) -> UploadState:
        """Record ``pieces``, stored by ``ChunkObjects.store``, that continue the
        upload at its offset, in one transaction (see ``_contiguous``); if it
        refuses them their objects are removed."""
        record = self._contiguous(user_id, upload_id)
        return await self.objects.record(
            [piece.key for piece in pieces], lambda conn: record(conn, pieces)
        )

    async def append_piece(
        self, user_id: int, upload_id: str, start: int, data: bytes | bytearray
    ) -> UploadState:
        """Store ``data`` as the piece at ``start`` and record it, in the same
        single hand-off as a chunk (``ChunkObjects.store_then``)."""
        end = start + len(data) - 1
        record = self._contiguous(user_id, upload_id)

        def record_piece(conn: Connection, key: str) -> UploadState:
            return record(conn, [Chunk(upload_id, start, end, key)])

        _key, state = await self.objects.store_then(upload_id, start, end, data, record_piece)
        return state

    def _contiguous(
        self, user_id: int, upload_id: str
    ) -> Callable[[Connection, Sequence[Chunk]], UploadState]:
        """The transaction that records pieces continuing the upload at its offset.

        If the upload moved on meanwhile (another request appended) nothing is
        recorded and the answer is ``OffsetMismatch`` with the current offset;
        ``ChunkObjects`` removes the pieces' objects.
        """
        now = self.clock()

        def record(conn: Connection, pieces: Sequence[Chunk]) -> UploadState:
            upload = self._writable(q.get_upload(conn, upload_id, for_update=True), user_id, now)
            ranges = RangeSet(upload.ranges)
            offset = ranges.contiguous_from_zero()
            if pieces and (pieces[0].start != offset or ranges.overlaps(offset, pieces[-1].end)):
                raise OffsetMismatch(offset=str(offset))
            if pieces and pieces[-1].end >= upload.total:
                raise FileTooLarge(f"This upload's total is {upload.total} bytes.")
            self.limits.admit(upload, ranges, pieces)
            q.insert_chunks(conn, pieces)
            q.save_upload_progress(conn, upload)
            return UploadState(upload, ranges)

        return record


__all__ = ["ChunkIn", "UploadService", "UploadState"]
