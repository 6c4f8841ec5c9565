"""Never a 5xx for anything a client sends.

First the inputs that answered ``500`` on main (each also closed the connection
and logged a traceback twice), one test each. Then a property test: Hypothesis
throws arbitrary header values, ``Range`` values, tokens with odd claims and
JSON, form, multipart and raw bodies at every route (the app's own OpenAPI
document, the tus routes, the file URLs, the web page) and every answer must be
below 500, and an error must be the contract's ``{"detail", "code"}`` JSON.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunkup.api import create_app
from tests.support import SECRET, LiveServer, noise_image, settings_for, starts_like

USER = 1


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(settings_for(tmp_path_factory.mktemp("no5xx") / "data")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def assert_json_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def token(claims: dict[str, Any], *, key: str = SECRET, alg: str = "HS256") -> str:
    """A JWT built by hand, so that any claim and any header can be sent."""

    def segment(value: object) -> str:
        raw = json.dumps(value).encode()  # NaN and Infinity too, as a hostile encoder would
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signed = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims)}"
    if alg == "none":
        return signed + "."
    digest = hmac.new(key.encode(), signed.encode(), hashlib.sha256).digest()
    return signed + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {"token_type": "access", "user_id": USER, "iat": now, "exp": now + 3600, "jti": "j"}
    values.update(overrides)
    return values


# == the five 500s seen on main ============================================================


@pytest.mark.parametrize("user_id", [2**63, 2**63 + 1, 2**64, 10**30])
def test_a_user_id_past_64_bits_is_invalid_token(http: httpx.Client, user_id: int):
    headers = {"Authorization": f"Bearer {token(claims(user_id=user_id))}"}
    response = http.get("/api/v2/media/", headers=headers)
    assert_json_error(response, 401, "invalid_token")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_largest_64_bit_user_id_is_a_user(http: httpx.Client):
    headers = {"Authorization": f"Bearer {token(claims(user_id=2**63 - 1))}"}
    response = http.get("/api/v2/media/", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 0


@dataclass
class StoredFile:
    url: str
    size: int


@pytest.fixture(scope="module")
def stored_file(live: LiveServer) -> StoredFile:
    """A completed image: its public URL (no token needed) and size."""
    data = noise_image(40, 30)
    with live.client(USER) as client:
        media = client.upload(data, filename="f.png")
    assert media.status_code == 201, media.text
    return StoredFile(media.json()["image"], len(data))


@pytest.mark.parametrize(
    ("header", "status"),
    [
        pytest.param("bytes=" + "9" * 4301 + "-", 416, id="start-of-4301-digits"),
        pytest.param("bytes=" + "9" * 10_000 + "-", 416, id="start-of-10000-digits"),
        pytest.param("bytes=0-" + "9" * 5000, 206, id="end-of-5000-digits"),
        pytest.param("bytes=-" + "9" * 5000, 206, id="suffix-of-5000-digits"),
        pytest.param("bytes=" + "0" * 5000 + "1-", 206, id="start-1-after-5000-zeros"),
    ],
)
def test_a_range_of_thousands_of_digits_on_a_public_file(
    http: httpx.Client, stored_file: StoredFile, header: str, status: int
):
    response = http.get(stored_file.url, headers={"Range": header})
    if status == 416:
        assert_json_error(response, 416, "range_not_satisfiable")
        assert response.headers["content-range"] == f"bytes */{stored_file.size}"
    else:
        assert response.status_code == 206, response.text[:300]
        start = 1 if "0" * 5000 + "1" in header else 0
        assert response.headers["content-range"] == (
            f"bytes {start}-{stored_file.size - 1}/{stored_file.size}"
        )


@pytest.mark.parametrize(
    ("expires", "outcome"),
    [
        ("9999-12-31T23:59:59-14:00", 201),  # later than datetime can hold in UTC: clamped
        ("9999-12-31T23:59:59+00:00", 201),
        ("0001-01-01T00:00:00+14:00", 400),  # earlier than datetime can hold: in the past
    ],
)
def test_expires_beyond_what_a_datetime_holds_in_utc(live: LiveServer, expires: str, outcome: int):
    with live.client(USER) as client:
        response = client.chunk(starts_like(b"a" * 10), 0, 100, extra={"expires": expires})
    if outcome == 400:
        assert_json_error(response, 400, "invalid_expires")
        return
    assert response.status_code == 201, response.text
    # clamped to the server's maximum: the upload's lifetime
    assert response.json()["expires"] < "2100"


@pytest.mark.parametrize("depth", [1000, 16_000])
def test_json_nested_thousands_deep_on_complete_is_invalid_body(http: httpx.Client, depth: int):
    response = http.post(
        "/api/v2/media/upload/complete/",
        content=b"[" * depth,
        headers={
            "Authorization": f"Bearer {token(claims())}",
            "Content-Type": "application/json",
        },
    )
    assert_json_error(response, 400, "invalid_body")


@pytest.mark.parametrize(
    "concat",
    [
        "final;http://[bad/",
        "final;http://[::1",
        "final;http://]x[/a",
    ],
)
def test_an_upload_concat_url_that_does_not_parse_is_invalid_tus_header(
    http: httpx.Client, concat: str
):
    response = http.post(
        "/api/v2/media/tus/",
        headers={
            "Authorization": f"Bearer {token(claims())}",
            "Tus-Resumable": "1.0.0",
            "Upload-Concat": concat,
        },
    )
    assert_json_error(response, 400, "invalid_tus_header")
    assert response.headers["tus-resumable"] == "1.0.0"


# == the property test: every route, arbitrary input ========================================


def _routes() -> list[tuple[str, str]]:
    """Every operation of the app's OpenAPI document, plus what it leaves out."""
    app = create_app(settings_for(Path("/nonexistent"), migrate_on_start=False))
    schema = app.openapi()
    routes = [(method.upper(), path) for path, ops in schema["paths"].items() for method in ops]
    routes += [
        ("GET", "/"),
        ("GET", "/web/app.js"),
        ("GET", "/openapi.json"),
        ("POST", "/api/v2/media/"),  # 405
        ("PUT", "/api/v2/media/upload/{upload_id}/"),  # 405
        ("GET", "/no/such/route"),
    ]
    return routes


