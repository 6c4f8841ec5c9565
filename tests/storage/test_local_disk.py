"""Local-disk specifics: assembly with and without the kernel's copy, appended objects."""

from __future__ import annotations

import errno
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
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
    def no_kernel_copy(src: int, offset: int, length: int, out: int) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(local, "_kernel_copy", no_kernel_copy)
    composed, md5, size = await _compose_three(tmp_path)
    assert size == len(composed) and md5 == hashlib.md5(composed).hexdigest()


async def test_a_failed_compose_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStorage(tmp_path)
    await store.put("chunks/u/0", b"abc")

    def broken(src: int, offset: int, length: int, out: int) -> int:
        raise OSError(errno.EIO, "disk error")

    monkeypatch.setattr(local, "_kernel_copy", broken)
    with pytest.raises(StorageUnavailable):
        await store.compose(["chunks/u/0"], "media/t/f.bin", lambda block: None)
    assert not [path for path in (tmp_path / "media").rglob("*") if path.is_file()]


# -- appended objects (the chunk path's one file per upload) -----------------------------


async def read_all(store: LocalStorage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([block async for block in store.read(key, start, end)])


async def test_appended_objects_read_stat_and_compose_like_objects_of_their_own(
    tmp_path: Path,
) -> None:
    store = LocalStorage(tmp_path)
    parts = [os.urandom(size) for size in (204800, 1, 70000, 4096)]
    keys = [store.append_blocking("chunks/u/", data) for data in parts]
    assert len(set(keys)) == 4 and all(k.startswith("chunks/u/appended@") for k in keys)
    for key, data in zip(keys, parts, strict=True):
        assert await read_all(store, key) == data
        assert (await store.stat(key)).size == len(data)
    assert await read_all(store, keys[2], 10, 19) == parts[2][10:20]
    assert await read_all(store, keys[2], 69990) == parts[2][69990:]  # never past its end
    order = [3, 0, 2, 1]  # in any order, not only as appended
    md5 = hashlib.md5()
    size = await store.compose([keys[i] for i in order], "media/t/f.bin", md5.update)
    expected = b"".join(parts[i] for i in order)
    assert store.local_path("media/t/f.bin").read_bytes() == expected
    assert size == len(expected) and md5.hexdigest() == hashlib.md5(expected).hexdigest()
    assert [key async for key, _ in store.list("chunks/u/")] == ["chunks/u/appended"]


def test_appends_from_many_threads_never_overlap(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    parts = [bytes([i]) * (1000 + i) for i in range(64)]
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda data: store.append_blocking("chunks/p/", data), parts))
    file = store.local_path("chunks/p/appended").read_bytes()
    for key, data in zip(keys, parts, strict=True):
        appended = local.appended_range(key)
        assert appended is not None
        _file, offset, length = appended
        assert offset % local.APPEND_ALIGN == 0 and length == len(data)
        assert file[offset : offset + length] == data


async def test_deleting_an_appended_object_frees_its_blocks_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    store = LocalStorage(tmp_path)
    a, b, c = (os.urandom(n) for n in (8192, 5000, 204800))
    keys = [store.append_blocking("chunks/d/", data) for data in (a, b, c)]
    path = store.local_path("chunks/d/appended")
    before = os.stat(path).st_blocks
    await store.delete(keys[2])
    await store.delete(keys[1])
    assert await read_all(store, keys[0]) == a
    if os.stat(path).st_blocks == before:
        pytest.skip("this file system cannot punch holes: the bytes stay until the upload goes")
    fd = os.open(path, os.O_RDONLY)
    try:  # only the first object's 8192 bytes still hold data
        assert os.lseek(fd, 0, os.SEEK_HOLE) == 8192
    finally:
        os.close(fd)


async def test_an_appended_object_cut_off_its_file_is_missing(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    first = store.append_blocking("chunks/m/", b"x" * 5000)
    second = store.append_blocking("chunks/m/", b"y" * 5000)
    os.truncate(store.local_path("chunks/m/appended"), 8192)
    with pytest.raises(FileNotFoundError):
        await store.stat(second)
    with pytest.raises(FileNotFoundError):
        await store.compose([first, second], "media/m/f.bin", lambda block: None)
    assert not store.local_path("media/m/f.bin").exists()


async def test_only_the_appended_file_has_ranges_in_its_keys(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    await store.put("media/t/photo@0+3", b"a whole file")  # a plain name with '@' in it
    assert await read_all(store, "media/t/photo@0+3") == b"a whole file"
    with pytest.raises(FileNotFoundError):
        await read_all(store, "media/t/appended@0+3")  # no such file: nothing to slice
