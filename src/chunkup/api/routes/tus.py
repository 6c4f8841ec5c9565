"""tus 1.0.0 over HTTP: ``/api/v2/media/tus/`` (headers and statuses only).

What each request means is in ``chunkup.uploads.tus``; this module reads the
tus headers (their values through ``chunkup.api.tus_headers``), hands the
service typed values and a body timed for stalls (``pieces_within``), and
writes the tus headers back. Every response of these routes, errors included,
carries ``Tus-Resumable: 1.0.0``; errors keep the project's JSON body. Uppy,
tus-js-client and tuspy work against it unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from chunkup.api.deps import CurrentUser, LinksDep, ServicesDep
from chunkup.api.errors import chunkup_error_response
from chunkup.api.idle import pieces_within
from chunkup.api.schemas import ErrorBody
from chunkup.api.tus_headers import parse_checksum, parse_concat, parse_metadata, parse_number
from chunkup.errors import (
    ChunkupError,
    InvalidTusHeader,
    MethodNotAllowed,
    TusVersionUnsupported,
    UnsupportedMediaType,
)
from chunkup.models import UploadStatus
from chunkup.uploads import tus
from chunkup.uploads.kinds import SizeLimits
from chunkup.uploads.tus import TusService, TusUpload
from chunkup.uploads.tus_values import CHECKSUMS, BodyInterrupted, Checksum

OFFSET_STREAM = "application/offset+octet-stream"
PREFIX = "/api/v2/media/tus"


class TusRoute(APIRoute):
    """A route whose every response, an error's too, says ``Tus-Resumable: 1.0.0``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except ChunkupError as exc:
                response = chunkup_error_response(request, exc)
            response.headers["Tus-Resumable"] = tus.VERSION
            return response

        return handle


router = APIRouter(prefix=PREFIX, tags=["tus"], route_class=TusRoute)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


