"""The grid's pictures: srcset from the renditions, the BlurHash painted while they load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.webpage import WebPage
from tests.support import LiveServer, noise_image

pytestmark = pytest.mark.browser


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "wide.png"
    path.write_bytes(noise_image(1400, 1000))
    return path


def test_a_card_offers_the_renditions_in_srcset(page: Any, web_server: LiveServer, photo: Path):
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))
    web.pick(photo)
    web.wait_uploaded("wide.png")
    card = web.card("wide.png")
    web.wait_for_thumbnail(card)
    with web_server.client(1) as client:
        media = client.http.get("/api/v2/media/").json()["results"][0]
    image = card.locator("img")
    expected = ", ".join(f"{r['url']} {r['width']}w" for r in media["image_renditions"])
    assert image.get_attribute("srcset") == expected
    assert [r["width"] for r in media["image_renditions"]] == [320, 640, 1280]
    assert image.get_attribute("sizes")
    chosen = image.evaluate("img => img.currentSrc")
    assert chosen in {r["url"] for r in media["image_renditions"]}


def test_a_card_paints_the_blurhash_until_its_picture_arrives(
    page: Any, web_server: LiveServer, photo: Path
):
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text))
    page.route("**/media/*/renditions/**", lambda route: None)  # never answered
    page.route("**/media/*/thumbnail/**", lambda route: None)
    web = WebPage(page, web_server.url).open()
    web.sign_in(web_server.token(1))
    web.pick(photo)
    web.wait_uploaded("wide.png")
    image = web.card("wide.png").locator("img")
    background = image.evaluate("img => img.style.backgroundImage")
    assert background.startswith('url("data:image/png;base64,')
    assert not [text for text in warnings if "blurhash" in text]
