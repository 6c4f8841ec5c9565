"""tus 1.0.0 core, creation, termination, checksum and expiration, request by request."""

from __future__ import annotations

import base64
import hashlib
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tests.support import CHUNK, LiveServer, assert_error, settings_for
from tests.tus.conftest import TUS, Tus, metadata, upload_id_of


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def test_options_announces_version_extensions_size_and_checksums(server: LiveServer):
    response = httpx.options(server.url + TUS)
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    extensions = set(response.headers["Tus-Extension"].split(","))
    assert {"creation", "creation-with-upload", "termination", "checksum"} <= extensions
    assert {"expiration", "concatenation"} <= extensions
    assert response.headers["Tus-Max-Size"] == str(50 * 1024 * 1024)
    assert set(response.headers["Tus-Checksum-Algorithm"].split(",")) == {"md5", "sha1", "sha256"}


def test_creation_answers_location_offset_zero_and_expiry(tus: Tus, server: LiveServer):
    response = tus.create(1000, **{"Upload-Metadata": metadata(filename="a.png")})
    assert response.status_code == 201, response.text
    assert response.headers["Tus-Resumable"] == "1.0.0"
    location = response.headers["Location"]
    assert location.startswith(f"{server.url}{TUS}")
    assert response.headers["Upload-Offset"] == "0"
    expires = parsedate_to_datetime(response.headers["Upload-Expires"])
    assert expires > server.clock.now

    head = tus.head(location)
    assert head.status_code == 200
    assert (head.headers["Upload-Offset"], head.headers["Upload-Length"]) == ("0", "1000")
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Upload-Metadata"] == metadata(filename="a.png")


def test_location_uses_the_configured_public_url(tmp_path):
    live = LiveServer(
        settings_for(tmp_path / "data", public_url="https://media.example.com/")
    ).start()
    try:
        client = Tus(live)
        response = client.create(10)
        assert response.headers["Location"].startswith(
            "https://media.example.com/api/v2/media/tus/"
        )
        client.close()
    finally:
        live.stop()


def test_patches_advance_the_offset_and_a_large_one_is_stored_in_chunks(
    tus: Tus, server: LiveServer
):
    data = bytes(range(256)) * 2000  # 512000 bytes: one PATCH, three chunk records
    url = tus.create_url(len(data) + 10)
    response = tus.patch(url, 0, data)
    assert response.status_code == 204, response.text
    assert response.headers["Upload-Offset"] == str(len(data))
    assert "Upload-Expires" in response.headers
    # pieces of at most one chunk each
    spans = [(c.start, c.end) for c in server.chunk_records(upload_id_of(url))]
    assert spans == [(0, CHUNK - 1), (CHUNK, 2 * CHUNK - 1), (2 * CHUNK, len(data) - 1)]
    assert server.stored_upload_bytes(upload_id_of(url)) == data
    assert tus.patch(url, len(data), b"0123456789").headers["Upload-Offset"] == str(len(data) + 10)


def test_wrong_offset_is_409_with_the_current_offset(tus: Tus):
    url = tus.create_url(100)
    assert tus.patch(url, 0, b"x" * 40).status_code == 204
    body = assert_error(tus.patch(url, 10, b"y" * 10), 409, "offset_mismatch")
    assert body["offset"] == "40"
    assert tus.head(url).headers["Upload-Offset"] == "40"


def test_patch_needs_the_offset_stream_content_type(tus: Tus):
    url = tus.create_url(100)
    response = tus.http.patch(
        url, headers={"Upload-Offset": "0", "Content-Type": "application/json"}, content=b"{}"
    )
    assert_error(response, 415, "unsupported_media_type")
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_unsupported_or_missing_tus_version_is_412_with_tus_version(tus: Tus):
    url = tus.create_url(100)
    for version in ("0.2.2", None):
        headers = {"Tus-Resumable": version} if version else {}
        http = httpx.Client(headers={"Authorization": tus.http.headers["Authorization"], **headers})
        response = http.head(url) if version else http.post(url.rsplit("/", 1)[0] + "/")
        assert response.status_code == 412
        assert response.headers["Tus-Version"] == "1.0.0"
        http.close()


def test_every_request_needs_the_bearer_token(tus: Tus, server: LiveServer):
    url = tus.create_url(100)
    anonymous = httpx.Client(headers={"Tus-Resumable": "1.0.0"})
    assert_error(
        anonymous.post(server.url + TUS, headers={"Upload-Length": "5"}), 401, "invalid_token"
    )
    assert anonymous.head(url).status_code == 401
    assert anonymous.delete(url).status_code == 401
    anonymous.close()
    other = Tus(server, user_id=2)
    assert other.head(url).status_code == 404
    other.close()


def test_checksum_verified_over_the_whole_patch(tus: Tus, server: LiveServer):
    data = b"z" * (CHUNK + 5000)
    url = tus.create_url(len(data))
    for algorithm in ("sha1", "md5", "sha256"):
        offset = int(tus.head(url).headers["Upload-Offset"])
        part = data[offset : offset + 1000]
        digest = hashlib.new(algorithm, part).digest()
        response = tus.patch(
            url, offset, part, **{"Upload-Checksum": f"{algorithm} {_b64(digest)}"}
        )
        assert response.status_code == 204, response.text


