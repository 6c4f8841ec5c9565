"""GET and DELETE /api/v2/media/upload/{upload_id}/: resume status and abort."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support import (
    CHUNK,
    ChunkClient,
    LiveServer,
    assert_error,
    md5_of,
    noise_image,
    parse_expires,
    settings_for,
    start_upload,
    starts_like,
)

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


def url(upload_id: str) -> str:
    return f"/api/v2/media/upload/{upload_id}/"


# -- GET: status -------------------------------------------------------------------------


def test_status_of_an_uploading_upload(server: LiveServer, client: ChunkClient):
    first = client.chunk(starts_like(b"a" * 100), 0, 300, filename="photo.png")
    upload_id = first.json()["upload_id"]
    response = client.status(upload_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["upload_id"] == upload_id
    assert body["offset"] == "100" and isinstance(body["offset"], str)
    assert body["expires"] == first.json()["expires"]
    assert parse_expires(body["expires"]) == server.clock.now + timedelta(hours=24)
    assert body["total"] == 300
    assert body["kind"] == "image"
    assert body["status"] == "uploading"
    assert body["ranges"] == [[0, 99]]


def test_status_kind_is_the_field_name_of_the_first_chunk(client: ChunkClient):
    upload_id = start_upload(client, field="document")
    body = client.status(upload_id).json()
    assert body["kind"] == "document"


def test_status_of_out_of_order_chunks_gives_two_ranges(client: ChunkClient):
    upload_id = start_upload(client, total=500)
    assert client.chunk(b"c" * 100, 300, 500, upload_id=upload_id).status_code == 201
    body = client.status(upload_id).json()
    assert body["ranges"] == [[0, 99], [300, 399]]
    assert body["offset"] == "100"


def test_status_ranges_merge_when_a_gap_is_filled(client: ChunkClient):
    upload_id = start_upload(client, total=500)
    assert client.chunk(b"c" * 100, 300, 500, upload_id=upload_id).status_code == 201
    assert client.chunk(b"e" * 100, 400, 500, upload_id=upload_id).status_code == 201
    assert client.status(upload_id).json()["ranges"] == [[0, 99], [300, 499]]
    assert client.chunk(b"b" * 200, 100, 500, upload_id=upload_id).status_code == 201
    body = client.status(upload_id).json()
    assert body["ranges"] == [[0, 499]]
    assert body["offset"] == "500"


def test_status_of_a_completed_upload_is_completed(client: ChunkClient):
    data = noise_image(300, 300)
    assert len(data) > CHUNK
    upload_id = client.upload_chunks(data, filename="done.png")
    assert client.complete(upload_id, md5_of(data)).status_code == 201
    response = client.status(upload_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert body["offset"] == str(len(data))
    assert body["total"] == len(data)
    assert body["ranges"] == [[0, len(data) - 1]]


def test_status_of_unknown_upload_is_404(client: ChunkClient):
    assert_error(client.status(UNKNOWN_ID), 404, "upload_not_found")


@pytest.mark.parametrize(
    "upload_id", ["x", "' OR 1=1 --", "a" * 5000, "0" * 31, "0" * 33, "%2e%2e", "A" * 32]
)
def test_status_of_malformed_upload_id_is_404(client: ChunkClient, upload_id: str):
    assert_error(client.status(upload_id), 404, "upload_not_found")


def test_status_of_other_users_upload_is_404(client: ChunkClient, other_client: ChunkClient):
    upload_id = start_upload(client)
    assert_error(other_client.status(upload_id), 404, "upload_not_found")


@pytest.mark.own_server  # moves the server's clock
def test_status_after_expiry_is_410(server: LiveServer, client: ChunkClient):
    upload_id = start_upload(client)
    server.clock.advance(timedelta(hours=24, seconds=1))
    assert_error(client.status(upload_id), 410, "upload_expired")


@pytest.mark.own_server  # moves the server's clock
def test_status_of_other_users_expired_upload_is_404(
    server: LiveServer, client: ChunkClient, other_client: ChunkClient
):
    upload_id = start_upload(client)
    server.clock.advance(timedelta(hours=24, seconds=1))
    assert_error(other_client.status(upload_id), 404, "upload_not_found")


@pytest.fixture
def collecting_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server whose garbage collector runs every 50 ms instead of every 5 minutes."""
    live = LiveServer(
        settings_for(tmp_path / "data", gc_interval=timedelta(milliseconds=50))
    ).start()
    yield live
    live.stop()


