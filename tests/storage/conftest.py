"""Backends to run the storage tests against: the local disk, obstore's in-memory
store, and S3 on a real SeaweedFS (one per test session, a fresh prefix per test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chunkup.storage import Storage, open_storage
from tests.seaweed import Seaweed


@pytest.fixture(params=["local", "memory", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def storage_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "local":
        return (tmp_path / "storage").as_uri()
    if backend == "memory":
        return "memory://"
    seaweed: Seaweed = request.getfixturevalue("seaweed")
    return seaweed.storage_url(f"test-{uuid.uuid4().hex}")


@pytest.fixture
async def storage(storage_url: str) -> AsyncIterator[Storage]:
    store = open_storage(storage_url)
    yield store
    await store.aclose()
