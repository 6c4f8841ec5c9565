"""Reading one chunk's ``multipart/form-data`` body as a stream.

The body is fed to python-multipart's push parser as it arrives, so the only
copy of the chunk is the one buffer it is collected into, and every limit is
enforced while reading: the file part stops at the chunk limit plus one byte,
the whole body at the chunk limit plus room for the envelope, parts and header
lines at small counts. Parts other than the contract's are read past and
dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from chunkup.errors import (
    ChunkTooLarge,
    FilePartRequired,
    InvalidBody,
    PayloadTooLarge,
    RequestTimeout,
)
from chunkup.models import Kind

FILE_FIELDS = {"image": Kind.IMAGE, "document": Kind.DOCUMENT}
TEXT_FIELDS = frozenset({"upload_id", "expires", "offset"})
MAX_TEXT_FIELD = 4096
MAX_PARTS = 16
MAX_HEADER = 8192
ENVELOPE = 64 * 1024  # boundaries, part headers and small fields around a chunk


@dataclass(slots=True)
class ChunkForm:
    kind: Kind | None = None
    data: bytearray = field(default_factory=bytearray)
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


class _Collector:
    """python-multipart callbacks that fill a ``ChunkForm`` within limits."""

    def __init__(
        self, chunk_limit: int, file_fields: dict[str, Kind], text_fields: frozenset[str]
    ) -> None:
        self.form = ChunkForm()
        self.chunk_limit = chunk_limit
        self.file_fields = file_fields
        self.text_fields = text_fields
        self.parts = 0
        self.finished = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._target: str | None = None  # "file", a text field's name, or None (ignored)
        self._text = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise InvalidBody(f"At most {MAX_PARTS} multipart parts are accepted.")
        self._headers = {}
        self._target = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        if len(self._header_value) > MAX_HEADER:
            raise InvalidBody("A multipart header line is too long.")

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise InvalidBody("A multipart part has no form-data name.")
        name = options[b"name"].decode("utf-8", "replace")
        if name in self.file_fields:
            self.form.file_parts += 1
            if self.form.file_parts > 1:
                raise FilePartRequired()
            self.form.kind = self.file_fields[name]
            if b"filename" in options:
                self.form.filename = _decode_filename(options[b"filename"])
            self._target = "file"
        elif name in self.text_fields:
            self._target = name
            self._text.clear()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._target == "file":
            self.form.data += data[start:end]
            if len(self.form.data) > self.chunk_limit:
                raise ChunkTooLarge(f"A chunk may carry at most {self.chunk_limit} bytes.")
        elif self._target is not None and len(self._text) <= MAX_TEXT_FIELD:
            # an overlong value is kept cut (it can be no valid id or time), so the
            # field's own rule answers it: upload_not_found, invalid_expires
            self._text += data[start : min(end, start + MAX_TEXT_FIELD + 1)]

    def on_part_end(self) -> None:
        if self._target not in (None, "file"):
            self.form.fields[self._target] = self._text.decode("utf-8", "replace").strip()

    def on_end(self) -> None:
        self.finished = True


async def _pieces(body: AsyncIterator[bytes], idle_timeout: float) -> AsyncIterator[bytes]:
    """The body's pieces; a client that stalls longer than ``idle_timeout`` is cut off."""
    iterator = aiter(body)
    while True:
        try:
            async with asyncio.timeout(idle_timeout):
                piece = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise RequestTimeout() from exc
        yield piece


async def read_body(body: AsyncIterator[bytes], *, limit: int, idle_timeout: float) -> bytes:
    """A small body, whole: at most ``limit`` bytes, each piece within ``idle_timeout``."""
    received = bytearray()
    async for piece in _pieces(body, idle_timeout):
        received += piece
        if len(received) > limit:
            raise PayloadTooLarge()
    return bytes(received)


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
    """Parse a multipart body while it streams in, enforcing every limit on the way."""
    boundary = boundary_of(content_type)
    collector = _Collector(file_limit, file_fields or {}, text_fields)
    parser = MultipartParser(
        boundary,
        collector.callbacks(),  # type: ignore[arg-type]
        max_header_size=MAX_HEADER,
    )
    received = 0
    try:
        async for piece in _pieces(body, idle_timeout):
            received += len(piece)
            if received > body_limit:
                raise PayloadTooLarge()
            parser.write(piece)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidBody(f"The multipart body is malformed: {exc}") from exc
    if not collector.finished:
        raise InvalidBody("The multipart body ended before its closing boundary.")
    return collector.form


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
