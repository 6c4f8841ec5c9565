"""Decompression bombs cost a bounded amount: PDFs in the capped sandbox, images by ceilings.

A PDF is read and rendered in a child process whose address space the OS caps
(``RLIMIT_AS``) and which is killed at its deadline; whatever a bomb inflates,
the answer is the documented one: a document whose structure cannot be read
within the limits is ``invalid_document``, one whose first page cannot be
rendered within them has no preview. The sandbox then carries on with a fresh
child.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chunkup.errors import InspectionUnavailable, InvalidDocument, InvalidImage
from chunkup.media import sandbox as sandbox_module
from chunkup.media.inspect import inspect_image
from chunkup.media.sandbox import PdfSandbox, SandboxFailed
from tests.media import bombs
from tests.support import pdf_document

MiB = 1024 * 1024
LIMIT = 256 * MiB

# the documented answer to each bomb: refused, or accepted without a preview
NO_PREVIEW = ["content stream", "font", "icc profile"]
REFUSED = ["object stream"]


@pytest.fixture
def sandbox() -> Iterator[PdfSandbox]:
    box = PdfSandbox(memory_bytes=LIMIT, seconds=10)
    yield box
    box.close()


def saved(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def dead_or_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("kind", NO_PREVIEW)
def test_a_page_that_inflates_past_the_memory_cap_has_no_preview(
    kind: str, sandbox: PdfSandbox, tmp_path: Path
):
    report = sandbox.inspect(saved(tmp_path, bombs.PDF_BOMBS[kind]()), longest=1024)
    assert report.pages == 1
    assert report.first_page is None


@pytest.mark.parametrize("kind", REFUSED)
def test_a_structure_that_inflates_past_the_limits_is_an_invalid_document(
    kind: str, sandbox: PdfSandbox, tmp_path: Path
):
    with pytest.raises(InvalidDocument):
        sandbox.inspect(saved(tmp_path, bombs.PDF_BOMBS[kind]()), longest=1024)


def test_an_image_with_a_huge_soft_mask_renders_within_the_cap(sandbox: PdfSandbox, tmp_path: Path):
    # PDFium decodes the 256 MB mask whole, which the cap refuses; it renders without it
    report = sandbox.inspect(saved(tmp_path, bombs.image_bomb()), longest=1024)
    assert report.pages == 1
    assert report.first_page is None or report.first_page.size == (791, 1024)


def test_after_a_bomb_the_next_pdf_gets_its_preview(sandbox: PdfSandbox, tmp_path: Path):
    sandbox.inspect(saved(tmp_path, bombs.content_stream_bomb(), "bomb.pdf"), longest=1024)
    report = sandbox.inspect(saved(tmp_path, pdf_document(3, 300, 400)), longest=1024)
    assert report.pages == 3
    assert report.first_page is not None
    assert report.first_page.size == (768, 1024)
    assert report.first_page.mode == "RGB"


def test_a_child_past_its_memory_cap_fails_and_is_replaced(sandbox: PdfSandbox):
    first = sandbox.probe({"task": "allocate", "bytes": 16 * MiB})
    assert first["allocated"] == 16 * MiB
    with pytest.raises(SandboxFailed, match="memory"):
        sandbox.probe({"task": "allocate", "bytes": LIMIT})
    assert not alive(first["pid"])
    assert sandbox.probe({"task": "allocate", "bytes": 16 * MiB})["pid"] != first["pid"]


def test_a_child_past_its_deadline_is_killed_and_replaced():
    sandbox = PdfSandbox(memory_bytes=LIMIT, seconds=1)
    try:
        first = sandbox.probe({"task": "sleep", "sleep": 0})
        # the idle child takes the next job, sleeps past the deadline and is killed
        with pytest.raises(SandboxFailed, match="time"):
            sandbox.probe({"task": "sleep", "sleep": 60})
        assert not alive(first["pid"])
        assert sandbox.probe({"task": "sleep", "sleep": 0})["pid"] != first["pid"]
    finally:
        sandbox.close()


def test_a_child_killed_while_idle_is_replaced_without_refusing_the_next_pdf(
    sandbox: PdfSandbox, tmp_path: Path
):
    idle = sandbox.probe({"task": "sleep", "sleep": 0})["pid"]
    os.kill(idle, signal.SIGKILL)
    deadline = time.monotonic() + 10  # the kernel ends it: an external process to wait for
    while not dead_or_zombie(idle):
        assert time.monotonic() < deadline, "SIGKILL did not end the child"
        time.sleep(0.01)
    report = sandbox.inspect(saved(tmp_path, pdf_document(1, 300, 400)), longest=1024)
    assert report.pages == 1 and report.first_page is not None


def test_a_child_killed_after_taking_the_job_is_replaced_without_refusing_the_pdf(
    sandbox: PdfSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # the job reaches the pipe, then the child is killed (stopped first, so it cannot
    # answer in between): the death shows only when the answer is read
    idle = sandbox.probe({"task": "sleep", "sleep": 0})["pid"]
    os.kill(idle, signal.SIGSTOP)
    send = sandbox_module._Child.send

    def send_then_kill(child: Any, job: dict[str, Any]) -> None:
        send(child, job)
        if child.pid == idle:
            os.kill(idle, signal.SIGKILL)

    monkeypatch.setattr(sandbox_module._Child, "send", send_then_kill)
    report = sandbox.inspect(saved(tmp_path, pdf_document(1, 300, 400)), longest=1024)
    assert report.pages == 1 and report.first_page is not None
    assert dead_or_zombie(idle)


def test_a_job_that_fails_on_an_idle_child_is_not_tried_again(
    sandbox: PdfSandbox, monkeypatch: pytest.MonkeyPatch
):
    # only a kill from outside is retried: a job failing on a reused child is the file's
    sandbox.probe({"task": "sleep", "sleep": 0})
    started: list[int] = []
    start = sandbox_module._Child.__init__

    def counted(child: Any, memory_bytes: int) -> None:
        start(child, memory_bytes)
        started.append(child.pid)

    monkeypatch.setattr(sandbox_module._Child, "__init__", counted)
    with pytest.raises(SandboxFailed, match="memory"):
        sandbox.probe({"task": "allocate", "bytes": LIMIT})
    assert started == []


def test_no_child_can_start_is_a_retryable_503(
    sandbox: PdfSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(sandbox_module.sys, "executable", str(tmp_path / "no-python"))
    with pytest.raises(InspectionUnavailable) as raised:
        sandbox.inspect(saved(tmp_path, pdf_document(1, 300, 400)), longest=1024)
    assert raised.value.status == 503


def test_a_png_with_900_megapixels_is_refused_from_its_header(tmp_path: Path):
    path = saved(tmp_path, bombs.png_pixel_bomb(), "bomb.png")
    with pytest.raises(InvalidImage, match="pixels"):
        inspect_image(path, max_pixels=40_000_000)


def test_a_png_whose_text_inflates_to_60_mib_is_refused(tmp_path: Path):
    path = saved(tmp_path, bombs.png_text_bomb(), "text.png")
    with pytest.raises(InvalidImage):
        inspect_image(path, max_pixels=40_000_000)


def test_a_png_with_a_little_text_is_accepted_and_stripped(tmp_path: Path):
    path = saved(tmp_path, bombs.png_text_bomb(chunks=2, inflated=100_000), "text.png")
    inspection = inspect_image(path, max_pixels=40_000_000)
    assert (inspection.width, inspection.height) == (64, 64)
    assert inspection.replacement is not None
    assert b"zTXt" not in inspection.replacement
