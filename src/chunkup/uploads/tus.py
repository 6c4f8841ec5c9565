"""tus 1.0.0 on chunkup's one upload state machine (no HTTP framework here).

A tus upload is an upload of the contract: same id, limits, caps, expiry and
storage, so the status, abort and complete endpoints work on it. What tus adds
lives here: parsing its headers' values (metadata, checksums, concatenation),
appending a PATCH body at the upload's offset, and joining partial uploads.

A PATCH body is streamed to storage in pieces of at most ``chunk_max_bytes``,
each one chunk of the upload. Without a checksum every piece is recorded as
soon as it is stored, so a body cut off half-way keeps what arrived (its last
piece shorter): tus's promise that a client resumes from the offset a HEAD
reports. With an ``Upload-Checksum`` the pieces are recorded together only
after the whole body verified; on a mismatch they are removed unrecorded.

A final (concatenated) upload copies no bytes: its chunk records name the
partial uploads' stored objects at shifted offsets. The partials are marked
completed (they take no more bytes, cannot be aborted), and garbage collection
keeps their objects while a final that names them still takes requests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from urllib.parse import urlsplit

from chunkup.api.idle import pieces_within  # to go with the body reading, to api/
from chunkup.db import Connection
from chunkup.db import queries as q
from chunkup.errors import (
    ChecksumAlgorithmUnsupported,
    ChecksumMismatch,
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
from chunkup.media.sniff import HEAD_BYTES, refuse_unless_leading_bytes_fit
from chunkup.models import Chunk, Kind, Media, MediaType, Upload, UploadStatus
from chunkup.services import Services
from chunkup.uploads import keys
from chunkup.uploads.completion import parse_media_type
from chunkup.uploads.filenames import sanitize_filename
from chunkup.uploads.ranges import RangeSet
from chunkup.uploads.service import UploadState, visible_upload

VERSION = "1.0.0"
EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "termination",
    "checksum",
    "expiration",
    "concatenation",
)
CHECKSUMS: dict[str, Callable[[], hashlib._Hash]] = {
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}
MAX_METADATA = 8192
MAX_PARTS = 256
_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NUMBER = re.compile(r"[0-9]{1,18}")


class BodyInterrupted(Exception):
    """The client went away in the middle of a body (the HTTP layer raises it)."""


# -- header values -------------------------------------------------------------


def parse_number(value: str | None, header: str) -> int:
    """A non-negative integer header (Upload-Length, Upload-Offset)."""
    if value is None:
        raise InvalidTusHeader(f"The {header} header is required.", header=header)
    value = value.strip()
    if not _NUMBER.fullmatch(value):
        raise InvalidTusHeader(f"{header} must be a non-negative integer.", header=header)
    return int(value)


def parse_metadata(value: str | None) -> dict[str, str | None]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (the value optional)."""
    if value is None or not value.strip():
        return {}
    if len(value) > MAX_METADATA:
        raise InvalidTusHeader("Upload-Metadata is too long.", header="Upload-Metadata")
    pairs: dict[str, str | None] = {}
    for item in value.split(","):
        words = item.strip().split(" ")
        if not _KEY.fullmatch(words[0]) or len(words) > 2 or words[0] in pairs:
            raise InvalidTusHeader("Upload-Metadata is malformed.", header="Upload-Metadata")
        try:
            text = (
                base64.b64decode(words[1], validate=True).decode("utf-8")
                if len(words) == 2
                else None
            )
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidTusHeader(
                f"Upload-Metadata: the value of {words[0]!r} is not base64 of UTF-8.",
                header="Upload-Metadata",
            ) from exc
        pairs[words[0]] = text
    return pairs


@dataclass(frozen=True, slots=True)
class Checksum:
    """An ``Upload-Checksum``: the algorithm and the digest the body must have."""

    algorithm: str
    digest: bytes

    @classmethod
    def parse(cls, value: str | None) -> Checksum | None:
        if value is None:
            return None
        words = value.strip().split(" ")
        if len(words) != 2:
            raise InvalidTusHeader("Upload-Checksum is malformed.", header="Upload-Checksum")
        algorithm = words[0].lower()
        if algorithm not in CHECKSUMS:
            raise ChecksumAlgorithmUnsupported()
        try:
            digest = base64.b64decode(words[1], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidTusHeader(
                "Upload-Checksum's digest is not base64.", header="Upload-Checksum"
            ) from exc
        return cls(algorithm, digest)

    def hasher(self) -> hashlib._Hash:
        return CHECKSUMS[self.algorithm]()


@dataclass(frozen=True, slots=True)
class Concat:
    """An ``Upload-Concat``: ``partial``, or ``final`` with its parts' upload ids."""

    final: bool
    part_ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str | None) -> Concat | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if value == "partial":
            return cls(final=False)
        if not value.startswith("final;"):
            raise InvalidTusHeader("Upload-Concat is malformed.", header="Upload-Concat")
        urls = value[len("final;") :].split()
        try:
            ids = tuple(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] for url in urls)
        except ValueError as exc:  # urlsplit: "Invalid IPv6 URL" and the like
            raise InvalidTusHeader(
                "Upload-Concat names a malformed URL.", header="Upload-Concat"
            ) from exc
        if not ids or len(ids) > MAX_PARTS or len(set(ids)) != len(ids):
            raise InvalidTusHeader(
                f"Upload-Concat final names 1 to {MAX_PARTS} distinct uploads.",
                header="Upload-Concat",
            )
        if not all(keys.is_upload_id(i) for i in ids):
            raise UploadNotFound("Upload-Concat names an upload that does not exist.")
        return cls(final=True, part_ids=ids)


