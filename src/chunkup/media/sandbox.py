"""PDFs are parsed and rendered in child processes the OS keeps small and short.

A PDF is a container of compressed streams (page contents, images, fonts,
object streams) that pypdf and PDFium inflate without a cap: 200 KB can ask
for gigabytes, and PDFium in-process can be neither interrupted nor bounded.
So a server worker never opens a PDF itself. It hands the file's path to a
child (``sandbox_child.py``) whose address space is capped by ``RLIMIT_AS``
and its CPU by ``RLIMIT_CPU``, waits for the answer at most ``seconds`` of wall
clock, and kills the child past that. What comes back is small and checked:
the page count, and the first page as at most ``longest``² RGB pixels.

Children are kept between documents (starting Python and importing PDFium is
~0.2 s, more than a typical completion), a few idle ones at most; one that
failed, was killed, or grew large is replaced by a fresh one on next use.

What a failure means is decided here: a document whose structure cannot be
read within the limits is refused (``invalid_document``); one whose first page
cannot be rendered within them is accepted without a preview.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from chunkup.errors import InspectionUnavailable, InvalidDocument
from chunkup.media import frames

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# a child that served this many documents is replaced: a long-lived heap only grows
JOBS_PER_CHILD = 200
# starting Python and importing pypdf and PDFium: 0.2 s idle, seconds on a loaded host
STARTUP_SECONDS = 30.0


class SandboxFailed(Exception):
    """The child ran out of memory or time, crashed, or answered nonsense."""


@dataclass(frozen=True, slots=True)
class PdfReport:
    pages: int | None
    encrypted: bool
    first_page: Image.Image | None


class _Child:
    """One sandbox process and the two pipes to it."""

    def __init__(self, memory_bytes: int) -> None:
        """Start the child and wait until it is ready for a job."""
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "chunkup.media.sandbox_child", str(memory_bytes)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
            )
        except OSError as exc:  # no processes or memory left for one: the host's trouble
            raise SandboxFailed(f"cannot start a child: {exc}") from exc
        self.jobs = 0
        try:
            self.receive(time.monotonic() + STARTUP_SECONDS)
        except SandboxFailed:
            self.kill()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, job: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.jobs += 1
        try:
            self.process.stdin.write(json.dumps(job).encode() + b"\n")
        except OSError as exc:  # BrokenPipeError: it died while idle
            raise SandboxFailed(self._death() or f"child {self.pid} is gone") from exc

    def receive(self, deadline: float, payload_limit: int = 0) -> dict[str, Any]:
        """The next answer; ``payload`` holds its bytes. Raises ``SandboxFailed``."""
        assert self.process.stdout is not None
        try:
            header, payload = frames.read_frame(
                self.process.stdout.fileno(), deadline=deadline, payload_limit=payload_limit
            )
        except frames.FrameTimeout as exc:
            raise SandboxFailed("out of time") from exc
        except frames.FrameError as exc:
            raise SandboxFailed(self._death() or str(exc)) from exc
        if "exceeded" in header:
            raise SandboxFailed(f"out of {header['exceeded']}")
        header["payload"] = payload
        return header

    def resident_bytes(self) -> int | None:
        """Its resident memory (Linux), to retire a child that kept what it used."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()

    def killed_from_outside(self) -> bool:
        """Ended by SIGKILL or SIGTERM that we did not send. No job sends those:
        the job's own limits end a child with SIGXCPU, a MemoryError or a crash."""
        return self.process.poll() in (-signal.SIGKILL, -signal.SIGTERM)

    def _death(self) -> str | None:
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return None
        return f"child exited with {code}" if code >= 0 else f"child killed by signal {-code}"


