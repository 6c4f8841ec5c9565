"""A tus PATCH body cut into pieces of at most ``chunk_max_bytes``, each one chunk.

Without a checksum every piece is recorded as soon as it is stored, so a body
cut off half-way keeps what arrived (its last piece shorter): tus's promise
that a client resumes from the offset a HEAD reports. With an
``Upload-Checksum`` the pieces are recorded together only after the whole body
verified; on a mismatch they are removed unrecorded. Either way they are
stored as every chunk is, by ``ChunkObjects``: appended to the upload's one
file on local disk, an object each on an object store.
"""

from __future__ import annotations

from chunkup.errors import ChecksumMismatch, UploadTooLarge
from chunkup.media.sniff import HEAD_BYTES, refuse_unless_leading_bytes_fit
from chunkup.models import Chunk, Kind, Upload
from chunkup.uploads.objects import ChunkObjects
from chunkup.uploads.ranges import RangeSet
from chunkup.uploads.service import UploadService, UploadState
from chunkup.uploads.tus_values import Checksum


class PieceWriter:
    """Stores one PATCH body of ``upload`` from ``offset`` on, piece by piece."""

    def __init__(
        self,
        uploads: UploadService,
        objects: ChunkObjects,
        piece_bytes: int,
        user_id: int,
        upload: Upload,
        offset: int,
        checksum: Checksum | None,
    ) -> None:
        self.uploads = uploads
        self.objects = objects
        self.user_id = user_id
        self.upload = upload
        self.start = offset
        self.cursor = offset
        self.limit = piece_bytes
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
            key = await self.objects.store(self.upload.id, start, end, data)
            self.unrecorded.append(Chunk(self.upload.id, start, end, key))
        else:
            self.state = await self.uploads.append_piece(self.user_id, self.upload.id, start, data)

    async def finish(self) -> UploadState:
        await self._flush()
        if self.checksum is not None and self.check is not None:
            if self.check.digest() != self.checksum.digest:
                await self.discard()
                raise ChecksumMismatch()
            self.state = await self.uploads.append_contiguous(
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
            await self.objects.remove(piece.key)
        self.unrecorded = []
        self.buffer = bytearray()
