"""What kind a tus upload is, from its metadata as real clients send it, and the
first PATCH refused at once when its bytes cannot be that kind.

Uppy sets every file's ``type`` to its MIME type and sends all of a file's meta
as ``Upload-Metadata`` (``name``, ``type``, ``filetype``, ``filename``, ...).
"""

from __future__ import annotations

import httpx

from tests.support import CHUNK, LiveServer, assert_error, noise_image, pdf_document
from tests.tus.conftest import Tus, metadata, upload_id_of


def uppy_metadata(name: str, mimetype: str) -> dict[str, str]:
    meta = metadata(name=name, type=mimetype, filetype=mimetype, filename=name)
    return {"Upload-Metadata": meta + ",relativePath"}  # Uppy sends relativePath: null


def test_an_uppy_jpeg_completes_itself_as_an_image(tus: Tus):
    data = noise_image(320, 240, "JPEG", quality=90)
    url = tus.create_url(len(data), **uppy_metadata("photo.jpg", "image/jpeg"))
    response = tus.patch(url, 0, data)
    assert response.status_code == 204, response.text
    media = tus.http.get(f"/api/v2/media/{response.headers['Media-Id']}/").json()
    assert (media["type"], media["mimetype"], media["image_width"]) == ("image", "image/jpeg", 320)
    assert httpx.get(media["image"]).content == data


def test_an_uppy_pdf_completes_itself_as_a_document_with_its_page_count(tus: Tus):
    data = pdf_document(pages=2, width=200, height=300)
    url = tus.create_url(len(data), **uppy_metadata("minutes.pdf", "application/pdf"))
    response = tus.patch(url, 0, data)
    assert response.status_code == 204, response.text
    media = tus.http.get(f"/api/v2/media/{response.headers['Media-Id']}/").json()
    assert (media["type"], media["title"], media["page_count"]) == ("doc", "minutes.pdf", 2)


def test_a_mime_type_in_type_sets_the_size_limit_of_its_kind(tus: Tus):
    too_big = 5 * 1024 * 1024 + 1
    assert_error(
        tus.create(too_big, **uppy_metadata("a.png", "image/png")), 413, "upload_too_large"
    )
    assert tus.create(too_big, **uppy_metadata("a.pdf", "application/pdf")).status_code == 201


def test_a_pdf_declared_as_a_jpeg_is_refused_at_its_first_patch_and_not_kept(
    tus: Tus, server: LiveServer
):
    data = pdf_document(pages=3)
    assert len(data) > 2 * CHUNK
    url = tus.create_url(len(data), **uppy_metadata("holiday.jpg", "image/jpeg"))
    assert_error(tus.patch(url, 0, data), 400, "invalid_image")
    assert server.stored_keys(f"chunks/{upload_id_of(url)}/") == []
    assert tus.head(url).status_code == 404  # the upload is gone with its bytes


def test_with_a_filetype_alone_bytes_of_neither_kind_are_refused(tus: Tus):
    """The client completes such an upload and may still choose its type: only bytes
    that are neither an image nor a PDF are refused at once."""
    url = tus.create_url(1000, **{"Upload-Metadata": metadata(filetype="application/pdf")})
    assert_error(tus.patch(url, 0, b"plain text " * 90 + b"!" * 10), 400, "invalid_document")
    other = tus.create_url(1000, **{"Upload-Metadata": metadata(filetype="application/pdf")})
    assert tus.patch(other, 0, noise_image(30, 30)[:1000]).status_code == 204


def test_creation_with_upload_of_the_wrong_kind_keeps_nothing(tus: Tus, server: LiveServer):
    before = set(server.stored_keys("chunks/"))  # the shared server's other tests' chunks
    text = b"plain text, not an image at all" * 100
    response = tus.create(len(text), text, **uppy_metadata("notes.png", "image/png"))
    assert_error(response, 400, "invalid_image")
    assert set(server.stored_keys("chunks/")) - before == set()


def test_without_type_or_filetype_the_bytes_are_not_judged_before_completion(tus: Tus):
    url = tus.create_url(100, **{"Upload-Metadata": metadata(filename="a.bin")})
    assert tus.patch(url, 0, b"k" * 100).status_code == 204
