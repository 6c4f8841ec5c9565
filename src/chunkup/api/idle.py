"""Reading a request body that may stall: a client silent for too long is cut off.

Chunk bodies (multipart) and tus PATCH bodies both arrive as a stream of
pieces. A fresh ``asyncio.timeout`` per piece cost as much CPU as finding the
multipart boundary, so one timer serves a whole idle period: it is checked when
it fires and moved on if a piece came meanwhile. Only the waits for a piece
count; what the reader does with a piece between two waits does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from chunkup.errors import RequestTimeout


class _IdleDeadline:
    """Cancels the reading task once it has waited ``idle`` seconds for one piece."""

    def __init__(self, idle: float) -> None:
        self.idle = idle
        self.loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self._cancelling = task.cancelling()
        self.waiting_since: float | None = None
        self.expired = False
        self._timer: asyncio.TimerHandle | None = None

    def waiting(self) -> None:
        self.waiting_since = self.loop.time()
        if self._timer is None:
            self._timer = self.loop.call_at(self.waiting_since + self.idle, self._check)

    def arrived(self) -> None:
        self.waiting_since = None

    def _check(self) -> None:
        self._timer = None
        if self.waiting_since is None:
            return  # not waiting now: the next wait arms a timer again
        due = self.waiting_since + self.idle
        if self.loop.time() < due:
            self._timer = self.loop.call_at(due, self._check)
            return
        self.expired = True
        self.task.cancel()

    def fired(self) -> bool:
        """Whether a cancellation is this deadline's (which it then takes back)."""
        return self.expired and self.task.uncancel() <= self._cancelling

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def pieces_within(body: AsyncIterator[bytes], idle_timeout: float) -> AsyncIterator[bytes]:
    """The body's non-empty pieces; ``RequestTimeout`` once none came for ``idle_timeout``."""
    deadline = _IdleDeadline(idle_timeout)
    iterator = aiter(body)
    try:
        while True:
            deadline.waiting()
            try:
                piece = await anext(iterator)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError as exc:
                if deadline.fired():
                    raise RequestTimeout() from exc
                raise
            deadline.arrived()
            if piece:
                yield piece
    finally:
        deadline.stop()
