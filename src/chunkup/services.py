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
from chunkup.uploads.tus import TusService
from chunkup.webhooks.delivery import Deliverer
from chunkup.webhooks.events import MediaEvents, MediaRenderer, NoEvents, Outbox, media_reference
from chunkup.webhooks.pre_create import PreCreateHook


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
    tus: TusService
    webhooks: Deliverer | None = None
    pre_create: PreCreateHook | None = None

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        storage: Storage | None = None,
        render_media: MediaRenderer = media_reference,
    ) -> Services:
        """``render_media`` makes the Media of a ``media.*`` event's payload (the
        HTTP layer passes the API's own rendering)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        if settings.migrate_on_start:
            await db.migrate()
        storage = storage or open_storage(settings.resolved_storage_url, fsync=settings.fsync)
        await asyncio.to_thread(media.preload)
        events: MediaEvents = NoEvents()
        webhooks = None
        if settings.webhook_url_list:
            events = Outbox(
                settings.webhook_url_list,
                settings.webhook_event_list,
                retry_horizon=settings.webhook_retry_horizon,
                clock=clock,
                render_media=render_media,
            )
            webhooks = Deliverer(db, settings, clock)
        pre_create = None
        if settings.hook_pre_create_url:
            pre_create = PreCreateHook(settings.hook_pre_create_url, settings, clock)
        uploads = UploadService(db, storage, settings, clock, pre_create)
        completion = CompletionService(db, storage, settings, clock, events)
        return cls(
            settings=settings,
            db=db,
            storage=storage,
            verifier=TokenVerifier(settings),
            uploads=uploads,
            completion=completion,
            library=MediaLibrary(db, storage, events),
            gc=GarbageCollector(db, storage, settings, clock, events),
            # in the data directory: the worker processes of this node share the buckets
            rate_limiter=RateLimiter(
                settings.rate_limit_per_second,
                settings.rate_limit_burst,
                path=settings.data_dir / RATE_LIMIT_FILE,
            ),
            tus=TusService(db, storage, settings, clock, uploads, completion),
            webhooks=webhooks,
            pre_create=pre_create,
        )

    async def probe_storage(self) -> None:
        """Raise unless the storage can take writes now (``Storage.probe``)."""
        await self.storage.probe()

    async def close(self) -> None:
        await self.completion.close()
        if self.webhooks is not None:
            await self.webhooks.aclose()
        if self.pre_create is not None:
            await self.pre_create.aclose()
        await self.storage.aclose()
        await self.db.dispose()
        self.rate_limiter.close()
