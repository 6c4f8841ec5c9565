"""Interrupted uploads: retried chunks, pause and resume, and a reload half-way through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.webpage import WebPage
from tests.support import CHUNK, LiveServer, noise_image

pytestmark = pytest.mark.browser
CHUNK_URL = "**/api/v2/media/upload/chunk/"
LET_THROUGH = 4  # chunk requests that reach the server before the link "goes down"


def stored_bytes(ranges: list[list[int]]) -> int:
    return sum(last - first + 1 for first, last in ranges)


def covered(ranges: list[list[int]], start: int) -> bool:
    return any(first <= start <= last for first, last in ranges)


def cut_link_after(page: Any, allowed: int) -> None:
    """Let ``allowed`` chunk requests through, then fail every other one (a lost link)."""
    passed = [0]

    def handle(route: Any) -> None:
        if passed[0] < allowed:
            passed[0] += 1
            route.continue_()
        else:
            route.abort()

    page.route(CHUNK_URL, handle)


def test_a_paused_upload_resumes_after_a_reload_sending_only_the_missing_chunks(
    page: Any, web_server: LiveServer, tmp_path: Path
):
    photo = tmp_path / "big.png"
    photo.write_bytes(noise_image(1000, 900))  # about 2.7 MB: 14 chunks
    size = photo.stat().st_size
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))
    cut_link_after(page, LET_THROUGH)

    web.pick(photo)
    web.wait_for_stored_bytes("big.png", LET_THROUGH * CHUNK)
    web.row("big.png").locator(".pause").click()
    assert web.row("big.png").locator(".state").inner_text() == "paused"
    upload_id = web.row("big.png").get_attribute("data-upload-id")
    page.reload()
    web.wait_ready()
    with web_server.client(1) as client:
        before = client.status(upload_id).json()
    assert before["status"] == "uploading"
    assert stored_bytes(before["ranges"]) == LET_THROUGH * CHUNK

    page.unroute(CHUNK_URL)
    sent = web.record_chunk_requests()
    web.pick(photo)
    row = web.wait_uploaded("big.png")

    assert row.get_attribute("data-resumed") == "true"
    assert row.get_attribute("data-upload-id") == upload_id
    starts = sorted(int(r.headers["content-range"].split()[1].split("-")[0]) for r in sent)
    assert starts == [s for s in range(0, size, CHUNK) if not covered(before["ranges"], s)]
    assert len(starts) == len(range(0, size, CHUNK)) - LET_THROUGH
    with web_server.client(1) as client:
        after = client.status(upload_id).json()
    assert after["status"] == "completed"
    card = web.card("big.png")
    assert card.get_attribute("data-media-id") == str(after["media_id"])
    assert card.locator(".dims").inner_text() == "1000 × 900"


def test_a_paused_upload_goes_on_when_resumed(page: Any, web_server: LiveServer, tmp_path: Path):
    photo = tmp_path / "paused.png"
    photo.write_bytes(noise_image(700, 500))  # about 1 MB: 6 chunks
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))
    cut_link_after(page, 2)
    web.pick(photo)
    web.wait_for_stored_bytes("paused.png", 2 * CHUNK)
    pause = web.row("paused.png").locator(".pause")
    pause.click()
    assert pause.inner_text() == "Resume"

    page.unroute(CHUNK_URL)
    pause.click()

    web.wait_uploaded("paused.png")
    assert web.card("paused.png").locator(".dims").inner_text() == "700 × 500"


def test_a_chunk_lost_on_the_network_or_answered_503_is_retried(
    page: Any, web_server: LiveServer, tmp_path: Path
):
    photo = tmp_path / "flaky.png"
    photo.write_bytes(noise_image(400, 300))  # two chunks
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))
    failures = ["network", "503"]

    def fail_second_chunk_twice(route: Any) -> None:
        if "upload_id" not in (route.request.post_data_buffer or b"").decode("latin-1"):
            route.continue_()  # the first chunk
        elif failures:
            failure = failures.pop(0)
            if failure == "network":
                route.abort()
            else:
                route.fulfill(status=503, json={"detail": "busy", "code": "storage_unavailable"})
        else:
            route.continue_()

    page.route(CHUNK_URL, fail_second_chunk_twice)
    sent = web.record_chunk_requests()
    web.pick(photo)

    web.wait_uploaded("flaky.png")
    assert failures == []
    assert len(sent) == 2 + 2  # two chunks, the second one sent three times
    assert web.card("flaky.png").locator(".dims").inner_text() == "400 × 300"
