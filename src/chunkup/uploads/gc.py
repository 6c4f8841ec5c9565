"""Garbage collection: expire, forget, and sweep what crashes left behind.

Safe to run on every node at once: each step is a conditional update or a
delete of something no live row refers to, so running it twice, or racing
another collector, removes nothing twice that matters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from chunkup.db import Database
from chunkup.db import queries as q
from chunkup.models import UploadStatus
from chunkup.settings import Settings
from chunkup.storage import Storage
from chunkup.uploads import keys
from chunkup.uploads.clock import Clock

log = logging.getLogger(__name__)
# objects younger than this may belong to a request still in flight
ORPHAN_GRACE = timedelta(hours=1)


@dataclass(slots=True)
class GcReport:
    expired: int = 0
    forgotten: int = 0
    orphan_uploads: int = 0
    abandoned_files: int = 0
    objects_removed: int = 0


class GarbageCollector:
    def __init__(self, db: Database, storage: Storage, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.storage = storage
        self.settings = settings
        self.clock = clock

    async def collect(self, *, orphan_grace: timedelta = ORPHAN_GRACE) -> GcReport:
        report = GcReport()
        await self._expire(report)
        await self._forget(report)
        await self._abandoned_files(report, orphan_grace)
        await self._orphan_chunks(report, orphan_grace)
        return report

    async def _expire(self, report: GcReport) -> None:
        now = self.clock()
        async with self.db.read() as conn:
            due = await q.uploads_expired_before(conn, now)
        for upload in due:
            async with self.db.begin() as conn:
                current = await q.get_upload(conn, upload.id, for_update=True)
                if current is None or current.status is not UploadStatus.UPLOADING:
                    continue
                if current.expires_at > now:
                    continue
                await q.mark_expired(conn, upload.id)
            report.expired += 1
            report.objects_removed += await self.storage.delete_prefix(keys.chunk_prefix(upload.id))

    async def _forget(self, report: GcReport) -> None:
        cutoff = self.clock() - self.settings.expired_retention
        async with self.db.read() as conn:
            old = await q.uploads_to_forget(conn, expired_before=cutoff, completed_before=cutoff)
        for upload in old:
            async with self.db.begin() as conn:
                await q.delete_upload(conn, upload.id)
            report.forgotten += 1

    async def _abandoned_files(self, report: GcReport, grace: timedelta) -> None:
        """Files of completions that died before publishing or cleaning up."""
        async with self.db.read() as conn:
            tokens = await q.pending_files_before(conn, self.clock() - grace)
        for token in tokens:
            async with self.db.read() as conn:
                published = await q.get_media_by_token(conn, token)
            if published is None:
                report.objects_removed += await self.storage.delete_prefix(keys.media_prefix(token))
            async with self.db.begin() as conn:
                await q.remove_pending_file(conn, token)
            report.abandoned_files += 1

    async def _orphan_chunks(self, report: GcReport, grace: timedelta) -> None:
        """Chunk objects whose upload no longer exists (or never got recorded)."""
        cutoff = (self.clock() - grace).timestamp()
        newest: dict[str, float] = {}
        async for key, info in self.storage.list(keys.CHUNKS):
            upload_id = keys.upload_id_of_chunk_key(key)
            if upload_id is not None:
                newest[upload_id] = max(newest.get(upload_id, 0.0), info.modified)
        candidates = [uid for uid, modified in newest.items() if modified < cutoff]
        for start in range(0, len(candidates), 500):
            batch = candidates[start : start + 500]
            async with self.db.read() as conn:
                live = await q.live_upload_ids(conn, batch)
            for upload_id in batch:
                if upload_id not in live:
                    report.orphan_uploads += 1
                    report.objects_removed += await self.storage.delete_prefix(
                        keys.chunk_prefix(upload_id)
                    )
