"""The SQLite writer thread: calls queued together run in order, each settled on its own."""

from __future__ import annotations

import asyncio
import threading

import pytest

from chunkup.db.writer import BatchedWriter


async def test_calls_run_in_order_in_one_thread_and_each_gets_its_result():
    writer = BatchedWriter("test-writer")
    ran: list[tuple[int, str]] = []

    def call(n: int) -> int:
        ran.append((n, threading.current_thread().name))
        return n * n

    try:
        results = await asyncio.gather(*(writer.submit(lambda n=n: call(n)) for n in range(50)))
    finally:
        writer.shutdown()
    assert results == [n * n for n in range(50)]
    assert [n for n, _ in ran] == list(range(50))
    assert len({name for _, name in ran}) == 1 and ran[0][1] != threading.current_thread().name


async def test_one_failing_call_fails_alone():
    writer = BatchedWriter("test-writer")

    def fail() -> None:
        raise ValueError("this one")

    try:
        outcomes = await asyncio.gather(
            writer.submit(lambda: 1),
            writer.submit(fail),
            writer.submit(lambda: 3),
            return_exceptions=True,
        )
        assert await writer.submit(lambda: "still serving") == "still serving"
    finally:
        writer.shutdown()
    assert outcomes[0] == 1 and outcomes[2] == 3
    assert isinstance(outcomes[1], ValueError)


async def test_a_caller_that_gives_up_does_not_stop_the_queue():
    writer = BatchedWriter("test-writer")
    release = threading.Event()
    try:
        slow = writer.submit(lambda: release.wait(5))
        abandoned = writer.submit(lambda: "nobody reads this")
        abandoned.cancel()
        release.set()
        assert await slow is True
        assert await writer.submit(lambda: 42) == 42
    finally:
        writer.shutdown()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
