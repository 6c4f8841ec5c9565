"""Reading one chunk's ``multipart/form-data`` body.

The body is small by the contract's rule (a chunk is at most 204800 bytes), so
it is collected whole, up to the chunk limit plus room for the envelope, with
every limit enforced while it streams in; it is then split with ``find``,
which scans for the boundary in C. The chunk's bytes are handed on as a view
of that one buffer: no per-part callbacks and no second copy, which is what a
push parser cost per chunk (a third of the request's CPU, by profile). Parts
other than the contract's are skipped; parts and header lines are capped.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import parse_options_header

from chunkup.api.idle import pieces_within
from chunkup.errors import (
    ChunkTooLarge,
    FilePartRequired,
    InvalidBody,
    PayloadTooLarge,
)
from chunkup.models import Kind

FILE_FIELDS = {"image": Kind.IMAGE, "document": Kind.DOCUMENT}
TEXT_FIELDS = frozenset({"upload_id", "expires", "offset"})
MAX_TEXT_FIELD = 4096
MAX_PARTS = 16
MAX_HEADER = 8192
MAX_HEADERS = 16
ENVELOPE = 64 * 1024  # boundaries, part headers and small fields around a chunk
_SIMPLE_DISPOSITION = re.compile(rb'form-data; name="([^"\\]*)"(?:; filename="([^"\\]*)")?')
_TOKEN_BYTES = frozenset(
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


@dataclass(slots=True)
class ChunkForm:
    kind: Kind | None = None
    data: memoryview = field(default_factory=lambda: memoryview(b""))
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    file_parts: int = 0


def max_body_bytes(chunk_limit: int) -> int:
    return chunk_limit + ENVELOPE


def boundary_of(content_type: str | None) -> bytes:
    if not content_type:
        raise InvalidBody("Content-Type multipart/form-data is required.")
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise InvalidBody("Content-Type multipart/form-data is required.")
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise InvalidBody("The multipart Content-Type has no valid boundary.")
    return boundary


def _decode_filename(raw: bytes) -> str:
    # browsers escape these three in multipart file names (WHATWG HTML)
    text = raw.decode("utf-8", "surrogateescape")
    return text.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


def _part_headers(block: memoryview) -> dict[bytes, bytes]:
    """A part's header lines (``Name: value``), names lower-cased."""
    headers: dict[bytes, bytes] = {}
    lines = bytes(block).split(b"\r\n")
    if len(lines) > MAX_HEADERS:
        raise InvalidBody("A multipart part has too many header lines.")
    for line in lines:
        if len(line) > MAX_HEADER:
            raise InvalidBody("A multipart header line is too long.")
        name, colon, value = line.partition(b":")
        if not colon or not name or not _TOKEN_BYTES.issuperset(name):
            raise InvalidBody(
                "The multipart body is malformed: a part header is not 'Name: value'."
            )
        headers[name.lower()] = value.strip(b" \t")
    return headers


def split_form(
    body: bytearray,
    boundary: bytes,
    *,
    text_fields: frozenset[str],
    file_fields: dict[str, Kind],
    file_limit: int,
) -> ChunkForm:
    """The contract's parts of a whole multipart body (RFC 7578), within limits."""
    form = ChunkForm()
    view = memoryview(body)
    delimiter = b"\r\n--" + boundary
    if body.startswith(delimiter[2:]):
        at = 0
    else:
        at = body.find(delimiter)
        if at < 0:
            raise InvalidBody("The multipart body does not contain its boundary.")
        at += 2
    parts = 0
    while True:
        at += len(delimiter) - 2
        if body[at : at + 2] == b"--":
            return form
        line_end = body.find(b"\r\n", at, at + 256)
        if line_end < 0 or body[at:line_end].strip(b" \t"):
            raise InvalidBody("The multipart body is malformed: a boundary line is broken.")
        parts += 1
        if parts > MAX_PARTS:
            raise InvalidBody(f"At most {MAX_PARTS} multipart parts are accepted.")
        headers_start = line_end + 2
        if body[headers_start : headers_start + 2] == b"\r\n":
            headers_end = 0  # a part without headers
        else:
            window = headers_start + MAX_HEADERS * (MAX_HEADER + 2)
            headers_end = body.find(b"\r\n\r\n", headers_start, window)
            if headers_end < 0:
                if len(body) >= window:
                    raise InvalidBody("A multipart header line is too long.")
                raise InvalidBody("The multipart body ended before its closing boundary.")
        content_start = headers_end + 4 if headers_end else headers_start + 2
        next_at = body.find(delimiter, content_start)
        if next_at < 0:
            raise InvalidBody("The multipart body ended before its closing boundary.")
        headers = (
            _part_headers(view[headers_start:headers_end]) if headers_end > headers_start else {}
        )
        _take_part(form, headers, view[content_start:next_at], text_fields, file_fields, file_limit)
        at = next_at + 2


