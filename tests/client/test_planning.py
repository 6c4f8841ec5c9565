"""The client's pure parts: what to send, which part, how long to wait, what to remember."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest

from chunkup.client import APIError, NetworkError, RateLimited, ResumeFile, Retry, ServerError
from chunkup.client._job import UploadJob, field_for, uncovered
from chunkup.client.errors import error_from_response, parse_retry_after
from chunkup.client.resume import default_state_file, resume_key


@pytest.mark.parametrize(
    ("start", "end", "ranges", "gaps"),
    [
        (0, 99, [], [(0, 99)]),
        (0, 99, [[0, 99]], []),
        (0, 99, [[0, 9], [50, 59]], [(10, 49), (60, 99)]),
        (100, 199, [[0, 149]], [(150, 199)]),
        (100, 199, [[150, 500]], [(100, 149)]),
        (100, 199, [[0, 10], [300, 400]], [(100, 199)]),
        (0, 99, [[50, 59], [0, 9]], [(10, 49), (60, 99)]),  # unsorted
    ],
)
def test_uncovered_is_what_the_stored_ranges_leave_out(start, end, ranges, gaps):
    assert uncovered(start, end, ranges) == gaps


def test_a_block_becomes_the_pieces_the_server_lacks():
    job = UploadJob(file=io.BytesIO(bytes(range(10))), size=10, filename="f", chunk_size=4)
    job.stored = [[0, 4], [7, 7]]
    blocks = []
    while (block := job.read_block()) is not None:
        blocks.append(job.pieces(*block))
    assert blocks == [[], [(5, bytes([5, 6]))], [(8, bytes([8, 9]))]]


def test_the_md5_covers_every_byte_read_once():
    import hashlib

    data = b"x" * 1000 + b"y" * 5
    job = UploadJob(file=io.BytesIO(data), size=len(data), filename="f", chunk_size=300)
    while job.read_block() is not None:
        pass
    assert job.md5() == hashlib.md5(data).hexdigest()


def test_a_file_object_is_read_from_its_position():
    source = io.BytesIO(b"headerPAYLOAD")
    source.seek(6)
    job = UploadJob.open(source, filename=None, chunk_size=4, type_=None, progress=None)
    assert (job.size, job.filename, job.identity) == (7, "upload.bin", None)
    assert job.read_block() == (0, b"PAYL")


@pytest.mark.parametrize(
    ("type_", "head", "field"),
    [
        (None, b"%PDF-1.7\n", "document"),
        (None, b"\x89PNG\r\n", "image"),
        (None, b"", "image"),
        ("doc", b"\x89PNG", "document"),
        ("image", b"%PDF-1.4", "image"),
        ("eimage", b"GIF89a", "image"),
    ],
)
def test_the_file_part_follows_the_type_else_the_content(type_, head, field):
    assert field_for(type_, head) == field


def error(status: int, code: str, **headers: str) -> APIError:
    return error_from_response(
        httpx.Response(status, json={"detail": "d", "code": code}, headers=headers)
    )


def test_what_is_retried_and_what_is_raised_at_once():
    retry = Retry()
    assert retry.retryable(NetworkError("down"))
    for status, code in [(500, "internal_error"), (503, "storage_unavailable"), (408, "x")]:
        assert retry.retryable(error(status, code))
    assert retry.retryable(error(429, "rate_limited", **{"Retry-After": "2"}))
    assert not retry.retryable(error(429, "too_many_uploads", **{"Retry-After": "60"}))
    assert not retry.retryable(error(429, "rate_limited", **{"Retry-After": "3600"}))
    for status, code in [(400, "md5_mismatch"), (401, "invalid_token"), (404, "x"), (409, "x")]:
        assert not retry.retryable(error(status, code))


def test_backoff_grows_with_jitter_within_bounds_and_honours_retry_after():
    retry = Retry(backoff=0.2, max_backoff=1.0)
    for failures, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (10, 1.0)]:
        waits = {retry.delay(failures) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits) and len(waits) > 1
    assert 5 <= retry.delay(1, retry_after=5) <= 5.1
    assert Retry(max_retry_after=2).delay(1, retry_after=30) <= 2.2


def test_retry_after_is_seconds_or_an_http_date():
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480) == 10
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_an_error_answer_that_is_not_json_still_becomes_a_typed_error():
    failure = error_from_response(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert isinstance(failure, ServerError)
    assert (failure.status, failure.code) == (502, "http_502")
    limited = error(429, "rate_limited", **{"Retry-After": "3"})
    assert isinstance(limited, RateLimited) and limited.retry_after == 3


def test_the_resume_file_remembers_forgets_and_survives_garbage(tmp_path: Path):
    path = tmp_path / "deep" / "uploads.json"
    store = ResumeFile(path)
    key = resume_key("http://h/", "/f.png", 10, 123)
    assert store.load(key) is None
    store.save(key, "abc")
    assert ResumeFile(path).load(key) == "abc"
    assert json.loads(path.read_text())["uploads"][key]["upload_id"] == "abc"
    store.discard(key)
    assert store.load(key) is None
    path.write_text("{not json")
    assert store.load(key) is None
    store.save(key, "def")
    assert store.load(key) == "def"


def test_the_state_file_is_in_the_cache_unless_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CHUNKUP_STATE_FILE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/me")
    assert default_state_file() == Path("/var/cache/me/chunkup/uploads.json")
    monkeypatch.setenv("CHUNKUP_STATE_FILE", "/tmp/s.json")
    assert default_state_file() == Path("/tmp/s.json")
