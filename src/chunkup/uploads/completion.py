"""Completing an upload: assemble, verify, inspect, publish a Media, once.

The chunks are streamed in order into a new file under a fresh token while
their MD5 is computed (one pass over the bytes); the file is then inspected in a
worker thread (decoded once: validated, its metadata stripped, a PDF's first
page rendered, the thumbnail and responsive pictures made in one pass), what
that made is stored beside the file under the same token, and the Media
committed in one transaction that also marks the upload completed.
Completion is idempotent: a retry, or a race between processes, finds the
committed Media and returns it, and a loser's file is removed. Concurrent
completes in one process share a single piece of work.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import asynccontextmanager
from pathlib import Path

from chunkup.db import Connection, Database
from chunkup.db import queries as q
from chunkup.errors import (
    ChunkupError,
    FileTooLarge,
    Md5Mismatch,
    MediaNotFound,
    StorageUnavailable,
    UploadCompleted,
    UploadExpired,
    UploadIncomplete,
    UploadNotFound,
)
from chunkup.media import Inspection, PdfSandbox, inspect_file, stored
from chunkup.media.inspect import EXTENSIONS
from chunkup.media.sniff import HEAD_BYTES, sniff
from chunkup.models import Chunk, Media, MediaType, Upload, UploadStatus
from chunkup.settings import Settings
from chunkup.storage import Storage
from chunkup.storage.base import LocalPaths, Observer
from chunkup.uploads import keys
from chunkup.uploads.clock import Clock
from chunkup.uploads.filenames import storage_name
from chunkup.uploads.kinds import SizeLimits
from chunkup.uploads.ranges import RangeSet
from chunkup.uploads.service import visible_upload
from chunkup.webhooks.events import MediaEvents, NoEvents

log = logging.getLogger(__name__)
# blocks (about 1 MiB each) copied for inspection that may wait for the disk at once
_COPY_BACKLOG = 4


class CompletionService:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        settings: Settings,
        clock: Clock,
        events: MediaEvents | None = None,
    ) -> None:
        self.events = events or NoEvents()  # media.created, in the publishing transaction
        self.db = db
        self.storage = storage
        self.settings = settings
        self.sizes = SizeLimits.of(settings)
        self.clock = clock
        self._running: dict[tuple[int, str, str, str], asyncio.Task[Media]] = {}
        # decoding holds a whole image in memory: a few at a time, one per core
        self._decoding = asyncio.Semaphore(os.cpu_count() or 1)
        # PDFs are opened only in capped child processes, started on first use
        self._pdf_sandbox = PdfSandbox(
            memory_bytes=settings.pdf_memory_limit_mb * 1024 * 1024,
            seconds=settings.pdf_time_limit_s,
        )

    async def close(self) -> None:
        """Stop the PDF sandbox's idle child processes."""
        await asyncio.to_thread(self._pdf_sandbox.close)

    async def complete(
        self, user_id: int, upload_id: str, md5: str, media_type: MediaType | None
    ) -> Media:
        """The contract's complete call: the client's MD5 (lower-case hex) must match
        the bytes; ``media_type`` None completes as the upload's kind."""
        if not keys.is_upload_id(upload_id):
            raise UploadNotFound()
        return await self._once(user_id, upload_id, md5, media_type)

    async def complete_unchecked(
        self, user_id: int, upload_id: str, media_type: MediaType
    ) -> Media:
        """Complete with no client MD5 to compare: tus carries none (its checksums
        cover each PATCH), so the bytes are not read a second time to make one up."""
        return await self._once(user_id, upload_id, None, media_type)

    async def _once(
        self, user_id: int, upload_id: str, digest: str | None, media_type: MediaType | None
    ) -> Media:
        job = (user_id, upload_id, digest or "", media_type.value if media_type else "")
        task = self._running.get(job)
        if task is None:
            task = asyncio.ensure_future(self._complete(user_id, upload_id, digest, media_type))
            self._running[job] = task
            task.add_done_callback(lambda _t: self._running.pop(job, None))
        # shielded: a client that hangs up does not abandon work a retry will want
        return await asyncio.shield(task)

    async def _complete(
        self, user_id: int, upload_id: str, md5: str | None, requested: MediaType | None
    ) -> Media:
        now = self.clock()

        def load(conn: Connection) -> tuple[Upload, list[Chunk], Media | None]:
            upload = q.get_upload(conn, upload_id)
            if upload is not None and upload.status is UploadStatus.COMPLETED:
                return upload, [], self._existing(conn, upload, user_id)
            upload = visible_upload(upload, user_id, now)
            return upload, q.list_chunks(conn, upload_id), None

        upload, chunks, done = await self.db.read(load)
        if done is not None:
            return done
        ranges = RangeSet(upload.ranges)
        if not ranges.covers(upload.total) or not _tiles(chunks, upload.total):
            raise UploadIncomplete(
                offset=str(ranges.contiguous_from_zero()), missing=ranges.missing(upload.total)
            )
        media_type = requested or MediaType.default_for(upload.kind)
        limit = self.sizes.for_type(media_type)
        if upload.total > limit:
            raise FileTooLarge(f"A file of type {media_type} may be at most {limit} bytes.")

        token = keys.new_file_token()
        await self.db.write(lambda conn: q.add_pending_file(conn, token, upload_id, now))
        try:
            return await self._assemble_and_publish(upload, chunks, md5, media_type, token)
        finally:
            await self.db.write(lambda conn: q.remove_pending_file(conn, token))

    async def _assemble_and_publish(
        self,
        upload: Upload,
        chunks: list[Chunk],
        md5: str | None,
        media_type: MediaType,
        token: str,
    ) -> Media:
        head = await self._head(chunks[0].key)
        extension = _extension(sniff(head))
        name = storage_name(upload.filename, extension)
        file_key = keys.media_key(token, name)
        hasher = hashlib.md5()
        published = False
        try:
            async with self._composed_copy(file_key, hasher.update) as (observe, path):
                size = await self._compose(upload, chunks, file_key, observe)
                if md5 is not None and hasher.hexdigest() != md5:
                    raise Md5Mismatch(
                        "The MD5 of the uploaded bytes differs from the one given; "
                        "the upload is kept, complete it again with the right MD5."
                    )
                inspection = await self._inspect(await path(), media_type)
            size, extra = await self._store_outputs(token, file_key, size, inspection)
            media = await self._publish(
                upload, media_type, token, file_key, size, inspection, extra
            )
            published = media.file_token == token
            return media
        finally:
            if not published:
                await self.storage.delete_prefix(keys.media_prefix(token))

    async def _compose(
        self, upload: Upload, chunks: list[Chunk], file_key: str, observe: Observer
    ) -> int:
        try:
            return await self.storage.compose([c.key for c in chunks], file_key, observe)
        except FileNotFoundError as exc:
            # a chunk vanished: the upload expired under us (its chunks were collected),
            # or the store lost an object the database says it holds
            current = await self.db.read(lambda conn: q.get_upload(conn, upload.id))
            if current is None or current.status is UploadStatus.EXPIRED:
                raise UploadExpired() from exc
            log.error("upload %s: chunk object missing from storage: %s", upload.id, exc)
            raise StorageUnavailable("A stored chunk could not be read; retry later.") from exc

    async def _store_outputs(
        self, token: str, file_key: str, size: int, inspection: Inspection
    ) -> tuple[int, dict[str, object]]:
        """Store what inspection made: the stripped file, the renditions; the size, ``extra``."""
        extra = dict(inspection.extra)
        if inspection.replacement is not None:
            # nothing names the file yet (the Media is not published): swap it in place
            await self.storage.delete(file_key)
            await self.storage.put(file_key, inspection.replacement)
            size = len(inspection.replacement)
        stem = file_key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        for role, rendition in (
            (stored.THUMBNAIL, inspection.thumbnail),
            (stored.PREVIEW, inspection.preview),
        ):
            if rendition is not None:
                # a folder of its own: no uploaded file's name (a slug, no "/") can collide
                key = keys.media_key(token, f"{role}/{stem}.webp")
                await self.storage.put(key, rendition.data)
                extra[role] = stored.record(key, rendition, role)
        if inspection.blurhash is not None:
            extra[stored.BLURHASH] = inspection.blurhash
        if inspection.pictures:
            named = [
                (keys.media_key(token, f"{stored.RENDITIONS}/{stem}-{p.width}{suffix}"), p)
                for p in inspection.pictures
                for suffix in [EXTENSIONS.get(p.mimetype, "")]
            ]
            # at once: on S3 each put is a round trip. All are waited for before a failure
            # is raised, so none is still writing when the caller removes the token's prefix
            done = await asyncio.gather(
                *(self.storage.put(key, p.data) for key, p in named), return_exceptions=True
            )
            for outcome in done:
                if isinstance(outcome, BaseException):
                    raise outcome
            extra[stored.RENDITIONS] = [stored.record_picture(key, p) for key, p in named]
        return size, extra

    async def _head(self, key: str) -> bytes:
        try:
            async for block in self.storage.read(key, 0, HEAD_BYTES - 1):
                return block
        except FileNotFoundError:
            return b""  # compose reports the missing chunk
        return b""

    async def _publish(
        self,
        upload: Upload,
        media_type: MediaType,
        token: str,
        file_key: str,
        size: int,
        inspection: Inspection,
        extra: dict[str, object],
    ) -> Media:
        now = self.clock()
        display_name = upload.filename or file_key.rsplit("/", 1)[-1]

        def publish(conn: Connection) -> Media:
            current = q.get_upload(conn, upload.id, for_update=True)
            if current is None:
                raise UploadNotFound()
            if current.status is UploadStatus.COMPLETED:
                return self._existing(conn, current, upload.user_id)
            if current.status is UploadStatus.EXPIRED:
                raise UploadExpired()
            media = q.insert_media(
                conn,
                user_id=upload.user_id,
                upload_id=upload.id,
                type=media_type.value,
                title=None if media_type.is_image else display_name,
                filename=display_name,
                file_token=token,
                file_key=file_key,
                mimetype=inspection.mimetype,
                size=size,
                width=inspection.width,
                height=inspection.height,
                extra=extra,
                added_at=now,
            )
            q.mark_completed(conn, upload.id, media_id=media.id, at=now)
            self.events.media_created(conn, media)
            return media

        media = await self.db.write(publish)
        if media.file_token != token:
            return media  # another completion won; the caller removes our file
        try:
            await self.storage.delete_prefix(keys.chunk_prefix(upload.id))
        except ChunkupError:
            log.warning("chunks of %s left for garbage collection", upload.id)
        return media

    @staticmethod
    def _existing(conn: Connection, upload: Upload, user_id: int) -> Media:
        if upload.user_id != user_id:
            raise UploadNotFound()
        if upload.media_id is None:  # a tus partial upload, joined into a final one
            raise UploadCompleted("This upload was joined into a tus final upload; complete that.")
        media = q.get_media_by_upload(conn, upload.id)
        if media is None:
            raise MediaNotFound("The upload was completed, but its media has been deleted.")
        return media

    async def _inspect(self, path: Path, media_type: MediaType) -> Inspection:
        async with self._decoding:
            return await asyncio.to_thread(
                inspect_file,
                path,
                media_type,
                max_pixels=self.settings.image_max_pixels,
                pdf_sandbox=self._pdf_sandbox,
                strip_metadata=self.settings.strip_image_metadata,
            )

    @asynccontextmanager
    async def _composed_copy(
        self, key: str, observe: Observer
    ) -> AsyncIterator[tuple[Observer, Callable[[], Awaitable[Path]]]]:
        """What compose's ``observe`` is to be, and how to get a local file with
        the composed object's bytes for inspection, once compose is done.

        Where the object is a local file, that file itself. On an object store
        the composed bytes are copied to a temporary file as they stream through
        compose, so each byte is read from the store once (a download after
        compose read every byte twice). The file writes go, in order, to a
        thread of their own, off the event loop; a block is held only until its
        write (a page-cache write, faster than the store streams), so memory
        stays what compose holds.
        """
        if isinstance(self.storage, LocalPaths):
            local = self.storage.local_path(key)

            async def local_path() -> Path:
                return local

            yield observe, local_path
            return
        with tempfile.NamedTemporaryFile(prefix="chunkup-", suffix=".inspect") as temp:
            writer = ThreadPoolExecutor(1, thread_name_prefix="chunkup-inspect-copy")
            written: list[Future[int]] = []

            def tee(block: bytes | memoryview) -> None:
                observe(block)
                if isinstance(block, memoryview):  # its buffer may be reused once we return
                    block = block.tobytes()
                if len(written) >= _COPY_BACKLOG:
                    # a disk slower than the store: hold the stream (and memory) back
                    wait(written[:1])
                while written and written[0].done():
                    written.pop(0).result()  # a failed write fails the compose
                written.append(writer.submit(temp.write, block))

            async def copied() -> Path:
                for future in written:
                    await asyncio.wrap_future(future)
                await asyncio.to_thread(temp.flush)
                return Path(temp.name)

            try:
                yield tee, copied
            finally:
                # compose failed or was cancelled: the queued writes are dropped, and
                # the one under way, if any, is waited for before the file goes
                await asyncio.to_thread(writer.shutdown, wait=True, cancel_futures=True)


def _tiles(chunks: list[Chunk], total: int) -> bool:
    cursor = 0
    for chunk in chunks:
        if chunk.start != cursor:
            return False
        cursor = chunk.end + 1
    return cursor == total


def _extension(mimetype: str | None) -> str:
    return EXTENSIONS.get(mimetype or "", "")