def test_expired_upload_answers_410_for_seven_days_then_404(
    collecting_server: LiveServer, user_id: int
):
    server = collecting_server
    with server.client(user_id) as client:
        upload_id = start_upload(client)
        assert server.chunk_objects(upload_id)
        server.clock.advance(timedelta(hours=24, seconds=1))
        assert_error(client.status(upload_id), 410, "upload_expired")
        # the collector marks it expired and drops its chunks, but it still answers 410
        server.wait_gc_rounds(2)  # the second one began after the clock moved
        assert not server.chunk_objects(upload_id)
        server.clock.advance(timedelta(days=6, hours=23))
        server.wait_gc_rounds(3)  # none of them may forget it yet
        assert_error(client.status(upload_id), 410, "upload_expired")
        chunk = client.chunk(b"b" * 100, 100, 300, upload_id=upload_id)
        assert_error(chunk, 410, "upload_expired")
        server.clock.advance(timedelta(hours=1, seconds=1))
        server.wait_gc_rounds(2)
        assert_error(client.status(upload_id), 404, "upload_not_found")


def test_status_requires_a_token(server: LiveServer, client: ChunkClient):
    upload_id = start_upload(client)
    with server.client(None) as anonymous:
        response = anonymous.status(upload_id)
    assert response.status_code == 401, response.text
    assert isinstance(response.json()["code"], str) and response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


# -- DELETE: abort -----------------------------------------------------------------------


def test_abort_is_204_and_then_status_is_404(client: ChunkClient):
    upload_id = start_upload(client)
    response = client.http.delete(url(upload_id))
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(client.status(upload_id), 404, "upload_not_found")


def test_abort_removes_the_chunk_files(server: LiveServer, client: ChunkClient):
    upload_id = start_upload(client, total=500)
    assert client.chunk(b"c" * 100, 300, 500, upload_id=upload_id).status_code == 201
    assert server.stored_upload_bytes(upload_id) == starts_like(b"a" * 100) + b"c" * 100
    assert client.http.delete(url(upload_id)).status_code == 204
    assert server.chunk_objects(upload_id) == []


def test_chunk_after_abort_is_404(client: ChunkClient):
    upload_id = start_upload(client)
    assert client.http.delete(url(upload_id)).status_code == 204
    response = client.chunk(b"b" * 100, 100, 300, upload_id=upload_id)
    assert_error(response, 404, "upload_not_found")


def test_complete_after_abort_is_404(client: ChunkClient):
    upload_id = start_upload(client, total=100)
    assert client.http.delete(url(upload_id)).status_code == 204
    response = client.complete(upload_id, md5_of(b"a" * 100))
    assert_error(response, 404, "upload_not_found")


def test_abort_twice_is_404_the_second_time(client: ChunkClient):
    upload_id = start_upload(client)
    assert client.http.delete(url(upload_id)).status_code == 204
    assert_error(client.http.delete(url(upload_id)), 404, "upload_not_found")


def test_abort_of_other_users_upload_is_404_and_keeps_it(
    server: LiveServer, client: ChunkClient, other_client: ChunkClient
):
    upload_id = start_upload(client)
    response = other_client.http.delete(url(upload_id))
    assert_error(response, 404, "upload_not_found")
    assert client.status(upload_id).status_code == 200
    assert len(server.stored_upload_bytes(upload_id)) == 100


def test_abort_of_unknown_upload_is_404(client: ChunkClient):
    assert_error(client.http.delete(url(UNKNOWN_ID)), 404, "upload_not_found")


@pytest.mark.parametrize("upload_id", ["x", "' OR 1=1 --", "a" * 5000, "%2e%2e"])
def test_abort_of_malformed_upload_id_is_404(client: ChunkClient, upload_id: str):
    assert_error(client.http.delete(url(upload_id)), 404, "upload_not_found")


def test_abort_requires_a_token(server: LiveServer, client: ChunkClient):
    upload_id = start_upload(client)
    with server.client(None) as anonymous:
        response = anonymous.http.delete(url(upload_id))
    assert response.status_code == 401, response.text
    assert client.status(upload_id).status_code == 200
