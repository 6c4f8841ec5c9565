"""Local-disk storage: one file per object under a root directory.

Writes of new objects go to the final name with ``O_EXCL`` (chunks) or to a
temporary name renamed into place (composed files), so a crash leaves either
nothing, or a file no database row points at, which garbage collection removes.
Blocking file calls run in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chunkup.errors import StorageUnavailable
from chunkup.storage.base import ObjectExists, ObjectInfo, Observer

BLOCK = 1024 * 1024
# where the kernel cannot copy between these two files, bytes go through memory
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}
_UNAVAILABLE = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO}


def _translate(exc: OSError) -> Exception:
    if isinstance(exc, FileExistsError):
        return ObjectExists(exc.filename)
    if isinstance(exc, FileNotFoundError):
        return exc
    if exc.errno in _UNAVAILABLE:
        return StorageUnavailable(f"Storage write failed: {os.strerror(exc.errno or 0)}.")
    return StorageUnavailable()


def _info(st: os.stat_result) -> ObjectInfo:
    return ObjectInfo(st.st_size, f'"{st.st_size:x}-{st.st_mtime_ns:x}"', st.st_mtime)


def _observe_all(sources: list[Path], observe: Observer) -> int:
    size = 0
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    for source in sources:
        with open(source, "rb", buffering=0) as src:
            while n := src.readinto(buffer):
                observe(view[:n])
                size += n
    return size


def _concatenate(sources: list[Path], out: int) -> int:
    """Append every source to the open file ``out``; the bytes written."""
    size = 0
    for source in sources:
        with open(source, "rb", buffering=0) as src:
            size += _append(src.fileno(), out)
    return size


def _append(src: int, out: int) -> int:
    try:
        return _kernel_copy(src, out)
    except OSError as exc:
        if exc.errno not in _NO_KERNEL_COPY:
            raise
    os.lseek(src, 0, os.SEEK_SET)
    size = 0
    while block := os.read(src, BLOCK):
        view = memoryview(block)
        while view:
            view = view[os.write(out, view) :]
        size += len(block)
    return size


def _kernel_copy(src: int, out: int) -> int:
    if not hasattr(os, "copy_file_range"):
        raise OSError(errno.ENOSYS, "copy_file_range is not available")
    remaining = os.fstat(src).st_size
    size = 0
    while remaining > 0 and (n := os.copy_file_range(src, out, remaining)):
        size += n
        remaining -= n
    return size


class LocalStorage:
    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = root.resolve()
        self.fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_url(cls, url: str, *, fsync: bool = False) -> LocalStorage:
        return cls(Path(unquote(urlsplit(url).path)), fsync=fsync)

    def local_path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root.joinpath(*parts)

    # -- writing ---------------------------------------------------------------

    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        await asyncio.to_thread(self.put_blocking, key, data)

    def put_blocking(self, key: str, data: bytes | bytearray | memoryview) -> None:
        path = self.local_path(key)
        try:
            self._put(path, data)
        except OSError as exc:
            raise _translate(exc) from exc

    def _put(self, path: Path, data: bytes | bytearray | memoryview) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for attempt in range(3):
            try:
                fd = os.open(path, flags, 0o644)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
                # the folder is made on demand (and may vanish with a last delete)
                path.parent.mkdir(parents=True, exist_ok=True)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)

    async def compose(self, keys: Sequence[str], dest: str, observe: Observer) -> int:
        sources = [self.local_path(k) for k in keys]
        target = self.local_path(dest)
        try:
            return await asyncio.to_thread(self._compose, sources, target, observe)
        except OSError as exc:
            raise _translate(exc) from exc

    def _compose(self, sources: list[Path], target: Path, observe: Observer) -> int:
        """Copy and observe at once: the kernel copies the sources into the new
        file (``copy_file_range``) in a second thread while this one reads them
        for ``observe`` (the MD5), so assembly costs about one hashing pass, not
        a hashing pass plus a copy."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(target))
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        try:
            with open(temp, "xb") as out, ThreadPoolExecutor(1) as copier:
                copied = copier.submit(_concatenate, sources, out.fileno())
                try:
                    size = _observe_all(sources, observe)
                finally:
                    written = copied.result()
                if written != size:
                    raise StorageUnavailable("A chunk changed while the file was assembled.")
                if self.fsync:
                    os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return size

    # -- reading ---------------------------------------------------------------

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self.local_path(key)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except OSError as exc:
            raise _translate(exc) from exc
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                want = BLOCK if remaining is None else min(BLOCK, remaining)
                block = await asyncio.to_thread(handle.read, want)
                if not block:
                    break
                if remaining is not None:
                    remaining -= len(block)
                yield block
        finally:
            handle.close()

    async def stat(self, key: str) -> ObjectInfo:
        path = self.local_path(key)
        try:
            st = await asyncio.to_thread(os.stat, path)
        except OSError as exc:
            raise _translate(exc) from exc
        return _info(st)

    # -- removing --------------------------------------------------------------

    async def delete(self, key: str) -> None:
        path = self.local_path(key)
        await asyncio.to_thread(self._delete, path)

    def _delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        # objects have no folders: drop the one this leaves empty (a racing put re-creates it)
        with contextlib.suppress(OSError):
            if path.parent != self.root:
                path.parent.rmdir()

    async def delete_prefix(self, prefix: str) -> int:
        directory = self.local_path(prefix.rstrip("/"))
        return await asyncio.to_thread(self._delete_tree, directory)

    @staticmethod
    def _delete_tree(directory: Path) -> int:
        if not directory.is_dir():
            return 0
        count = sum(1 for p in directory.rglob("*") if p.is_file())
        shutil.rmtree(directory, ignore_errors=True)
        return count

    async def list(self, prefix: str) -> AsyncIterator[tuple[str, ObjectInfo]]:
        directory = self.local_path(prefix.rstrip("/"))
        for key, info in await asyncio.to_thread(self._walk, directory):
            yield key, info

    def _walk(self, directory: Path) -> list[tuple[str, ObjectInfo]]:
        found = []
        for dirpath, _dirs, files in os.walk(directory):
            for name in files:
                path = Path(dirpath, name)
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                found.append((path.relative_to(self.root).as_posix(), _info(st)))
        return found

    async def aclose(self) -> None:
        return None
