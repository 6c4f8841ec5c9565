"""tus 1.0.0 on chunkup's one upload state machine (no HTTP framework here).

A tus upload is an upload of the contract: same id, limits, caps, expiry and
storage, so the status, abort and complete endpoints work on it. What tus adds
lives here: what its declared metadata means (kind and Media type), appending
a PATCH body at the upload's offset (``tus_pieces``), and joining partial
uploads. The headers' spelling is the HTTP layer's: it hands this service typed
values (``tus_values``) and a body already timed for stalls.

A final (concatenated) upload copies no bytes: its chunk records name the
partial uploads' stored objects at shifted offsets. The partials are marked
completed (they take no more bytes, cannot be aborted), and garbage collection
keeps their objects while a final that names them still takes requests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from chunkup.db import Connection, Database
from chunkup.db import queries as q
from chunkup.errors import (
    ChunkupError,
    FinalUploadImmutable,
    InvalidDocument,
    InvalidImage,
    InvalidTusHeader,
    OffsetMismatch,
    RequestTimeout,
    UploadCompleted,
    UploadNotFound,
    UploadTooLarge,
)
from chunkup.models import Chunk, Kind, Media, MediaType, TusRecord, Upload, UploadStatus
from chunkup.settings import Settings
from chunkup.storage import Storage
from chunkup.uploads import keys
from chunkup.uploads.clock import Clock
from chunkup.uploads.completion import CompletionService
from chunkup.uploads.filenames import sanitize_filename
from chunkup.uploads.kinds import SizeLimits, declared_by, first_bytes_rule, kind_of
from chunkup.uploads.ranges import RangeSet
from chunkup.uploads.service import UploadService, UploadState, visible_upload
from chunkup.uploads.tus_pieces import PieceWriter
from chunkup.uploads.tus_values import (
    BodyInterrupted,
    Checksum,
    Concat,
    TusMetadata,
)

VERSION = "1.0.0"
EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "termination",
    "checksum",
    "expiration",
    "concatenation",
)


# -- the service -----------------------------------------------------------------


@dataclass(slots=True)
class TusUpload:
    """An upload as tus reports it (HEAD, and the answers to POST and PATCH)."""

    state: UploadState
    record: TusRecord | None
    part_ids: list[str] = field(default_factory=list)
    media_id: int | None = None

    @property
    def upload(self) -> Upload:
        return self.state.upload

    @property
    def offset(self) -> int:
        return self.state.offset


class TusService:
    """tus creation, HEAD, PATCH, concatenation and termination.

    Built once per app, beside the upload and completion services it works
    through: a tus upload is one of theirs, with tus's record on the side.
    """

    def __init__(
        self,
        db: Database,
        storage: Storage,
        settings: Settings,
        clock: Clock,
        uploads: UploadService,
        completion: CompletionService,
    ) -> None:
        self.db = db
        self.storage = storage
        self.settings = settings
        self.sizes = SizeLimits.of(settings)
        self.clock = clock
        self.uploads = uploads
        self.completion = completion

    # -- creation ------------------------------------------------------------

    async def create(
        self, user_id: int, length: int, metadata: TusMetadata, concat: Concat | None
    ) -> TusUpload:
        kind, media_type = kind_of(metadata.pairs)
        if length == 0:
            raise InvalidTusHeader("Upload-Length must be at least 1.", header="Upload-Length")
        self._check_size(length, kind)
        record = TusRecord(
            "",
            metadata.raw,
            media_type.value if media_type else None,
            "partial" if concat is not None else None,
            declared_by(metadata.pairs),
        )

        def remember(conn: Connection, upload: Upload) -> None:
            q.insert_tus_upload(conn, _with_id(record, upload.id))

        state = await self.uploads.create_empty(
            user_id, kind=kind, total=length, filename=metadata.pairs.get("filename"), also=remember
        )
        return TusUpload(state, _with_id(record, state.upload.id))

    async def create_final(self, user_id: int, metadata: TusMetadata, concat: Concat) -> TusUpload:
        """Join complete partial uploads into a new upload, by reference to their objects."""
        kind, media_type = kind_of(metadata.pairs)
        now = self.clock()
        upload_id = keys.new_upload_id()
        record = TusRecord(
            upload_id,
            metadata.raw,
            media_type.value if media_type else None,
            "final",
            declared_by(metadata.pairs),
        )

        def join(conn: Connection) -> UploadState:
            parts = [
                self._complete_part(conn, part_id, user_id, now) for part_id in concat.part_ids
            ]
            total = sum(part.total for part in parts)
            self._check_size(total, kind)
            upload = Upload(
                id=upload_id,
                user_id=user_id,
                kind=kind,
                total=total,
                filename=sanitize_filename(metadata.pairs.get("filename")),
                ranges=[[0, total - 1]],
                status=UploadStatus.UPLOADING,
                created_at=now,
                expires_at=now + self.settings.upload_ttl,
                stored_bytes=sum(part.stored_bytes for part in parts),
            )
            base = 0
            shifted: list[Chunk] = []
            for part in parts:
                for chunk in q.list_chunks(conn, part.id):
                    shifted.append(
                        Chunk(upload_id, base + chunk.start, base + chunk.end, chunk.key)
                    )
                base += part.total
            upload.chunk_count = len(shifted)
            q.insert_upload(conn, upload)
            q.insert_tus_upload(conn, record)
            q.insert_tus_parts(conn, upload_id, concat.part_ids)
            for part in parts:
                q.mark_consumed(conn, part.id, at=now)
            q.insert_chunks(conn, shifted)
            return UploadState(upload, RangeSet(upload.ranges))

        state = await self.db.write(join)
        return TusUpload(state, record, list(concat.part_ids))

    @staticmethod
    def _complete_part(conn: Connection, part_id: str, user_id: int, now: datetime) -> Upload:
        upload = q.get_upload(conn, part_id, for_update=True)
        record = q.get_tus_upload(conn, part_id)
        if upload is None or record is None or record.concat != "partial":
            raise UploadNotFound("Upload-Concat names an upload that is not a partial upload.")
        upload = visible_upload(upload, user_id, now)
        if upload.status is not UploadStatus.UPLOADING:
            raise UploadCompleted("A partial upload can be joined into one final upload only.")
        if not RangeSet(upload.ranges).covers(upload.total):
            raise InvalidTusHeader(
                f"The partial upload {part_id} is not complete yet.", header="Upload-Concat"
            )
        return upload

    def _check_size(self, length: int, kind: Kind) -> None:
        limit = self.sizes.for_kind(kind)
        if length > limit:
            raise UploadTooLarge(f"A {kind} may be at most {limit} bytes.")

    # -- HEAD ----------------------------------------------------------------

    async def info(self, user_id: int, upload_id: str) -> TusUpload:
        if not keys.is_upload_id(upload_id):
            raise UploadNotFound()
        now = self.clock()

        def load(conn: Connection) -> TusUpload:
            upload = visible_upload(q.get_upload(conn, upload_id), user_id, now)
            record = q.get_tus_upload(conn, upload_id)
            parts = q.tus_parts_of(conn, upload_id) if record and record.concat == "final" else []
            state = UploadState(upload, RangeSet(upload.ranges))
            return TusUpload(state, record, parts, upload.media_id)

        return await self.db.read(load)

    # -- PATCH ---------------------------------------------------------------

    async def append(
        self,
        user_id: int,
        upload_id: str,
        offset: int,
        body: AsyncIterator[bytes],
        *,
        declared_length: int | None = None,
        checksum: Checksum | None = None,
    ) -> TusUpload:
        """Store a PATCH body at ``offset``; complete the upload if it names a type and is whole.

        ``body`` is the request body as the HTTP layer reads it: it raises
        ``BodyInterrupted`` if the client goes away and ``RequestTimeout`` if
        it stalls, and what arrived before either is kept (unless a checksum
        can no longer vouch for it).
        """
        current = await self.info(user_id, upload_id)
        if current.upload.status is UploadStatus.COMPLETED:
            raise UploadCompleted()
        if current.record is not None and current.record.concat == "final":
            raise FinalUploadImmutable()
        if current.offset != offset:
            raise OffsetMismatch(offset=str(current.offset))
        remaining = current.upload.total - offset
        if declared_length is not None and declared_length > remaining:
            raise UploadTooLarge(f"Only {remaining} bytes of this upload remain.")
        writer = PieceWriter(
            self.uploads,
            self.uploads.objects,
            self.settings.chunk_max_bytes,
            user_id,
            current.upload,
            offset,
            checksum,
        )
        if offset == 0 and current.record is not None and current.record.concat is None:
            writer.sniff = first_bytes_rule(current.upload.kind, current.record.declared)
        try:
            async for block in body:
                await writer.feed(block, remaining)
        except (BodyInterrupted, RequestTimeout):
            await writer.interrupted()
            raise
        except (InvalidImage, InvalidDocument):  # the first bytes cannot be the declared kind
            await writer.discard()
            await self.uploads.abort(user_id, upload_id)  # nothing of it is kept
            raise
        except BaseException:
            await writer.discard()
            raise
        state = await writer.finish()
        result = TusUpload(state, current.record, current.part_ids)
        record = current.record
        # a partial upload waits to be joined: only a whole file completes itself
        media_type = record.media_type if record and record.concat is None else None
        if media_type and state.offset == state.upload.total:
            media = await self.complete(user_id, upload_id, media_type)
            result.media_id = media.id
        return result

    async def complete(self, user_id: int, upload_id: str, media_type: str) -> Media:
        """Complete as the ``media_type`` the creation's metadata named (its record's)."""
        return await self.completion.complete_unchecked(user_id, upload_id, MediaType(media_type))

    async def complete_final(self, user_id: int, created: TusUpload) -> TusUpload:
        """A final upload is whole when it is made: complete it if its metadata names a type.

        If that completion is refused (PDF partials joined with ``type=image``,
        a storage hiccup), the join is undone before the error is answered: the
        final upload goes, and its partials get their chunks back, whole and
        joinable again. The client creates the final upload again the right
        way instead of sending every byte again. (Answering with the final's
        ``Location`` would keep the bytes too, but a tus client cannot change
        an upload's metadata; joining again is tus's own way.)
        """
        media_type = created.record.media_type if created.record else None
        if media_type:
            try:
                media = await self.complete(user_id, created.upload.id, media_type)
            except ChunkupError:
                await self.db.write(partial(_unjoin, final_id=created.upload.id))
                raise
            created.media_id = media.id
        return created

    # -- DELETE --------------------------------------------------------------

    async def terminate(self, user_id: int, upload_id: str) -> None:
        await self.uploads.abort(user_id, upload_id)


def _unjoin(conn: Connection, final_id: str) -> None:
    """Undo ``create_final``: the partials take their chunks back and are joinable
    again, and the final upload is forgotten; unless it completed after all."""
    final = q.get_upload(conn, final_id, for_update=True)
    if final is None or final.status is not UploadStatus.UPLOADING:
        return
    chunks = q.list_chunks(conn, final_id)
    base = 0
    for part_id in q.tus_parts_of(conn, final_id):
        part = q.get_upload(conn, part_id, for_update=True)
        if part is None:  # cannot happen while the final lives: it holds the parts' chunks
            raise UploadNotFound(f"The partial upload {part_id} is gone.")
        end = base + part.total
        q.insert_chunks(
            conn,
            [
                Chunk(part_id, c.start - base, c.end - base, c.key)
                for c in chunks
                if base <= c.start < end
            ],
        )
        q.mark_joinable(conn, part_id)
        base = end
    q.delete_upload(conn, final_id)  # its tus rows go with it


def _with_id(record: TusRecord, upload_id: str) -> TusRecord:
    return dataclasses.replace(record, upload_id=upload_id)
