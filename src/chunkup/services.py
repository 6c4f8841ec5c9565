"""The service objects of one running app, built together and closed together."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from chunkup import media
from chunkup.auth import TokenVerifier
from chunkup.db import Database
from chunkup.settings import Settings
from chunkup.storage import Storage, open_storage
from chunkup.uploads.clock import Clock, utcnow
from chunkup.uploads.completion import CompletionService
from chunkup.uploads.gc import GarbageCollector
from chunkup.uploads.library import MediaLibrary
from chunkup.uploads.limits import RATE_LIMIT_FILE, RateLimiter
from chunkup.uploads.service import UploadService


@dataclass
class Services:
    settings: Settings
    db: Database
    storage: Storage
    verifier: TokenVerifier
    uploads: UploadService
    completion: CompletionService
    library: MediaLibrary
    gc: GarbageCollector
    rate_limiter: RateLimiter

    @classmethod
    async def start(
        cls, settings: Settings, *, clock: Clock = utcnow, storage: Storage | None = None
    ) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        if settings.migrate_on_start:
            await db.migrate()
        storage = storage or open_storage(settings.resolved_storage_url, fsync=settings.fsync)
        await asyncio.to_thread(media.preload)
        return cls(
            settings=settings,
            db=db,
            storage=storage,
            verifier=TokenVerifier(settings),
            uploads=UploadService(db, storage, settings, clock),
            completion=CompletionService(db, storage, settings, clock),
            library=MediaLibrary(db, storage),
            gc=GarbageCollector(db, storage, settings, clock),
            # in the data directory: the worker processes of this node share the buckets
            rate_limiter=RateLimiter(
                settings.rate_limit_per_second,
                settings.rate_limit_burst,
                path=settings.data_dir / RATE_LIMIT_FILE,
            ),
        )

    async def probe_storage(self) -> None:
        """Raise unless the storage answers (a missing object is an answer)."""
        try:
            await self.storage.stat("readyz/probe")
        except FileNotFoundError:
            return

    async def close(self) -> None:
        await self.completion.close()
        await self.storage.aclose()
        await self.db.dispose()
        self.rate_limiter.close()
