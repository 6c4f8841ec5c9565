"""The multipart reader of chunk requests, on hand-made bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from python_multipart.multipart import parse_options_header

from chunkup.api.multipart import MAX_PARTS, _disposition, read_chunk_form
from chunkup.errors import (
    ChunkTooLarge,
    FilePartRequired,
    InvalidBody,
    PayloadTooLarge,
    RequestTimeout,
)
from chunkup.models import Kind

BOUNDARY = "XyZ123"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def pieces(data: bytes, size: int = 7000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def read(data: bytes, content_type: str = CONTENT_TYPE, limit: int = 1000):
    return asyncio.run(read_chunk_form(content_type, pieces(data), chunk_limit=limit))


def test_file_part_and_fields_are_collected_in_any_order():
    form = read(body(part("image", b"x" * 900, "a.png"), part("upload_id", b"abc")))
    assert form.kind is Kind.IMAGE
    assert bytes(form.data) == b"x" * 900
    assert form.filename == "a.png"
    assert form.fields == {"upload_id": "abc"}


def test_unknown_parts_are_ignored():
    form = read(body(part("offset", b"12"), part("junk", b"zz"), part("document", b"d")))
    assert form.kind is Kind.DOCUMENT and form.fields == {"offset": "12"}


def test_browser_escaped_quotes_in_file_names_are_restored():
    form = read(body(part("image", b"x", "say %22hi%22.png")))
    assert form.filename == 'say "hi".png'


def test_file_part_above_the_chunk_limit_stops_reading():
    with pytest.raises(ChunkTooLarge):
        read(body(part("image", b"x" * 1001)))


def test_body_far_above_the_limit_is_payload_too_large():
    with pytest.raises(PayloadTooLarge):
        read(body(part("junk", b"x" * 200_000)))


def test_two_file_parts_are_refused():
    with pytest.raises(FilePartRequired):
        read(body(part("image", b"x"), part("document", b"y")))


def test_no_file_part_is_refused():
    with pytest.raises(FilePartRequired):
        read(body(part("upload_id", b"abc")))


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "multipart/form-data", "multipart/form-data; boundary="],
)
def test_missing_or_wrong_content_type_is_invalid_body(content_type: str | None):
    with pytest.raises(InvalidBody):
        read(body(part("image", b"x")), content_type=content_type)  # type: ignore[arg-type]


def test_unterminated_body_is_invalid():
    with pytest.raises(InvalidBody):
        read(part("image", b"x" * 10))


def test_garbage_is_invalid():
    with pytest.raises(InvalidBody):
        read(b"\x00\x01 definitely not multipart \r\n\r\n")


def test_too_many_parts_are_refused():
    with pytest.raises(InvalidBody):
        read(body(*[part("junk", b"") for _ in range(MAX_PARTS + 1)]))


def test_a_huge_header_line_is_refused():
    huge = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"\r\nX: '.encode()
    with pytest.raises((InvalidBody, PayloadTooLarge)):
        read(huge + b"a" * 50_000 + b"\r\n\r\nx\r\n" + f"--{BOUNDARY}--\r\n".encode(), limit=10**6)


def test_a_body_that_stalls_is_cut_off_with_request_timeout():
    async def stalling() -> AsyncIterator[bytes]:
        yield part("image", b"x" * 10)
        await asyncio.sleep(5)
        yield b"never"

    async def run() -> None:
        await read_chunk_form(CONTENT_TYPE, stalling(), chunk_limit=1000, idle_timeout=0.05)

    with pytest.raises(RequestTimeout):
        asyncio.run(run())


def test_preamble_and_epilogue_around_the_parts_are_ignored():
    data = b"preamble text\r\n" + body(part("image", b"abc", "a.png")) + b"epilogue"
    form = read(data)
    assert bytes(form.data) == b"abc"


def test_boundary_text_inside_the_file_is_data_unless_it_starts_a_line():
    inner = f"x--{BOUNDARY}y\n--{BOUNDARY}".encode()
    form = read(body(part("image", inner, "a.png")))
    assert bytes(form.data) == inner


def test_body_split_anywhere_gives_the_same_form():
    data = body(part("upload_id", b"u1"), part("document", bytes(range(256)) * 3, "d.bin"))
    whole = read(data)
    for size in (1, 2, 3, 17, 64):
        form = asyncio.run(read_chunk_form(CONTENT_TYPE, pieces(data, size), chunk_limit=1000))
        assert bytes(form.data) == bytes(whole.data) and form.fields == {"upload_id": "u1"}


@pytest.mark.parametrize(
    "headers",
    [b"", b"Content-Disposition form-data\r\n", b"Bad Name: 1\r\n"],
    ids=["no-headers", "no-colon", "space-in-name"],
)
def test_a_part_without_a_well_formed_disposition_is_invalid(headers: bytes):
    data = f"--{BOUNDARY}\r\n".encode() + headers + b"\r\nabc\r\n" + f"--{BOUNDARY}--".encode()
    with pytest.raises(InvalidBody):
        read(data)


def test_a_broken_boundary_line_is_invalid():
    data = f"--{BOUNDARY}garbage\r\n".encode() + part("image", b"x")[len(BOUNDARY) + 4 :]
    with pytest.raises(InvalidBody):
        read(data + f"--{BOUNDARY}--".encode())


@pytest.mark.parametrize(
    "value",
    [
        b'form-data; name="document"; filename="report.pdf"',
        b'form-data; name="upload_id"',
        b'form-data; name=""; filename=""',
        b'form-data; name="image"; filename="%22quoted%22 name.png"',
        b'form-data; name="a\\"b"; filename="x.png"',
        b'FORM-DATA; name="x"',
        b"form-data;name=x;filename=y.png",
        b"form-data; name=\"x\"; filename*=UTF-8''%C3%A9t%C3%A9.png",
        b'form-data; name="x"; filename="C:\\photos\\b.png"',
        b'form-data; filename="x.png"; name="image"',
    ],
)
def test_content_disposition_fast_path_reads_as_the_full_parser(value: bytes) -> None:
    assert _disposition(value) == parse_options_header(value)[1]
