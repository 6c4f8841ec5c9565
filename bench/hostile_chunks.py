"""Tiny and gapped chunks (issue 14): the 1st and the 6000th chunk, and 1-byte chunks on disk.

Run from the repository root: ``.venv/bin/python -m bench.hostile_chunks``.
In-process (the upload service with its database and local disk, no HTTP), so
a busy machine's noise does not hide the trend. Three runs:

- ``gapped``: 6000 chunks of 10 bytes of a 50 MiB document, each leaving a gap
  before it (the default limits refuse the 65th with ``too_many_ranges``);
- ``held``: 64 gapped chunks, then chunks that each extend one of those ranges,
  6000 in all (``upload_chunk_factor`` raised to 32 so 6000 objects fit);
- ``tiny``: 10 000 one-byte chunks of a 10 000-byte upload, and the disk blocks
  its appended file takes.

Not a test: timings belong here, not in the suite.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from chunkup.errors import ChunkupError
from chunkup.models import Kind
from chunkup.services import Services
from chunkup.settings import Settings
from chunkup.uploads.ranges import ChunkRange
from chunkup.uploads.service import ChunkIn

DOCUMENT = 50 * 1024 * 1024
SIZE = 10
# a first chunk must start like its kind (fail fast); the rest may be anything
PDF_HEAD = b"%PDF-1.7\n\n"


def _starts(mode: str) -> list[int]:
    if mode == "gapped":
        return [i * 2 * SIZE for i in range(1, 6000)]
    stride = DOCUMENT // 64
    starts = [g * stride for g in range(1, 64)]
    step = 1
    while len(starts) < 5999:
        starts += [g * stride + step * SIZE for g in range(64)][: 5999 - len(starts)]
        step += 1
    return starts


async def _service(**overrides: Any) -> Services:
    settings = Settings(data_dir=Path(tempfile.mkdtemp()), jwt_secret="s" * 32, **overrides)
    return await Services.start(settings)


async def _send(services: Services, start: int, size: int, total: int, upload_id: str) -> str:
    chunk = ChunkIn(
        Kind.DOCUMENT, b"x" * size, ChunkRange(start, start + size - 1, total), upload_id
    )
    try:
        await services.uploads.accept_chunk(1, chunk)
    except ChunkupError as exc:
        return exc.code
    return "accepted"


async def latency(mode: str) -> str:
    services = await _service(**({"upload_chunk_factor": 32} if mode == "held" else {}))
    try:
        first = ChunkIn(Kind.DOCUMENT, PDF_HEAD[:SIZE], ChunkRange(0, SIZE - 1, DOCUMENT))
        upload_id = (await services.uploads.accept_chunk(1, first)).upload.id
        times, outcomes = [], {}
        for start in _starts(mode):
            began = time.perf_counter()
            outcome = await _send(services, start, SIZE, DOCUMENT, upload_id)
            times.append((time.perf_counter() - began) * 1000)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        status = await services.uploads.status(1, upload_id)
    finally:
        await services.close()
    return (
        f"{mode}: {outcomes}; chunks 2-21 {statistics.median(times[:20]):.2f} ms, "
        f"chunks 5981-6000 {statistics.median(times[-20:]):.2f} ms (medians); "
        f"{len(status.ranges)} ranges held"
    )


async def tiny() -> str:
    services = await _service()
    total = 10_000
    try:
        first = ChunkIn(Kind.DOCUMENT, PDF_HEAD[:1], ChunkRange(0, 0, total))
        upload_id = (await services.uploads.accept_chunk(1, first)).upload.id
        outcomes: dict[str, int] = {}
        for start in range(1, total):
            outcome = await _send(services, start, 1, total, upload_id)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        appended = services.settings.data_dir / "storage" / "chunks" / upload_id / "appended"
        taken = os.stat(appended).st_blocks * 512
    finally:
        await services.close()
    return f"tiny: {outcomes}; the upload's file takes {taken / 1024:.0f} KiB"


async def main() -> None:
    for mode in ("gapped", "held"):
        print(await latency(mode))
    print(await tiny())


if __name__ == "__main__":
    asyncio.run(main())
