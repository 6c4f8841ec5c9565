"""What the client raises when something other than chunkup answers: a success status
with a body that is not the contract's JSON (a captive portal, a misrouted proxy), and
a link that fails without a message. In-process, the far end an httpx ``MockTransport``
(``client/_http.py``)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from chunkup.client import AsyncClient, Client, InvalidResponse, NetworkError, Retry

PORTAL = "<html><body>Please log in to the hotel Wi-Fi</body></html>"


def portal(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text=PORTAL, headers={"Content-Type": "text/html"})


def wrong_json(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "not a number", "image": None})


@pytest.mark.parametrize("answer", [portal, wrong_json], ids=["html", "other json"])
def test_a_success_answer_that_is_not_the_contracts_json_is_an_invalid_response(
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    with Client("http://media.test", "t", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(InvalidResponse) as raised:
            client.get_media(42)

    assert str(raised.value) == (
        "invalid_response: GET /api/v2/media/42/ answered 200 with a body that is not a Media"
    )
    assert raised.value.status is None  # not the server's error: no status to act on


async def test_the_async_client_says_the_same() -> None:
    transport = httpx.MockTransport(portal)
    async with AsyncClient("http://media.test", "t", transport=transport) as client:
        with pytest.raises(InvalidResponse, match="GET /api/v2/media/upload/abc/ answered 200"):
            await client.status("abc")


def test_a_link_failing_without_a_message_is_named_by_its_kind() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("")

    transport = httpx.MockTransport(refuse)
    with Client("http://media.test", "t", retry=Retry(attempts=1), transport=transport) as client:
        with pytest.raises(NetworkError) as raised:
            client.get_media(1)

    assert raised.value.detail == "GET http://media.test/api/v2/media/1/ failed: ConnectError"
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
