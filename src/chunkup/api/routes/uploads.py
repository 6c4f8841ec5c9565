"""Chunk upload, resume status, abort and complete: ``/api/v2/media/upload/...``.

The chunk endpoint is the one route of its path, on the fast lane
(``chunkup.api.fast_lane``): FastAPI calls it with the request alone and it
parses, authenticates and answers by itself; its OpenAPI operation is declared on
the route (``_CHUNK_OPERATION`` for what FastAPI cannot see in its signature).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chunkup.api.complete_fields import complete_fields
from chunkup.api.content_range import parse_content_range
from chunkup.api.deps import CurrentUser, LinksDep, ServicesDep, authenticate
from chunkup.api.fast_lane import FastLaneRoute
from chunkup.api.multipart import max_body_bytes, read_body, read_chunk_form, read_multipart
from chunkup.api.schemas import (
    ChunkMedia,
    ErrorBody,
    Media,
    UploadStatusBody,
    chunk_media,
    upload_status,
)
from chunkup.api.timestamps import parse_expires
from chunkup.errors import InvalidBody, InvalidContentRange, PayloadTooLarge
from chunkup.services import Services
from chunkup.uploads.service import ChunkIn

router = APIRouter(prefix="/api/v2/media/upload", tags=["upload"])
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 404, 409, 410, 413, 503)
}
_CHUNK_OPERATION = {
    "security": [{"HTTPBearer": []}],
    "parameters": [
        {
            "name": "Content-Range",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "example": "bytes 0-204799/1048576"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "upload_id": {"type": "string", "description": "from the second chunk on"},
                        "expires": {"type": "string", "format": "date-time"},
                        "image": {"type": "string", "format": "binary"},
                        "document": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    },
}
_COMPLETE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media_type: {
                "schema": {
                    "type": "object",
                    "required": ["upload_id", "md5"],
                    "properties": {
                        "upload_id": {"type": "string"},
                        "md5": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
                        "type": {"type": "string", "enum": ["image", "doc", "eimage"]},
                    },
                }
            }
            for media_type in (
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            )
        },
    }
}
MAX_COMPLETE_BODY = 16 * 1024


def _declared_length(request: Request) -> int | None:
    return _parse_length(request.headers.get("content-length"))


def _parse_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidBody("Content-Length is not a number.") from exc


class _ChunkHeaders:
    """The four headers a chunk request needs, in one pass over the raw list
    (the first of a repeated header counts, as with Starlette's ``Headers.get``)."""

    __slots__ = ("authorization", "content_length", "content_range", "content_type")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.authorization: str | None = None
        self.content_length: str | None = None
        self.content_type: str | None = None
        self.content_range: list[str] = []
        for name, value in raw:
            if name == b"authorization" and self.authorization is None:
                self.authorization = value.decode("latin-1")
            elif name == b"content-length" and self.content_length is None:
                self.content_length = value.decode("latin-1")
            elif name == b"content-type" and self.content_type is None:
                self.content_type = value.decode("latin-1")
            elif name == b"content-range":
                self.content_range.append(value.decode("latin-1"))


async def upload_chunk(request: Request) -> Response:
    """The hot path, so it asks FastAPI for nothing but the request.

    Dependency solving and parameter validation cost more CPU than the rest of
    a chunk's work; the header, the token and the body are read here directly
    (the same ``authenticate`` as every other route), and the OpenAPI operation
    is described by hand in ``_CHUNK_OPERATION``.
    """
    services: Services = request.app.state.services
    headers = _ChunkHeaders(request.scope["headers"])
    user = await authenticate(services, headers.authorization)
    limit = services.settings.chunk_max_bytes
    length = _parse_length(headers.content_length)
    if length is not None and length > max_body_bytes(limit):
        raise PayloadTooLarge()
    if len(headers.content_range) > 1:
        raise InvalidContentRange("Send one Content-Range header, not several.")
    cr = parse_content_range(headers.content_range[0] if headers.content_range else None)
    form = await read_chunk_form(
        headers.content_type,
        request.stream(),
        chunk_limit=limit,
        idle_timeout=services.settings.body_timeout,
    )
    assert form.kind is not None
    state = await services.uploads.accept_chunk(
        user,
        ChunkIn(
            kind=form.kind,
            data=form.data,
            content_range=cr,
            upload_id=form.fields.get("upload_id") or None,
            filename=form.filename,
            expires=parse_expires(form.fields.get("expires")),
        ),
    )
    metrics = request.app.state.metrics
    metrics.chunks.inc()
    metrics.chunk_bytes.inc(len(form.data))
    return JSONResponse(chunk_media(state), status_code=201)


# the first route of the router: the one matched most often
router.add_api_route(
    "/chunk/",
    upload_chunk,
    methods=["POST"],
    route_class_override=FastLaneRoute,
    status_code=201,
    operation_id="createMediaChunk",
    summary="Upload one chunk of an image or document",
    response_model=ChunkMedia,
    responses=ERRORS,
    openapi_extra=_CHUNK_OPERATION,
)


@router.get(
    "/{upload_id:path}/",
    operation_id="getMediaUploadStatus",
    summary="Resume status of an upload",
    response_model=UploadStatusBody,
    responses=ERRORS,
)
async def get_upload_status(
    upload_id: str, user: CurrentUser, services: ServicesDep
) -> UploadStatusBody:
    return upload_status(await services.uploads.status(user, upload_id))


@router.delete(
    "/{upload_id:path}/",
    status_code=204,
    operation_id="abortMediaUpload",
    summary="Abort an upload and remove its chunks",
    responses=ERRORS,
)
async def abort_upload(upload_id: str, user: CurrentUser, services: ServicesDep) -> Response:
    await services.uploads.abort(user, upload_id)
    return Response(status_code=204)


COMPLETE_FIELDS = frozenset({"upload_id", "md5", "type"})


async def _read_complete_body(request: Request, idle_timeout: float) -> dict[str, str | None]:
    """The complete call's fields, from JSON, a urlencoded form or a multipart form."""
    length = _declared_length(request)
    if length is not None and length > MAX_COMPLETE_BODY:
        raise PayloadTooLarge("The complete request body is too large.")
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        form = await read_multipart(
            content_type,
            request.stream(),
            text_fields=COMPLETE_FIELDS,
            body_limit=MAX_COMPLETE_BODY,
            idle_timeout=idle_timeout,
        )
        return dict(form.fields)
    body = await read_body(request.stream(), limit=MAX_COMPLETE_BODY, idle_timeout=idle_timeout)
    if media_type == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(
                body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20
            )
        except ValueError as exc:
            raise InvalidBody("The form body could not be parsed.") from exc
        return {k: v for k, v in pairs if k in COMPLETE_FIELDS}
    try:
        data = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: nesting deeper than the parser goes ("[[[[...")
        raise InvalidBody("The body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise InvalidBody("The JSON body must be an object.")
    return {k: v if isinstance(v, str) else None if v is None else str(v) for k, v in data.items()}


@router.post(
    "/complete/",
    status_code=201,
    operation_id="createMediaChunkComplete",
    summary="Finish an upload and create its Media",
    response_model=Media,
    responses=ERRORS,
    openapi_extra=_COMPLETE_BODY,
)
async def complete_upload(
    request: Request, user: CurrentUser, services: ServicesDep, links: LinksDep
) -> Media:
    fields = complete_fields(await _read_complete_body(request, services.settings.body_timeout))
    media = await services.completion.complete(
        user, fields.upload_id, fields.md5, fields.media_type
    )
    request.app.state.metrics.completions.labels(media.type.value).inc()
    return await links.media(media)