# documentation only: the handlers parse these themselves, to answer tus's statuses
_NUMBER: dict[str, Any] = {"pattern": "^[0-9]{1,18}$"}
_COMMON = (400, 401, 404, 410, 412, 429, 503)
_BODY = {
    "requestBody": {
        "required": False,
        "content": {OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
    }
}


async def tus_resumable(
    version: Annotated[
        str | None, Header(alias="Tus-Resumable", json_schema_extra={"enum": [tus.VERSION]})
    ] = None,
) -> None:
    """Every request but OPTIONS says which tus version it speaks; only 1.0.0 is spoken."""
    if version is None or version.strip() != tus.VERSION:
        raise TusVersionUnsupported()


TusResumable = Annotated[None, Depends(tus_resumable)]


async def tus_service(services: ServicesDep) -> TusService:
    return services.tus


TusDep = Annotated[TusService, Depends(tus_service)]


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body; a client gone mid-body is ``BodyInterrupted``, for the domain."""
    try:
        async for block in request.stream():
            yield block
    except ClientDisconnect as exc:
        raise BodyInterrupted() from exc


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return None if value is None else parse_number(value, "Content-Length")


async def _append(
    request: Request,
    service: TusService,
    user: int,
    upload_id: str,
    offset: int,
    checksum: Checksum | None,
) -> TusUpload:
    """The request's body appended at ``offset`` (PATCH, or POST with creation-with-upload)."""
    updated = await service.append(
        user,
        upload_id,
        offset,
        pieces_within(_body(request), service.settings.body_timeout),
        declared_length=_content_length(request),
        checksum=checksum,
    )
    request.app.state.metrics.chunk_bytes.inc(updated.offset - offset)
    _count_completion(request, updated)
    return updated


def _count_completion(request: Request, upload: TusUpload) -> None:
    """The server completed the upload itself: count it like a complete call."""
    if upload.media_id is not None and upload.record is not None and upload.record.media_type:
        request.app.state.metrics.completions.labels(upload.record.media_type).inc()


def _is_offset_stream(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == OFFSET_STREAM


def _http_date(upload: TusUpload) -> str:
    return format_datetime(upload.upload.expires_at, usegmt=True)


def _progress_headers(upload: TusUpload) -> dict[str, str]:
    """Upload-Offset, and Upload-Expires while it takes bytes, Media-Id once it is a Media."""
    headers = {"Upload-Offset": str(upload.offset)}
    if upload.upload.status is UploadStatus.UPLOADING:
        headers["Upload-Expires"] = _http_date(upload)
    if upload.media_id is not None:
        headers["Media-Id"] = str(upload.media_id)
    return headers


# -- OPTIONS -------------------------------------------------------------------


@router.options(
    "/",
    status_code=204,
    operation_id="tusOptions",
    summary="tus: the server's version, extensions, maximum size and checksums",
    response_class=Response,
)
async def tus_options(services: ServicesDep) -> Response:
    max_size = SizeLimits.of(services.settings).largest
    return Response(
        status_code=204,
        headers={
            "Tus-Version": tus.VERSION,
            "Tus-Extension": ",".join(tus.EXTENSIONS),
            "Tus-Max-Size": str(max_size),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        },
    )


# -- POST: creation (with upload), concatenation ---------------------------------


@router.post(
    "/",
    status_code=201,
    operation_id="tusCreateUpload",
    summary="tus: create an upload (optionally with its first bytes, or as a concatenation)",
    response_class=Response,
    responses={
        201: {"description": "Created; Location names the upload"},
        **_errors(*_COMMON, 409, 413, 415, 460),
    },
    openapi_extra=_BODY,
)
async def tus_create(
    request: Request,
    _version: TusResumable,
    user: CurrentUser,
    service: TusDep,
    links: LinksDep,
    upload_length: Annotated[
        str | None, Header(alias="Upload-Length", json_schema_extra=_NUMBER)
    ] = None,
    upload_metadata: Annotated[str | None, Header(alias="Upload-Metadata")] = None,
    upload_concat: Annotated[str | None, Header(alias="Upload-Concat")] = None,
    upload_checksum: Annotated[str | None, Header(alias="Upload-Checksum")] = None,
) -> Response:
    concat = parse_concat(upload_concat)
    if concat is not None and concat.final:
        created = await service.create_final(user, parse_metadata(upload_metadata), concat)
        created = await service.complete_final(user, created)
        _count_completion(request, created)
    else:
        if request.headers.get("upload-defer-length") is not None:
            raise InvalidTusHeader(
                "Upload-Defer-Length is not supported; send Upload-Length.",
                header="Upload-Defer-Length",
            )
        length = parse_number(upload_length, "Upload-Length")
        checksum = parse_checksum(upload_checksum)
        metadata = parse_metadata(upload_metadata)
        created = await service.create(user, length, metadata, concat)
        if _is_offset_stream(request) and _content_length(request) != 0:
            created = await _append(request, service, user, created.upload.id, 0, checksum)
    headers = {"Location": f"{links.base}{PREFIX}/{created.upload.id}"}
    headers |= _progress_headers(created)
    return Response(status_code=201, headers=headers)


# -- HEAD, PATCH, DELETE on one upload ---------------------------------------------


@router.head(
    "/{upload_id}",
    operation_id="tusUploadOffset",
    summary="tus: the upload's offset, length and metadata",
    response_class=Response,
    responses={200: {"description": "Upload-Offset and Upload-Length"}, **_errors(*_COMMON)},
)
async def tus_head(
    upload_id: str,
    links: LinksDep,
    _version: TusResumable,
    user: CurrentUser,
    service: TusDep,
) -> Response:
    found = await service.info(user, upload_id)
    headers = {
        "Upload-Length": str(found.upload.total),
        "Cache-Control": "no-store",
        **_progress_headers(found),
    }
    if found.record is not None and found.record.metadata:
        headers["Upload-Metadata"] = found.record.metadata
    if found.record is not None and found.record.concat == "partial":
        headers["Upload-Concat"] = "partial"
    elif found.part_ids:
        urls = " ".join(f"{links.base}{PREFIX}/{part}" for part in found.part_ids)
        headers["Upload-Concat"] = f"final;{urls}"
    return Response(status_code=200, headers=headers)


async def _patch(
    request: Request,
    upload_id: str,
    user: int,
    service: TusService,
    upload_offset: str | None,
    upload_checksum: str | None,
) -> Response:
    if not _is_offset_stream(request):
        raise UnsupportedMediaType(f"A PATCH body must be Content-Type: {OFFSET_STREAM}.")
    offset = parse_number(upload_offset, "Upload-Offset")
    checksum = parse_checksum(upload_checksum)
    updated = await _append(request, service, user, upload_id, offset, checksum)
    return Response(status_code=204, headers=_progress_headers(updated))


@router.patch(
    "/{upload_id}",
    status_code=204,
    operation_id="tusAppend",
    summary="tus: append bytes at Upload-Offset",
    response_class=Response,
    responses={
        204: {"description": "Stored; Upload-Offset is the new offset"},
        **_errors(*_COMMON, 403, 409, 413, 415, 460),
    },
    openapi_extra=_BODY,
)
async def tus_patch(
    request: Request,
    upload_id: str,
    _version: TusResumable,
    user: CurrentUser,
    service: TusDep,
    upload_offset: Annotated[
        str | None, Header(alias="Upload-Offset", json_schema_extra=_NUMBER)
    ] = None,
    upload_checksum: Annotated[str | None, Header(alias="Upload-Checksum")] = None,
) -> Response:
    return await _patch(request, upload_id, user, service, upload_offset, upload_checksum)


@router.delete(
    "/{upload_id}",
    status_code=204,
    operation_id="tusTerminate",
    summary="tus: terminate the upload (its stored bytes are removed)",
    response_class=Response,
    responses={204: {"description": "Terminated"}, **_errors(*_COMMON)},
)
async def tus_delete(
    upload_id: str, _version: TusResumable, user: CurrentUser, service: TusDep
) -> Response:
    await service.terminate(user, upload_id)
    return Response(status_code=204)


@router.post("/{upload_id}", include_in_schema=False)
async def tus_method_override(
    request: Request,
    upload_id: str,
    _version: TusResumable,
    user: CurrentUser,
    service: TusDep,
) -> Response:
    """``X-HTTP-Method-Override``: PATCH or DELETE sent as POST (for restrictive proxies)."""
    method = request.headers.get("x-http-method-override", "").strip().upper()
    if method == "PATCH":
        headers = request.headers
        return await _patch(
            request,
            upload_id,
            user,
            service,
            headers.get("upload-offset"),
            headers.get("upload-checksum"),
        )
    if method == "DELETE":
        return await tus_delete(upload_id, None, user, service)
    raise MethodNotAllowed("POST on an upload needs X-HTTP-Method-Override: PATCH or DELETE.")
