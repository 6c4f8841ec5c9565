"""POST /api/v2/media/upload/chunk/: every rule of the contract, one test each.

Requests go over HTTP to the real app (``server`` fixture). Where a test needs
bytes on the wire that httpx would not produce (a part order, raw control
characters in a file name, a body that lies about its length), it builds them by
hand.
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from tests.support import (
    CHUNK,
    ChunkClient,
    LiveServer,
    assert_error,
    md5_of,
    noise_image,
    parse_expires,
    pdf_document,
    start_upload,
    starts_like,
)

URL = "/api/v2/media/upload/chunk/"
MiB = 1024 * 1024
BOUNDARY = "----chunkupTestBoundary7MA4YWxkTrZu0gW"


# -- helpers -----------------------------------------------------------------------


def part(name: str, value: bytes, filename: bytes | str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'.encode()
    if filename is not None:
        raw = filename.encode() if isinstance(filename, str) else filename
        disposition += b'; filename="' + raw + b'"'
    head = b"Content-Disposition: " + disposition + b"\r\n"
    if filename is not None:
        head += b"Content-Type: application/octet-stream\r\n"
    return b"--" + BOUNDARY.encode() + b"\r\n" + head + b"\r\n" + value + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"


def post_raw(
    client: ChunkClient,
    body: bytes | Iterator[bytes],
    content_range: str | None,
    content_type: str | None = f"multipart/form-data; boundary={BOUNDARY}",
) -> httpx.Response:
    headers = {}
    if content_range is not None:
        headers["Content-Range"] = content_range
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.http.post(URL, content=body, headers=headers)


# -- Content-Range -----------------------------------------------------------------


def test_missing_content_range_is_content_range_required(client: ChunkClient):
    response = client.chunk(b"x" * 10, 0, 10, content_range="")
    assert "content-range" not in response.request.headers
    assert_error(response, 400, "content_range_required")


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes 0-10", 11),  # no total
        ("bytes 10-5/100", 10),  # end before start
        ("bytes 0-100/100", 101),  # end == total
        ("bytes 0-9/5", 10),  # end beyond total
        ("bytes 0-9/0", 10),  # total 0
        ("bytes 0-9/*", 10),  # unknown total
        ("bytes */10", 10),  # unsatisfied-range form
        ("items 0-9/10", 10),  # other unit
        ("bytes -1-9/10", 10),  # negative start
        ("bytes 0--9/10", 10),  # negative end
        ("bytes=0-9/10", 10),  # Range-header syntax
        ("0-9/10", 10),  # no unit
        ("bytes 0-9", 10),  # no total
        ("bytes 0-/10", 10),  # no end
        ("bytes 0x0-0x9/10", 10),  # hex
        ("bytes 0.0-9.0/10", 10),  # decimals
        ("bytes 0 - 9 / 10", 10),  # spaces inside
        ("bytes 0-9/10, bytes 10-19/20", 10),  # two ranges
        ("bytes 0-9/10/10", 10),  # trailing junk
        ("bytes 0-99999999999999999999999/10", 10),  # overflow
    ],
)
def test_malformed_content_range_is_invalid(client: ChunkClient, header: str, size: int):
    response = client.chunk(b"x" * size, 0, 10, content_range=header)
    assert_error(response, 400, "invalid_content_range")


def test_first_chunk_must_start_at_zero(client: ChunkClient):
    response = client.chunk(b"x" * 100, 100, 300)
    assert_error(response, 400, "invalid_content_range")


# -- the file part -------------------------------------------------------------------


def test_neither_file_part_is_file_part_required(client: ChunkClient):
    response = client.http.post(
        URL,
        files={"offset": (None, "0"), "other": ("x.png", b"x" * 10, "image/png")},
        headers={"Content-Range": "bytes 0-9/10"},
    )
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    assert_error(response, 400, "file_part_required")


def test_both_file_parts_is_file_part_required(client: ChunkClient):
    response = client.http.post(
        URL,
        files=[
            ("image", ("a.png", b"x" * 10, "application/octet-stream")),
            ("document", ("a.pdf", b"x" * 10, "application/octet-stream")),
        ],
        headers={"Content-Range": "bytes 0-9/10"},
    )
    assert_error(response, 400, "file_part_required")


def test_two_image_parts_is_file_part_required(client: ChunkClient):
    response = client.http.post(
        URL,
        files=[
            ("image", ("a.png", b"x" * 10, "application/octet-stream")),
            ("image", ("b.png", b"x" * 10, "application/octet-stream")),
        ],
        headers={"Content-Range": "bytes 0-9/10"},
    )
    assert_error(response, 400, "file_part_required")


@pytest.mark.parametrize("size", [50, 99, 101, 150])
def test_chunk_size_differs_from_range_is_chunk_size_mismatch(client: ChunkClient, size: int):
    response = client.chunk(b"x" * size, 0, 300, content_range="bytes 0-99/300")
    assert_error(response, 400, "chunk_size_mismatch")


def test_chunk_above_limit_is_chunk_too_large(client: ChunkClient):
    data = b"x" * (CHUNK + 1)
    response = client.chunk(data, 0, 1_000_000)
    assert response.request.headers["content-range"] == f"bytes 0-{CHUNK}/1000000"
    assert_error(response, 400, "chunk_too_large")


def test_chunk_of_exactly_the_limit_is_accepted(client: ChunkClient):
    response = client.chunk(starts_like(b"x" * CHUNK), 0, 1_000_000)
    assert response.status_code == 201, response.text
    assert response.json()["offset"] == str(CHUNK)


def test_content_length_far_beyond_a_chunk_is_413_before_reading(server: LiveServer, user_id: int):
    head = (
        f"POST {URL} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token(user_id)}\r\n"
        "Content-Range: bytes 0-9/100\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        "Content-Length: 10000000000\r\n"
        "\r\n"
    ).encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + b"--" + BOUNDARY.encode() + b"\r\n")
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            status = response.status
            raw = response.read()
        finally:
            response.close()
    elapsed = time.monotonic() - started
    assert status == 413
    assert elapsed < 5, f"the 413 took {elapsed:.1f}s"
    body = httpx.Response(413, content=raw, headers={"content-type": "application/json"}).json()
    assert body["code"] == "request_too_large"
    assert isinstance(body["detail"], str) and body["detail"]


# -- size limits of the whole file ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "total"),
    [("image", 5 * MiB + 1), ("document", 50 * MiB + 1), ("image", 10**15)],
)
def test_image_total_above_5mib_is_file_too_large(client: ChunkClient, field: str, total: int):
    response = client.chunk(b"x" * 10, 0, total, field=field)
    assert_error(response, 400, "file_too_large")


@pytest.mark.parametrize(("field", "total"), [("image", 5 * MiB), ("document", 50 * MiB)])
def test_totals_at_the_limits_are_accepted(client: ChunkClient, field: str, total: int):
    response = client.chunk(starts_like(b"x" * 10, field), 0, total, field=field)
    assert response.status_code == 201, response.text


def test_document_above_the_image_limit_is_accepted(client: ChunkClient):
    response = client.chunk(starts_like(b"x" * 10, "document"), 0, 5 * MiB + 1, field="document")
    assert response.status_code == 201, response.text


# -- later chunks: which upload -----------------------------------------------------


def test_unknown_upload_id_is_404(client: ChunkClient):
    response = client.chunk(b"x" * 100, 100, 300, upload_id="0" * 32)
    assert_error(response, 404, "upload_not_found")


def test_other_users_upload_id_is_404_upload_not_found(
    client: ChunkClient, other_client: ChunkClient
):
    upload_id = start_upload(client)
    response = other_client.chunk(b"b" * 100, 100, 300, upload_id=upload_id)
    assert_error(response, 404, "upload_not_found")
    # and it did not touch the owner's upload
    assert client.status(upload_id).json()["ranges"] == [[0, 99]]


@pytest.mark.parametrize(
    "upload_id",
    [
        "' OR 1=1 --",
        "'; DROP TABLE uploads; --",
        "../../x",
        "..\\..\\x",
        "%2e%2e%2fx",
        "a" * 5000,
        "0" * 31,
        "0" * 33,
        "A" * 32,
    ],
)
def test_sql_or_path_fragment_upload_ids_are_404(
    server: LiveServer, client: ChunkClient, upload_id: str
):
    start_upload(client)  # there is data to find, had the id been used as SQL or a path
    response = client.chunk(b"x" * 100, 100, 300, upload_id=upload_id)
    assert_error(response, 404, "upload_not_found")
    data_dir = Path(server.settings.data_dir)
    assert not (data_dir.parent / "x").exists()
    assert not (data_dir / "storage" / "x").exists()


@pytest.mark.own_server  # moves the server's clock
def test_expired_upload_is_410(server: LiveServer, client: ChunkClient):
    upload_id = start_upload(client)
    server.clock.advance(timedelta(hours=24, seconds=1))
    response = client.chunk(b"b" * 100, 100, 300, upload_id=upload_id)
    assert_error(response, 410, "upload_expired")


@pytest.mark.own_server  # moves the server's clock
def test_upload_just_before_its_expiry_still_accepts_chunks(
    server: LiveServer, client: ChunkClient
):
    upload_id = start_upload(client)
    server.clock.advance(timedelta(hours=23, minutes=59, seconds=59))
    response = client.chunk(b"b" * 100, 100, 300, upload_id=upload_id)
    assert response.status_code == 201, response.text


def test_completed_upload_rejects_chunks_with_upload_completed(client: ChunkClient):
    data = noise_image(40, 30)
    upload_id = client.upload_chunks(data, filename="small.png")
    assert client.complete(upload_id, md5_of(data)).status_code == 201
    again = client.chunk(data, 0, len(data), upload_id=upload_id)
    assert_error(again, 400, "upload_completed")


def test_total_mismatch(client: ChunkClient):
    upload_id = start_upload(client, total=300)
    response = client.chunk(b"b" * 100, 100, 400, upload_id=upload_id)
    assert_error(response, 400, "total_mismatch")


def test_field_mismatch(client: ChunkClient):
    upload_id = start_upload(client, total=300, field="image")
    response = client.chunk(b"b" * 100, 100, 300, upload_id=upload_id, field="document")
    assert_error(response, 400, "field_mismatch")


def test_field_mismatch_the_other_way(client: ChunkClient):
    upload_id = start_upload(client, total=300, field="document")
    response = client.chunk(b"b" * 100, 100, 300, upload_id=upload_id, field="image")
    assert_error(response, 400, "field_mismatch")


# -- the response ----------------------------------------------------------------------


def test_response_is_201_with_upload_id_offset_expires(server: LiveServer, client: ChunkClient):
    created = server.clock.now
    response = client.chunk(starts_like(b"x" * 100), 0, 300)
    assert response.status_code == 201, response.text
    body = response.json()
    assert {"upload_id", "offset", "expires"} <= set(body)
    assert re.fullmatch(r"[0-9a-fA-F]{32,}", body["upload_id"]), body["upload_id"]
    assert body["offset"] == "100"
    expires = parse_expires(body["expires"])
    assert abs(expires - (created + timedelta(hours=24))) <= timedelta(seconds=5)
    other = client.chunk(starts_like(b"x" * 100), 0, 300).json()["upload_id"]
    assert other != body["upload_id"]


def test_offset_is_contiguous_bytes_as_string(client: ChunkClient):
    first = client.chunk(starts_like(b"a" * 100), 0, 400)
    assert first.json()["offset"] == "100"
    upload_id = first.json()["upload_id"]
    gap = client.chunk(b"c" * 100, 200, 400, upload_id=upload_id)
    assert gap.status_code == 201 and gap.json()["offset"] == "100"
    filled = client.chunk(b"b" * 100, 100, 400, upload_id=upload_id)
    assert filled.status_code == 201 and filled.json()["offset"] == "300"
    last = client.chunk(b"d" * 100, 300, 400, upload_id=upload_id)
    assert last.json()["offset"] == "400"
    assert isinstance(last.json()["offset"], str)


# -- expires -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt", ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%dT%H:%M:%S"]
)
def test_expires_in_the_past_is_invalid_expires(server: LiveServer, client: ChunkClient, fmt):
    past = (server.clock.now - timedelta(hours=1)).strftime(fmt)
    response = client.chunk(starts_like(b"x" * 100), 0, 300, extra={"expires": past})
    assert_error(response, 400, "invalid_expires")


def test_expires_in_the_past_on_a_later_chunk_is_invalid_expires(
    server: LiveServer, client: ChunkClient
):
    upload_id = start_upload(client)
    past = (server.clock.now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = client.chunk(b"b" * 100, 100, 300, upload_id=upload_id, extra={"expires": past})
    assert_error(response, 400, "invalid_expires")


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-45T99:00:00Z", "1e9", "2" * 5000])
def test_expires_that_is_not_iso_8601_is_invalid_expires(client: ChunkClient, value: str):
    response = client.chunk(starts_like(b"x" * 100), 0, 300, extra={"expires": value})
    assert_error(response, 400, "invalid_expires")


def test_expires_is_clamped_to_the_server_maximum(server: LiveServer, client: ChunkClient):
    created = server.clock.now
    far = (created + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = client.chunk(starts_like(b"x" * 100), 0, 300, extra={"expires": far})
    assert response.status_code == 201, response.text
    assert parse_expires(response.json()["expires"]) == created + timedelta(hours=24)


@pytest.mark.own_server  # moves the server's clock
def test_expires_on_a_later_chunk_cannot_extend_past_24h_from_the_first(
    server: LiveServer, client: ChunkClient
):
    created = server.clock.now
    upload_id = start_upload(client)
    server.clock.advance(timedelta(hours=20))
    far = (server.clock.now + timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = client.chunk(b"b" * 100, 100, 300, upload_id=upload_id, extra={"expires": far})
    assert response.status_code == 201, response.text
    assert parse_expires(response.json()["expires"]) == created + timedelta(hours=24)


@pytest.mark.own_server  # moves the server's clock
@pytest.mark.parametrize("offset", ["Z", "+00:00", "+02:00", "-05:30"])
def test_requested_expires_shorter_is_honoured(
    server: LiveServer, client: ChunkClient, offset: str
):
    wanted = server.clock.now + timedelta(hours=1)
    zone = UTC if offset == "Z" else datetime.strptime(offset, "%z").tzinfo
    text = wanted.astimezone(zone).isoformat().replace("+00:00", offset if offset != "Z" else "Z")
    response = client.chunk(starts_like(b"x" * 100), 0, 300, extra={"expires": text})
    assert response.status_code == 201, response.text
    body = response.json()
    assert parse_expires(body["expires"]) == wanted, (text, body["expires"])
    assert parse_expires(client.status(body["upload_id"]).json()["expires"]) == wanted
    server.clock.advance(timedelta(hours=1, seconds=1))
    late = client.chunk(b"b" * 100, 100, 300, upload_id=body["upload_id"])
    assert_error(late, 410, "upload_expired")


# -- overlaps, retries, order ------------------------------------------------------------


def test_retry_of_stored_chunk_is_accepted_once(server: LiveServer, client: ChunkClient):
    data = starts_like(bytes(random.Random(1).randrange(256) for _ in range(3 * 1000)))
    first = client.chunk(data[:1000], 0, 3000)
    upload_id = first.json()["upload_id"]
    second = client.chunk(data[1000:2000], 1000, 3000, upload_id=upload_id)
    assert second.status_code == 201, second.text
    before = client.status(upload_id).json()
    retry = client.chunk(data[1000:2000], 1000, 3000, upload_id=upload_id)
    assert retry.status_code == 201, retry.text
    assert retry.json() == second.json()
    assert client.status(upload_id).json()["ranges"] == before["ranges"] == [[0, 1999]]
    # one object per stored range: the first chunk and the (once-stored) second one
    assert len(server.chunk_records(upload_id)) == 2
    assert server.unreferenced_chunk_bytes(upload_id) == 0


def test_retry_of_the_first_chunk_with_its_upload_id_is_accepted(client: ChunkClient):
    first = client.chunk(starts_like(b"a" * 100), 0, 300)
    upload_id = first.json()["upload_id"]
    retry = client.chunk(starts_like(b"a" * 100), 0, 300, upload_id=upload_id)
    assert retry.status_code == 201, retry.text
    assert retry.json()["upload_id"] == upload_id and retry.json()["offset"] == "100"


def test_same_range_different_bytes_is_409_range_conflict_with_offset(client: ChunkClient):
    upload_id = start_upload(client, total=300)
    response = client.chunk(starts_like(b"Z" * 100), 0, 300, upload_id=upload_id)
    body = assert_error(response, 409, "range_conflict")
    assert body["offset"] == "100"
    assert client.status(upload_id).json()["ranges"] == [[0, 99]]


@pytest.mark.parametrize(
    ("start", "end"),
    [(50, 149), (0, 49), (10, 19), (90, 109), (150, 249), (250, 349), (0, 399)],
)
def test_partial_overlap_is_409(client: ChunkClient, start: int, end: int):
    # stored: 0-99 and 200-299 of 400
    upload_id = start_upload(client, total=400)
    assert client.chunk(b"c" * 100, 200, 400, upload_id=upload_id).status_code == 201
    data = starts_like(b"a" * (end - start + 1))  # a first chunk must look like an image
    response = client.chunk(data, start, 400, upload_id=upload_id)
    body = assert_error(response, 409, "range_conflict")
    assert body["offset"] == "100"
    assert client.status(upload_id).json()["ranges"] == [[0, 99], [200, 299]]


def test_out_of_order_chunks_complete_correctly(client: ChunkClient):
    data = noise_image(600, 500)
    count = -(-len(data) // CHUNK)
    assert count >= 5
    order = list(range(count - 1))
    random.Random(7).shuffle(order)
    order.reverse()
    upload_id = client.upload_chunks(data, filename="shuffled.png", order=order)
    response = client.complete(upload_id, md5_of(data))
    assert response.status_code == 201, response.text
    media = response.json()
    assert media["size"] == len(data)
    assert httpx.get(media["image"]).content == data


def test_parallel_chunks_complete_correctly(client: ChunkClient):
    data = noise_image(600, 500)
    first = client.chunk(data[:CHUNK], 0, len(data), filename="parallel.png")
    upload_id = first.json()["upload_id"]
    starts = list(range(CHUNK, len(data), CHUNK))
    with ThreadPoolExecutor(max_workers=len(starts)) as pool:
        responses = list(
            pool.map(
                lambda s: client.chunk(data[s : s + CHUNK], s, len(data), upload_id=upload_id),
                starts,
            )
        )
    assert [r.status_code for r in responses] == [201] * len(starts), [r.text for r in responses]
    assert client.status(upload_id).json()["ranges"] == [[0, len(data) - 1]]
    response = client.complete(upload_id, md5_of(data))
    assert response.status_code == 201, response.text
    assert httpx.get(response.json()["image"]).content == data


def test_racing_identical_chunks_are_all_accepted_and_stored_once(
    server: LiveServer, client: ChunkClient
):
    upload_id = start_upload(client, total=300)
    barrier = threading.Barrier(8)

    def send(_: int) -> httpx.Response:
        barrier.wait()
        return client.chunk(b"b" * 100, 100, 300, upload_id=upload_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(8)))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert client.status(upload_id).json()["ranges"] == [[0, 199]]
    assert len(server.chunk_records(upload_id)) == 2
    assert server.unreferenced_chunk_bytes(upload_id) == 0  # the losers' bytes are gone


def test_racing_different_chunks_for_one_range_store_exactly_one(
    server: LiveServer, client: ChunkClient
):
    upload_id = start_upload(client, total=300)
    barrier = threading.Barrier(8)

    def send(i: int) -> httpx.Response:
        barrier.wait()
        return client.chunk(bytes([65 + i]) * 100, 100, 300, upload_id=upload_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "range_conflict")
    assert len(server.chunk_records(upload_id)) == 2
    assert server.unreferenced_chunk_bytes(upload_id) == 0  # the losers' bytes are gone


# -- wire format ---------------------------------------------------------------------


def test_other_parts_like_offset_are_ignored(client: ChunkClient):
    first = client.chunk(starts_like(b"a" * 100), 0, 300, extra={"offset": "250", "foo": "bar"})
    assert first.status_code == 201, first.text
    assert first.json()["offset"] == "100"
    upload_id = first.json()["upload_id"]
    second = client.chunk(
        b"b" * 100, 100, 300, upload_id=upload_id, extra={"offset": "0", "comment": "x" * 1000}
    )
    assert second.status_code == 201, second.text
    assert second.json()["offset"] == "200"


def test_upload_id_sent_after_the_file_part_is_honoured(client: ChunkClient):
    upload_id = start_upload(client, total=300)
    body = multipart(
        part("image", b"b" * 100, "blob"),
        part("offset", b"100"),
        part("upload_id", upload_id.encode()),
    )
    assert body.index(b'name="image"') < body.index(b'name="upload_id"')
    response = post_raw(client, body, "bytes 100-199/300")
    assert response.status_code == 201, response.text
    assert response.json()["upload_id"] == upload_id
    assert response.json()["offset"] == "200"


def test_chunked_transfer_encoding_works(client: ChunkClient):
    data = noise_image(400, 300)
    assert len(data) > CHUNK
    upload_id = None
    for start in range(0, len(data), CHUNK):
        piece = data[start : start + CHUNK]
        parts = [part("image", piece, "chunked.png")]
        if upload_id is not None:
            parts.insert(0, part("upload_id", upload_id.encode()))
        body = multipart(*parts)

        def pieces(body: bytes = body) -> Iterator[bytes]:
            for i in range(0, len(body), 8192):
                yield body[i : i + 8192]

        end = start + len(piece) - 1
        response = post_raw(client, pieces(), f"bytes {start}-{end}/{len(data)}")
        assert response.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.request.headers
        assert response.status_code == 201, response.text
        upload_id = response.json()["upload_id"]
    assert upload_id is not None
    done = client.complete(upload_id, md5_of(data))
    assert done.status_code == 201, done.text
    assert httpx.get(done.json()["image"]).content == data


def test_chunked_body_above_the_chunk_limit_is_refused(client: ChunkClient):
    body = multipart(part("image", b"x" * (CHUNK + 1), "big.png"))

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    response = post_raw(client, pieces(), f"bytes 0-{CHUNK}/1000000")
    assert response.status_code in (400, 413), response.text
    assert response.json()["code"] in ("chunk_too_large", "request_too_large")


HOSTILE_NAMES = [
    b"../../etc/passwd.png",
    b"..\\..\\..\\windows\\system32\\evil.png",
    b"/etc/passwd.png",
    b"a\x00b\x01c\x1f.png",
    b"evil%0D%0ASet-Cookie: x=1.png",
    b"..%2F..%2Fetc%2Fpasswd.png",
    b"x" * 4096 + b".png",
    b"CON.png",
    b"..",
    b"\xff\xfe\xfd.png",
]


@pytest.mark.parametrize("field", ["image", "document"])
@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n[:30]))
def test_hostile_filename_is_sanitized(
    server: LiveServer, client: ChunkClient, tmp_path: Path, name: bytes, field: str
):
    data_dir = Path(server.settings.data_dir).resolve()
    if field == "image":
        data = noise_image(40, 30)
    else:
        data = pdf_document(pages=1, width=40, height=30)
    assert len(data) <= CHUNK
    response = post_raw(
        client, multipart(part(field, data, name)), f"bytes 0-{len(data) - 1}/{len(data)}"
    )
    assert response.status_code in (201, 400), response.text
    assert "Traceback" not in response.text
    if response.status_code == 400:
        assert isinstance(response.json()["code"], str)
        return
    done = client.complete(response.json()["upload_id"], md5_of(data))
    assert done.status_code in (201, 400), done.text
    assert "Traceback" not in done.text
    # nothing was written outside the data dir
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and data_dir not in p.parents]
    assert outside == []
    assert not Path("/etc/passwd.png").exists()
    for path in data_dir.rglob("*"):
        assert data_dir in path.resolve().parents
    if done.status_code != 201:
        return
    media = done.json()
    link = media["image"] if field == "image" else media["url"]
    title = media["title"]
    if title is not None:
        assert "/" not in title and "\\" not in title and title not in (".", ".."), title
        assert not any(c in title for c in "\x00\r\n"), title
        assert len(title) <= 255
    path = unquote(urlsplit(link).path)
    assert ".." not in path.split("/") and "." not in path.split("/"), link
    for value in (title or "", link, path):
        assert "../" not in value and "..\\" not in value and "/etc/" not in value, value
    assert len(link) < 1000
    served = httpx.get(link)
    assert served.status_code == 200
    assert served.content == data
    assert "set-cookie" not in served.headers


# -- broken bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("multipart/form-data", multipart(part("image", b"x" * 10)), id="no-boundary"),
        pytest.param(
            f"multipart/form-data; boundary={BOUNDARY}",
            b"\x00\x01garbage that is no multipart body at all\xff" * 20,
            id="garbage",
        ),
        pytest.param(
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(part("image", b"x" * 10))[: -len(BOUNDARY) - 6],
            id="unterminated",
        ),
        pytest.param(
            f"multipart/form-data; boundary={BOUNDARY}",
            b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=",
            id="cut-in-headers",
        ),
        pytest.param(
            f"multipart/form-data; boundary={BOUNDARY}",
            b"--"
            + BOUNDARY.encode()
            + b"\r\nX-Nothing: 1\r\n\r\nxxxxxxxxxx\r\n"
            + b"--"
            + BOUNDARY.encode()
            + b"--\r\n",
            id="part-without-disposition",
        ),
        pytest.param(f"multipart/form-data; boundary={BOUNDARY}", b"", id="empty"),
        pytest.param("application/json", b'{"image": "xxxxxxxxxx"}', id="json"),
        pytest.param(None, b"x" * 10, id="no-content-type"),
    ],
)
def test_broken_multipart_is_400(client: ChunkClient, content_type: str | None, body: bytes):
    response = post_raw(client, body, "bytes 0-9/10", content_type=content_type)
    assert response.status_code == 400, response.text
    error = response.json()
    assert isinstance(error["detail"], str) and error["detail"]
    assert isinstance(error["code"], str) and error["code"]
    assert "Traceback" not in response.text


# -- authentication ------------------------------------------------------------------------


def test_chunk_without_token_is_401(server: LiveServer):
    with server.client(None) as anonymous:
        response = anonymous.chunk(b"x" * 10, 0, 10)
    assert response.status_code == 401, response.text
    assert isinstance(response.json()["code"], str) and response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
