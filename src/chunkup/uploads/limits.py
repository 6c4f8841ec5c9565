"""Per-user request rate: a token bucket per user, on each node.

Each node keeps its own buckets (no shared state to ask on every request), so
with N nodes behind a balancer a user may reach N times the rate; the limit is
a guard against floods, not an accounting of use.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from chunkup.errors import TooManyRequests

MAX_USERS = 100_000


class RateLimiter:
    def __init__(
        self, per_second: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_second = per_second
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # user -> (tokens, at)

    def take(self, user_id: int) -> None:
        """Spend one request of ``user_id``'s allowance, or raise ``TooManyRequests``."""
        if self.per_second <= 0:
            return
        now = self.clock()
        tokens, at = self._buckets.get(user_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_second)
        if tokens < 1:
            wait = math.ceil((1 - tokens) / self.per_second)
            self._buckets[user_id] = (tokens, now)
            raise TooManyRequests(retry_after=wait)
        if len(self._buckets) >= MAX_USERS and user_id not in self._buckets:
            self._forget_full_buckets(now)
        self._buckets[user_id] = (tokens - 1, now)

    def _forget_full_buckets(self, now: float) -> None:
        """Drop users whose bucket has refilled: they are indistinguishable from new ones."""
        refill = self.burst / self.per_second
        self._buckets = {
            user: state for user, state in self._buckets.items() if now - state[1] < refill
        }
