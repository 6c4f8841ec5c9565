"""Rendering every error as the contract's ``{"detail", "code", ...}`` body, in one place."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from chunkup.api.timestamps import iso_z
from chunkup.errors import ChunkupError, InvalidField
from chunkup.uploads.tus_values import BodyInterrupted

log = logging.getLogger("chunkup.api")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def error_body(exc: ChunkupError) -> dict[str, Any]:
    """``exc.body()`` as JSON: a datetime member (``expires``) as the contract writes it."""
    return {
        name: iso_z(value) if isinstance(value, datetime) else value
        for name, value in exc.body().items()
    }


def error_response(exc: ChunkupError) -> JSONResponse:
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers())


def _count(request: Request, code: str) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.errors.labels(code).inc()


def chunkup_error_response(request: Request, exc: ChunkupError) -> JSONResponse:
    """The error's response, counted and (5xx) logged: for routes that add headers to it."""
    _count(request, exc.code)
    if 500 <= exc.status < 600:
        log.warning("%s: %s", exc.code, exc.detail, exc_info=exc.__cause__)
    return error_response(exc)


async def _chunkup_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ChunkupError)
    return chunkup_error_response(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    _count(request, InvalidField.code)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    name = ".".join(location) or None
    detail = f"Invalid value for '{name}': {first.get('msg', 'invalid')}." if name else None
    return error_response(InvalidField(detail, field=name))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    _count(request, code)
    detail = exc.detail if isinstance(exc.detail, str) else "Error."
    return JSONResponse(
        {"detail": detail, "code": code}, status_code=exc.status_code, headers=exc.headers
    )


async def _client_gone(_request: Request, _exc: Exception) -> JSONResponse:
    # nobody is listening; the status only shows in the access log
    return JSONResponse({"detail": "Client disconnected.", "code": "client_disconnected"}, 400)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    _count(request, "internal_error")
    return JSONResponse({"detail": "Internal server error.", "code": "internal_error"}, 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ChunkupError, _chunkup_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(BodyInterrupted, _client_gone)  # the same, seen by the domain
    app.add_exception_handler(Exception, _unexpected)
