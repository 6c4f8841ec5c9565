"""Bombs uploaded to a real `chunkup serve --workers 1`: the worker's memory stays flat.

Each file is uploaded in chunks, then the worker's peak-RSS mark is reset
(``/proc/PID/clear_refs``) and the upload completed: the peak over the RSS at
the reset is what completing that file cost the worker. For any PDF it must
stay within 50 MiB (the parsing and rendering happen in the capped sandbox
child); for an image, within what its few pixels imply. The answer is the
documented one, and the server serves on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chunkup.auth import mint_token
from tests.media import bombs
from tests.robustness.test_concurrency import pdf_like
from tests.support import SECRET, ChunkClient, ServerProcess, assert_error, md5_of, pdf_document

MiB = 1024 * 1024
PDF_BOUND = 50 * MiB
# a 64x64 image: its pixels are nothing; what remains is the worker's own churn
SMALL_IMAGE_BOUND = 16 * MiB
AUTH = {"Authorization": f"Bearer {mint_token(SECRET, 1)}"}

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to read peak memory"
)


class Worker:
    """The server's process, its memory read from /proc."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.pid: int = server.process.pid

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} for {self.pid}")

    def reset_peak(self) -> int:
        """Set the peak mark (VmHWM) to the RSS now; that RSS."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        return self._status("VmRSS")

    def peak(self) -> int:
        return self._status("VmHWM")

    def complete(
        self, data: bytes, *, field: str = "document", filename: str = "file.pdf"
    ) -> tuple[httpx.Response, int]:
        """Upload ``data``, complete it; the answer and the worker's peak over idle."""
        with httpx.Client(base_url=self.server.url, headers=AUTH, timeout=120) as http:
            client = ChunkClient(http)
            upload_id = client.upload_chunks(data, field=field, filename=filename)
            idle = self.reset_peak()
            response = client.complete(upload_id, md5_of(data))
            grown = self.peak() - idle
            assert self.server.process.poll() is None
            assert http.get("/healthz").status_code == 200
        return response, grown


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    cwd = tmp_path_factory.mktemp("bombs")
    env = {"CHUNKUP_JWT_SECRET": SECRET, "CHUNKUP_DATA_DIR": str(cwd / "data")}
    server = ServerProcess(cwd, "--workers", "1", env=env).start()
    try:
        worker = Worker(server)
        # one of each first: what a worker loads on its first completion is not a bomb's cost
        worker.complete(pdf_document(1, 60, 80))
        worker.complete(bombs.png_text_bomb(chunks=1, inflated=10), field="image", filename="a.png")
        yield worker
    finally:
        server.stop()


def test_a_normal_pdf_gets_its_preview_and_page_count(worker: Worker):
    response, grown = worker.complete(pdf_document(3, 300, 400))
    assert response.status_code == 201, response.text
    media = response.json()
    assert media["image"] is not None
    assert (media["image_width"], media["image_height"]) == (768, 1024)
    with httpx.Client(base_url=worker.server.url, headers=AUTH) as http:
        assert http.get(f"/api/v2/media/{media['id']}/").status_code == 200
    assert grown <= PDF_BOUND, f"{grown / MiB:.0f} MiB"


@pytest.mark.parametrize("kind", ["content stream", "font", "icc profile"])
def test_a_pdf_whose_page_inflates_past_the_cap_completes_without_a_preview(
    worker: Worker, kind: str
):
    response, grown = worker.complete(bombs.PDF_BOMBS[kind]())
    assert response.status_code == 201, response.text
    assert response.json()["image"] is None
    assert grown <= PDF_BOUND, f"{grown / MiB:.0f} MiB"


def test_a_pdf_image_with_a_huge_soft_mask_completes_within_the_bound(worker: Worker):
    response, grown = worker.complete(bombs.image_bomb())
    assert response.status_code == 201, response.text
    assert grown <= PDF_BOUND, f"{grown / MiB:.0f} MiB"


def test_a_pdf_whose_object_stream_inflates_past_the_limits_is_invalid(worker: Worker):
    response, grown = worker.complete(bombs.object_stream_bomb())
    assert_error(response, 400, "invalid_document")
    assert grown <= PDF_BOUND, f"{grown / MiB:.0f} MiB"


def test_a_900_megapixel_png_is_refused_before_decoding(worker: Worker):
    response, grown = worker.complete(bombs.png_pixel_bomb(), field="image", filename="b.png")
    assert_error(response, 400, "invalid_image")
    assert grown <= SMALL_IMAGE_BOUND, f"{grown / MiB:.0f} MiB"


def test_a_small_png_whose_text_inflates_to_60_mib_is_refused(worker: Worker):
    response, grown = worker.complete(bombs.png_text_bomb(), field="image", filename="t.png")
    assert_error(response, 400, "invalid_image")
    assert grown <= SMALL_IMAGE_BOUND, f"{grown / MiB:.0f} MiB"


def test_a_large_pdf_completes_with_its_preview_within_the_bound(worker: Worker):
    response, grown = worker.complete(pdf_like(20 * MiB))
    assert response.status_code == 201, response.text
    assert response.json()["image"] is not None
    assert grown <= PDF_BOUND, f"{grown / MiB:.0f} MiB"


def limits_of(pid: int) -> dict[str, list[str]]:
    """``/proc/PID/limits``: each limit's name and its soft and hard values."""
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {row[:26].strip(): row[26:].split()[:2] for row in rows}


def test_the_sandbox_children_are_capped_by_the_os(worker: Worker):
    # a child is listed under the thread that started it: a completion's worker thread
    tasks = Path(f"/proc/{worker.pid}/task").glob("*/children")
    children = [int(pid) for task in tasks for pid in task.read_text().split()]
    assert children, "a PDF was completed: a sandbox child should be idle"
    for pid in children:
        limits = limits_of(pid)
        assert limits["Max address space"] == [str(256 * MiB)] * 2
        assert limits["Max cpu time"][0] != "unlimited"  # its budget for the next job
        assert limits["Max core file size"] == ["0", "0"]
