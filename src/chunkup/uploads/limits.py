"""Per-user request rate: a token bucket per user, shared by a node's workers.

``RateLimiter`` holds the arithmetic; the buckets live either in this process
(``MemoryBuckets``: one process, or tests) or in a file every worker process of
the node maps (``bucket_file.BucketFile``, what ``chunkup serve`` uses), so the
limit holds per node however many workers serve the port. Nodes do not share
buckets (no shared state to ask on every request): with N nodes behind a
balancer a user may reach N times the rate. The limit is a guard against
floods, not an accounting of use.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from chunkup.errors import TooManyRequests
from chunkup.uploads.bucket_file import BucketFile, State, Step

MAX_USERS = 100_000
RATE_LIMIT_FILE = "rate-limit.buckets"  # in the data directory


class Buckets(Protocol):
    def update(self, user_id: int, now: float, step: Step) -> None:
        """Replace ``user_id``'s state with ``step(state or None)``, atomically."""
        ...

    def close(self) -> None: ...


class MemoryBuckets:
    """Buckets in this process's memory, at most ``MAX_USERS`` of them."""

    def __init__(self, *, idle_after: float) -> None:
        self.idle_after = idle_after
        self._buckets: dict[int, State] = {}

    def update(self, user_id: int, now: float, step: Step) -> None:
        state = self._buckets.get(user_id)
        if state is None and len(self._buckets) >= MAX_USERS:
            self._forget_full_buckets(now)
        self._buckets[user_id] = step(state)

    def _forget_full_buckets(self, now: float) -> None:
        """Drop users whose bucket has refilled: they are indistinguishable from new ones."""
        self._buckets = {
            user: state for user, state in self._buckets.items() if now - state[1] < self.idle_after
        }

    def close(self) -> None:
        self._buckets.clear()


class RateLimiter:
    def __init__(
        self,
        per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        path: Path | None = None,
    ) -> None:
        """Buckets in the file at ``path``, shared with every process that maps it,
        or in this process without one."""
        self.per_second = per_second
        self.burst = float(burst)
        self.clock = clock
        idle_after = self.burst / per_second if per_second > 0 else math.inf
        self._buckets: Buckets = (
            BucketFile(path, idle_after=idle_after)
            if path is not None and per_second > 0
            else MemoryBuckets(idle_after=idle_after)
        )

    def take(self, user_id: int) -> None:
        """Spend one request of ``user_id``'s allowance, or raise ``TooManyRequests``."""
        if self.per_second <= 0:
            return
        now = self.clock()
        wait = 0

        def spend(state: State | None) -> State:
            nonlocal wait
            tokens, at = state or (self.burst, now)
            tokens = min(self.burst, tokens + max(0.0, now - at) * self.per_second)
            if tokens < 1:
                wait = math.ceil((1 - tokens) / self.per_second)
                return tokens, now
            return tokens - 1, now

        self._buckets.update(user_id, now, spend)
        if wait:
            raise TooManyRequests(retry_after=wait)

    def close(self) -> None:
        self._buckets.close()
