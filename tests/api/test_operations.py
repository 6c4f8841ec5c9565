"""Operations endpoints: health, readiness, metrics and request ids."""

from __future__ import annotations

import re

import pytest

from tests.support import ChunkClient, LiveServer, metrics_delta

pytestmark = pytest.mark.backend_agnostic


def test_healthz_answers_without_a_token(server: LiveServer, client: ChunkClient):
    response = client.http.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_database_and_storage(client: ChunkClient):
    response = client.http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}


def test_metrics_count_chunks_bytes_completions_and_error_codes(client: ChunkClient):
    def requests() -> None:
        client.upload(b"%PDF-1.4 not really", field="document", type_="doc")  # invalid_document
        client.status("0" * 32)  # upload_not_found

    names = [
        "chunkup_chunks_total",
        "chunkup_chunk_bytes_total",
        'chunkup_errors_total{code="invalid_document"}',
        'chunkup_errors_total{code="upload_not_found"}',
    ]
    grown = metrics_delta(client.http, names, requests)
    assert grown == [1, len(b"%PDF-1.4 not really"), 1, 1]
    assert 'route="/api/v2/media/upload/chunk/"' in client.http.get("/metrics").text


def test_every_response_carries_a_request_id(client: ChunkClient):
    generated = client.http.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
    echoed = client.http.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"
    hostile = client.http.get("/healthz", headers={"X-Request-ID": "a b\tc" * 50})
    assert hostile.headers["x-request-id"] != "a b\tc" * 50
