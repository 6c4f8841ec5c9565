"""The PDF sandbox's child: pypdf and PDFium run here, under the OS's limits.

Run as ``python -m chunkup.media.sandbox_child MEMORY_BYTES``. Before anything
else the child caps its own address space (``RLIMIT_AS``, soft and hard, so
nothing it later parses can raise it) and turns core dumps off; before each job
it allows itself the job's CPU seconds (``RLIMIT_CPU``), so it dies by itself
even if its parent is gone. Whatever a document inflates to, an allocation past
the cap fails (``MemoryError`` in Python, an out-of-memory crash in PDFium) and
only this process goes.

Jobs arrive as JSON lines on stdin; answers leave as frames (``frames.py``) on
a private copy of stdout, and fd 1 is pointed at stderr so that a library's
stray print cannot corrupt an answer. A PDF job answers twice: the facts
(pages, encryption, or why the file is invalid), then the preview's raw RGB
pixels, so a crash while rendering still leaves the facts with the parent.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from chunkup.supervision import watch_parent

# exit status of a child that ran out of memory: its heap is not to be trusted again
OUT_OF_MEMORY = 3

Task = Callable[[dict[str, Any], BinaryIO], None]


def main(argv: list[str]) -> int:
    memory = int(argv[1])
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when we go
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # but a worker killed outright takes us with it, even in the middle of a job
    watch_parent(os.getppid())
    # pypdf warns about every oddity of a hostile file; the parent logs the outcome
    logging.basicConfig(level=logging.ERROR, format="pdf sandbox: %(name)s: %(message)s")
    from chunkup.media import frames

    _preload()
    frames.write_frame(answers, {"ready": os.getpid()})
    jobs = sys.stdin.buffer
    while line := jobs.readline():
        job = json.loads(line)
        _cpu_budget(float(job["seconds"]))
        try:
            TASKS[job["task"]](job, answers)
        except MemoryError:
            frames.write_frame(answers, {"exceeded": "memory"})
            return OUT_OF_MEMORY
    return 0  # the parent closed the pipe: it is done with us


def _preload() -> None:
    """Import the decoders before the first job, so that no job's deadline pays for it."""
    import pypdf  # noqa: F401
    import pypdfium2  # noqa: F401
    from PIL import Image

    Image.init()


def _cpu_budget(seconds: float) -> None:
    """CPU time for one more job; past it the kernel ends the process (SIGXCPU, SIGKILL)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(used + seconds) + 1, hard))


def inspect_pdf(job: dict[str, Any], answers: BinaryIO) -> None:
    """The facts pypdf reads, then PDFium's first page (or none)."""
    from chunkup.errors import InvalidDocument
    from chunkup.media import frames, pdf

    path = Path(job["path"])
    try:
        facts = pdf.read_pdf(path)
    except InvalidDocument as exc:
        frames.write_frame(answers, {"invalid": exc.detail})
        return
    frames.write_frame(answers, {"pages": facts.pages, "encrypted": facts.encrypted})
    page = pdf.render_first_page(path, longest=int(job["longest"]))
    if page is None:
        frames.write_frame(answers, {"width": 0, "height": 0})
        return
    width, height = page.size
    frames.write_frame(answers, {"width": width, "height": height}, page.tobytes())


def allocate(job: dict[str, Any], answers: BinaryIO) -> None:
    """Diagnostics: hold ``bytes`` of memory, touched, and say so."""
    from chunkup.media import frames

    block = b"\x01" * int(job["bytes"])  # written, so resident, not only reserved
    frames.write_frame(answers, {"allocated": len(block), "pid": os.getpid()})


def sleep(job: dict[str, Any], answers: BinaryIO) -> None:
    """Diagnostics: take ``seconds`` of wall-clock time before answering."""
    from chunkup.media import frames

    time.sleep(float(job["sleep"]))
    frames.write_frame(answers, {"slept": job["sleep"], "pid": os.getpid()})


TASKS: dict[str, Task] = {"pdf": inspect_pdf, "allocate": allocate, "sleep": sleep}

if __name__ == "__main__":
    sys.exit(main(sys.argv))
