"""The public file URLs: ``/media/<token>/<name>``, no token needed, as a CDN serves.

A Media's file, and the thumbnail and preview its record names under the same
token (``/media/<token>/thumbnail/<name>.webp``); no other key is served.

Single byte ranges (``206``), conditional requests on the ETag, immutable
caching, and headers that keep a browser from reinterpreting user bytes.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from chunkup.api.deps import ServicesDep
from chunkup.api.errors import error_response
from chunkup.api.schemas import ErrorBody
from chunkup.errors import NotFound, RangeNotSatisfiable
from chunkup.media import stored
from chunkup.uploads import keys

router = APIRouter(tags=["files"])
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII)
# more digits than this is past the end of any file; Python refuses to convert
# more than 4300 digits at all (ValueError), and need not convert 4000
_PAST_ANY_FILE = 1 << 63


def _position(digits: str) -> int:
    """A byte position of a ``Range`` header, however many digits it has."""
    digits = digits.lstrip("0") or "0"
    return _PAST_ANY_FILE if len(digits) > 18 else int(digits)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one satisfiable range of a ``Range`` header, or ``None`` to send it all.

    Syntax we do not serve (several ranges, other units) is ignored as RFC 9110
    allows; a well-formed range wholly past the end is 416.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = _position(last)
        if length == 0:
            raise RangeNotSatisfiable()
        return max(0, size - length), size - 1
    start = _position(first)
    end = min(_position(last), size - 1) if last else size - 1
    if last and _position(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable()
    return start, end


def _disposition(filename: str) -> str:
    fallback = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


async def get_file(token: str, name: str, request: Request, services: ServicesDep) -> Response:
    media = await services.library.by_file_token(token) if keys.is_upload_id(token) else None
    key = keys.media_key(token, name)
    # exactly the keys the Media names: its file, its thumbnail, a document's preview
    mimetype = stored.served_files(media).get(key) if media is not None else None
    if media is None or mimetype is None:
        raise NotFound("No such file.")
    info = await services.storage.stat(key)
    headers = {
        "ETag": info.etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if not media.type.is_image and key == media.file_key:
        headers["Content-Disposition"] = _disposition(media.filename)
    if info.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    try:
        byte_range = parse_range(request.headers.get("range"), info.size)
    except RangeNotSatisfiable as exc:
        refused = error_response(exc)  # the contract's JSON error, like every other
        refused.headers["Content-Range"] = f"bytes */{info.size}"
        refused.headers["X-Content-Type-Options"] = "nosniff"
        return refused
    status = 200
    start, end = 0, info.size - 1
    if byte_range is not None:
        if_range = request.headers.get("if-range")
        if if_range is None or if_range == info.etag:
            status = 206
            start, end = byte_range
            headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    headers["Content-Length"] = str(end - start + 1 if info.size else 0)
    if request.method == "HEAD" or info.size == 0:
        return Response(status_code=status, headers=headers, media_type=mimetype)
    return StreamingResponse(
        services.storage.read(key, start, end),
        status_code=status,
        headers=headers,
        media_type=mimetype,
    )


for _method in ("GET", "HEAD"):
    router.add_api_route(
        "/media/{token}/{name:path}",
        get_file,
        methods=[_method],
        operation_id=f"{_method.lower()}MediaFile",
        summary="A media's file bytes (public, unguessable URL)",
        response_class=Response,
        responses={
            200: {"description": "The file", "content": {"application/octet-stream": {}}},
            206: {"description": "The requested byte range"},
            304: {"description": "Not modified (If-None-Match)"},
            404: {"model": ErrorBody, "description": "No such file"},
            416: {"description": "Range not satisfiable"},
        },
    )
