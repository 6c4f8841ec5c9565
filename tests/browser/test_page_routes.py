"""The page's routes over plain HTTP: ``/``, ``/web/...``, and ``POST /dev/token`` in dev mode."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from chunkup.settings import Settings
from tests.support import LiveServer, ServerProcess, settings_for


@pytest.fixture
def plain_server(tmp_path: Path):
    live = LiveServer(settings_for(tmp_path / "plain")).start()
    yield live
    live.stop()


def test_the_page_is_served_at_the_root_with_a_content_security_policy(plain_server: LiveServer):
    response = httpx.get(f"{plain_server.url}/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert 'data-dev="false"' in response.text


def test_the_page_scripts_are_served_as_javascript(plain_server: LiveServer):
    for name in ("app.js", "uploader.js", "vendor/spark-md5.js"):
        response = httpx.get(f"{plain_server.url}/web/{name}")
        assert response.status_code == 200, name
        assert "javascript" in response.headers["content-type"], name


def test_the_page_and_dev_routes_stay_out_of_the_openapi_schema(web_server: LiveServer):
    paths = httpx.get(f"{web_server.url}/openapi.json").json()["paths"]
    assert "/" not in paths
    assert "/dev/token" not in paths


def test_without_dev_mode_there_is_no_dev_token(plain_server: LiveServer):
    assert httpx.post(f"{plain_server.url}/dev/token").status_code in (404, 405)


def test_a_dev_token_lists_the_dev_users_media(web_server: LiveServer):
    body = httpx.post(f"{web_server.url}/dev/token").json()
    assert body["user_id"] == 1
    response = httpx.get(
        f"{web_server.url}/api/v2/media/", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert response.status_code == 200, response.text


def test_in_dev_mode_the_page_shows_the_dev_token_button(web_server: LiveServer):
    assert 'data-dev="true"' in httpx.get(f"{web_server.url}/").text


def test_dev_mode_refuses_asymmetric_token_algorithms():
    with pytest.raises(ValidationError, match="dev mode"):
        Settings(dev=True, jwt_algorithm="RS256", jwt_public_key="-----BEGIN PUBLIC KEY-----")


@pytest.mark.parametrize(
    ("args", "env"), [(["--dev"], {}), ([], {"CHUNKUP_DEV": "1"})], ids=["flag", "env"]
)
def test_chunkup_serve_in_dev_mode_hands_out_dev_tokens(
    tmp_path: Path, args: list[str], env: dict[str, str]
):
    server = ServerProcess(tmp_path, "--data-dir", str(tmp_path / "data"), *args, env=env).start()
    try:
        response = httpx.post(f"{server.url}/dev/token")
    finally:
        server.stop()
    assert response.status_code == 200, response.text


def test_the_api_docs_name_no_external_url_and_their_assets_are_served(
    plain_server: LiveServer,
):
    for path in ("/docs", "/redoc"):
        page = httpx.get(f"{plain_server.url}{path}")
        assert page.status_code == 200, path
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page.text)
        urls += re.findall(r"""url\s*:\s*['"]([^'"]+)""", page.text)
        assert urls, path
        assert not [url for url in urls if re.match(r"(https?:)?//", url)], (path, urls)
        for url in urls:
            assert httpx.get(f"{plain_server.url}{url}").status_code == 200, url


def test_the_page_has_a_favicon(plain_server: LiveServer):
    assert '<link rel="icon" href="/web/favicon.svg"' in httpx.get(f"{plain_server.url}/").text
    icon = httpx.get(f"{plain_server.url}/web/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")


def test_the_page_is_told_the_servers_size_limits(tmp_path: Path):
    live = LiveServer(settings_for(tmp_path / "small", image_max_bytes=300_000)).start()
    try:
        html = httpx.get(f"{live.url}/").text
    finally:
        live.stop()
    assert 'data-image-max="300000"' in html
    assert 'data-document-max="52428800"' in html
