"""A real image and a real PDF, uploaded in 204800-byte chunks, served back intact."""

from __future__ import annotations

import httpx

from tests.support import ChunkClient, md5_of, noise_image, pdf_document


def test_png_in_chunks_becomes_an_image_media_serving_the_same_bytes(client: ChunkClient):
    data = noise_image(500, 400)
    assert len(data) > 2 * 204800
    response = client.upload(data, filename="holiday.png")
    assert response.status_code == 201, response.text
    media = response.json()
    assert media["type"] == "image"
    assert (media["image_width"], media["image_height"]) == (500, 400)
    assert media["mimetype"] == "image/png"
    assert media["size"] == len(data)
    assert media["url"] is None and media["order"] == 0 and media["embed"] is None
    assert media["image"].endswith("/holiday.png")
    served = httpx.get(media["image"])
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == "image/png"


def test_jpeg_in_chunks_keeps_its_dimensions(client: ChunkClient):
    data = noise_image(700, 500, "JPEG", quality=95)
    media = client.upload(data, filename="photo.jpg").json()
    assert (media["image_width"], media["image_height"], media["mimetype"]) == (
        700,
        500,
        "image/jpeg",
    )
    assert httpx.get(media["image"]).content == data


def test_multipage_pdf_becomes_a_doc_media_with_its_title(client: ChunkClient):
    data = pdf_document(pages=3)
    assert len(data) > 204800
    response = client.upload(data, field="document", filename="Annual report.pdf")
    assert response.status_code == 201, response.text
    media = response.json()
    assert media["type"] == "doc"
    assert media["title"] == "Annual report.pdf"
    assert media["mimetype"] == "application/pdf"
    served = httpx.get(media["url"])
    assert served.content == data
    assert md5_of(served.content) == md5_of(data)
    assert "Annual%20report.pdf" in served.headers["content-disposition"]
