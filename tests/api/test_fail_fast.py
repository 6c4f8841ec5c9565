"""A first chunk that cannot begin a file of its kind is refused at once, and nothing
is kept; the same code as completion would give (invalid_image / invalid_document)."""

from __future__ import annotations

from tests.support import CHUNK, ChunkClient, LiveServer, assert_error, noise_image, pdf_document


def test_text_as_an_image_is_refused_at_its_first_chunk(server: LiveServer, client: ChunkClient):
    text = b"just some notes, not a picture\n" * 20_000  # several chunks' worth
    response = client.chunk(text[:CHUNK], 0, len(text), filename="notes.png")
    assert_error(response, 400, "invalid_image")
    assert server.stored_keys("chunks/") == []
    assert client.http.get("/api/v2/media/").json()["count"] == 0


def test_a_pdf_sent_in_the_image_field_is_refused_at_its_first_chunk(
    server: LiveServer, client: ChunkClient
):
    pdf = pdf_document(pages=1)
    assert_error(client.chunk(pdf[:CHUNK], 0, len(pdf)), 400, "invalid_image")
    assert server.stored_keys("chunks/") == []


def test_a_png_sent_in_the_document_field_is_refused_at_its_first_chunk(
    server: LiveServer, client: ChunkClient
):
    png = noise_image(300, 300)
    response = client.chunk(png[:CHUNK], 0, len(png), field="document")
    assert_error(response, 400, "invalid_document")
    assert server.stored_keys("chunks/") == []


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
