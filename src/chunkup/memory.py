"""Process-wide memory settings for a server worker: the allocator and the collector.

glibc gives threads that allocate their own arenas (up to eight per core) and
raises its mmap threshold each time a large block is freed, so large blocks
freed on one thread end up kept in several arenas: in the benchmark a worker's
peak RSS grew to about 230 MB while 50 MiB documents completed. Two arenas and
a fixed mmap threshold hold it near 150 MB.

The threshold sits above a chunk's body (at most 264 KB, and uvicorn's pieces
of it) and below the blocks completion and image decoding allocate. At 128 KiB
every body was a fresh mapping: 50-70 page faults to fill it and an munmap to
drop it, 0.4-0.5 ms of kernel time per chunk, as much as the rest of the
request. From the heap, bodies reuse the same few pages.
"""

from __future__ import annotations

import ctypes
import gc
import logging

log = logging.getLogger(__name__)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 1024 * 1024
ARENAS = 2


def tune_malloc() -> bool:
    """Apply the settings where the C library is glibc; whether it could."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        log.debug("no mallopt here; allocator left as it is")
        return False
    return bool(mallopt(M_ARENA_MAX, ARENAS)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def freeze_startup_objects() -> None:
    """Put everything alive after start-up out of the cyclic collector's way.

    A worker holds about 110 000 objects once started (modules, SQLAlchemy,
    FastAPI, pydantic); a full collection walks them all, 60-70 ms here, and
    every request in flight waits it out: the tail of chunk latency. Frozen
    (``gc.freeze``), they are skipped; what requests allocate later is collected
    as before. Only for a serving process: a test process that starts many apps
    would keep each one's cycles forever.
    """
    gc.collect()
    gc.freeze()
