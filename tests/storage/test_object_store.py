"""What only the obstore backend does: URLs, error translation, conditional-put fallback."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import pytest
from obstore.exceptions import BaseError

from chunkup.errors import StorageUnavailable
from chunkup.storage import ObjectExists, PresignedUrls, open_storage
from chunkup.storage.local import LocalStorage
from chunkup.storage.object_store import ObjectStorage
from tests.seaweed import Seaweed, free_ports


def test_open_storage_dispatches_on_the_scheme() -> None:
    memory = open_storage("memory://")
    s3 = open_storage("s3://bucket/prefix?endpoint=http://127.0.0.1:9&region=us-east-1")
    assert isinstance(memory, ObjectStorage) and not isinstance(memory, PresignedUrls)
    assert isinstance(s3, ObjectStorage) and isinstance(s3, PresignedUrls)
    assert isinstance(open_storage("file:///tmp/x"), LocalStorage)


@pytest.mark.parametrize(
    "url",
    ["ftp://host/x", "s3://bucket/p?no_such_option=1", "s3://bucket/p?timeout=soon"],
)
def test_open_storage_refuses_a_bad_url(url: str) -> None:
    with pytest.raises(ValueError):
        open_storage(url)


async def test_an_unreachable_store_is_storage_unavailable() -> None:
    (port,) = free_ports(1)  # nothing listens there
    query = urlencode(
        {
            "endpoint": f"http://127.0.0.1:{port}",
            "region": "us-east-1",
            "access_key_id": "a",
            "secret_access_key": "b",
        }
    )
    storage = open_storage(f"s3://bucket/p?{query}")
    started = time.monotonic()

    with pytest.raises(StorageUnavailable) as caught:
        await storage.put("chunks/u/1", b"x")

    assert isinstance(caught.value.__cause__, BaseError)
    assert time.monotonic() - started < 10  # a few quick retries, not obstore's 3 minutes
    with pytest.raises(StorageUnavailable):
        await storage.stat("chunks/u/1")


async def test_wrong_credentials_are_storage_unavailable(seaweed: Seaweed) -> None:
    url = seaweed.storage_url("creds").replace(seaweed.secret_access_key, "wrong")
    storage = open_storage(url)
    with pytest.raises(StorageUnavailable):
        await storage.put("chunks/u/1", b"x")


async def test_conditional_create_holds_under_racing_writers(seaweed: Seaweed) -> None:
    storage = open_storage(seaweed.storage_url("race"))

    async def write(key: str, i: int) -> bool:
        try:
            await storage.put(key, b"%d" % i * 50_000)
        except ObjectExists:
            return False
        return True

    for round_ in range(2):
        key = f"chunks/race/{round_}"
        assert sum(await asyncio.gather(*(write(key, i) for i in range(4)))) == 1


async def test_without_conditional_put_a_plain_put_is_used(seaweed: Seaweed) -> None:
    storage = open_storage(seaweed.storage_url("plain") + "&conditional_put=disabled")
    assert isinstance(storage, ObjectStorage)

    await storage.put("chunks/u/1", b"first")
    await storage.put("chunks/u/1", b"second")  # no longer refused: keys must be unique

    assert storage.conditional_put is False
    assert b"".join([b async for b in storage.read("chunks/u/1")]) == b"second"


@pytest.mark.parametrize("where", ["memory", "s3"])
async def test_a_cancelled_multipart_compose_leaves_no_dest(
    where: str, request: pytest.FixtureRequest
) -> None:
    url = "memory://" if where == "memory" else request.getfixturevalue("seaweed").storage_url("c")
    storage = open_storage(url)
    block = bytes(204800)
    keys = [f"chunks/c/{i:03d}" for i in range(60)]  # 12 MB: a multipart upload
    for key in keys:
        await storage.put(key, block)
    seen = 0

    def observe(data: bytes | memoryview) -> None:
        nonlocal seen
        seen += len(data)
        if seen > 6 * 1024 * 1024:  # past the first part: obstore is amid the upload
            task.cancel()

    task = asyncio.create_task(storage.compose(keys, "media/c/file", observe))
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)

    await asyncio.sleep(0.5)  # time for a wrongly finished upload to show
    with pytest.raises(FileNotFoundError):
        await storage.stat("media/c/file")
