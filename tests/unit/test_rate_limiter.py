"""The per-user token bucket, in this process and in the node's shared file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chunkup.errors import TooManyRequests
from chunkup.uploads import bucket_file
from chunkup.uploads.limits import RateLimiter


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "file"])
def limiter_for(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., RateLimiter]]:
    """``RateLimiter`` with its buckets in this process, or in a file in ``tmp_path``."""
    made: list[RateLimiter] = []

    def make(per_second: float, burst: int, *, clock: Ticks) -> RateLimiter:
        path = tmp_path / "buckets" if request.param == "file" else None
        made.append(RateLimiter(per_second, burst, clock=clock, path=path))
        return made[-1]

    yield make
    for limiter in made:
        limiter.close()


def test_a_burst_is_allowed_then_refused_with_retry_after(limiter_for):
    clock = Ticks()
    limiter = limiter_for(per_second=2, burst=3, clock=clock)
    for _ in range(3):
        limiter.take(1)
    with pytest.raises(TooManyRequests) as refused:
        limiter.take(1)
    assert refused.value.retry_after == 1
    assert refused.value.headers() == {"Retry-After": "1"}


def test_the_allowance_refills_with_time(limiter_for):
    clock = Ticks()
    limiter = limiter_for(per_second=1, burst=1, clock=clock)
    limiter.take(1)
    clock.now += 1.0
    limiter.take(1)


def test_users_have_separate_buckets(limiter_for):
    limiter = limiter_for(per_second=1, burst=1, clock=Ticks())
    limiter.take(1)
    limiter.take(2)
    with pytest.raises(TooManyRequests):
        limiter.take(1)


def test_zero_rate_means_no_limit(limiter_for):
    limiter = limiter_for(per_second=0, burst=1, clock=Ticks())
    for _ in range(1000):
        limiter.take(1)


def test_limiters_on_one_file_spend_one_allowance(tmp_path: Path):
    # as the worker processes of a node do, each with the file mapped
    clock = Ticks()
    first, second = (
        RateLimiter(per_second=1, burst=3, clock=clock, path=tmp_path / "buckets") for _ in range(2)
    )
    first.take(1)
    second.take(1)
    first.take(1)
    with pytest.raises(TooManyRequests):
        second.take(1)
    first.close()
    second.close()


def test_a_full_probe_window_gives_the_slot_used_longest_ago(tmp_path: Path):
    # users whose ids share a home slot: more of them than the window holds
    clock = Ticks()
    limiter = RateLimiter(per_second=1, burst=1, clock=clock, path=tmp_path / "buckets")
    inverse = pow(bucket_file._MIX, -1, 1 << 64)  # n * inverse hashes to n: home slot 0
    crowd = [n * inverse % (1 << 64) for n in range(1, bucket_file.PROBE + 2)]
    for user in crowd[: bucket_file.PROBE]:
        limiter.take(user)
        clock.now += 0.01
    limiter.take(crowd[-1])  # the window is full: it takes the oldest user's slot
    limiter.take(crowd[0])  # ... who starts again with a full bucket, in the next oldest's
    with pytest.raises(TooManyRequests):
        limiter.take(crowd[5])  # the others keep theirs
    limiter.close()


@pytest.mark.parametrize("user", [-1, 2**64 + 7, 10**30])
def test_any_integer_a_token_names_has_a_bucket(tmp_path: Path, user: int):
    limiter = RateLimiter(per_second=1, burst=1, clock=Ticks(), path=tmp_path / "buckets")
    limiter.take(user)
    with pytest.raises(TooManyRequests):
        limiter.take(user)
    limiter.close()
