"""The README's curl walk-through, run exactly as written against `chunkup serve`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess

ROOT = Path(__file__).resolve().parent.parent


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->", text, re.S
    )
    assert block, "the README lost its walk-through"
    return block.group(1)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    # the walk-through runs from a checkout root: .venv/bin/... and ./chunkup-data
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    yield tmp_path


def test_readme_walkthrough_uploads_a_two_chunk_png(workdir: Path):
    server = ServerProcess(workdir).start()  # defaults: ./chunkup-data, generated secret
    try:
        script = walkthrough().replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        chunk_answer, media_answer = (json.loads(x) for x in done.stdout.strip().splitlines())
        served = httpx.get(media_answer["image"])
    finally:
        server.stop()
    photo = (workdir / "photo.png").read_bytes()
    assert chunk_answer["offset"] == str(len(photo))
    assert media_answer["type"] == "image"
    assert (media_answer["image_width"], media_answer["image_height"]) == (300, 300)
    assert media_answer["size"] == len(photo)
    assert served.content == photo
    assert (workdir / "chunkup-data" / "jwt-secret").exists()
