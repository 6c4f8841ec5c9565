"""The uploaders people drop onto an upload service, for real, in headless Chromium.

Each runs from a page on another origin than the API (CORS), bundled by esbuild
from the npm packages in ``tests/browser/js`` (versions pinned there):

- Uppy (``@uppy/core`` + ``@uppy/dashboard`` + ``@uppy/tus``) exactly as its
  docs show it, ``new Uppy().use(Tus, {endpoint, headers})``, with no per-file
  hooks: Uppy sends each file's MIME type as ``type`` metadata, which names the
  Media type, and the last PATCH completes the upload;
- react-uploady's ``ChunkedUploady`` (``@rpldy/chunked-uploady``) driven as
  SelfCommunity's React UI drives it: 204800-byte chunks with ``Content-Range``
  to the contract's chunk endpoint, ``upload_id`` from the first answer added to
  every later chunk, then the whole file's MD5 posted to complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.browser.static_origin import StaticOrigin
from tests.support import CHUNK, LiveServer, noise_image, pdf_document, settings_for

pytestmark = pytest.mark.browser
UPPY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Uppy</title>
<link rel="stylesheet" href="/uppy.css"></head>
<body><main id="uppy"></main><script src="/uppy.js"></script></body></html>
"""
UPLOADY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>react-uploady</title></head>
<body><main id="uploady"></main><script src="/uploady.js"></script></body></html>
"""
THROTTLED = 256 * 1024  # bytes per second up, while a pause is clicked


@pytest.fixture
def api_server(tmp_path: Path, static_origin: StaticOrigin) -> Any:
    """The API, allowing exactly the client pages' origin."""
    live = LiveServer(settings_for(tmp_path / "data", cors_origins=[static_origin.url])).start()
    yield live
    live.stop()


@pytest.fixture
def client_pages(static_origin: StaticOrigin, client_bundles: Path) -> StaticOrigin:
    for bundle in client_bundles.iterdir():
        (static_origin.root / bundle.name).write_bytes(bundle.read_bytes())
    (static_origin.root / "uppy.html").write_text(UPPY_PAGE)
    (static_origin.root / "uploady.html").write_text(UPLOADY_PAGE)
    return static_origin


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "files"
    folder.mkdir()
    made = {
        "photo.jpg": noise_image(420, 300, "JPEG", quality=92),
        "report.pdf": pdf_document(pages=3, width=300, height=400),
        "big.jpg": noise_image(1000, 800, "JPEG", quality=95),  # about 1 MB
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in made}


def open_client(page: Any, origin: StaticOrigin, name: str, api: LiveServer, **extra: str) -> None:
    query = urlencode({"api": api.url, "token": api.token(1), **extra})
    page.goto(f"{origin.url}/{name}.html?{query}")


def listed_media(api: LiveServer) -> list[dict[str, Any]]:
    with api.client(1) as client:
        return list(client.http.get("/api/v2/media/").json()["results"])


def file_bytes(media: dict[str, Any]) -> bytes:
    return httpx.get(media["url"] if media["type"] == "doc" else media["image"]).content


def test_uppy_with_dashboard_and_tus_uploads_a_jpeg_and_a_pdf_as_media_of_their_type(
    page: Any, client_pages: StaticOrigin, api_server: LiveServer, files: dict[str, Path]
):
    open_client(page, client_pages, "uppy", api_server)
    page.locator(".uppy-Dashboard-input").first.set_input_files(
        [str(files["photo.jpg"]), str(files["report.pdf"])]
    )
    page.get_by_role("button", name="Upload 2 files").click()

    page.wait_for_function("window.uppyResults.length === 2")
    results = page.evaluate("window.uppyResults")
    assert all("error" not in result for result in results), results
    page.get_by_text("Complete", exact=True).wait_for()
    media = {m["mimetype"]: m for m in listed_media(api_server)}
    assert media["image/jpeg"]["type"] == "image"
    assert (media["image/jpeg"]["image_width"], media["image/jpeg"]["image_height"]) == (420, 300)
    assert file_bytes(media["image/jpeg"]) == files["photo.jpg"].read_bytes()
    assert media["application/pdf"]["type"] == "doc"
    assert media["application/pdf"]["title"] == "report.pdf"
    assert media["application/pdf"]["page_count"] == 3
    assert file_bytes(media["application/pdf"]) == files["report.pdf"].read_bytes()


