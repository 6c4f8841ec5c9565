"""Garbage collection: expire, forget, and sweep what crashes left behind.

Safe to run on every node at once: each step is a conditional update or a
delete of something no live row refers to, so running it twice, or racing
another collector, removes nothing twice that matters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from chunkup.db import Connection, Database
from chunkup.db import queries as q
from chunkup.models import UploadStatus
from chunkup.settings import Settings
from chunkup.storage import Storage
from chunkup.uploads import keys
from chunkup.uploads.clock import Clock
from chunkup.webhooks.events import MediaEvents, NoEvents

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
    def __init__(
        self,
        db: Database,
        storage: Storage,
        settings: Settings,
        clock: Clock,
        events: MediaEvents | None = None,
    ) -> None:
        self.events = events or NoEvents()  # upload.expired, in the expiring transaction
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

        def expire(conn: Connection, upload_id: str) -> bool:
            current = q.get_upload(conn, upload_id, for_update=True)
            if current is None or current.status is not UploadStatus.UPLOADING:
                return False
            if current.expires_at > now:
                return False
            q.mark_expired(conn, upload_id)
            self.events.upload_expired(conn, current)
            return True

        due = await self.db.read(lambda conn: q.uploads_expired_before(conn, now))
        for upload in due:
            if not await self.db.write(partial(expire, upload_id=upload.id)):
                continue
            report.expired += 1
            report.objects_removed += await self.storage.delete_prefix(keys.chunk_prefix(upload.id))

    async def _forget(self, report: GcReport) -> None:
        cutoff = self.clock() - self.settings.expired_retention
        old = await self.db.read(
            partial(q.uploads_to_forget, expired_before=cutoff, completed_before=cutoff)
        )
        for upload in old:
            await self.db.write(partial(q.delete_upload, upload_id=upload.id))
            report.forgotten += 1

    async def _abandoned_files(self, report: GcReport, grace: timedelta) -> None:
        """Files of completions that died before publishing or cleaning up."""
        cutoff = self.clock() - grace
        tokens = await self.db.read(partial(q.pending_files_before, when=cutoff))
        for token in tokens:
            published = await self.db.read(partial(q.get_media_by_token, file_token=token))
            if published is None:
                report.objects_removed += await self.storage.delete_prefix(keys.media_prefix(token))
            await self.db.write(partial(q.remove_pending_file, token=token))
            report.abandoned_files += 1

    async def _orphan_chunks(self, report: GcReport, grace: timedelta) -> None:
        """Chunk objects whose upload no longer exists (or never got recorded).

        A tus partial upload joined into a final one is done taking bytes, but
        its objects are the final's chunks while the final still takes requests.
        """
        cutoff = (self.clock() - grace).timestamp()
        newest: dict[str, float] = {}
        async for key, info in self.storage.list(keys.CHUNKS):
            upload_id = keys.upload_id_of_chunk_key(key)
            if upload_id is not None:
                newest[upload_id] = max(newest.get(upload_id, 0.0), info.modified)
        candidates = [uid for uid, modified in newest.items() if modified < cutoff]
        for start in range(0, len(candidates), 500):
            batch = candidates[start : start + 500]
            live = await self.db.read(partial(_still_needed, ids=batch))
            for upload_id in batch:
                if upload_id not in live:
                    report.orphan_uploads += 1
                    report.objects_removed += await self.storage.delete_prefix(
                        keys.chunk_prefix(upload_id)
                    )


def _still_needed(conn: Connection, ids: list[str]) -> set[str]:
    """Those of ``ids`` whose chunk objects a live upload (or a live tus final) uses."""
    return q.live_upload_ids(conn, ids) | q.parts_of_live_finals(conn, ids)