class PdfSandbox:
    """Read a PDF's facts and render its first page in a capped child process."""

    def __init__(self, *, memory_bytes: int, seconds: float, idle: int | None = None) -> None:
        self.memory_bytes = memory_bytes
        self.seconds = seconds
        self.idle_limit = idle if idle is not None else (os.cpu_count() or 1)
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self._closed = False

    def inspect(self, path: Path, *, longest: int) -> PdfReport:
        """Facts and first page of ``path``; ``InvalidDocument`` if it cannot be read.

        Blocks for up to ``seconds``: call it from a worker thread.
        """
        try:
            child, deadline, facts = self._first_answer(
                {"task": "pdf", "path": str(path), "longest": longest}
            )
        except SandboxFailed as exc:
            log.warning("PDF %s refused: %s in the sandbox", path.name, exc)
            raise InvalidDocument(
                "The PDF could not be read within "
                f"{self.memory_bytes // MiB} MiB of memory and {self.seconds:g} s."
            ) from exc
        healthy = False
        try:
            if "invalid" in facts:
                healthy = True
                raise InvalidDocument(_text(facts["invalid"]))
            try:
                first_page = self._first_page(child, deadline, longest)
                healthy = True
            except SandboxFailed as exc:
                log.info("no preview for %s: %s in the sandbox", path.name, exc)
                first_page = None
            return PdfReport(
                pages=_count(facts.get("pages")),
                encrypted=facts.get("encrypted") is True,
                first_page=first_page,
            )
        finally:
            self._give_back(child, healthy)

    def probe(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run a diagnostic task (``allocate``, ``sleep``) under the same limits.

        For tests and operators checking that the limits hold on a host.
        """
        child, _deadline, answer = self._first_answer(job)
        self._give_back(child, healthy=True)
        return answer

    def close(self) -> None:
        """Stop the idle children; busy ones are stopped when their job ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for child in idle:
            child.kill()

    @staticmethod
    def _first_page(child: _Child, deadline: float, longest: int) -> Image.Image | None:
        """The rendered page as RGB; ``None`` if PDFium made none."""
        answer = child.receive(deadline, payload_limit=longest * longest * 3)
        width, height, pixels = answer.get("width"), answer.get("height"), answer["payload"]
        if width == height == 0 and not pixels:
            return None
        if not (
            isinstance(width, int)
            and isinstance(height, int)
            and 0 < width <= longest
            and 0 < height <= longest
            and len(pixels) == width * height * 3
        ):
            raise SandboxFailed("a malformed page")
        return Image.frombytes("RGB", (width, height), pixels)

    def _first_answer(self, job: dict[str, Any]) -> tuple[_Child, float, dict[str, Any]]:
        """The child working on ``job``, its deadline and its first answer.

        An idle child killed from outside (an operator, the OOM killer) is
        replaced, whether its death shows when the job is sent or only when
        the answer is read: a process whose threads are still exiting takes
        the job into its pipe, then closes it unanswered. Raises
        ``SandboxFailed`` (the child is gone) if the job itself failed.
        """
        job = {**job, "seconds": self.seconds}
        child = self._take()
        if child is not None:
            try:
                child.send(job)
                deadline = time.monotonic() + self.seconds
                return child, deadline, child.receive(deadline)
            except SandboxFailed as exc:
                killed = child.killed_from_outside()
                child.kill()
                if not killed:
                    raise
                log.warning("PDF sandbox child %d was killed while idle (%s)", child.pid, exc)
        child = self._new_child(job)
        deadline = time.monotonic() + self.seconds
        try:
            return child, deadline, child.receive(deadline)
        except SandboxFailed:
            child.kill()
            raise

    def _new_child(self, job: dict[str, Any]) -> _Child:
        """A fresh child working on ``job``.

        Raises ``InspectionUnavailable`` when no child can be started: the host's
        trouble (no processes or memory left), not the file's.
        """
        try:
            child = _Child(self.memory_bytes)
            child.send(job)
        except SandboxFailed as exc:
            log.error("PDF sandbox unavailable: %s", exc)
            raise InspectionUnavailable("PDFs cannot be checked right now; retry later.") from exc
        return child

    def _take(self) -> _Child | None:
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.alive():
                    return child
                child.kill()
        return None

    def _give_back(self, child: _Child, healthy: bool) -> None:
        resident = child.resident_bytes() if healthy else None
        keep = (
            healthy
            and child.alive()
            and child.jobs < JOBS_PER_CHILD
            and (resident is None or resident < self.memory_bytes // 2)
        )
        if keep:
            with self._lock:
                if not self._closed and len(self._idle) < self.idle_limit:
                    self._idle.append(child)
                    return
        child.kill()


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value[:500] if isinstance(value, str) and value else None
