"""Limits that protect the service: request rate and unfinished uploads per user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import LiveServer, settings_for, starts_like


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = settings_for(
        tmp_path / "data",
        rate_limit_per_second=0.5,
        rate_limit_burst=5,
        max_open_uploads=3,
        max_open_bytes=1000,
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


def test_a_user_over_the_rate_gets_429_with_retry_after(strict_server: LiveServer):
    with strict_server.client(1) as client:
        statuses = [client.status("0" * 32).status_code for _ in range(5)]
        refused = client.status("0" * 32)
    assert statuses == [404] * 5
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1


def test_the_rate_limit_of_one_user_does_not_touch_another(strict_server: LiveServer):
    with strict_server.client(1) as greedy, strict_server.client(2) as other:
        for _ in range(6):
            greedy.status("0" * 32)
        assert other.status("0" * 32).status_code == 404


def test_too_many_unfinished_uploads_is_429_too_many_uploads(strict_server: LiveServer):
    with strict_server.client(1) as client:
        for _ in range(3):
            assert client.chunk(starts_like(b"x" * 10), 0, 100).status_code == 201
        refused = client.chunk(starts_like(b"x" * 10), 0, 100)
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_uploads"
    assert "Retry-After" in refused.headers


def test_declared_bytes_above_the_quota_is_429_upload_quota_exceeded(strict_server: LiveServer):
    with strict_server.client(1) as client:
        assert client.chunk(starts_like(b"x" * 10), 0, 600).status_code == 201
        refused = client.chunk(starts_like(b"x" * 10), 0, 600)
    assert refused.status_code == 429
    assert refused.json()["code"] == "upload_quota_exceeded"
    chunk_dirs = list((strict_server.settings.data_dir / "storage" / "chunks").iterdir())
    assert len(chunk_dirs) == 1  # the refused chunk left nothing behind


def test_an_aborted_upload_frees_its_place(strict_server: LiveServer):
    with strict_server.client(1) as client:
        ids = [client.chunk(starts_like(b"x" * 10), 0, 100).json()["upload_id"] for _ in range(3)]
        assert client.http.delete(f"/api/v2/media/upload/{ids[0]}/").status_code == 204
        assert client.chunk(starts_like(b"x" * 10), 0, 100).status_code == 201