def test_uppy_paused_and_resumed_completes_with_the_right_bytes(
    page: Any, client_pages: StaticOrigin, api_server: LiveServer, files: dict[str, Path]
):
    big = files["big.jpg"]
    open_client(page, client_pages, "uppy", api_server, chunkSize=str(64 * 1024))
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": THROTTLED},
    )
    page.locator(".uppy-Dashboard-input").first.set_input_files(str(big))
    page.get_by_role("button", name="Upload 1 file").click()
    page.wait_for_function(
        "uppy.getFiles()[0].progress.bytesUploaded >= 2 * 64 * 1024", polling=100
    )

    page.get_by_role("button", name="Pause", exact=True).first.click()

    page.get_by_role("button", name="Resume", exact=True).first.wait_for()
    paused = page.evaluate("uppy.getFiles()[0]")
    assert paused["isPaused"] is True
    assert 0 < paused["progress"]["bytesUploaded"] < big.stat().st_size
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.get_by_role("button", name="Resume", exact=True).first.click()

    page.wait_for_function("window.uppyResults.length === 1")
    assert "error" not in page.evaluate("window.uppyResults[0]")
    (media,) = listed_media(api_server)
    assert (media["type"], media["mimetype"]) == ("image", "image/jpeg")
    assert file_bytes(media) == big.read_bytes()


def test_react_uploady_chunked_uploads_an_image_and_a_pdf_through_the_contract(
    page: Any, client_pages: StaticOrigin, api_server: LiveServer, files: dict[str, Path]
):
    answers: list[Any] = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/upload/chunk/") else None)
    open_client(page, client_pages, "uploady", api_server)

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload an image").click()
    chooser.value.set_files(str(files["big.jpg"]))
    page.wait_for_function("window.uploadyResults.length === 1")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload a document").click()
    chooser.value.set_files(str(files["report.pdf"]))
    page.wait_for_function("window.uploadyResults.length === 2")

    results = page.evaluate("window.uploadyResults")
    assert [r.get("status") for r in results] == [201, 201], results
    size = files["big.jpg"].stat().st_size
    image_chunks = [r for r in answers if r.request.headers["content-range"].endswith(f"/{size}")]
    assert [r.request.headers["content-range"] for r in image_chunks] == [
        f"bytes {start}-{min(start + CHUNK, size) - 1}/{size}" for start in range(0, size, CHUNK)
    ]
    assert {r.status for r in image_chunks} == {201}
    # one upload: every chunk after the first carried the first answer's upload_id
    (upload_id,) = {r.json()["upload_id"] for r in image_chunks}
    with api_server.client(1) as client:
        assert client.status(upload_id).json()["kind"] == "image"  # the `image` field
    media = {m["type"]: m for m in listed_media(api_server)}
    assert media["image"]["mimetype"] == "image/jpeg"
    assert file_bytes(media["image"]) == files["big.jpg"].read_bytes()
    assert (media["doc"]["mimetype"], media["doc"]["page_count"]) == ("application/pdf", 3)
    assert file_bytes(media["doc"]) == files["report.pdf"].read_bytes()
    assert media["doc"]["title"] == "report.pdf"  # the file name rpldy gives each chunk
    assert page.get_by_text(f"uploaded as media {media['doc']['id']}").is_visible()


def test_uppy_refuses_a_pdf_renamed_as_a_jpeg_at_its_first_patch(
    page: Any, client_pages: StaticOrigin, api_server: LiveServer, files: dict[str, Path]
):
    fake = files["report.pdf"].with_name("holiday.jpg")  # Uppy types it image/jpeg by its name
    fake.write_bytes(files["report.pdf"].read_bytes())
    patches: list[Any] = []
    page.on("request", lambda r: patches.append(r) if r.method == "PATCH" else None)
    open_client(page, client_pages, "uppy", api_server, chunkSize=str(64 * 1024))
    page.locator(".uppy-Dashboard-input").first.set_input_files(str(fake))
    page.get_by_role("button", name="Upload 1 file").click()

    page.wait_for_function("window.uppyResults.length === 1")
    assert "invalid_image" in page.evaluate("window.uppyResults[0].error")
    assert len(patches) == 1  # refused at the first PATCH, not after every byte
    assert listed_media(api_server) == []
