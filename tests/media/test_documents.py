"""Completing PDFs: page count, encryption marked, first-page preview, broken ones refused."""

from __future__ import annotations

import httpx

from tests.media.samples import encrypted_pdf, opened, stored_media
from tests.support import ChunkClient, LiveServer, assert_error, md5_of, pdf_document


def complete_pdf(client: ChunkClient, data: bytes, filename: str = "Report 2026.pdf") -> dict:
    response = client.upload(data, field="document", filename=filename)
    assert response.status_code == 201, response.text
    return response.json()


def fetch(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response


def test_a_multi_page_pdf_records_its_pages(server: LiveServer, client: ChunkClient):
    media = complete_pdf(client, pdf_document(pages=3, width=300, height=400))
    assert stored_media(server, media["id"]).extra["pages"] == 3


def test_a_pdf_keeps_its_file_name_as_title_and_its_url(client: ChunkClient):
    data = pdf_document(pages=2, width=300, height=400)
    media = complete_pdf(client, data)
    assert media["title"] == "Report 2026.pdf"
    assert media["mimetype"] == "application/pdf"
    assert fetch(media["url"]).content == data


def test_a_pdf_has_a_webp_preview_of_its_first_page_with_its_size(client: ChunkClient):
    media = complete_pdf(client, pdf_document(pages=3, width=300, height=400))
    response = fetch(media["image"])
    assert response.headers["content-type"] == "image/webp"
    assert "content-disposition" not in response.headers
    preview = opened(response.content)
    assert preview.format == "WEBP"
    assert preview.size == (media["image_width"], media["image_height"]) == (768, 1024)


def test_a_pdf_has_a_thumbnail_of_its_first_page(client: ChunkClient):
    media = complete_pdf(client, pdf_document(pages=1, width=400, height=300))
    thumbnail = media["image_thumbnail"]
    image = opened(fetch(thumbnail["url"]).content)
    assert image.size == (thumbnail["width"], thumbnail["height"]) == (400, 300)
    assert thumbnail["color"].startswith("#") and len(thumbnail["color"]) == 7


def test_an_encrypted_pdf_is_accepted_and_marked(server: LiveServer, client: ChunkClient):
    media = complete_pdf(client, encrypted_pdf(user_password="", pages=2), "sealed.pdf")
    extra = stored_media(server, media["id"]).extra
    assert extra["encrypted"] is True
    assert extra["pages"] == 2
    assert media["image"] is not None  # it opens without a password: previewed


def test_a_password_protected_pdf_is_accepted_marked_and_not_previewed(
    server: LiveServer, client: ChunkClient
):
    media = complete_pdf(client, encrypted_pdf(user_password="secret"), "locked.pdf")
    assert stored_media(server, media["id"]).extra["encrypted"] is True
    assert media["url"] is not None
    assert (media["image"], media["image_width"], media["image_height"]) == (None, None, None)
    assert media["image_thumbnail"] is None


def test_a_truncated_pdf_is_invalid_document(client: ChunkClient):
    whole = pdf_document(pages=2, width=300, height=400)
    data = whole[: len(whole) // 2]
    upload_id = client.upload_chunks(data, field="document", filename="cut.pdf")
    assert_error(client.complete(upload_id, md5_of(data)), 400, "invalid_document")
