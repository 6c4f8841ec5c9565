"""The public file URLs: bytes without a token, caching, ranges, and nothing else served."""

from __future__ import annotations

import secrets
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import ChunkClient, LiveServer, noise_image, pdf_document, starts_like


@pytest.fixture
def png() -> bytes:
    return noise_image(120, 90)


@pytest.fixture
def image(client: ChunkClient, png: bytes) -> dict:
    response = client.upload(png, filename="photo.png")
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def pdf() -> bytes:
    return pdf_document(pages=1, width=120, height=160)


@pytest.fixture
def document(client: ChunkClient, pdf: bytes) -> dict:
    response = client.upload(pdf, field="document", filename="Quarterly report.pdf")
    assert response.status_code == 201, response.text
    return response.json()


def get(url: str, **headers: str) -> httpx.Response:
    """A request with no Authorization header at all."""
    with httpx.Client(timeout=30) as http:
        return http.get(url, headers=headers)


def raw_get(server: LiveServer, path: str) -> tuple[int, bytes]:
    """GET a path byte for byte as given (no client-side dot-segment normalization)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request)
        received = bytearray()
        while block := sock.recv(65536):
            received += block
    status_line = bytes(received).split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), bytes(received)


# -- plain GET -------------------------------------------------------------------------------


def test_file_is_served_without_a_token(image: dict, png: bytes):
    response = get(image["image"])
    assert response.status_code == 200
    assert response.content == png


def test_file_has_its_content_type(image: dict):
    assert get(image["image"]).headers["content-type"] == "image/png"


def test_file_has_its_content_length(image: dict, png: bytes):
    assert get(image["image"]).headers["content-length"] == str(len(png))


def test_file_has_an_etag(image: dict):
    etag = get(image["image"]).headers.get("etag")
    assert etag and etag.strip('W/"')


def test_file_is_cacheable_for_a_long_time(image: dict):
    cache_control = get(image["image"]).headers["cache-control"]
    directives = [d.strip() for d in cache_control.split(",")]
    max_ages = [int(d.split("=", 1)[1]) for d in directives if d.startswith("max-age=")]
    assert max_ages and max_ages[0] >= 30 * 24 * 3600
    assert "no-store" not in directives and "no-cache" not in directives


def test_file_has_x_content_type_options_nosniff(image: dict):
    assert get(image["image"]).headers["x-content-type-options"] == "nosniff"


def test_document_file_has_its_content_type(document: dict, pdf: bytes):
    response = get(document["url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == pdf


def test_document_file_carries_content_disposition_with_its_original_name(document: dict):
    disposition = get(document["url"]).headers["content-disposition"]
    assert "Quarterly%20report.pdf" in disposition or "Quarterly report.pdf" in disposition


# -- ranges ----------------------------------------------------------------------------------


def test_range_0_9_is_206_with_exactly_those_bytes(image: dict, png: bytes):
    response = get(image["image"], Range="bytes=0-9")
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-9/{len(png)}"
    assert response.headers["content-length"] == "10"
    assert response.content == png[:10]


def test_suffix_range_gives_the_last_10_bytes(image: dict, png: bytes):
    size = len(png)
    response = get(image["image"], Range="bytes=-10")
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {size - 10}-{size - 1}/{size}"
    assert response.content == png[-10:]


def test_open_range_gives_everything_from_its_start(image: dict, png: bytes):
    size = len(png)
    response = get(image["image"], Range="bytes=100-")
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert response.headers["content-length"] == str(size - 100)
    assert response.content == png[100:]


def test_range_past_the_end_is_clipped_to_the_size(image: dict, png: bytes):
    size = len(png)
    response = get(image["image"], Range=f"bytes={size - 5}-{size + 1000}")
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {size - 5}-{size - 1}/{size}"
    assert response.content == png[-5:]


@pytest.mark.parametrize("offset", [0, 1, 1000])
def test_range_starting_at_or_after_the_size_is_416(image: dict, png: bytes, offset: int):
    size = len(png)
    response = get(image["image"], Range=f"bytes={size + offset}-")
    assert response.status_code == 416
    assert response.headers.get("content-range") == f"bytes */{size}"


def test_range_on_a_document_is_206(document: dict, pdf: bytes):
    response = get(document["url"], Range="bytes=0-4")
    assert response.status_code == 206
    assert response.content == b"%PDF-"


# -- conditional and HEAD --------------------------------------------------------------------


def test_if_none_match_with_the_etag_is_304(image: dict):
    etag = get(image["image"]).headers["etag"]
    response = get(image["image"], **{"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_if_none_match_with_another_etag_is_200(image: dict, png: bytes):
    response = get(image["image"], **{"If-None-Match": '"something-else"'})
    assert response.status_code == 200
    assert response.content == png


def test_head_gives_the_headers_without_the_body(image: dict, png: bytes):
    with httpx.Client(timeout=30) as http:
        response = http.head(image["image"])
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(png))
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == get(image["image"]).headers["etag"]
    assert response.content == b""


# -- nothing else is served ------------------------------------------------------------------


def test_a_made_up_token_is_404(server: LiveServer, image: dict):
    response = get(f"{server.url}/media/{secrets.token_hex(16)}/photo.png")
    assert response.status_code == 404


def test_a_token_that_is_not_hex_is_404(server: LiveServer):
    assert get(f"{server.url}/media/not-a-token/photo.png").status_code == 404


def test_a_real_token_with_another_name_is_404(image: dict):
    url = image["image"].rsplit("/", 1)[0] + "/other.png"
    assert get(url).status_code == 404


def test_paths_into_the_chunk_storage_never_serve_chunk_bytes(
    server: LiveServer, client: ChunkClient, image: dict
):
    marker = starts_like(b"CHUNK-SECRET-" * 100)
    first = client.chunk(marker, 0, len(marker) + 10)  # incomplete: its chunk stays stored
    assert first.status_code == 201, first.text
    upload_id = first.json()["upload_id"]
    names = server.chunk_objects(upload_id)
    assert names, "the chunk should be on disk"
    name = names[0]
    token = urlsplit(image["image"]).path.split("/")[2]
    paths = [
        f"/media/../chunks/{upload_id}/{name}",
        f"/media/%2e%2e/chunks/{upload_id}/{name}",
        f"/media/..%2fchunks%2f{upload_id}%2f{name}",
        f"/media/{upload_id}/{name}",
        f"/media/{token}/../../chunks/{upload_id}/{name}",
        f"/media/{token}/..%2f..%2fchunks%2f{upload_id}%2f{name}",
        f"/media/{token}/%2e%2e/%2e%2e/chunks/{upload_id}/{name}",
        f"/chunks/{upload_id}/{name}",
        f"/storage/chunks/{upload_id}/{name}",
    ]
    for path in paths:
        status, raw = raw_get(server, path)
        assert marker[:26] not in raw, path
        assert status >= 400, (path, status)