def _disposition(value: bytes | None) -> dict[bytes, bytes]:
    """A ``form-data`` part's Content-Disposition parameters (``name``, ``filename``).

    What browsers and HTTP libraries send is matched at once; anything else
    (other spacing or case, escapes, RFC 2231 names) goes through the full
    parser, which cost a chunk more than finding its boundary.
    """
    simple = _SIMPLE_DISPOSITION.fullmatch(value) if value else None
    if simple is not None:
        name, filename = simple.groups()
        return {b"name": name} if filename is None else {b"name": name, b"filename": filename}
    disposition, options = parse_options_header(value)
    if disposition != b"form-data" or b"name" not in options:
        raise InvalidBody("A multipart part has no form-data name.")
    return options


def _take_part(
    form: ChunkForm,
    headers: dict[bytes, bytes],
    content: memoryview,
    text_fields: frozenset[str],
    file_fields: dict[str, Kind],
    file_limit: int,
) -> None:
    options = _disposition(headers.get(b"content-disposition"))
    name = options[b"name"].decode("utf-8", "replace")
    if name in file_fields:
        form.file_parts += 1
        if form.file_parts > 1:
            raise FilePartRequired()
        if len(content) > file_limit:
            raise ChunkTooLarge(f"A chunk may carry at most {file_limit} bytes.")
        form.kind = file_fields[name]
        if b"filename" in options:
            form.filename = _decode_filename(options[b"filename"])
        form.data = content
    elif name in text_fields:
        # an overlong value is kept cut (it can be no valid id or time), so the
        # field's own rule answers it: upload_not_found, invalid_expires
        raw = bytes(content[: MAX_TEXT_FIELD + 1])
        form.fields[name] = raw.decode("utf-8", "replace").strip()


async def _collect(body: AsyncIterator[bytes], *, limit: int, idle_timeout: float) -> bytearray:
    """The whole body, at most ``limit`` bytes, cut off if it stalls (``pieces_within``)."""
    received = bytearray()
    async for piece in pieces_within(body, idle_timeout):
        received += piece
        if len(received) > limit:
            raise PayloadTooLarge()
    return received


async def read_body(body: AsyncIterator[bytes], *, limit: int, idle_timeout: float) -> bytes:
    """A small body, whole: at most ``limit`` bytes, each piece within ``idle_timeout``."""
    return bytes(await _collect(body, limit=limit, idle_timeout=idle_timeout))


async def read_multipart(
    content_type: str | None,
    body: AsyncIterator[bytes],
    *,
    text_fields: frozenset[str],
    file_fields: dict[str, Kind] | None = None,
    file_limit: int = 0,
    body_limit: int,
    idle_timeout: float = 30.0,
) -> ChunkForm:
    """Collect a multipart body within ``body_limit`` and split it into its parts."""
    boundary = boundary_of(content_type)
    received = await _collect(body, limit=body_limit, idle_timeout=idle_timeout)
    return split_form(
        received,
        boundary,
        text_fields=text_fields,
        file_fields=file_fields or {},
        file_limit=file_limit,
    )


async def read_chunk_form(
    content_type: str | None,
    body: AsyncIterator[bytes],
    *,
    chunk_limit: int,
    idle_timeout: float = 30.0,
) -> ChunkForm:
    """The parts of one chunk request: exactly one file part and the contract's fields."""
    form = await read_multipart(
        content_type,
        body,
        text_fields=TEXT_FIELDS,
        file_fields=FILE_FIELDS,
        file_limit=chunk_limit,
        body_limit=max_body_bytes(chunk_limit),
        idle_timeout=idle_timeout,
    )
    if form.kind is None:
        raise FilePartRequired()
    return form
