"""Real concurrent HTTP requests: retries, duplicates and races over one upload."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import (
    CHUNK,
    LiveServer,
    ServerProcess,
    StoredData,
    free_port,
    md5_of,
    settings_for,
    starts_like,
)

CHUNKS = 32


def post_chunk(
    base_url: str, token: str, data: bytes, start: int, total: int, upload_id: str | None
) -> httpx.Response:
    fields = {"upload_id": upload_id} if upload_id else {}
    end = start + len(data) - 1
    with httpx.Client(base_url=base_url, timeout=60) as http:
        return http.post(
            "/api/v2/media/upload/chunk/",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Range": f"bytes {start}-{end}/{total}",
            },
            data=fields,
            files={"document": ("blob.bin", data)},
        )


def complete(base_url: str, token: str, upload_id: str, md5: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        return http.post(
            "/api/v2/media/upload/complete/",
            headers={"Authorization": f"Bearer {token}"},
            data={"upload_id": upload_id, "md5": md5, "type": "doc"},
        )


def pdf_like(size: int) -> bytes:
    """Bytes that pass as a PDF only if every byte lands where it belongs."""
    from tests.support import pdf_document

    document = pdf_document(pages=1, width=64, height=64)
    # pad inside a PDF comment after the header: still a readable PDF
    head, rest = document.split(b"\n", 1)
    padding = size - len(document) - 2
    return (
        head + b"\n%" + os.urandom(padding).replace(b"\n", b" ").replace(b"\r", b" ") + b"\n" + rest
    )


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two `chunkup serve` processes on one data directory and SQLite database."""
    env = {
        "CHUNKUP_JWT_SECRET": "test-secret-test-secret-test-secret",
        "CHUNKUP_DATA_DIR": str(tmp_path / "data"),
    }
    port = free_port()
    # as behind a load balancer: both nodes link files under one public URL
    env["CHUNKUP_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    first = ServerProcess(tmp_path, env=env, port=port).start()
    second = ServerProcess(tmp_path, env=env).start()
    yield first, second
    first.stop()
    second.stop()


def run_shuffled_with_retries(
    urls: list[str], token: str, data: bytes, upload_id: str, pool: ThreadPoolExecutor
) -> list[httpx.Response]:
    starts = [start for start in range(CHUNK, len(data), CHUNK)] * 2  # every chunk twice
    random.shuffle(starts)
    futures = [
        pool.submit(
            post_chunk, urls[i % len(urls)], token, data[s : s + CHUNK], s, len(data), upload_id
        )
        for i, s in enumerate(starts)
    ]
    return [f.result() for f in futures]


def assert_all_accepted_or_conflict_with_offset(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code in (201, 409), response.text
        if response.status_code == 409:
            body = response.json()
            assert body["code"] == "range_conflict" and body["offset"].isdigit()


def test_shuffled_chunks_each_retried_concurrently_assemble_exactly(
    server: LiveServer, user_id: int
):
    data = pdf_like(CHUNKS * CHUNK - 1234)
    token = server.token(user_id)
    first = post_chunk(server.url, token, data[:CHUNK], 0, len(data), None)
    upload_id = first.json()["upload_id"]
    with ThreadPoolExecutor(8) as pool:
        responses = run_shuffled_with_retries([server.url], token, data, upload_id, pool)
    assert_all_accepted_or_conflict_with_offset(responses)
    # an exact repeat of stored bytes is a retry: every one of them is accepted
    assert all(r.status_code == 201 for r in responses)
    assert len(server.chunk_records(upload_id)) == CHUNKS
    assert server.unreferenced_chunk_bytes(upload_id) == 0  # none stored twice
    media = complete(server.url, token, upload_id, md5_of(data))
    assert media.status_code == 201, media.text
    assert httpx.get(media.json()["url"]).content == data


def test_two_different_bodies_raced_for_one_range_leave_the_winners_bytes_whole(
    server: LiveServer,
    user_id: int,
):
    size = 6 * CHUNK
    base = pdf_like(size)
    token = server.token(user_id)
    upload_id = post_chunk(server.url, token, base[:CHUNK], 0, size, None).json()["upload_id"]
    rivals = {
        start: (base[start : start + CHUNK], os.urandom(CHUNK))
        for start in range(CHUNK, size, CHUNK)
    }
    final = bytearray(base)
    with ThreadPoolExecutor(8) as pool:
        for start, (ours, theirs) in rivals.items():
            a = pool.submit(post_chunk, server.url, token, ours, start, size, upload_id)
            b = pool.submit(post_chunk, server.url, token, theirs, start, size, upload_id)
            statuses = sorted([a.result().status_code, b.result().status_code])
            assert statuses == [201, 409]
            winner = ours if a.result().status_code == 201 else theirs
            final[start : start + CHUNK] = winner
    assert server.stored_upload_bytes(upload_id) == bytes(final)  # never a mix of the two
    assert server.unreferenced_chunk_bytes(upload_id) == 0  # the losers' bytes are gone


def test_two_processes_on_one_database_share_an_upload_and_its_races(
    two_servers: tuple[ServerProcess, ServerProcess], tmp_path: Path
):
    from chunkup.auth import mint_token

    urls = [two_servers[0].url, two_servers[1].url]
    token = mint_token("test-secret-test-secret-test-secret", 1)
    data = pdf_like(CHUNKS * CHUNK)
    upload_id = post_chunk(urls[0], token, data[:CHUNK], 0, len(data), None).json()["upload_id"]
    with ThreadPoolExecutor(8) as pool:
        responses = run_shuffled_with_retries(urls, token, data, upload_id, pool)
        assert_all_accepted_or_conflict_with_offset(responses)
        stored = StoredData(settings_for(tmp_path / "data"))
        assert len(stored.records(upload_id)) == CHUNKS
        assert stored.unreferenced_bytes(upload_id) == 0  # none stored twice
        completes = [
            pool.submit(complete, urls[i % 2], token, upload_id, md5_of(data)) for i in range(6)
        ]
        bodies = [f.result() for f in completes]
    assert {r.status_code for r in bodies} == {201}
    assert len({r.text for r in bodies}) == 1  # one Media, from either process
    assert httpx.get(bodies[0].json()["url"]).content == data


def test_a_range_raced_across_two_processes_has_one_winner(
    two_servers: tuple[ServerProcess, ServerProcess],
):
    from chunkup.auth import mint_token

    urls = [two_servers[0].url, two_servers[1].url]
    token = mint_token("test-secret-test-secret-test-secret", 1)
    size = 4 * CHUNK
    first = starts_like(os.urandom(CHUNK))
    upload_id = post_chunk(urls[0], token, first, 0, size, None).json()["upload_id"]
    with ThreadPoolExecutor(4) as pool:
        for start in range(CHUNK, size, CHUNK):
            a = pool.submit(post_chunk, urls[0], token, os.urandom(CHUNK), start, size, upload_id)
            b = pool.submit(post_chunk, urls[1], token, os.urandom(CHUNK), start, size, upload_id)
            assert sorted([a.result().status_code, b.result().status_code]) == [201, 409]