def test_checksum_mismatch_is_460_and_nothing_is_stored(tus: Tus, server: LiveServer, user_id: int):
    data = b"q" * (CHUNK * 2 + 100)  # three pieces
    url = tus.create_url(len(data))
    wrong = _b64(hashlib.sha1(b"something else").digest())
    response = tus.patch(url, 0, data, **{"Upload-Checksum": f"sha1 {wrong}"})
    assert_error(response, 460, "checksum_mismatch")
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert tus.head(url).headers["Upload-Offset"] == "0"
    assert server.chunk_records(upload_id_of(url)) == []
    assert server.unreferenced_chunk_bytes(upload_id_of(url)) == 0  # stored, then removed
    with server.client(user_id) as client:
        assert client.status(upload_id_of(url)).json()["ranges"] == []


def test_unknown_checksum_algorithm_is_400(tus: Tus):
    url = tus.create_url(10)
    response = tus.patch(url, 0, b"0123456789", **{"Upload-Checksum": "crc32 AAAAAA=="})
    assert_error(response, 400, "checksum_algorithm_unsupported")


def test_creation_with_upload_stores_the_first_bytes(tus: Tus):
    response = tus.create(20, body=b"0123456789")
    assert response.status_code == 201, response.text
    assert response.headers["Upload-Offset"] == "10"
    assert tus.head(response.headers["Location"]).headers["Upload-Offset"] == "10"


def test_termination_removes_the_upload(tus: Tus, server: LiveServer):
    url = tus.create_url(100)
    assert tus.patch(url, 0, b"x" * 50).status_code == 204
    response = tus.http.delete(url)
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert tus.head(url).status_code == 404
    assert server.chunk_objects(upload_id_of(url)) == []


def test_method_override_sends_patch_and_delete_as_post(tus: Tus):
    url = tus.create_url(10)
    headers = {
        "X-HTTP-Method-Override": "PATCH",
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
    }
    assert tus.http.post(url, headers=headers, content=b"01234").headers["Upload-Offset"] == "5"
    assert tus.http.post(url, headers={"X-HTTP-Method-Override": "DELETE"}).status_code == 204
    assert tus.head(url).status_code == 404


@pytest.mark.own_server  # moves the server's clock
def test_expired_upload_is_410(tus: Tus, server: LiveServer):
    from datetime import timedelta

    url = tus.create_url(10)
    server.clock.advance(timedelta(hours=25))
    assert tus.head(url).status_code == 410
    assert_error(tus.patch(url, 0, b"0123456789"), 410, "upload_expired")


def test_limits_follow_the_type_and_filetype(tus: Tus):
    image = {"Upload-Metadata": metadata(filename="a.png", filetype="image/png")}
    assert_error(tus.create(5 * 1024 * 1024 + 1, **image), 413, "upload_too_large")
    assert (
        tus.create(5 * 1024 * 1024 + 1, **{"Upload-Metadata": metadata(type="doc")}).status_code
        == 201
    )
    assert_error(tus.create(50 * 1024 * 1024 + 1), 413, "upload_too_large")
    assert_error(tus.create(10, **{"Upload-Metadata": metadata(type="video")}), 400, "invalid_type")


def test_bad_headers_are_400_never_500(tus: Tus):
    for headers in (
        {"Upload-Length": "-1"},
        {"Upload-Length": "abc"},
        {"Upload-Length": "0"},
        {"Upload-Length": "10", "Upload-Metadata": "filename not!base64"},
        {"Upload-Length": "10", "Upload-Metadata": "a b c"},
        {"Upload-Length": "10", "Upload-Concat": "sideways"},
        {"Upload-Defer-Length": "1"},
    ):
        response = tus.http.post(TUS, headers=headers)
        assert response.status_code == 400, (headers, response.text)
    url = tus.create_url(10)
    assert (
        tus.http.patch(url, headers={"Content-Type": "application/offset+octet-stream"}).status_code
        == 400
    )
    assert tus.patch(url, 0, b"x" * 11).status_code == 413


def test_tus_uploads_count_against_the_open_upload_cap(tmp_path):
    live = LiveServer(settings_for(tmp_path / "data", max_open_uploads=2)).start()
    try:
        client = Tus(live)
        assert client.create(10).status_code == 201
        assert client.create(10).status_code == 201
        response = client.create(10)
        assert_error(response, 429, "too_many_uploads")
        assert response.headers["Retry-After"] and response.headers["Tus-Resumable"] == "1.0.0"
        client.close()
    finally:
        live.stop()


def test_cors_lets_a_page_send_and_read_the_tus_headers(tus: Tus, server: LiveServer):
    origin = {"Origin": "https://pages.example.com"}
    preflight = httpx.options(
        server.url + TUS,
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,tus-resumable,upload-length,"
            "upload-metadata,upload-offset,upload-checksum,upload-concat,x-http-method-override,"
            "content-type",
        },
    )
    assert preflight.status_code == 200, preflight.text
    response = tus.create(10, **origin)
    exposed = {
        h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {"location", "upload-offset", "upload-length", "upload-expires", "media-id"} <= exposed
    assert {"tus-resumable", "tus-version", "upload-metadata", "upload-concat"} <= exposed
