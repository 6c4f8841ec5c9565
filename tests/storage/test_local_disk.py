"""Local-disk specifics: assembly with and without the kernel's copy."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from chunkup.errors import StorageUnavailable
from chunkup.storage import local
from chunkup.storage.local import LocalStorage


async def _compose_three(root: Path) -> tuple[bytes, str, int]:
    store = LocalStorage(root)
    parts = [os.urandom(size) for size in (204800, 1, 70000)]
    for index, data in enumerate(parts):
        await store.put(f"chunks/u/{index}", data)
    md5 = hashlib.md5()
    size = await store.compose([f"chunks/u/{i}" for i in range(3)], "media/t/f.bin", md5.update)
    composed = store.local_path("media/t/f.bin").read_bytes()
    assert composed == b"".join(parts)
    return composed, md5.hexdigest(), size


async def test_compose_copies_in_the_kernel_while_hashing(tmp_path: Path) -> None:
    composed, md5, size = await _compose_three(tmp_path)
    assert size == len(composed) and md5 == hashlib.md5(composed).hexdigest()


async def test_compose_falls_back_to_copying_through_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_kernel_copy(src: int, out: int) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(local, "_kernel_copy", no_kernel_copy)
    composed, md5, size = await _compose_three(tmp_path)
    assert size == len(composed) and md5 == hashlib.md5(composed).hexdigest()


async def test_a_failed_compose_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStorage(tmp_path)
    await store.put("chunks/u/0", b"abc")

    def broken(src: int, out: int) -> int:
        raise OSError(errno.EIO, "disk error")

    monkeypatch.setattr(local, "_kernel_copy", broken)
    with pytest.raises(StorageUnavailable):
        await store.compose(["chunks/u/0"], "media/t/f.bin", lambda block: None)
    assert not [path for path in (tmp_path / "media").rglob("*") if path.is_file()]
