"""When to try a request again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass

from chunkup.client.errors import APIError, ChunkupError, NetworkError

# 429s that waiting frees; the quota ones free only when the user finishes uploads
RETRYABLE_429 = frozenset({"rate_limited", "http_429"})


@dataclass(frozen=True)
class Retry:
    """Exponential backoff with jitter, bounded in attempts and in each wait.

    Retried: network errors, 5xx, 408, and a 429 ``rate_limited`` (waiting at least
    its ``Retry-After``). Every other error status is raised at once. (A 409 on a
    chunk is handled by the uploader: it asks the server what it holds.)
    """

    attempts: int = 8  # tries of one request, the first included
    backoff: float = 0.25  # the wait before the first retry, doubled after each
    max_backoff: float = 10.0
    max_retry_after: float = 60.0  # a longer Retry-After is raised rather than waited for

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("attempts must be >= 1 and the waits >= 0")

    def retryable(self, error: ChunkupError) -> bool:
        if isinstance(error, NetworkError):
            return True
        if not isinstance(error, APIError) or error.status is None:
            return False
        if error.status == 429:
            wait = error.retry_after or 0.0
            return error.code in RETRYABLE_429 and wait <= self.max_retry_after
        return error.status >= 500 or error.status == 408

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1 for the first)."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (failures - 1))
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after is not None:  # never sooner than asked, and not all at that very moment
            wait = max(
                wait, min(retry_after, self.max_retry_after) + random.uniform(0, ceiling / 2)
            )
        return wait
