"""A tus final upload whose completion is refused keeps the client's work (issue 14)."""

from __future__ import annotations

import httpx

from tests.support import LiveServer, assert_error, pdf_document
from tests.tus.conftest import TUS, Tus, metadata
from tests.tus.test_concatenation import send_partials


def test_a_final_upload_whose_completion_is_refused_leaves_its_partials_joinable(
    tus: Tus, server: LiveServer
):
    data = pdf_document(pages=1)
    urls = send_partials(tus, data, 3)
    final = "final;" + " ".join(urls)
    as_image = {"Upload-Concat": final, "Upload-Metadata": metadata(filename="a.pdf", type="image")}
    assert_error(tus.http.post(TUS, headers=as_image), 400, "invalid_image")
    for url in urls:  # whole, and still partials
        head = tus.head(url)
        assert head.status_code == 200, head.text
        assert head.headers["Upload-Concat"] == "partial"
        assert head.headers["Upload-Offset"] == head.headers["Upload-Length"]

    as_doc = {"Upload-Concat": final, "Upload-Metadata": metadata(filename="a.pdf", type="doc")}
    joined = tus.http.post(TUS, headers=as_doc)
    assert joined.status_code == 201, joined.text
    with server.client(tus.user_id) as client:
        media = client.http.get(f"/api/v2/media/{joined.headers['Media-Id']}/").json()
    assert httpx.get(media["url"]).content == data
