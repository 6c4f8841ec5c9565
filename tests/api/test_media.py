"""GET/DELETE /api/v2/media/{id}/ and the caller's list GET /api/v2/media/."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support import ChunkClient, LiveServer, assert_error, noise_image

MEDIA = "/api/v2/media/"


def make_media(client: ChunkClient, name: str = "pic.png") -> dict:
    response = client.upload(noise_image(16, 16), filename=name)
    assert response.status_code == 201, response.text
    return response.json()


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.fixture
def three(server: LiveServer, client: ChunkClient) -> list[dict]:
    """Three media of user 1, one second apart, oldest first."""
    made = []
    for index in range(3):
        made.append(make_media(client, f"pic{index}.png"))
        server.clock.advance(timedelta(seconds=1))
    return made


# -- one media -------------------------------------------------------------------------------


def test_get_media_returns_it_to_its_creator(client: ChunkClient):
    media = make_media(client)
    response = client.http.get(f"{MEDIA}{media['id']}/")
    assert response.status_code == 200, response.text
    assert response.json() == media


def test_get_media_returns_it_to_any_other_authenticated_user(
    client: ChunkClient, other_client: ChunkClient
):
    media = make_media(client)
    response = other_client.http.get(f"{MEDIA}{media['id']}/")
    assert response.status_code == 200, response.text
    assert response.json() == media


def test_get_unknown_media_is_404_media_not_found(client: ChunkClient):
    response = client.http.get(f"{MEDIA}987654/")
    assert_error(response, 404, "media_not_found")


# -- delete ----------------------------------------------------------------------------------


def test_delete_by_the_creator_is_204_and_the_media_is_gone(client: ChunkClient):
    media = make_media(client)
    response = client.http.delete(f"{MEDIA}{media['id']}/")
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(client.http.get(f"{MEDIA}{media['id']}/"), 404, "media_not_found")


def test_delete_by_the_creator_removes_the_file_url(client: ChunkClient):
    media = make_media(client)
    assert httpx.get(media["image"]).status_code == 200
    assert client.http.delete(f"{MEDIA}{media['id']}/").status_code == 204
    assert httpx.get(media["image"]).status_code == 404


def test_delete_by_the_creator_removes_it_from_the_list(client: ChunkClient):
    media = make_media(client)
    assert client.http.delete(f"{MEDIA}{media['id']}/").status_code == 204
    listing = client.http.get(MEDIA).json()
    assert listing["count"] == 0 and listing["results"] == []


def test_delete_by_another_user_is_403_not_owner_and_the_media_stays(
    client: ChunkClient, other_client: ChunkClient
):
    media = make_media(client)
    response = other_client.http.delete(f"{MEDIA}{media['id']}/")
    assert_error(response, 403, "not_owner")
    still = client.http.get(f"{MEDIA}{media['id']}/")
    assert still.status_code == 200, still.text
    assert still.json() == media
    assert httpx.get(media["image"]).status_code == 200


def test_delete_of_unknown_media_is_404_media_not_found(client: ChunkClient):
    assert_error(client.http.delete(f"{MEDIA}987654/"), 404, "media_not_found")


# -- the list --------------------------------------------------------------------------------


@pytest.mark.own_server  # three media a second apart: moves the clock
def test_list_holds_only_the_callers_media(
    client: ChunkClient, other_client: ChunkClient, three: list[dict]
):
    theirs = make_media(other_client)
    mine = client.http.get(MEDIA)
    assert mine.status_code == 200, mine.text
    assert mine.json()["count"] == 3
    assert {m["id"] for m in mine.json()["results"]} == {m["id"] for m in three}
    others = other_client.http.get(MEDIA).json()
    assert others["count"] == 1
    assert [m["id"] for m in others["results"]] == [theirs["id"]]


@pytest.mark.own_server  # three media a second apart: moves the clock
def test_list_is_newest_first(client: ChunkClient, three: list[dict]):
    listing = client.http.get(MEDIA).json()
    assert [m["id"] for m in listing["results"]] == [m["id"] for m in reversed(three)]


@pytest.mark.own_server  # three media a second apart: moves the clock
def test_list_without_parameters_has_no_next_or_previous(client: ChunkClient, three: list[dict]):
    listing = client.http.get(MEDIA).json()
    assert set(listing) == {"count", "next", "previous", "results"}
    assert listing["count"] == 3
    assert listing["next"] is None and listing["previous"] is None
    assert listing["results"] == list(reversed(three))


def test_list_of_a_user_with_no_media_is_empty(client: ChunkClient):
    response = client.http.get(MEDIA)
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.own_server  # three media a second apart: moves the clock
def test_list_first_page_of_limit_2_has_next_and_no_previous(
    client: ChunkClient, three: list[dict]
):
    response = client.http.get(MEDIA, params={"limit": 2})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["count"] == 3
    assert [m["id"] for m in page["results"]] == [three[2]["id"], three[1]["id"]]
    assert page["previous"] is None
    assert page["next"] is not None
    assert query(page["next"]) == {"limit": ["2"], "offset": ["2"]}


@pytest.mark.own_server  # three media a second apart: moves the clock
def test_list_next_link_leads_to_the_last_page(client: ChunkClient, three: list[dict]):
    first = client.http.get(MEDIA, params={"limit": 2}).json()
    response = client.http.get(first["next"])
    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["results"]] == [three[0]["id"]]


@pytest.mark.own_server  # three media a second apart: moves the clock
def test_list_page_at_offset_2_has_previous_and_no_next(client: ChunkClient, three: list[dict]):
    response = client.http.get(MEDIA, params={"limit": 2, "offset": 2})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["count"] == 3
    assert [m["id"] for m in page["results"]] == [three[0]["id"]]
    assert page["next"] is None
    assert page["previous"] is not None
    previous = query(page["previous"])
    assert previous["limit"] == ["2"]
    # DRF omits offset=0 from the previous link; either form means the first page
    assert previous.get("offset", ["0"]) == ["0"]


@pytest.mark.own_server  # three media a second apart: moves the clock
def test_list_with_offset_2_and_the_default_limit_has_previous(
    client: ChunkClient, three: list[dict]
):
    page = client.http.get(MEDIA, params={"offset": 2}).json()
    assert [m["id"] for m in page["results"]] == [three[0]["id"]]
    assert page["next"] is None and page["previous"] is not None


def test_list_limit_100_is_allowed(client: ChunkClient):
    assert client.http.get(MEDIA, params={"limit": 100}).status_code == 200


def test_list_limit_above_100_is_400(client: ChunkClient):
    response = client.http.get(MEDIA, params={"limit": 101})
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and body["detail"]
