"""The plain calls (status, abort, media) and the errors they raise, against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chunkup.client import (
    AsyncClient,
    AuthenticationError,
    BadRequest,
    Client,
    NetworkError,
    NotFound,
    PermissionDenied,
    Retry,
)
from tests.client.conftest import CountingTransport
from tests.support import CHUNK, LiveServer, free_port, md5_of, noise_image

# the SDK speaks HTTP: what it is tested for does not depend on the server's backend
pytestmark = pytest.mark.backend_agnostic


def test_status_reports_the_stored_ranges_and_abort_removes_the_upload(server: LiveServer):
    data = noise_image(400, 400)
    with server.client() as raw, Client(server.url, server.token()) as client:
        first = raw.chunk(data[:CHUNK], 0, len(data), filename="p.png")
        upload_id = first.json()["upload_id"]
        raw.chunk(data[2 * CHUNK :], 2 * CHUNK, len(data), upload_id=upload_id)
        status = client.status(upload_id)
        assert status.upload_id == upload_id and status.offset == str(CHUNK)
        assert status.total == len(data) and status.kind == "image"
        assert status.status == "uploading" and status.media_id is None
        assert status.ranges == [[0, CHUNK - 1], [2 * CHUNK, len(data) - 1]]
        client.abort(upload_id)
        with pytest.raises(NotFound) as caught:
            client.status(upload_id)
    assert caught.value.code == "upload_not_found" and caught.value.status == 404


def test_media_can_be_read_listed_and_deleted_by_its_creator(server: LiveServer, photo: Path):
    with Client(server.url, server.token()) as client:
        media = client.upload(photo)
        assert client.get_media(media.id) == media
        page = client.list_media(limit=5)
        assert page.count == 1 and page.results == [media]
        with Client(server.url, server.token(2)) as other:
            assert other.get_media(media.id) == media
            with pytest.raises(PermissionDenied) as refused:
                other.delete_media(media.id)
        assert refused.value.code == "not_owner" and refused.value.status == 403
        client.delete_media(media.id)
        with pytest.raises(NotFound) as gone:
            client.get_media(media.id)
    assert gone.value.code == "media_not_found"


def test_a_bad_token_raises_invalid_token_401_at_once(server: LiveServer, photo: Path):
    transport = CountingTransport()
    with Client(server.url, "not-a-jwt", transport=transport) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.upload(photo)
    error = caught.value
    assert (error.status, error.code) == (401, "invalid_token")
    assert error.detail and str(error).startswith("401 invalid_token: ")
    assert transport.statuses == [401]  # a 4xx that cannot succeed is not retried


async def test_the_async_client_raises_the_same_errors(server: LiveServer):
    async with AsyncClient(server.url, server.token(1, exp=1)) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get_media(1)
    assert caught.value.code == "invalid_token"
    async with AsyncClient(server.url, server.token()) as client:
        with pytest.raises(NotFound) as missing:
            await client.status("0" * 32)
    assert missing.value.code == "upload_not_found"


def test_an_error_carries_the_bodys_extra_members(server: LiveServer):
    data = noise_image(300, 300)
    with server.client() as raw, Client(server.url, server.token()) as client:
        upload_id = raw.chunk(data[:CHUNK], 0, len(data)).json()["upload_id"]
        with pytest.raises(BadRequest) as caught:
            client.complete(upload_id, md5_of(data))  # before the last chunk
    error = caught.value
    assert (error.status, error.code) == (400, "upload_incomplete")
    assert error.offset == CHUNK and error.missing == [[CHUNK, len(data) - 1]]


def test_a_rate_limited_upload_waits_for_retry_after_and_completes(tmp_path: Path, photo: Path):
    from tests.support import settings_for

    live = LiveServer(
        settings_for(tmp_path / "slow", rate_limit_per_second=2, rate_limit_burst=3)
    ).start()
    transport = CountingTransport()
    try:
        with Client(live.url, live.token(1), transport=transport) as client:
            media = client.upload(photo, parallel=2)
    finally:
        live.stop()
    assert media.size == photo.stat().st_size
    assert 429 in transport.statuses  # refused at first, then sent again after Retry-After
    assert transport.statuses[-1] == 201


def test_an_unreachable_server_is_a_network_error_after_bounded_retries(photo: Path):
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, "token", retry=Retry(attempts=3, backoff=0.01)) as client:
        with pytest.raises(NetworkError) as caught:
            client.upload(photo)
    assert caught.value.status is None and caught.value.code == "network_error"
    assert "ConnectError" in caught.value.detail and url in caught.value.detail


def test_the_client_answers_to_asyncio_too(server: LiveServer, photo: Path):
    async def run() -> tuple[int, int]:
        async with AsyncClient(server.url, server.token()) as client:
            media = await client.upload(photo)
            page = await client.list_media()
            await client.delete_media(media.id)
            return media.id, page.count

    media_id, count = asyncio.run(run())
    assert media_id >= 1 and count == 1
