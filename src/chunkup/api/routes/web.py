"""The web page at ``/``, its static files under ``/web/``, and ``POST /dev/token`` in dev mode.

Kept out of the OpenAPI schema: they are not part of the media API. The page
gets a strict Content-Security-Policy of its own (scripts and styles only from
this origin); it may talk to any API origin and show images from anywhere,
since file URLs may point at a bucket or a CDN.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from chunkup.settings import Settings
from chunkup.web import STATIC_PACKAGE, index_html
from chunkup.web.dev import DEV_USER_ID, DevTokens

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data: blob:; "
        "connect-src *; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def page_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    html = index_html(dev=settings.dev)

    @router.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers=PAGE_HEADERS)

    if settings.dev:
        tokens = DevTokens(settings)

        @router.post("/dev/token")
        async def dev_token() -> dict[str, object]:
            token = await asyncio.to_thread(tokens.mint)
            return {"token": token, "user_id": DEV_USER_ID}

    return router


def install_web_page(app: FastAPI, settings: Settings) -> None:
    """Serve the page at ``/`` and its scripts and styles under ``/web/``."""
    app.include_router(page_router(settings))
    app.mount("/web", StaticFiles(packages=[STATIC_PACKAGE]), name="web")
