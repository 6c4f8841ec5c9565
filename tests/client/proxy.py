"""A TCP proxy on loopback for the client tests: a slow, laggy or flaky link.

It runs its own asyncio loop in a thread (the blocking client under test runs
in the test's thread), counts the bytes going to the server, and on request
throttles them, delays every answer, drops every n-th connection outright and
cuts connections after some bytes (mid-request, like a mobile link).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any


class Proxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        rate: float | None = None,
        latency: float = 0.0,
        connect_delay: float = 0.0,
        drop_every: int = 0,
        connection_budget: int | None = None,
        max_connections: int = 64,
    ) -> None:
        self.upstream_port = upstream_port
        self.rate = rate  # bytes/s towards the server, for all connections together
        self.latency = latency  # seconds added before each piece of an answer
        self.connect_delay = connect_delay  # seconds before a kept connection is forwarded
        self.drop_every = drop_every  # abort the n-th, 2n-th, ... connection at once
        self.connection_budget = connection_budget  # cut a connection after this many bytes up
        self.max_connections = max_connections
        self.port = 0
        self.upstream_bytes = 0
        self.connections = 0
        self.dropped = 0
        self.cut = 0
        self._free_at = 0.0
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="test-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Proxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=20)
        self._loop.close()

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopping.wait()
            server.close()
            for writer in list(self._writers):  # the pipes end, the handlers return
                writer.transport.abort()
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            dropped = self.drop_every and self.connections % self.drop_every == 0
            if dropped or len(self._handlers) > self.max_connections:
                self.dropped += 1
                writer.transport.abort()
                return
            if self.connect_delay:
                await asyncio.sleep(self.connect_delay)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            self._writers.add(up_writer)
            try:
                await asyncio.gather(
                    self._pipe(reader, up_writer, writer, towards_server=True),
                    self._pipe(up_reader, writer, up_writer, towards_server=False),
                )
            finally:
                self._writers.discard(up_writer)
                up_writer.close()
                with contextlib.suppress(OSError):
                    await up_writer.wait_closed()
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        back: asyncio.StreamWriter,
        *,
        towards_server: bool,
    ) -> None:
        forwarded = 0
        try:
            while data := await source.read(65536):
                if towards_server:
                    budget = self.connection_budget
                    if budget is not None and forwarded + len(data) > budget:
                        sink.write(data[: budget - forwarded])  # part of it, then the cut
                        self.upstream_bytes += budget - forwarded
                        self.cut += 1
                        sink.transport.abort()
                        back.transport.abort()
                        return
                    await self._throttle(len(data))
                    self.upstream_bytes += len(data)
                    forwarded += len(data)
                elif self.latency:
                    await asyncio.sleep(self.latency)
                sink.write(data)
                await sink.drain()
            if sink.can_write_eof() and not sink.is_closing():
                sink.write_eof()
        except (OSError, RuntimeError):
            back.transport.abort()

    async def _throttle(self, size: int) -> None:
        if not self.rate:
            return
        now = asyncio.get_running_loop().time()
        self._free_at = max(self._free_at, now) + size / self.rate
        await asyncio.sleep(self._free_at - now)
