"""The web page in headless Chromium: sign in, upload an image and a PDF, see them, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.webpage import WebPage
from tests.support import CHUNK, LiveServer, noise_image, pdf_document, settings_for

pytestmark = pytest.mark.browser


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "files"
    folder.mkdir()
    photo = folder / "photo.png"
    photo.write_bytes(noise_image(400, 300))
    report = folder / "report.pdf"
    report.write_bytes(pdf_document(pages=2, width=300, height=400))
    return {"photo": photo, "report": report}


def test_an_image_and_a_pdf_uploaded_in_chunks_show_in_the_grid_with_their_sizes(
    page: Any, web_server: LiveServer, files: dict[str, Path], artifacts: Path
):
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))
    sent = web.record_chunk_requests()

    web.pick(files["photo"], files["report"])
    web.wait_uploaded("photo.png")
    web.wait_uploaded("report.pdf")

    ranges = sorted(request.headers["content-range"] for request in sent)
    photo_size = files["photo"].stat().st_size
    assert photo_size > CHUNK  # more than one chunk
    assert f"bytes 0-{CHUNK - 1}/{photo_size}" in ranges
    assert f"bytes {CHUNK}-{photo_size - 1}/{photo_size}" in ranges
    photo = web.card("photo.png")
    assert photo.locator(".dims").inner_text() == "400 × 300"
    assert "image/png" in photo.locator(".meta").inner_text()
    web.wait_for_thumbnail(photo)
    with web_server.client(1) as client:
        listed = client.http.get("/api/v2/media/").json()
    pdf = next(m for m in listed["results"] if m["type"] == "doc")
    assert pdf["page_count"] == 2
    report = web.card("report.pdf")
    assert report.locator(".dims").inner_text() == "2 pages"  # not the preview's pixel size
    web.wait_for_thumbnail(report)
    assert listed["count"] == 2
    page.screenshot(path=str(artifacts / "upload-page.png"), full_page=True)


def test_the_grid_is_newest_first_and_delete_removes_a_media(
    page: Any, web_server: LiveServer, files: dict[str, Path]
):
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))
    web.pick(files["photo"])
    web.wait_uploaded("photo.png")
    web.pick(files["report"])
    web.wait_uploaded("report.pdf")
    web.card("report.pdf").wait_for()
    assert web.cards().locator(".name").all_inner_texts() == ["report.pdf", "photo.png"]

    web.card("photo.png").locator(".delete").click()

    web.card("photo.png").wait_for(state="detached")
    assert web.cards().locator(".name").all_inner_texts() == ["report.pdf"]
    assert page.inner_text("#count") == "(1)"
    with web_server.client(1) as client:
        assert client.http.get("/api/v2/media/").json()["count"] == 1


def test_a_file_dropped_on_the_page_is_uploaded(page: Any, web_server: LiveServer):
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))

    web.drop("dropped.png", noise_image(320, 240), "image/png")

    web.wait_uploaded("dropped.png")
    assert web.card("dropped.png").locator(".dims").inner_text() == "320 × 240"


def test_the_dev_token_button_signs_in_as_the_dev_user(
    page: Any, web_server: LiveServer, files: dict[str, Path]
):
    web = WebPage(page, web_server.url).open()

    page.click("#dev-token")
    page.wait_for_selector("#who:has-text('Signed in')")
    web.pick(files["photo"])
    web.wait_uploaded("photo.png")

    with web_server.client(1) as client:
        assert client.http.get("/api/v2/media/").json()["count"] == 1


def test_a_token_survives_a_reload_of_the_page(page: Any, web_server: LiveServer):
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))

    page.reload()

    web.wait_ready()
    assert "Signed in" in page.inner_text("#who")


def test_a_server_without_dev_mode_offers_no_dev_token_button(page: Any, tmp_path: Path):
    plain = LiveServer(settings_for(tmp_path / "plain")).start()
    try:
        WebPage(page, plain.url).open()
        assert page.locator("#dev-token").is_hidden()
    finally:
        plain.stop()


def test_load_more_follows_the_next_page_of_the_list(page: Any, web_server: LiveServer):
    with web_server.client(1) as client:
        for number in range(25):  # one more than a page
            response = client.upload(noise_image(8, 8), filename=f"tiny-{number}.png")
            assert response.status_code == 201, response.text
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))
    assert web.cards().count() == 24
    assert web.cards().first.locator(".name").inner_text() == "tiny-24.png"

    page.click("#more")

    web.card("tiny-0.png").wait_for()
    assert web.cards().count() == 25
    assert page.locator("#more").is_hidden()
    assert page.inner_text("#count") == "(25)"
