"""One upload state machine: a tus upload is an upload of the contract, and back."""

from __future__ import annotations

import httpx

from tests.support import (
    CHUNK,
    LiveServer,
    assert_error,
    md5_of,
    metrics_delta,
    noise_image,
    starts_like,
)
from tests.tus.conftest import TUS, Tus, metadata, upload_id_of


def test_created_by_tus_inspected_and_completed_by_the_contract(
    tus: Tus, server: LiveServer, user_id: int
):
    data = noise_image(320, 240)
    url = tus.create_url(
        len(data), **{"Upload-Metadata": metadata(filename="both.png", filetype="image/png")}
    )
    upload_id = upload_id_of(url)
    assert len(upload_id) == 32
    assert tus.patch(url, 0, data[:CHUNK]).status_code == 204

    with server.client(user_id) as client:
        status = client.status(upload_id).json()
        assert (status["offset"], status["total"], status["kind"]) == (
            str(CHUNK),
            len(data),
            "image",
        )
        assert_error(client.complete(upload_id, md5_of(data)), 400, "upload_incomplete")
        # the rest through the contract's chunk endpoint, then complete there too
        rest = client.chunk(data[CHUNK:], CHUNK, len(data), upload_id=upload_id)
        assert rest.status_code == 201, rest.text
        assert tus.head(url).headers["Upload-Offset"] == str(len(data))
        media = client.complete(upload_id, md5_of(data))
        assert media.status_code == 201, media.text
    body = media.json()
    assert (body["type"], body["image_width"], body["image_height"]) == ("image", 320, 240)
    assert httpx.get(body["image"]).content == data
    head = tus.head(url)
    assert head.headers["Media-Id"] == str(body["id"])
    assert "Upload-Expires" not in head.headers


def test_a_typed_tus_upload_completes_itself_on_its_last_byte(
    tus: Tus, server: LiveServer, user_id: int
):
    data = noise_image(200, 200)
    url = tus.create_url(len(data), **{"Upload-Metadata": metadata(filename="s.png", type="image")})
    assert "Media-Id" not in tus.patch(url, 0, data[:1000]).headers
    last = tus.patch(url, 1000, data[1000:])
    assert last.status_code == 204, last.text
    with server.client(user_id) as client:
        media = client.http.get(f"/api/v2/media/{last.headers['Media-Id']}/").json()
        # completing again through the contract is idempotent
        again = client.complete(upload_id_of(url), md5_of(data), "image")
        assert again.json()["id"] == media["id"]
    assert httpx.get(media["image"]).content == data


def test_an_upload_of_the_contract_answers_tus_head_and_patch(
    tus: Tus, server: LiveServer, user_id: int
):
    data = starts_like(b"c" * 1000, "document")
    with server.client(user_id) as client:
        first = client.chunk(data[:400], 0, len(data), field="document")
        upload_id = first.json()["upload_id"]
    url = f"{server.url}{TUS}{upload_id}"
    assert tus.head(url).headers["Upload-Offset"] == "400"
    assert tus.patch(url, 400, data[400:]).headers["Upload-Offset"] == "1000"
    # aborted through the contract: gone for tus too
    with server.client(user_id) as client:
        assert client.http.delete(f"/api/v2/media/upload/{upload_id}/").status_code == 204
    assert tus.head(url).status_code == 404


def test_tus_bytes_and_self_completions_show_in_the_metrics(tus: Tus, server: LiveServer):
    data = noise_image(64, 64)

    def upload() -> None:
        url = tus.create_url(len(data), **{"Upload-Metadata": metadata(type="image")})
        assert "Media-Id" in tus.patch(url, 0, data).headers

    names = ["chunkup_chunk_bytes_total", 'chunkup_completions_total{type="image"}']
    assert metrics_delta(tus.http, names, upload) == [len(data), 1]
