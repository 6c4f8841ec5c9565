"""Operations endpoints: health, readiness, metrics and request ids."""

from __future__ import annotations

import re

from tests.support import ChunkClient, LiveServer


def test_healthz_answers_without_a_token(server: LiveServer, client: ChunkClient):
    response = client.http.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_database_and_storage(client: ChunkClient):
    response = client.http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_chunks_bytes_completions_and_error_codes(client: ChunkClient):
    client.upload(b"%PDF-1.4 not really", field="document", type_="doc")  # invalid_document
    client.status("0" * 32)  # upload_not_found
    text = client.http.get("/metrics").text
    assert metric(text, "chunkup_chunks_total") == 1
    assert metric(text, "chunkup_chunk_bytes_total") == len(b"%PDF-1.4 not really")
    assert metric(text, 'chunkup_errors_total{code="invalid_document"}') == 1
    assert metric(text, 'chunkup_errors_total{code="upload_not_found"}') == 1
    assert 'route="/api/v2/media/upload/chunk/"' in text


def test_every_response_carries_a_request_id(client: ChunkClient):
    generated = client.http.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
    echoed = client.http.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"
    hostile = client.http.get("/healthz", headers={"X-Request-ID": "a b\tc" * 50})
    assert hostile.headers["x-request-id"] != "a b\tc" * 50
