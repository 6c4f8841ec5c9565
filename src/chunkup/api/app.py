"""The ASGI application: ``create_app(settings)``, nothing built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from chunkup import __version__
from chunkup.api.errors import install_error_handlers
from chunkup.api.event_payloads import media_renderer
from chunkup.api.observability import Metrics, RequestContext
from chunkup.api.routes import files, health, media, tus, uploads
from chunkup.api.routes.web import install_web_page
from chunkup.memory import freeze_startup_objects, tune_malloc
from chunkup.services import Services
from chunkup.settings import Settings
from chunkup.storage import Storage
from chunkup.uploads.clock import Clock, utcnow

log = logging.getLogger("chunkup")

CORS_HEADERS = ["Authorization", "Content-Range", "Content-Type", "Range", "If-Range"]
EXPOSED_HEADERS = ["Content-Range", "Content-Length", "ETag", "Location", "Retry-After"]
# what tus clients in a browser (Uppy, tus-js-client) send and must read
TUS_REQUEST_HEADERS = [
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Metadata",
    "Upload-Checksum",
    "Upload-Concat",
    "Upload-Defer-Length",
    "X-HTTP-Method-Override",
    "X-Requested-With",
]
TUS_EXPOSED_HEADERS = [
    "Upload-Offset",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Concat",
    "Upload-Expires",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
    "Media-Id",
]


async def _collect_garbage_forever(services: Services) -> None:
    interval = services.settings.gc_interval.total_seconds()
    while True:
        await asyncio.sleep(interval)
        try:
            report = await services.gc.collect()
        except Exception:  # the loop must outlive one bad round; the error is logged
            log.exception("garbage collection failed; retrying in %ss", interval)
            continue
        if report.expired or report.forgotten or report.orphan_uploads:
            log.info("garbage collection: %s", report)


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put a router's routes on the app itself rather than ``include_router`` it.

    FastAPI 0.16x resolves an included router lazily, walking its routes on
    every request to see whether they changed: 9.5 % of a chunk's CPU by
    profile. The routes already carry their full path, tags and responses, so
    the schema is the same either way (a test compares them).
    """
    app.router.routes.extend(router.routes)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utcnow,
    storage: Storage | None = None,
    serving_process: bool = False,
) -> FastAPI:
    """The app; ``serving_process`` when it is the one app of this process
    (``chunkup serve``), which then freezes its start-up objects for the collector."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.start(
            settings, clock=clock, storage=storage, render_media=media_renderer(settings)
        )
        app.state.services = services
        if serving_process:
            freeze_startup_objects()
        background = [asyncio.create_task(_collect_garbage_forever(services))]
        if services.webhooks is not None:  # the outbox, delivered by every node
            background.append(asyncio.create_task(services.webhooks.run_forever()))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.close()

    app = FastAPI(
        title="chunkup",
        version=__version__,
        summary="Chunked media uploads: the SelfCommunity v2 media API",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are served with local assets (routes/web.py)
        redoc_url=None,
        # FastAPI looks for a configured OpenTelemetry provider on every request
        # (3 % of a chunk's CPU): only when asked to trace
        telemetry=None if settings.otel else {"tracing": False, "metrics": False, "logs": False},
    )
    metrics = Metrics()
    app.state.metrics = metrics
    install_error_handlers(app)
    for router in (uploads.router, health.router, tus.router, media.router, files.router):
        _add_routes(app, router)
    install_web_page(app, settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=CORS_HEADERS + TUS_REQUEST_HEADERS,
        expose_headers=EXPOSED_HEADERS + TUS_EXPOSED_HEADERS,
        max_age=600,
    )
    app.add_middleware(RequestContext, metrics=metrics)
    return app


def create_worker_app() -> FastAPI:
    """The app of one worker process of ``chunkup serve --workers N`` (settings from env)."""
    from chunkup.api.observability import configure_logging
    from chunkup.supervision import die_with_supervisor

    die_with_supervisor()
    tune_malloc()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, serving_process=True)
