"""The real SelfCommunity JavaScript client (@selfcommunity/api-services) under Node.

Its ``MediaService.chunkUploadMedia`` / ``chunkUploadMediaComplete`` /
``getSpecificMedia`` / ``deleteMedia`` make every request; see tests/node/README.md
for what they send and the one configuration call the library needs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import NODE_DIR, LiveServer, node_packages, noise_image, pdf_document

pytestmark = [
    pytest.mark.node,
]


@pytest.fixture(scope="session")
def node_client() -> Path:
    node_packages("@selfcommunity/api-services")
    return NODE_DIR / "selfcommunity_upload.mjs"


def run_client(
    script: Path,
    server: LiveServer,
    path: Path,
    field: str,
    type_: str,
    body: str = "json",
    keep: bool = True,
) -> dict:
    result = subprocess.run(
        ["node", str(script), server.url, server.token(7), str(path), field, type_],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "SC_COMPLETE_BODY": body,
            "SC_KEEP": "1" if keep else "0",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("body", ["json", "multipart", "urlencoded"])
def test_js_client_uploads_an_image_in_chunks(
    node_client: Path, server: LiveServer, tmp_path: Path, body: str
):
    data = noise_image(480, 360)
    path = tmp_path / "from-js.png"
    path.write_bytes(data)
    result = run_client(node_client, server, path, "image", "image", body)
    assert len(result["chunks"]) == -(-len(data) // 204800)
    assert [c["offset"] for c in result["chunks"]][-1] == str(len(data))
    media = result["media"]
    assert (media["type"], media["image_width"], media["image_height"]) == ("image", 480, 360)
    assert result["fetched"] == media
    assert httpx.get(media["image"]).content == data


def test_js_client_uploads_a_pdf_then_deletes_it(
    node_client: Path, server: LiveServer, tmp_path: Path
):
    data = pdf_document(pages=2)
    path = tmp_path / "minutes.pdf"
    path.write_bytes(data)
    result = run_client(node_client, server, path, "document", "doc", keep=False)
    media = result["media"]
    assert (media["type"], media["title"], media["size"]) == ("doc", "minutes.pdf", len(data))
    assert result["fetched"] == media
    assert result["deleted"] is True
    with server.client(7) as client:
        assert client.http.get(f"/api/v2/media/{media['id']}/").status_code == 404
    assert httpx.get(media["url"]).status_code == 404


def test_without_the_content_type_workaround_the_chunk_bytes_are_lost(
    node_client: Path, server: LiveServer, tmp_path: Path
):
    """The README's note, checked against the locked axios (1.21.1): with the library's
    default POST Content-Type left alone, axios serialises the chunk's FormData as
    JSON, and the server refuses it (the bytes never left the client)."""
    path = tmp_path / "unchanged.png"
    path.write_bytes(noise_image(64, 64))
    result = subprocess.run(
        ["node", str(node_client), server.url, server.token(7), str(path), "image", "image"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "SC_POST_DEFAULT": "keep"},
    )
    assert result.returncode == 1
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert (answer["status"], answer["body"]["code"]) == (400, "invalid_body")