def kind_of(metadata: dict[str, str | None]) -> tuple[Kind, MediaType | None]:
    """The upload's kind (its size limit) and the Media type the client asked for, if any.

    ``type`` decides (image and eimage are images, doc a document). Uppy sets
    every file's ``type`` to its MIME type and sends it as metadata, so a MIME
    type there names the Media type too (``image/*`` an image, anything else a
    document): a plain Uppy with no per-file hooks gets Media of the right
    type. Without ``type``, an ``image/*`` ``filetype`` is an image and
    anything else a document.
    """
    declared = (metadata.get("type") or "").strip().lower()
    media_type: MediaType | None
    if "/" in declared:
        media_type = MediaType.IMAGE if declared.startswith("image/") else MediaType.DOC
    else:
        media_type = parse_media_type(metadata.get("type"))
    if media_type is not None:
        return (Kind.IMAGE if media_type.is_image else Kind.DOCUMENT), media_type
    filetype = (metadata.get("filetype") or "").strip().lower()
    return (Kind.IMAGE if filetype.startswith("image/") else Kind.DOCUMENT), None


def declared_kind(metadata: dict[str, str | None]) -> tuple[Kind, bool] | None:
    """The kind, if the metadata declares one (``type`` or ``filetype``), and whether
    the first bytes must fit exactly that kind: with a ``type`` the upload completes
    itself as that type; with a ``filetype`` only, the client completes it and may
    still choose. With neither, the kind is only a default and nothing is judged."""
    if not (metadata.get("type") or metadata.get("filetype")):
        return None
    return kind_of(metadata)[0], bool(metadata.get("type"))


# -- the service -----------------------------------------------------------------


@dataclass(slots=True)
class TusUpload:
    """An upload as tus reports it (HEAD, and the answers to POST and PATCH)."""

    state: UploadState
    record: q.TusRecord | None
    part_ids: list[str] = field(default_factory=list)
    media_id: int | None = None

    @property
    def upload(self) -> Upload:
        return self.state.upload

    @property
    def offset(self) -> int:
        return self.state.offset


