"""The README's snippets, run exactly as written against `chunkup serve`: the curl
walk-through, the Python SDK example and the CLI example. Each runs from a checkout
root (a temporary one) and must leave nothing there but the server's data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chunkup.auth import mint_token
from tests.support import ServerProcess, noise_image

ROOT = Path(__file__).resolve().parent.parent


def snippet(name: str, language: str = "sh") -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(
        rf"<!-- {name}:start -->\n```{language}\n(.*?)```\n<!-- {name}:end -->", text, re.S
    )
    assert block, f"the README lost its {name} snippet"
    return block.group(1)


def walkthrough() -> str:
    return snippet("walkthrough")


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    # the snippets run from a checkout root: .venv/bin/... and ./chunkup-data
    root = tmp_path / "checkout"
    root.mkdir()
    (root / ".venv").symlink_to(Path(sys.prefix))
    yield root


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """Where ``mktemp -d`` in a snippet makes its directory (TMPDIR)."""
    (tmp_path / "scratch").mkdir()
    return tmp_path / "scratch"


def run_shell(script: str, workdir: Path, scratch: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env={**os.environ, "TMPDIR": str(scratch)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_only_server_data_in(workdir: Path) -> None:
    left = {p.name for p in workdir.iterdir()} - {".venv", "chunkup-data"}
    assert {name for name in left if not name.startswith("server-")} == set()


def test_readme_walkthrough_uploads_a_two_chunk_png(workdir: Path, scratch: Path):
    server = ServerProcess(workdir).start()  # defaults: ./chunkup-data, generated secret
    try:
        script = walkthrough().replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        done = run_shell(script, workdir, scratch)
        assert done.returncode == 0, done.stderr
        chunk_answer, media_answer = (json.loads(x) for x in done.stdout.strip().splitlines())
        served = httpx.get(media_answer["image"])
    finally:
        server.stop()
    assert_only_server_data_in(workdir)
    (photo_file,) = scratch.glob("*/photo.png")
    photo = photo_file.read_bytes()
    assert chunk_answer["offset"] == str(len(photo))
    assert media_answer["type"] == "image"
    assert (media_answer["image_width"], media_answer["image_height"]) == (300, 300)
    assert media_answer["size"] == len(photo)
    assert served.content == photo
    assert (workdir / "chunkup-data" / "jwt-secret").exists()


def test_readme_sdk_example_uploads_the_photo(workdir: Path, scratch: Path):
    server = ServerProcess(workdir).start()
    try:
        (scratch / "photo.png").write_bytes(noise_image(300, 300))
        token = run_shell(".venv/bin/chunkup token --user 1", workdir, scratch).stdout.strip()
        code = snippet("sdk", "python").replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=scratch,
            env={**os.environ, "CHUNKUP_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    media_id, image_url = done.stdout.strip().splitlines()[-1].split()
    assert media_id == "1" and image_url.endswith("/photo.png")


def test_readme_cli_example_uploads_a_photo_and_a_pdf_then_gets_and_deletes(
    workdir: Path, scratch: Path
):
    server = ServerProcess(workdir).start()
    try:
        script = snippet("cli").replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        done = run_shell(script, workdir, scratch)
        gone = httpx.get(f"{server.url}/api/v2/media/1/", headers=bearer(workdir))
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    photo, report, got = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert (photo["type"], report["type"]) == ("image", "doc")
    assert got["id"] == photo["id"] == 1
    assert "media 1 deleted" in done.stderr
    assert gone.status_code == 404
    assert_only_server_data_in(workdir)


def bearer(workdir: Path) -> dict[str, str]:
    secret = (workdir / "chunkup-data" / "jwt-secret").read_text().strip()
    return {"Authorization": f"Bearer {mint_token(secret, 1)}"}


def test_every_link_of_the_readme_and_docs_resolves_inside_the_repository():
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "sdk" / "README.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"[a-z]+:", target):  # https://, mailto: ...
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.exists(), f"{page.name}: {target}"
            assert resolved.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
