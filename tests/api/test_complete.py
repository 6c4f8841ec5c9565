"""POST /api/v2/media/upload/complete/: every rule and error code of the contract."""

from __future__ import annotations

import os
import secrets
import threading
from datetime import timedelta

import httpx
import pytest

from tests.support import (
    CHUNK,
    ChunkClient,
    LiveServer,
    assert_error,
    md5_of,
    noise_image,
    pdf_document,
    starts_like,
)

COMPLETE = "/api/v2/media/upload/complete/"
MiB = 1024 * 1024


def small_png() -> bytes:
    return noise_image(32, 24)


def post_complete(client: ChunkClient, body: dict[str, str], as_: str) -> httpx.Response:
    """The complete call with exactly the fields given (none added)."""
    if as_ == "json":
        return client.http.post(COMPLETE, json=body)
    if as_ == "multipart":
        return client.http.post(COMPLETE, files={k: (None, v) for k, v in body.items()})
    return client.http.post(COMPLETE, data=body)


# -- the body's three encodings ------------------------------------------------------------


@pytest.mark.parametrize("as_", ["form", "json", "multipart"])
def test_complete_accepts_the_body_as_form_json_and_multipart(client: ChunkClient, as_: str):
    data = small_png()
    upload_id = client.upload_chunks(data, filename="pic.png")
    response = client.complete(upload_id, md5_of(data), as_=as_)
    assert response.status_code == 201, response.text
    media = response.json()
    assert media["type"] == "image"
    assert media["size"] == len(data)
    assert media["mimetype"] == "image/png"
    assert (media["image_width"], media["image_height"]) == (32, 24)


def test_complete_accepts_an_upper_case_md5(client: ChunkClient):
    data = small_png()
    upload_id = client.upload_chunks(data)
    response = client.complete(upload_id, md5_of(data).upper())
    assert response.status_code == 201, response.text
    assert response.json()["type"] == "image"


# -- which upload ----------------------------------------------------------------------------


def test_complete_of_an_unknown_upload_id_is_404_upload_not_found(client: ChunkClient):
    response = client.complete(secrets.token_hex(16), md5_of(b"x"))
    assert_error(response, 404, "upload_not_found")


def test_complete_of_a_malformed_upload_id_is_404_upload_not_found(client: ChunkClient):
    response = client.complete("../../etc/passwd", md5_of(b"x"))
    assert_error(response, 404, "upload_not_found")


def test_complete_of_another_users_upload_is_404_upload_not_found(
    client: ChunkClient, other_client: ChunkClient
):
    data = small_png()
    upload_id = client.upload_chunks(data)
    response = other_client.complete(upload_id, md5_of(data))
    assert_error(response, 404, "upload_not_found")
    # and the owner can still complete it
    assert client.complete(upload_id, md5_of(data)).status_code == 201


def test_complete_of_another_users_completed_upload_is_404_upload_not_found(
    client: ChunkClient, other_client: ChunkClient
):
    data = small_png()
    upload_id = client.upload_chunks(data)
    assert client.complete(upload_id, md5_of(data)).status_code == 201
    response = other_client.complete(upload_id, md5_of(data))
    assert_error(response, 404, "upload_not_found")


@pytest.mark.own_server  # moves the server's clock
def test_complete_after_24_hours_and_1_second_is_410_upload_expired(
    server: LiveServer, client: ChunkClient
):
    data = small_png()
    upload_id = client.upload_chunks(data)
    server.clock.advance(timedelta(hours=24, seconds=1))
    response = client.complete(upload_id, md5_of(data))
    assert_error(response, 410, "upload_expired")


@pytest.mark.own_server  # moves the server's clock
def test_complete_just_before_24_hours_still_succeeds(server: LiveServer, client: ChunkClient):
    data = small_png()
    upload_id = client.upload_chunks(data)
    server.clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    response = client.complete(upload_id, md5_of(data))
    assert response.status_code == 201, response.text


# -- missing bytes ---------------------------------------------------------------------------


def test_complete_with_a_missing_middle_chunk_is_400_upload_incomplete_with_exact_ranges(
    client: ChunkClient,
):
    data = starts_like(os.urandom(3 * CHUNK - 100))
    total = len(data)
    first = client.chunk(data[:CHUNK], 0, total)
    assert first.status_code == 201, first.text
    upload_id = first.json()["upload_id"]
    last = client.chunk(data[2 * CHUNK :], 2 * CHUNK, total, upload_id=upload_id)
    assert last.status_code == 201, last.text
    response = client.complete(upload_id, md5_of(data))
    body = assert_error(response, 400, "upload_incomplete")
    assert body["offset"] == str(CHUNK)
    assert body["missing"] == [[CHUNK, 2 * CHUNK - 1]]


