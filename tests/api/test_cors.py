"""CORS: browser clients on other origins can upload (preflight) and read responses."""

from __future__ import annotations

import httpx
import pytest

from tests.support import ChunkClient, LiveServer, starts_like

# what is tested here does not touch the database or storage
pytestmark = pytest.mark.backend_agnostic

ORIGIN = "http://example.test"
CHUNK_URL = "/api/v2/media/upload/chunk/"


def preflight(server: LiveServer, method: str = "POST") -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        return http.options(
            CHUNK_URL,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization,content-range,content-type",
            },
        )


def allowed_headers(response: httpx.Response) -> set[str]:
    value = response.headers.get("access-control-allow-headers", "")
    return {h.strip().lower() for h in value.split(",") if h.strip()}


def test_preflight_to_the_chunk_endpoint_is_200(server: LiveServer):
    assert preflight(server).status_code == 200


def test_preflight_to_the_chunk_endpoint_allows_the_origin(server: LiveServer):
    allow_origin = preflight(server).headers.get("access-control-allow-origin")
    assert allow_origin in ("*", ORIGIN)


def test_preflight_to_the_chunk_endpoint_allows_authorization_content_range_content_type(
    server: LiveServer,
):
    assert {"authorization", "content-range", "content-type"} <= allowed_headers(preflight(server))


def test_preflight_to_the_chunk_endpoint_allows_post(server: LiveServer):
    methods = preflight(server).headers.get("access-control-allow-methods", "")
    assert "POST" in {m.strip().upper() for m in methods.split(",")}


def test_a_get_with_an_origin_gets_access_control_allow_origin(client: ChunkClient):
    response = client.http.get("/api/v2/media/", headers={"Origin": ORIGIN})
    assert response.status_code == 200, response.text
    assert response.headers.get("access-control-allow-origin") in ("*", ORIGIN)


def test_a_chunk_post_with_an_origin_gets_access_control_allow_origin(client: ChunkClient):
    response = client.http.post(
        CHUNK_URL,
        files={"image": ("a.bin", starts_like(b"0123456789"), "application/octet-stream")},
        headers={"Origin": ORIGIN, "Content-Range": "bytes 0-9/10"},
    )
    assert response.status_code == 201, response.text
    assert response.headers.get("access-control-allow-origin") in ("*", ORIGIN)
