"""The real tus-js-client (the engine of Uppy's Tus plugin) under Node, unchanged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import NODE_DIR, LiveServer, node_packages, noise_image, pdf_document

SCRIPT = NODE_DIR / "tus_upload.mjs"
pytestmark = [
    pytest.mark.node,
]


@pytest.fixture(scope="session")
def tus_js_client() -> Path:
    node_packages("tus-js-client")
    return SCRIPT


def run_tus_js(
    script: Path, server: LiveServer, user_id: int, path: Path, type_: str, state: Path
) -> dict:
    result = subprocess.run(
        ["node", str(script), server.url, server.token(user_id), str(path), type_, str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "TUS_CHUNK_SIZE": "65536"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome: dict = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome


@pytest.mark.parametrize("kind", ["png", "pdf"])
def test_tus_js_client_pauses_resumes_from_its_stored_url_and_completes(
    tus_js_client: Path, server: LiveServer, tmp_path: Path, kind: str, user_id: int
):
    data = noise_image(400, 300) if kind == "png" else pdf_document(pages=2)
    path = tmp_path / f"from-tus-js.{kind}"
    path.write_bytes(data)
    type_ = "image" if kind == "png" else "doc"
    outcome = run_tus_js(tus_js_client, server, user_id, path, type_, tmp_path / "tus-urls.json")

    assert outcome["resumedUrl"] == outcome["url"]  # the same upload, not a new one
    assert 0 < outcome["pausedAt"] < len(data)
    assert outcome["resumedFrom"] >= outcome["pausedAt"]
    assert outcome["offset"] == len(data)
    with server.client(user_id) as client:
        media = client.http.get(f"/api/v2/media/{outcome['mediaId']}/").json()
    assert media["type"] == type_
    assert httpx.get(media["image"] if kind == "png" else media["url"]).content == data