ROUTES = _routes()
# what HTTP lets a header value hold: visible ASCII, spaces and tabs, and obs-text (latin-1)
HEADER_CHARS = "".join(chr(c) for c in range(0x20, 0x7F)) + "\t" + "éü\u00a0\u00ff"
header_text = st.text(alphabet=HEADER_CHARS, max_size=60).map(str.strip)


def half_edges(edges: list[Any], rest: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Edge values half the time, ``rest`` the other half: edges are where parsers
    break (``a | b`` would flatten into ``rest``'s branches and draw them rarely)."""
    return st.booleans().flatmap(lambda edge: st.sampled_from(edges) if edge else rest)


EDGE_NUMBERS = ["", "0", "-0", "1e3", "0x10", "9" * 30, "9" * 4301, "0" * 5000 + "1", " 5 ", "NaN"]
numbers = half_edges(EDGE_NUMBERS, st.integers(min_value=-(2**70), max_value=2**70).map(str))
EDGE_VALUES = [2**63, 2**63 - 1, 2**64, 10**30, -1, -(2**63) - 1, 1e308, 0.5, "7", "", True]
odd_values = half_edges(
    EDGE_VALUES,
    st.one_of(
        st.sampled_from([float("inf"), float("nan"), 10**400]),
        st.integers(),
        st.integers(min_value=2**62, max_value=2**80),
        st.integers(max_value=-1),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    ),
)
now = int(time.time())
odd_claims = st.fixed_dictionaries(
    {},
    optional={
        "user_id": odd_values,
        "exp": st.one_of(odd_values, st.just(now + 3600)),
        "iat": st.one_of(odd_values, st.just(now)),
        "jti": odd_values,
        "token_type": st.one_of(st.just("access"), odd_values),
        "sub": odd_values,
    },
)
odd_tokens = st.one_of(
    st.builds(lambda c: token(claims(**c)), odd_claims),
    st.builds(
        token,
        odd_claims,
        key=st.sampled_from([SECRET, "wrong-key"]),
        alg=st.sampled_from(["HS256", "none", "HS512", "RS256"]),
    ),
    header_text,
)


def authorization_for(share: int) -> st.SearchStrategy[str | None]:
    """``None`` (the valid token for USER, so that the handlers' own checks are
    reached) 4 times in 10; a valid token but for an odd ``user_id`` 3 in 10; any
    other odd token, or no Bearer token at all, the rest."""
    if share < 4:
        return st.none()
    if share < 7:
        return odd_values.map(lambda user_id: f"Bearer {token(claims(user_id=user_id))}")
    return st.one_of(
        odd_tokens.map(lambda t: f"Bearer {t}"),
        st.sampled_from(["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer  x", ""]),
    )


authorizations = st.sampled_from(range(10)).flatmap(authorization_for)
ranges = st.one_of(
    st.builds(
        lambda a, b: f"bytes={a}-{b}",
        st.one_of(st.just(""), numbers),
        st.one_of(st.just(""), numbers),
    ),
    st.sampled_from(["bytes=0-0,5-9", "bytes=-0", "items=0-1", "bytes=5-1", "bytes =0-1"]),
    header_text,
)
content_ranges = st.one_of(
    st.builds(lambda a, b, t: f"bytes {a}-{b}/{t}", numbers, numbers, numbers),
    header_text,
)
HEADER_VALUES: dict[str, st.SearchStrategy[str]] = {
    "Range": ranges,
    "If-Range": header_text,
    "If-None-Match": header_text,
    "Content-Range": content_ranges,
    "Content-Type": st.one_of(
        st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "multipart/form-data; boundary=x",
                "application/offset+octet-stream",
                "text/plain; charset=nope",
            ]
        ),
        header_text,
    ),
    "Tus-Resumable": st.one_of(st.just("1.0.0"), header_text),
    "Upload-Length": numbers,
    "Upload-Offset": numbers,
    "Upload-Metadata": st.one_of(
        st.builds(
            lambda k, v: f"{k} {base64.b64encode(v.encode()).decode()}",
            st.sampled_from(["filename", "filetype", "type", "x"]),
            st.text(max_size=10),
        ),
        header_text,
    ),
    "Upload-Checksum": st.one_of(st.just("md5 " + "A" * 24), header_text),
    "Upload-Concat": st.one_of(
        st.sampled_from(["partial", "final;", "final;http://[bad/ http://x/a"]),
        st.builds(lambda s: f"final;{s}", header_text),
        header_text,
    ),
    "X-Request-ID": header_text,
    "X-HTTP-Method-Override": st.sampled_from(["PATCH", "DELETE", "HEAD", "x"]),
    "Origin": header_text,
    "Accept-Encoding": header_text,
}
extra_headers = st.dictionaries(
    st.sampled_from(sorted(HEADER_VALUES)), st.just(""), max_size=5
).flatmap(lambda chosen: st.fixed_dictionaries({name: HEADER_VALUES[name] for name in chosen}))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
JSON = {"Content-Type": "application/json"}
field_names = st.sampled_from(["upload_id", "md5", "type", "expires", "image", "document", "x"])
EDGE_TEXT = [
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2999-01-01T00:00:00Z",
    "0" * 32,
    "image",
    "doc",
    "\x00",
]
form_fields = st.dictionaries(
    field_names, st.one_of(st.sampled_from(EDGE_TEXT), st.text(max_size=40)), max_size=4
)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of ``httpx.Client.request`` for a body of any kind."""
    kind = draw(st.sampled_from(["none", "json", "deep", "object", "form", "multipart", "raw"]))
    if kind == "deep":  # nesting deeper than a recursive parser goes, within the size limit
        return {"content": draw(st.sampled_from([b"[", b'{"a":'])) * 8000, "headers": JSON}
    if kind == "json":
        return {"content": json.dumps(draw(json_values)).encode(), "headers": JSON}
    if kind == "object":
        fields = dict.fromkeys(
            ["upload_id", "md5", "type", "expires"], json_values | st.sampled_from(EDGE_TEXT)
        )
        data = draw(st.fixed_dictionaries({}, optional=fields))
        return {"content": json.dumps(data).encode(), "headers": JSON}
    if kind == "form":
        return {"data": draw(form_fields)}
    if kind == "multipart":
        files = {draw(field_names): (draw(st.text(max_size=20)), draw(st.binary(max_size=300)))}
        return {"data": draw(form_fields), "files": files}
    if kind == "raw":
        return {"content": draw(st.binary(max_size=600))}
    return {}


@dataclass
class Known:
    """Real ids, so that some requests get past "not found" into the handlers."""

    upload_id: str
    media_id: int
    file_path: str


@pytest.fixture(scope="module")
def known(live: LiveServer, stored_file: StoredFile) -> Known:
    with live.client(USER) as client:
        upload = client.chunk(starts_like(b"k" * 100), 0, 400, filename="k.png")
        assert upload.status_code == 201, upload.text
        media = client.http.get("/api/v2/media/").json()["results"][0]
    return Known(upload.json()["upload_id"], media["id"], urlsplit(stored_file.url).path)


def path_values(known: Known) -> dict[str, st.SearchStrategy[str]]:
    segment = st.text(alphabet=string.printable + "é€", max_size=40).map(
        lambda s: quote(s, safe="")
    )
    token_part, name_part = known.file_path.removeprefix("/media/").split("/", 1)
    return {
        "upload_id": st.one_of(st.just(known.upload_id), st.just("0" * 32), segment),
        "media_id": st.one_of(st.just(str(known.media_id)), numbers.map(quote), segment),
        "token": st.one_of(st.just(token_part), segment),
        "name": st.one_of(st.just(name_part), st.just("thumbnail/x.webp"), segment),
    }


def query_strings() -> st.SearchStrategy[str]:
    pairs = st.tuples(st.sampled_from(["limit", "offset", "x"]), numbers)
    return st.lists(pairs, max_size=3).map(
        lambda items: "&".join(f"{k}={quote(v)}" for k, v in items)
    )


def assert_no_server_error(response: httpx.Response, what: str) -> None:
    status = response.status_code
    assert status < 500, f"{what}: {status} {response.text[:500]}"
    if status < 400 or response.request.method == "HEAD":
        return
    if response.request.url.path.startswith("/web/"):
        return  # the web page's static files: Starlette's own plain-text 4xx, not the API
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"{what}: {status} without the JSON error body: {response.text[:300]!r}")
    assert isinstance(body, dict), (what, body)
    assert isinstance(body.get("detail"), str) and body["detail"], (what, body)
    assert isinstance(body.get("code"), str) and body["code"], (what, body)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_no_input_makes_a_server_error(
    live: LiveServer, http: httpx.Client, known: Known, method: str, path: str
):
    values = path_values(known)
    valid = f"Bearer {live.token(USER)}"

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        params=st.fixed_dictionaries({name: values[name] for name in re.findall(r"\{(\w+)", path)}),
        query=query_strings(),
        authorization=authorizations,
        range_header=st.none() | ranges,
        headers=extra_headers,
        body=bodies(),
    )
    def check(
        params: dict[str, str],
        query: str,
        authorization: str | None,
        range_header: str | None,
        headers: dict[str, str],
        body: dict[str, Any],
    ) -> None:
        url = re.sub(r"\{(\w+)(:path)?\}", lambda m: params[m.group(1)], path)
        if query:
            url += "?" + query
        # a body's own Content-Type first, so that the drawn one may override it
        body = dict(body)
        sent = {**body.pop("headers", {}), **headers}
        sent["Authorization"] = authorization if authorization is not None else valid
        if range_header is not None:
            sent["Range"] = range_header
        # HTTP trims a value's surrounding whitespace (h11 refuses to send it)
        raw = {k: v.strip(" \t").encode("latin-1") for k, v in sent.items()}
        response = http.request(method, url, headers=raw, **body)
        assert_no_server_error(response, f"{method} {url} {headers} {body}")

    check()
