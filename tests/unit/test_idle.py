"""A body that stalls is cut off; the reader's own work between pieces is not a stall."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chunkup.api.idle import pieces_within
from chunkup.errors import RequestTimeout


async def body(*delays: float) -> AsyncIterator[bytes]:
    for delay in delays:
        await asyncio.sleep(delay)
        yield b"x"
    yield b""  # empty pieces are skipped


async def test_a_client_silent_past_the_idle_timeout_is_cut_off():
    received = []
    with pytest.raises(RequestTimeout):
        async for piece in pieces_within(body(0, 0.01, 0.5), 0.1):
            received.append(piece)
    assert received == [b"x", b"x"]


async def test_slow_work_between_pieces_does_not_count_as_waiting():
    received = []
    async for piece in pieces_within(body(0.02, 0.02, 0.02), 0.1):
        received.append(piece)
        await asyncio.sleep(0.15)  # longer than the idle timeout, but not waiting for the client
    assert received == [b"x", b"x", b"x"]


async def test_a_cancellation_from_elsewhere_stays_a_cancellation():
    async def read() -> None:
        async for _ in pieces_within(body(10), 5):
            pass

    task = asyncio.ensure_future(read())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
