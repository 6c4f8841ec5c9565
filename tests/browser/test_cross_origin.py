"""The page served from another origin uploads to the API through CORS."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.static_origin import StaticOrigin
from tests.browser.webpage import WebPage
from tests.support import LiveServer, noise_image, settings_for

pytestmark = pytest.mark.browser


@pytest.fixture
def api_server(tmp_path: Path, static_origin: StaticOrigin) -> Any:
    """The API, allowing exactly the static page's origin."""
    live = LiveServer(settings_for(tmp_path / "data", cors_origins=[static_origin.url])).start()
    yield live
    live.stop()


def test_a_page_on_another_origin_uploads_lists_and_deletes_through_cors(
    page: Any, static_origin: StaticOrigin, api_server: LiveServer, tmp_path: Path
):
    photo = tmp_path / "remote.png"
    photo.write_bytes(noise_image(500, 400))
    web = WebPage(page, f"{static_origin.url}/?api={quote(api_server.url, safe='')}").open()
    assert static_origin.url != api_server.url
    web.sign_in(api_server.token(7))
    responses: list[Any] = []
    page.on("response", lambda r: responses.append(r) if r.url.startswith(api_server.url) else None)

    web.pick(photo)
    web.wait_uploaded("remote.png")

    card = web.card("remote.png")
    assert card.locator(".dims").inner_text() == "500 × 400"
    web.wait_for_thumbnail(card)
    chunk_answers = [r for r in responses if r.url.endswith("/upload/chunk/")]
    assert chunk_answers and all(r.status == 201 for r in chunk_answers)
    assert {r.headers["access-control-allow-origin"] for r in chunk_answers} == {static_origin.url}
    card.locator(".delete").click()
    card.wait_for(state="detached")
    with api_server.client(7) as client:
        assert client.http.get("/api/v2/media/").json()["count"] == 0
