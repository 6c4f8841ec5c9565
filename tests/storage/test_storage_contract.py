"""The ``Storage`` Protocol, as every backend must keep it (see ``storage/base.py``)."""

from __future__ import annotations

import gc
import hashlib
import os
import random
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest

from chunkup.storage import ObjectExists, PresignedUrls, Storage

CHUNK = 204800
MIB = 1024 * 1024


async def read_all(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([block async for block in storage.read(key, start, end)])


async def put_chunks(storage: Storage, prefix: str, sizes: list[int]) -> tuple[list[str], bytes]:
    rng = random.Random(len(sizes))
    keys, parts = [], []
    for i, size in enumerate(sizes):
        key = f"{prefix}/{i:04d}.{rng.getrandbits(32):08x}"
        data = rng.randbytes(size)
        await storage.put(key, data)
        keys.append(key)
        parts.append(data)
    return keys, b"".join(parts)


class Observed:
    """An observer that keeps what it saw, to check order and completeness."""

    def __init__(self) -> None:
        self.md5 = hashlib.md5()
        self.blocks: list[bytes] = []

    def __call__(self, block: bytes | memoryview) -> None:
        self.md5.update(block)
        self.blocks.append(bytes(block))

    @property
    def data(self) -> bytes:
        return b"".join(self.blocks)


# -- put -----------------------------------------------------------------------


async def test_put_then_read_gives_the_bytes_back(storage: Storage) -> None:
    await storage.put("chunks/u1/0-9.aa", b"0123456789")
    assert await read_all(storage, "chunks/u1/0-9.aa") == b"0123456789"


async def test_put_refuses_a_second_write_to_the_same_key(storage: Storage) -> None:
    await storage.put("chunks/u1/0-4.aa", b"first")
    with pytest.raises(ObjectExists):
        await storage.put("chunks/u1/0-4.aa", b"second")
    assert await read_all(storage, "chunks/u1/0-4.aa") == b"first"


async def test_put_accepts_memoryview_and_bytearray(storage: Storage) -> None:
    await storage.put("a/view", memoryview(b"xyz"))
    await storage.put("a/array", bytearray(b"abc"))
    assert await read_all(storage, "a/view") == b"xyz"
    assert await read_all(storage, "a/array") == b"abc"


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", "a/"])
async def test_invalid_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError):
        await storage.put(key, b"x")


# -- compose -------------------------------------------------------------------


async def test_compose_of_three_keys_is_their_concatenation(storage: Storage) -> None:
    keys, expected = await put_chunks(storage, "chunks/u3", [CHUNK, CHUNK, 1234])
    observed = Observed()

    size = await storage.compose(keys, "media/t3/file.bin", observed)

    assert size == len(expected)
    assert observed.data == expected
    assert observed.md5.hexdigest() == hashlib.md5(expected).hexdigest()
    assert await read_all(storage, "media/t3/file.bin") == expected
    assert (await storage.stat("media/t3/file.bin")).size == len(expected)


async def test_compose_of_forty_keys_past_the_multipart_threshold(storage: Storage) -> None:
    sizes = [CHUNK] * 30 + [random.Random(i).randint(1, CHUNK) for i in range(10)]
    random.Random(40).shuffle(sizes)
    keys, expected = await put_chunks(storage, "chunks/u40", sizes)
    assert len(expected) > 5 * MIB
    observed = Observed()

    size = await storage.compose(keys, "media/t40/file.bin", observed)

    assert size == len(expected)
    assert observed.md5.hexdigest() == hashlib.md5(expected).hexdigest()
    assert observed.data == expected
    assert hashlib.md5(await read_all(storage, "media/t40/file.bin")).digest() == (
        hashlib.md5(expected).digest()
    )


async def test_compose_of_no_keys_is_an_empty_object(storage: Storage) -> None:
    assert await storage.compose([], "media/t0/empty", Observed()) == 0
    assert (await storage.stat("media/t0/empty")).size == 0
    assert await read_all(storage, "media/t0/empty") == b""


@pytest.mark.parametrize("count", [3, 40], ids=["small", "multipart"])
async def test_compose_of_a_missing_key_raises_and_leaves_no_dest(
    storage: Storage, count: int
) -> None:
    keys, _ = await put_chunks(storage, "chunks/um", [CHUNK] * count)
    keys.append("chunks/um/missing")

    with pytest.raises(FileNotFoundError):
        await storage.compose(keys, "media/tm/file.bin", Observed())

    with pytest.raises(FileNotFoundError):
        await storage.stat("media/tm/file.bin")
    assert [key async for key, _ in storage.list("media/")] == []


async def test_compose_refuses_an_existing_dest(storage: Storage) -> None:
    keys, _ = await put_chunks(storage, "chunks/ue", [10, 20])
    await storage.put("media/te/file.bin", b"already here")

    with pytest.raises(ObjectExists):
        await storage.compose(keys, "media/te/file.bin", Observed())
    assert await read_all(storage, "media/te/file.bin") == b"already here"


# -- read and stat -------------------------------------------------------------

DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, DATA),
        (1000, None, DATA[1000:]),
        (1000, 1999, DATA[1000:2000]),
        (0, 0, DATA[:1]),
        (len(DATA) - 1, len(DATA) - 1, DATA[-1:]),
        (len(DATA) - 1, None, DATA[-1:]),
        (5000, len(DATA) + 100, DATA[5000:]),
        (len(DATA), None, b""),
    ],
    ids=["full", "from", "start-end", "first-byte", "last-byte", "last-open", "past-end", "at-end"],
)
async def test_read_streams_a_byte_range(
    storage: Storage, start: int, end: int | None, expected: bytes
) -> None:
    await storage.put("media/r/file", DATA)
    assert await read_all(storage, "media/r/file", start, end) == expected


async def test_read_of_a_missing_key_raises_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        await read_all(storage, "media/nope/file")


async def test_stat_gives_size_etag_and_time(storage: Storage) -> None:
    await storage.put("media/s/file", DATA)
    info = await storage.stat("media/s/file")
    assert info.size == len(DATA)
    assert info.etag.startswith('"') and info.etag.endswith('"') and len(info.etag) > 2
    assert info.modified > 1_700_000_000


async def test_stat_of_a_missing_key_raises_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        await storage.stat("media/nope/file")


# -- delete and list -----------------------------------------------------------


async def test_delete_removes_the_object(storage: Storage) -> None:
    await storage.put("chunks/d/1", b"x")
    await storage.delete("chunks/d/1")
    with pytest.raises(FileNotFoundError):
        await storage.stat("chunks/d/1")


async def test_delete_of_a_missing_key_is_fine(storage: Storage) -> None:
    await storage.delete("chunks/d/never-was")


async def test_delete_prefix_removes_exactly_that_prefix(storage: Storage) -> None:
    for key in ["chunks/ab/1", "chunks/ab/2", "chunks/ab/deep/3"]:
        await storage.put(key, b"gone")
    for key in ["chunks/abc/1", "chunks/ab2", "chunks/a/1", "media/ab/1"]:
        await storage.put(key, b"stays")

    assert await storage.delete_prefix("chunks/ab/") == 3

    remaining = sorted([key async for key, _ in storage.list("chunks/")])
    assert remaining == ["chunks/a/1", "chunks/ab2", "chunks/abc/1"]
    assert await read_all(storage, "media/ab/1") == b"stays"


async def test_delete_prefix_of_nothing_is_zero(storage: Storage) -> None:
    assert await storage.delete_prefix("chunks/none/") == 0


async def test_list_yields_every_key_under_the_prefix_with_its_size(storage: Storage) -> None:
    await storage.put("chunks/l1/0-9.x", b"0123456789")
    await storage.put("chunks/l1/sub/10-12.y", b"abc")
    await storage.put("chunks/l2/0-0.z", b"q")
    await storage.put("media/l1/f", b"nope")

    listed = {key: info.size async for key, info in storage.list("chunks/l1/")}

    assert listed == {"chunks/l1/0-9.x": 10, "chunks/l1/sub/10-12.y": 3}


async def test_list_of_an_empty_prefix_yields_nothing(storage: Storage) -> None:
    assert [key async for key, _ in storage.list("chunks/empty/")] == []


# -- optional capabilities -----------------------------------------------------


async def test_presigned_url_fetches_the_object(storage: Storage, backend: str) -> None:
    if not isinstance(storage, PresignedUrls):
        assert backend in ("local", "memory")
        pytest.skip(f"{backend} has no presigned URLs")
    await storage.put("media/p/file", DATA)

    url = await storage.presigned_url("media/p/file", timedelta(minutes=5))

    async with httpx.AsyncClient() as client:
        response = await client.get(url, headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.content == DATA[:10]


# -- memory --------------------------------------------------------------------


@contextmanager
def peak_rss() -> Iterator[dict[str, int]]:
    """Sample this process's resident set size until the block ends."""
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * page

    result = {"before": rss(), "peak": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            result["peak"] = max(result["peak"], rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result["peak"] = max(result["peak"], rss())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
async def test_compose_of_50_mib_keeps_memory_bounded(storage: Storage, backend: str) -> None:
    if backend == "memory":
        pytest.skip("the in-memory store holds every object in this process")
    count = 50 * MIB // CHUNK  # 256 chunks of 204800 bytes
    base = random.Random(50).randbytes(CHUNK)
    expected = hashlib.md5()
    keys = []
    for i in range(count):
        data = i.to_bytes(4, "big") + base[4:]
        expected.update(data)
        keys.append(f"chunks/big/{i:015d}")
        await storage.put(keys[-1], data)
    observed = hashlib.md5()
    gc.collect()

    tracemalloc.start()
    try:
        with peak_rss() as rss:
            size = await storage.compose(keys, "media/big/file.bin", observed.update)
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert size == 50 * MIB
    assert observed.hexdigest() == expected.hexdigest()
    assert traced_peak < 40 * MIB, f"Python allocations peaked at {traced_peak / MIB:.1f} MiB"
    grown = rss["peak"] - rss["before"]
    assert grown < 40 * MIB, f"RSS grew by {grown / MIB:.1f} MiB"