def test_complete_with_two_gaps_lists_both_missing_ranges_and_a_string_offset(
    client: ChunkClient,
):
    size = 1000
    data = starts_like(os.urandom(4 * size + 7))
    total = len(data)
    first = client.chunk(data[:size], 0, total)
    assert first.status_code == 201, first.text
    upload_id = first.json()["upload_id"]
    third = client.chunk(data[2 * size : 3 * size], 2 * size, total, upload_id=upload_id)
    assert third.status_code == 201, third.text
    response = client.complete(upload_id, md5_of(data))
    body = assert_error(response, 400, "upload_incomplete")
    assert body["offset"] == "1000"
    assert body["missing"] == [[1000, 1999], [3000, total - 1]]


def test_complete_after_only_the_first_chunk_reports_the_tail_missing(client: ChunkClient):
    data = small_png()
    first = client.chunk(data[:100], 0, len(data))
    assert first.status_code == 201, first.text
    response = client.complete(first.json()["upload_id"], md5_of(data))
    body = assert_error(response, 400, "upload_incomplete")
    assert body["offset"] == "100"
    assert body["missing"] == [[100, len(data) - 1]]


# -- MD5 -------------------------------------------------------------------------------------


def test_complete_with_a_wrong_md5_is_400_md5_mismatch_and_keeps_the_upload(
    client: ChunkClient,
):
    data = small_png()
    upload_id = client.upload_chunks(data)
    wrong = client.complete(upload_id, md5_of(data + b"x"))
    assert_error(wrong, 400, "md5_mismatch")
    right = client.complete(upload_id, md5_of(data))
    assert right.status_code == 201, right.text
    assert right.json()["size"] == len(data)


def test_complete_with_an_md5_that_is_not_hex_is_400_with_the_md5_field(client: ChunkClient):
    data = small_png()
    upload_id = client.upload_chunks(data)
    response = client.complete(upload_id, "not-an-md5")
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body["code"], str) and body["code"]
    assert body["field"] == "md5"


# -- content checks --------------------------------------------------------------------------


def test_text_bytes_uploaded_as_an_image_are_400_invalid_image_at_the_first_chunk(
    client: ChunkClient,
):
    data = b"hello world" * 1000
    response = client.chunk(data, 0, len(data), filename="cat.png")
    assert_error(response, 400, "invalid_image")


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" '
        b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>\n',
        b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
    ],
    ids=["svg", "html"],
)
def test_svg_or_html_bytes_as_an_image_are_400_invalid_image(client: ChunkClient, data: bytes):
    response = client.chunk(data, 0, len(data), filename="x.png")  # refused at once
    assert_error(response, 400, "invalid_image")


