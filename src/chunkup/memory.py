"""Process-wide memory settings for a server worker: the allocator and the collector.

glibc gives threads that allocate their own arenas (up to eight per core) and
raises its mmap threshold each time a large block is freed, so chunk bodies of
200-264 KB, allocated on the event loop and freed after a worker thread wrote
them, end up kept in several arenas: in the benchmark a worker's peak RSS grew
to about 230 MB while 50 MiB documents completed. Two arenas and a fixed mmap
threshold of 128 KiB (a body is mapped, and returned to the system when freed)
held it near 150 MB.
"""

from __future__ import annotations

import ctypes
import gc
import logging

log = logging.getLogger(__name__)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024
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
