"""The per-user token bucket."""

from __future__ import annotations

import pytest

from chunkup.errors import TooManyRequests
from chunkup.uploads.limits import RateLimiter


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_refused_with_retry_after():
    clock = Ticks()
    limiter = RateLimiter(per_second=2, burst=3, clock=clock)
    for _ in range(3):
        limiter.take(1)
    with pytest.raises(TooManyRequests) as refused:
        limiter.take(1)
    assert refused.value.retry_after == 1
    assert refused.value.headers() == {"Retry-After": "1"}


def test_the_allowance_refills_with_time():
    clock = Ticks()
    limiter = RateLimiter(per_second=1, burst=1, clock=clock)
    limiter.take(1)
    clock.now += 1.0
    limiter.take(1)


def test_users_have_separate_buckets():
    limiter = RateLimiter(per_second=1, burst=1, clock=Ticks())
    limiter.take(1)
    limiter.take(2)
    with pytest.raises(TooManyRequests):
        limiter.take(1)


def test_zero_rate_means_no_limit():
    limiter = RateLimiter(per_second=0, burst=1, clock=Ticks())
    for _ in range(1000):
        limiter.take(1)
