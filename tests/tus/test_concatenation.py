"""tus concatenation: partial uploads sent in parallel, joined by a final one without copying."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from chunkup.services import Services
from tests.support import LiveServer, assert_error, md5_of, pdf_document
from tests.tus.conftest import Tus, metadata, upload_id_of


def send_partials(tus: Tus, data: bytes, count: int) -> list[str]:
    """``count`` partial uploads of ``data``'s slices, each sent on its own connection
    as ``tus``'s user."""
    size = -(-len(data) // count)
    slices = [data[i : i + size] for i in range(0, len(data), size)]

    def send(piece: bytes) -> str:
        client = Tus(tus.server, tus.user_id)
        try:
            url = client.create_url(len(piece), **{"Upload-Concat": "partial"})
            response = client.patch(url, 0, piece)
            assert response.status_code == 204, response.text
            return url
        finally:
            client.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, slices))


def test_four_parallel_partials_and_a_final_make_one_media(
    tus: Tus, server: LiveServer, user_id: int
):
    data = pdf_document(pages=2)
    urls = send_partials(tus, data, 4)
    for url in urls:
        assert tus.head(url).headers["Upload-Concat"] == "partial"
    response = tus.http.post(
        "/api/v2/media/tus/",
        headers={
            "Upload-Concat": "final;" + " ".join(urls),
            "Upload-Metadata": metadata(filename="joined.pdf", type="doc"),
        },
    )
    assert response.status_code == 201, response.text
    final = response.headers["Location"]
    media_id = response.headers["Media-Id"]

    head = tus.head(final)
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Upload-Concat"] == "final;" + " ".join(urls)
    with server.client(user_id) as client:
        media = client.http.get(f"/api/v2/media/{media_id}/").json()
    assert (media["type"], media["title"], media["size"]) == ("doc", "joined.pdf", len(data))
    assert httpx.get(media["url"]).content == data
    # no bytes were copied into the final upload's own keys
    assert server.chunk_objects(upload_id_of(final)) == []


@pytest.mark.own_server  # moves the server's clock
def test_the_final_upload_is_completed_with_the_contract_and_gc_keeps_its_parts(
    tus: Tus, server: LiveServer, user_id: int
):
    data = pdf_document(pages=1)
    urls = send_partials(tus, data, 4)
    final = tus.http.post(
        "/api/v2/media/tus/", headers={"Upload-Concat": "final;" + " ".join(urls)}
    ).headers["Location"]
    assert_error(tus.patch(final, len(data), b"x"), 403, "final_upload_immutable")
    # the partials are done: neither more bytes nor an abort can take their objects away
    assert_error(tus.http.delete(urls[0]), 400, "upload_completed")
    assert tus.patch(urls[1], 0, b"x").status_code == 400
    with server.client(user_id) as client:
        joined = client.complete(upload_id_of(urls[2]), md5_of(data), "doc")
    assert_error(joined, 400, "upload_completed")  # the final is the one to complete

    # two hours on, past the orphan sweep's grace: the final still needs the parts' objects
    server.clock.advance(timedelta(hours=2))
    _collect(server)
    with server.client(user_id) as client:
        completed = client.complete(upload_id_of(final), md5_of(data), "doc")
        assert completed.status_code == 201, completed.text
        assert httpx.get(completed.json()["url"]).content == data
    # once the final is a Media, the partials' objects are garbage
    _collect(server)
    for url in urls:
        assert server.chunk_objects(upload_id_of(url)) == []


def test_a_final_upload_needs_complete_partials_of_the_caller(tus: Tus, server: LiveServer):
    unfinished = tus.create_url(100, **{"Upload-Concat": "partial"})
    plain = tus.create_url(100)
    assert tus.patch(plain, 0, b"p" * 100).status_code == 204
    for parts in ([unfinished], [plain], [unfinished, unfinished], ["http://x/tus/nothing"]):
        response = tus.http.post(
            "/api/v2/media/tus/", headers={"Upload-Concat": "final;" + " ".join(parts)}
        )
        assert response.status_code in (400, 404), (parts, response.text)
    done = send_partials(tus, b"d" * 300, 1)
    other = Tus(server, user_id=2)
    response = other.http.post("/api/v2/media/tus/", headers={"Upload-Concat": f"final;{done[0]}"})
    assert_error(response, 404, "upload_not_found")
    other.close()


def _collect(server: LiveServer) -> None:
    """One garbage collection round on the server's database and storage, at its clock."""

    async def run() -> None:
        services = await Services.start(server.settings, clock=server.clock)
        try:
            await services.gc.collect()
        finally:
            await services.close()

    asyncio.run(run())


def test_a_typed_partial_upload_waits_to_be_joined(tus: Tus):
    headers = {"Upload-Concat": "partial", "Upload-Metadata": metadata(type="doc")}
    url = tus.create_url(100, **headers)
    response = tus.patch(url, 0, b"p" * 100)
    assert response.status_code == 204, response.text
    assert "Media-Id" not in response.headers
    head = tus.head(url)
    assert head.headers["Upload-Offset"] == "100"
    assert head.headers["Upload-Concat"] == "partial"
