"""The web page as the tests see it: what a person clicks, types and reads."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

CHUNK_PATH = "/api/v2/media/upload/chunk/"


def watched_page(context: Any, errors: list[str]) -> Any:
    """A new page in ``context`` whose uncaught errors go to ``errors``, ready for file
    choosers: Playwright turns their interception on with a message it does not wait
    for, so a listener added just before the click that opens one can miss it (seen
    in CI). Subscribing here puts many round trips between the two."""
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("filechooser", lambda _chooser: None)
    page.set_default_timeout(30_000)
    return page


class WebPage:
    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url

    def open(self) -> WebPage:
        self.page.goto(self.url)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        self.page.wait_for_selector("body[data-ready='true']", state="attached")

    def sign_in(self, token: str) -> None:
        self.page.fill("#token", token)
        self.page.click("#use-token")
        self.page.wait_for_selector("#who:has-text('Signed in')")

    def pick(self, *paths: Path) -> None:
        self.page.set_input_files("#file-input", [str(p) for p in paths])

    def drop(self, name: str, data: bytes, mimetype: str) -> None:
        """Drop one file on the drop zone, as a drag from the desktop does."""
        self.page.evaluate(
            """([name, base64, type]) => {
                const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], name, { type }));
                const zone = document.querySelector('#drop');
                zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer }));
                zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer }));
            }""",
            [name, base64.b64encode(data).decode(), mimetype],
        )

    def record_chunk_requests(self) -> list[Any]:
        """Every chunk POST the page sends from now on (Playwright ``Request`` objects)."""
        sent: list[Any] = []
        self.page.on(
            "request",
            lambda request: sent.append(request) if request.url.endswith(CHUNK_PATH) else None,
        )
        return sent

    def row(self, name: str) -> Any:
        return self.page.locator(".upload", has=self.page.locator(f".name:text-is('{name}')"))

    def wait_uploaded(self, name: str) -> Any:
        row = self.row(name)
        row.and_(self.page.locator("[data-state='done']")).wait_for(timeout=60_000)
        return row

    def wait_for_stored_bytes(self, name: str, at_least: int) -> None:
        self.page.wait_for_function(
            """([name, atLeast]) => [...document.querySelectorAll('.upload')].some(
                row => row.querySelector('.name').textContent === name
                    && Number(row.dataset.done) >= atLeast)""",
            arg=[name, at_least],
        )

    def card(self, title: str) -> Any:
        return self.page.locator(".card", has=self.page.locator(f".name:text-is('{title}')"))

    def cards(self) -> Any:
        return self.page.locator(".card")

    def wait_for_thumbnail(self, card: Any) -> None:
        card.locator("img").evaluate(
            """img => img.complete && img.naturalWidth > 0 ? true
                : new Promise((ok, fail) => { img.onload = () => ok(true); img.onerror = fail; })"""
        )
        assert card.locator("img").evaluate("img => img.naturalWidth") > 0
