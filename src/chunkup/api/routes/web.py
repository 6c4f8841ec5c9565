"""The web page at ``/``, its static files under ``/web/``, and ``POST /dev/token`` in dev mode;
``/docs`` and ``/redoc`` with their assets served from here, not from a CDN.

Kept out of the OpenAPI schema: they are not part of the media API. The page
gets a strict Content-Security-Policy of its own (scripts and styles only from
this origin); it may talk to any API origin and show images from anywhere,
since file URLs may point at a bucket or a CDN. The API docs must work on a
machine without internet: Swagger UI's and ReDoc's scripts come from the
``fastapi-offline`` distribution's files.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from chunkup.settings import Settings
from chunkup.web import STATIC_PACKAGE, index_html
from chunkup.web.dev import DEV_USER_ID, DevTokens

DOCS_ASSETS = "/docs-assets"
DOCS_ASSETS_PACKAGE = ("fastapi_offline", "static")
FAVICON = "/web/favicon.svg"
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
    html = index_html(
        dev=settings.dev,
        image_max=settings.image_max_bytes,
        document_max=settings.document_max_bytes,
    )

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


def docs_router(openapi_url: str, title: str) -> APIRouter:
    """Swagger UI at ``/docs`` and ReDoc at ``/redoc``, every asset from this server."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
        )

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )

    return router


def install_web_page(app: FastAPI, settings: Settings) -> None:
    """Serve the page at ``/``, its scripts and styles under ``/web/``, and the API docs."""
    app.include_router(page_router(settings))
    app.include_router(docs_router(app.openapi_url or "/openapi.json", app.title))
    app.mount("/web", StaticFiles(packages=[STATIC_PACKAGE]), name="web")
    app.mount(DOCS_ASSETS, StaticFiles(packages=[DOCS_ASSETS_PACKAGE]), name="docs-assets")