def test_a_truncated_png_is_400_invalid_image(client: ChunkClient):
    whole = noise_image(200, 200)
    data = whole[: len(whole) // 2]
    upload_id = client.upload_chunks(data, filename="cut.png")
    response = client.complete(upload_id, md5_of(data))
    assert_error(response, 400, "invalid_image")


def test_a_doc_with_non_pdf_bytes_is_400_invalid_document_at_the_first_chunk(
    client: ChunkClient,
):
    data = b"just some plain text, no PDF here\n" * 100
    response = client.chunk(data, 0, len(data), field="document", filename="notes.pdf")
    assert_error(response, 400, "invalid_document")


def test_a_png_completed_as_doc_is_400_invalid_document(client: ChunkClient):
    data = small_png()
    upload_id = client.upload_chunks(data, field="document", filename="pic.pdf")
    response = client.complete(upload_id, md5_of(data))
    assert_error(response, 400, "invalid_document")


@pytest.mark.parametrize(
    "make",
    [
        lambda: b"%PDF-1.7\n" + os.urandom(5000),
        lambda: b"%PDF-1.4\n%%EOF\n",
        lambda: (lambda whole: whole[: len(whole) // 2])(pdf_document(pages=2)),
    ],
    ids=["garbage", "header-only", "truncated"],
)
def test_a_broken_file_starting_with_pdf_header_is_400_invalid_document(client: ChunkClient, make):
    data = make()
    assert data.startswith(b"%PDF-")
    upload_id = client.upload_chunks(data, field="document", filename="broken.pdf")
    response = client.complete(upload_id, md5_of(data), "doc")
    assert_error(response, 400, "invalid_document")


# -- size and type ---------------------------------------------------------------------------


def test_an_image_of_5_mib_plus_1_byte_is_400_file_too_large(client: ChunkClient):
    data = starts_like(os.urandom(5 * MiB + 1))
    upload_id = client.upload_chunks(data, field="document", filename="big.png")
    response = client.complete(upload_id, md5_of(data), "image")
    assert_error(response, 400, "file_too_large")


def test_an_image_of_exactly_5_mib_is_not_refused_for_its_size(client: ChunkClient):
    data = starts_like(os.urandom(5 * MiB))
    upload_id = client.upload_chunks(data, field="document", filename="big.png")
    response = client.complete(upload_id, md5_of(data), "image")
    # the bytes are noise, so it fails the content check, not the size check
    assert_error(response, 400, "invalid_image")


def test_a_type_outside_the_enum_is_400_invalid_type(client: ChunkClient):
    data = small_png()
    upload_id = client.upload_chunks(data)
    response = client.complete(upload_id, md5_of(data), "video")
    assert_error(response, 400, "invalid_type")


@pytest.mark.parametrize("as_", ["form", "json"])
def test_a_missing_md5_is_400_with_a_code_and_the_md5_field(client: ChunkClient, as_: str):
    data = small_png()
    upload_id = client.upload_chunks(data)
    response = post_complete(client, {"upload_id": upload_id}, as_)
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["field"] == "md5"


@pytest.mark.parametrize("as_", ["form", "json"])
def test_a_missing_upload_id_is_400_with_a_code_and_the_upload_id_field(
    client: ChunkClient, as_: str
):
    response = post_complete(client, {"md5": md5_of(b"x")}, as_)
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["field"] == "upload_id"


# -- idempotence -----------------------------------------------------------------------------


def test_completing_twice_returns_201_and_the_same_media(client: ChunkClient):
    data = small_png()
    upload_id = client.upload_chunks(data)
    first = client.complete(upload_id, md5_of(data))
    second = client.complete(upload_id, md5_of(data))
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.json() == first.json()


def test_ten_concurrent_completes_all_return_the_one_same_media(
    server: LiveServer, client: ChunkClient, user_id: int
):
    data = noise_image(300, 300)
    upload_id = client.upload_chunks(data)
    token = server.token(user_id)
    barrier = threading.Barrier(10)
    results: list[httpx.Response | BaseException] = [None] * 10  # type: ignore[list-item]

    def complete(index: int) -> None:
        try:
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as http:
                barrier.wait(timeout=30)
                results[index] = http.post(
                    COMPLETE, data={"upload_id": upload_id, "md5": md5_of(data)}
                )
        except BaseException as exc:  # reported below
            results[index] = exc

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for result in results:
        assert isinstance(result, httpx.Response), result
        assert result.status_code == 201, result.text
    bodies = [r.json() for r in results]  # type: ignore[union-attr]
    assert all(body == bodies[0] for body in bodies)
    listing = client.http.get("/api/v2/media/")
    assert listing.status_code == 200, listing.text
    assert listing.json()["count"] == 1
    assert listing.json()["results"][0]["id"] == bodies[0]["id"]


# -- the type of the Media -------------------------------------------------------------------


def test_type_eimage_gives_an_eimage_media(client: ChunkClient):
    data = small_png()
    upload_id = client.upload_chunks(data)
    response = client.complete(upload_id, md5_of(data), "eimage")
    assert response.status_code == 201, response.text
    media = response.json()
    assert media["type"] == "eimage"
    assert media["image"] and media["url"] is None


def test_an_image_field_upload_defaults_to_type_image(client: ChunkClient):
    data = small_png()
    upload_id = client.upload_chunks(data, field="image")
    response = client.complete(upload_id, md5_of(data))
    assert response.status_code == 201, response.text
    assert response.json()["type"] == "image"


def test_a_document_field_upload_defaults_to_type_doc(client: ChunkClient):
    data = pdf_document(pages=1, width=100, height=100)
    upload_id = client.upload_chunks(data, field="document", filename="a.pdf")
    response = client.complete(upload_id, md5_of(data))
    assert response.status_code == 201, response.text
    media = response.json()
    assert media["type"] == "doc"
    assert media["url"] and media["title"] == "a.pdf"


def test_an_explicit_type_overrides_the_fields_default(client: ChunkClient):
    data = small_png()
    upload_id = client.upload_chunks(data, field="document", filename="pic.png")
    response = client.complete(upload_id, md5_of(data), "image")
    assert response.status_code == 201, response.text
    assert response.json()["type"] == "image"


# -- storage ---------------------------------------------------------------------------------


def test_the_chunk_directory_is_removed_after_completion(server: LiveServer, client: ChunkClient):
    data = noise_image(300, 300)
    upload_id = client.upload_chunks(data)
    assert server.chunk_objects(upload_id)
    response = client.complete(upload_id, md5_of(data))
    assert response.status_code == 201, response.text
    assert server.chunk_objects(upload_id) == []
