"""The README's webhook receiver, run as written against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import LiveServer, free_port, noise_image, settings_for
from tests.webhooks.conftest import WEBHOOK_SECRET, webhook_settings
from tests.webhooks.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]


def readme_receiver() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- webhook-receiver:start -->\n```python\n(.*?)```\n<!-- webhook-receiver:end -->",
        text,
        re.S,
    )
    assert block, "the README lost its webhook receiver"
    return block.group(1)


def wait_for_output(path: Path, expected: str, process: subprocess.Popen[bytes]) -> str:
    """The receiver's output once it holds ``expected`` (an external process: polled)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = path.read_text()
        if expected in text:
            return text
        assert process.poll() is None, text
        time.sleep(0.05)
    raise AssertionError(f"the receiver did not print {expected!r}: {path.read_text()!r}")


def test_the_readme_receiver_verifies_and_handles_chunkups_events(tmp_path: Path):
    port = free_port()
    script = tmp_path / "receiver.py"
    script.write_text(readme_receiver().replace("9000", str(port)))
    output = tmp_path / "receiver.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(script)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"CHUNKUP_WEBHOOK_SECRET": WEBHOOK_SECRET, "PATH": "/usr/bin:/bin"},
        )
    receiver = Receiver(port=port)  # only for its URL: the README's code listens there
    server = LiveServer(settings_for(tmp_path / "data", **webhook_settings(receiver))).start()
    try:
        with server.client(12) as client:
            media = client.upload(noise_image(20, 20)).json()
            client.http.delete(f"/api/v2/media/{media['id']}/")
        text = wait_for_output(output, f"media {media['id']} deleted", process)
        assert f"user 12 added image {media['id']}" in text
        forged = httpx.post(
            receiver.url,
            content=b'{"type":"media.deleted","data":{}}',
            headers={
                "webhook-id": "msg_x",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,AAAA",
            },
        )
        assert forged.status_code == 400
    finally:
        server.stop()
        process.terminate()
        process.wait(timeout=10)