class TusService:
    """tus creation, HEAD, PATCH, concatenation and termination over ``Services``."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.uploads = services.uploads
        self.settings = services.settings

    @property
    def max_size(self) -> int:
        return max(self.settings.image_max_bytes, self.settings.document_max_bytes)

    # -- creation ------------------------------------------------------------

    async def create(
        self, user_id: int, length: int, raw_metadata: str | None, concat: Concat | None
    ) -> TusUpload:
        metadata = parse_metadata(raw_metadata)
        kind, media_type = kind_of(metadata)
        if length == 0:
            raise InvalidTusHeader("Upload-Length must be at least 1.", header="Upload-Length")
        self._check_size(length, kind)
        record = q.TusRecord(
            "",
            (raw_metadata or "").strip(),
            media_type.value if media_type else None,
            "partial" if concat is not None else None,
        )

        def remember(conn: Connection, upload: Upload) -> None:
            q.insert_tus_upload(conn, _with_id(record, upload.id))

        state = await self.uploads.create_empty(
            user_id, kind=kind, total=length, filename=metadata.get("filename"), also=remember
        )
        return TusUpload(state, _with_id(record, state.upload.id))

    async def create_final(
        self, user_id: int, raw_metadata: str | None, concat: Concat
    ) -> TusUpload:
        """Join complete partial uploads into a new upload, by reference to their objects."""
        metadata = parse_metadata(raw_metadata)
        kind, media_type = kind_of(metadata)
        now = self.services.uploads.clock()
        upload_id = keys.new_upload_id()
        record = q.TusRecord(
            upload_id,
            (raw_metadata or "").strip(),
            media_type.value if media_type else None,
            "final",
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
                filename=sanitize_filename(metadata.get("filename")),
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

        state = await self.services.db.write(join)
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
        limit = self.settings.max_total_bytes(kind)
        if length > limit:
            raise UploadTooLarge(f"A {kind} may be at most {limit} bytes.")

    # -- HEAD ----------------------------------------------------------------

    async def info(self, user_id: int, upload_id: str) -> TusUpload:
        if not keys.is_upload_id(upload_id):
            raise UploadNotFound()
        now = self.services.uploads.clock()

        def load(conn: Connection) -> TusUpload:
            upload = visible_upload(q.get_upload(conn, upload_id), user_id, now)
            record = q.get_tus_upload(conn, upload_id)
            parts = q.tus_parts_of(conn, upload_id) if record and record.concat == "final" else []
            state = UploadState(upload, RangeSet(upload.ranges))
            return TusUpload(state, record, parts, upload.media_id)

        return await self.services.db.read(load)

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
        """Store a PATCH body at ``offset``; complete the upload if it names a type and is whole."""
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
        writer = _PieceWriter(self, user_id, current.upload, offset, checksum)
        if offset == 0 and current.record is not None and current.record.concat is None:
            writer.sniff = declared_kind(parse_metadata(current.record.metadata))
        try:
            async for block in pieces_within(body, self.settings.body_timeout):
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
        return await self.services.completion.complete_unchecked(user_id, upload_id, media_type)

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
                await self.services.db.write(partial(_unjoin, final_id=created.upload.id))
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


def _with_id(record: q.TusRecord, upload_id: str) -> q.TusRecord:
    return q.TusRecord(upload_id, record.metadata, record.media_type, record.concat)


class _PieceWriter:
    """Cuts a PATCH body into pieces of at most ``chunk_max_bytes`` and stores them."""

    def __init__(
        self,
        tus: TusService,
        user_id: int,
        upload: Upload,
        offset: int,
        checksum: Checksum | None,
    ) -> None:
        self.tus = tus
        self.user_id = user_id
        self.upload = upload
        self.start = offset
        self.cursor = offset
        self.limit = tus.settings.chunk_max_bytes
        self.buffer = bytearray()
        self.received = 0
        self.checksum = checksum
        self.check = checksum.hasher() if checksum else None
        self.unrecorded: list[Chunk] = []  # stored, waiting for the checksum
        self.state: UploadState | None = None
        self.sniff: tuple[Kind, bool] | None = None  # (kind, only that kind) to check
        self.head = bytearray()

    async def feed(self, block: bytes, remaining: int) -> None:
        self.received += len(block)
        if self.received > remaining:
            raise UploadTooLarge(f"Only {remaining} bytes of this upload remain.")
        if self.check is not None:
            self.check.update(block)
        if self.sniff is not None:  # judged on every block until the head is whole
            self.head += block[: HEAD_BYTES - len(self.head)]
            kind, only_kind = self.sniff
            refuse_unless_leading_bytes_fit(kind, self.head, only_kind=only_kind)
            if len(self.head) >= HEAD_BYTES:
                self.sniff = None
        view = memoryview(block)
        while view:
            take = min(self.limit - len(self.buffer), len(view))
            self.buffer += view[:take]
            view = view[take:]
            if len(self.buffer) == self.limit:
                await self._flush()

    async def _flush(self) -> None:
        if not self.buffer:
            return
        start, end = self.cursor, self.cursor + len(self.buffer) - 1
        data, self.buffer = self.buffer, bytearray()
        self.cursor = end + 1
        if self.checksum is not None:  # stored now, recorded once the checksum holds
            key = keys.chunk_key(self.upload.id, start, end)
            await self.tus.services.storage.put(key, data)
            self.unrecorded.append(Chunk(self.upload.id, start, end, key))
        else:
            self.state = await self.tus.uploads.append_piece(
                self.user_id, self.upload.id, start, data
            )

    async def finish(self) -> UploadState:
        await self._flush()
        if self.checksum is not None and self.check is not None:
            if self.check.digest() != self.checksum.digest:
                await self.discard()
                raise ChecksumMismatch()
            self.state = await self.tus.uploads.append_contiguous(
                self.user_id, self.upload.id, self.unrecorded
            )
            self.unrecorded = []
        if self.state is None:  # an empty body
            return UploadState(self.upload, RangeSet(self.upload.ranges))
        return self.state

    async def interrupted(self) -> None:
        """The body stopped: keep what arrived, unless a checksum can no longer vouch for it."""
        if self.checksum is None:
            await self._flush()
        else:
            await self.discard()

    async def discard(self) -> None:
        for piece in self.unrecorded:
            await self.tus.services.storage.delete(piece.key)
        self.unrecorded = []
        self.buffer = bytearray()
