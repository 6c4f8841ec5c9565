"""Token buckets in a file that every worker process of a node maps: one limit per node.

``chunkup serve`` runs several worker processes on one port, and the kernel hands
each connection to any of them. Buckets in each process's memory would let a user
through ``workers`` times the rate; here they live in a small file in the data
directory that every worker maps (``mmap``), so the workers spend one allowance.

The file is a fixed table of ``SLOTS`` slots ``(used, user, tokens, at)``: a user's
home slot is a hash of its id, and the user lives in the first of ``PROBE`` slots
from there that holds it, is free, or holds a bucket that has refilled (a user
indistinguishable from a new one); when none is, the slot used longest ago is
taken over (that user's bucket starts full again: the limit is a guard against
floods, not an account). An update locks the byte range of its probe window with
``fcntl.lockf``, so processes exclude each other only when their windows overlap,
for the few microseconds of one update; a thread lock does the same between the
threads of one process (POSIX record locks belong to the process).

``at`` is ``time.monotonic()``, the same clock for every process of a machine. The
file outlives the server; after a reboot a bucket's ``at`` may lie ahead of the
clock, which counts as no time passed and heals on the user's next request.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path

SLOT = struct.Struct("<qQdd")  # used, user (its low 64 bits), tokens, at
_BITS = 16
SLOTS = 1 << _BITS  # 2 MiB of table: far more users than one node serves at once
PROBE = 16
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: neighbouring ids land far apart
_MASK64 = (1 << 64) - 1

State = tuple[float, float]  # tokens, at
Step = Callable[[State | None], State]


class BucketFile:
    """The node's buckets: ``update(user, step)`` replaces a user's state atomically."""

    def __init__(self, path: Path, *, idle_after: float) -> None:
        """``idle_after``: seconds after which an untouched bucket is full again
        (``burst / per_second``), so its slot may serve another user."""
        self.path = path
        self.idle_after = idle_after
        size = (SLOTS + PROBE) * SLOT.size
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < size:  # zeros: every slot free
            os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)
        self._threads = threading.Lock()

    def update(self, user_id: int, now: float, step: Step) -> None:
        user_id &= _MASK64  # a token may name any integer; ids 2**64 apart share a bucket
        home = ((user_id * _MIX) & _MASK64) >> (64 - _BITS)
        start = home * SLOT.size
        length = PROBE * SLOT.size
        with self._threads:
            fcntl.lockf(self._fd, fcntl.LOCK_EX, length, start)
            try:
                offset, state = self._find(user_id, start, now)
                tokens, at = step(state)
                SLOT.pack_into(self._map, offset, 1, user_id, tokens, at)
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, length, start)

    def _find(self, user_id: int, start: int, now: float) -> tuple[int, State | None]:
        """The slot of ``user_id`` in the window at ``start`` and its state, or
        the slot to give it (free, refilled, or used longest ago) and None."""
        spare, spare_at = -1, float("inf")
        for offset in range(start, start + PROBE * SLOT.size, SLOT.size):
            used, user, tokens, at = SLOT.unpack_from(self._map, offset)
            if used and user == user_id:
                return offset, (tokens, at)
            if not used or now - at >= self.idle_after:
                if spare_at > float("-inf"):
                    spare, spare_at = offset, float("-inf")  # free: the best there is
            elif at < spare_at:
                spare, spare_at = offset, at
        return spare, None

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
