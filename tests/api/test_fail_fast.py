"""A first chunk that cannot begin any file the service takes (neither an image nor a
PDF) is refused at once, and nothing is kept; the code is the one completion would
give for the field's kind (invalid_image / invalid_document). The other kind's bytes
pass: completion's ``type`` may still override the field."""

from __future__ import annotations

from tests.support import (
    CHUNK,
    ChunkClient,
    LiveServer,
    assert_error,
    md5_of,
    noise_image,
    pdf_document,
)


def test_text_as_an_image_is_refused_at_its_first_chunk(server: LiveServer, client: ChunkClient):
    text = b"just some notes, not a picture\n" * 20_000  # several chunks' worth
    response = client.chunk(text[:CHUNK], 0, len(text), filename="notes.png")
    assert_error(response, 400, "invalid_image")
    assert server.stored_keys("chunks/") == []
    assert client.http.get("/api/v2/media/").json()["count"] == 0


def test_a_zip_sent_as_a_document_is_refused_at_its_first_chunk(
    server: LiveServer, client: ChunkClient
):
    archive = b"PK\x03\x04" + b"\0" * 5000
    response = client.chunk(archive, 0, len(archive), field="document", filename="a.pdf")
    assert_error(response, 400, "invalid_document")
    assert server.stored_keys("chunks/") == []


def test_a_png_in_the_document_field_may_still_be_completed_as_an_image(client: ChunkClient):
    """Completion's ``type`` may override the field, so the other kind's bytes pass."""
    png = noise_image(300, 300)
    upload_id = client.upload_chunks(png, field="document", filename="photo.png")
    media = client.complete(upload_id, md5_of(png), "image")
    assert media.status_code == 201, media.text
    assert media.json()["type"] == "image"


def test_a_pdf_in_the_image_field_may_still_be_completed_as_a_document(client: ChunkClient):
    pdf = pdf_document(pages=1)
    upload_id = client.upload_chunks(pdf, filename="report.pdf")
    media = client.complete(upload_id, md5_of(pdf), "doc")
    assert media.status_code == 201, media.text
    assert (media.json()["type"], media.json()["page_count"]) == ("doc", 1)


def test_a_first_chunk_resent_with_its_upload_id_is_checked_too(client: ChunkClient):
    png = noise_image(300, 300)
    upload_id = client.chunk(png[:CHUNK], 0, len(png)).json()["upload_id"]
    again = client.chunk(b"x" * CHUNK, 0, len(png), upload_id=upload_id)
    assert_error(again, 400, "invalid_image")


def test_later_chunks_are_not_judged_by_their_first_bytes(client: ChunkClient):
    png = noise_image(300, 300)
    upload_id = client.chunk(png[:CHUNK], 0, len(png)).json()["upload_id"]
    rest = client.chunk(png[CHUNK:], CHUNK, len(png), upload_id=upload_id)
    assert rest.status_code == 201, rest.text
