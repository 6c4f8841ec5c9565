"""Bearer JWT authentication on every /api/v2 endpoint: only good HS256 access tokens pass."""

from __future__ import annotations

import base64
import json
import secrets
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import SECRET, LiveServer, settings_for

UPLOAD_ID = secrets.token_hex(16)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("auth") / "data"
    live = LiveServer(settings_for(data_dir)).start()
    yield live
    live.stop()


# -- the endpoints ---------------------------------------------------------------------------


def _chunk(http: httpx.Client) -> httpx.Response:
    return http.post(
        "/api/v2/media/upload/chunk/",
        files={"image": ("a.bin", b"0123456789", "application/octet-stream")},
        headers={"Content-Range": "bytes 0-9/10"},
    )


ENDPOINTS: dict[str, Callable[[httpx.Client], httpx.Response]] = {
    "POST chunk": _chunk,
    "GET upload status": lambda h: h.get(f"/api/v2/media/upload/{UPLOAD_ID}/"),
    "DELETE upload": lambda h: h.delete(f"/api/v2/media/upload/{UPLOAD_ID}/"),
    "POST complete": lambda h: h.post(
        "/api/v2/media/upload/complete/", data={"upload_id": UPLOAD_ID, "md5": "0" * 32}
    ),
    "GET media list": lambda h: h.get("/api/v2/media/"),
    "GET media": lambda h: h.get("/api/v2/media/1/"),
    "DELETE media": lambda h: h.delete("/api/v2/media/1/"),
}


# -- tokens ----------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "token_type": "access",
        "user_id": 1,
        "iat": now,
        "exp": now + 3600,
        "jti": secrets.token_hex(8),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def hand_built(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(payload).encode())
    return f"{head}.{body}.{b64url(signature)}"


def rs256_token() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims(), key, algorithm="RS256")


def hs512_token() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test secret is short for SHA-512; irrelevant here
        return jwt.encode(claims(), SECRET, algorithm="HS512")


def bearer(token: str) -> str:
    return f"Bearer {token}"


BAD_AUTHORIZATION: dict[str, Callable[[], str | None]] = {
    "no header": lambda: None,
    "bad signature": lambda: bearer(
        jwt.encode(claims(), "another-secret-another-secret-xyz", algorithm="HS256")
    ),
    "expired": lambda: bearer(
        jwt.encode(
            claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 60),
            SECRET,
            algorithm="HS256",
        )
    ),
    "alg none": lambda: bearer(hand_built({"alg": "none", "typ": "JWT"}, claims())),
    "alg None capitalized": lambda: bearer(hand_built({"alg": "None", "typ": "JWT"}, claims())),
    "refresh token_type": lambda: bearer(
        jwt.encode(claims(token_type="refresh"), SECRET, algorithm="HS256")
    ),
    "missing token_type": lambda: bearer(
        jwt.encode(claims(token_type=None), SECRET, algorithm="HS256")
    ),
    "missing user_id": lambda: bearer(jwt.encode(claims(user_id=None), SECRET, algorithm="HS256")),
    "missing jti": lambda: bearer(jwt.encode(claims(jti=None), SECRET, algorithm="HS256")),
    "missing exp": lambda: bearer(jwt.encode(claims(exp=None), SECRET, algorithm="HS256")),
    "missing iat": lambda: bearer(jwt.encode(claims(iat=None), SECRET, algorithm="HS256")),
    "non-integer user_id": lambda: bearer(
        jwt.encode(claims(user_id="1"), SECRET, algorithm="HS256")
    ),
    "RS256 headed": lambda: bearer(rs256_token()),
    "HS512 with the right secret": lambda: bearer(hs512_token()),
    "garbage bearer": lambda: "Bearer abc",
    "scheme only": lambda: "Bearer",
    "basic scheme": lambda: "Basic " + base64.b64encode(b"user:password").decode(),
    "token without scheme": lambda: jwt.encode(claims(), SECRET, algorithm="HS256"),
}


def call(server: LiveServer, endpoint: str, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        return ENDPOINTS[endpoint](http)


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate", "").split()[0] == "Bearer"
    body = response.json()
    assert body["code"] == "invalid_token", body
    assert isinstance(body["detail"], str) and body["detail"]


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_good_hs256_access_token_is_accepted(auth_server: LiveServer, endpoint: str):
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    response = call(auth_server, endpoint, bearer(token))
    assert response.status_code != 401, response.text
    assert response.status_code < 500, response.text


def test_a_hand_built_hs256_token_is_accepted(auth_server: LiveServer):
    """The hand-built encoding used for the alg-none cases is itself sound."""
    import hashlib
    import hmac

    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims()).encode())
    signature = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    token = f"{header}.{payload}.{b64url(signature.digest())}"
    response = call(auth_server, "GET media list", bearer(token))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("case", list(BAD_AUTHORIZATION))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_bad_or_missing_token_is_401_with_www_authenticate_bearer(
    auth_server: LiveServer, endpoint: str, case: str
):
    assert_401(call(auth_server, endpoint, BAD_AUTHORIZATION[case]()))


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_20_kb_token_is_refused_with_401_or_431(auth_server: LiveServer, endpoint: str):
    token = jwt.encode(claims(padding="x" * 20_000), SECRET, algorithm="HS256")
    assert len(token) > 20_000
    response = call(auth_server, endpoint, bearer(token))
    assert response.status_code in (401, 431), response.text
    if response.status_code == 401:
        assert_401(response)
