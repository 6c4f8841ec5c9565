"""Local-disk storage: one file per object under a root directory, and appended chunks.

Writes of new objects go to the final name with ``O_EXCL`` or to a temporary
name renamed into place (composed files), so a crash leaves either nothing, or
a file no database row points at, which garbage collection removes. Blocking
file calls run in worker threads, never on the event loop.

Chunks are appended to one file per upload instead (``append_blocking``): a
file per chunk cost an inode allocated and freed per chunk, and on ext4 without
a journal each allocation scans past every inode freed in the last minutes, a
third of the server's CPU in the benchmark. An appended object's key names its
file and byte range (``<prefix>appended@<offset>+<length>``); every method here
takes such keys, and deleting one punches its bytes out of the file.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chunkup.errors import StorageUnavailable
from chunkup.storage.base import ObjectExists, ObjectInfo, Observer

BLOCK = 1024 * 1024
# where the kernel cannot copy between these two files, bytes go through memory
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}
_UNAVAILABLE = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO}
APPENDED = "appended"  # the file under a prefix that appended objects go to
APPEND_ALIGN = 4096  # appended objects start on a block of the file system
_ZEROS = bytes(APPEND_ALIGN)
_SEGMENT = re.compile(rf"(?P<file>(?:.+/)?{APPENDED})@(?P<offset>[0-9]+)\+(?P<length>[0-9]+)")
_PUNCH_HOLE = 0x02 | 0x01  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE


def appended_range(key: str) -> tuple[str, int, int] | None:
    """An appended object's file (as a key), offset and length; None for any other key."""
    segment = _SEGMENT.fullmatch(key)
    if segment is None:
        return None
    return segment["file"], int(segment["offset"]), int(segment["length"])


class _Source:
    """An object's bytes on disk: a whole file, or a range of an appended file."""

    __slots__ = ("length", "offset", "path")

    def __init__(self, path: Path, offset: int = 0, length: int | None = None) -> None:
        self.path, self.offset, self.length = path, offset, length

    def size(self, fd: int) -> int:
        """The object's size; ``FileNotFoundError`` if the file is too short to hold it."""
        if self.length is None:
            return os.fstat(fd).st_size
        if os.fstat(fd).st_size < self.offset + self.length:
            raise FileNotFoundError(errno.ENOENT, "appended object cut short", str(self.path))
        return self.length


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


def _observe_all(sources: list[_Source], observe: Observer) -> int:
    size = 0
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    for source in sources:
        with open(source.path, "rb", buffering=0) as src:
            remaining = source.size(src.fileno())
            src.seek(source.offset)
            while remaining > 0 and (n := src.readinto(view[: min(BLOCK, remaining)])):
                observe(view[:n])
                size += n
                remaining -= n
    return size


def _concatenate(sources: list[_Source], out: int) -> int:
    """Append every source to the open file ``out``; the bytes written."""
    size = 0
    for source in sources:
        with open(source.path, "rb", buffering=0) as src:
            size += _append(src.fileno(), source.offset, source.size(src.fileno()), out)
    return size


def _append(src: int, offset: int, length: int, out: int) -> int:
    try:
        return _kernel_copy(src, offset, length, out)
    except OSError as exc:
        if exc.errno not in _NO_KERNEL_COPY:
            raise
    size = 0
    while size < length and (block := os.pread(src, min(BLOCK, length - size), offset + size)):
        view = memoryview(block)
        while view:
            view = view[os.write(out, view) :]
        size += len(block)
    return size


def _kernel_copy(src: int, offset: int, length: int, out: int) -> int:
    if not hasattr(os, "copy_file_range"):
        raise OSError(errno.ENOSYS, "copy_file_range is not available")
    size = 0
    while size < length and (n := os.copy_file_range(src, out, length - size, offset + size)):
        size += n
    return size


def _fallocate() -> Callable[[int, int, int, int], int] | None:
    try:
        fallocate = ctypes.CDLL(None, use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return fallocate


_FALLOCATE = _fallocate()


def _punch(path: Path, offset: int, length: int) -> None:
    """Free the disk blocks of a byte range; the file keeps its size (and the
    range reads as zeros). Where the system cannot, the bytes stay until the
    file goes with its prefix."""
    if _FALLOCATE is None or not length:
        return
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            _FALLOCATE(fd, _PUNCH_HOLE, offset, length)
        finally:
            os.close(fd)


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

    def _source(self, key: str) -> _Source:
        appended = appended_range(key)
        if appended is None:
            return _Source(self.local_path(key))
        file_key, offset, length = appended
        return _Source(self.local_path(file_key), offset, length)

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
        fd = self._open(path, os.O_CREAT | os.O_EXCL)
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

    @staticmethod
    def _open(path: Path, flags: int) -> int:
        flags |= os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
        for attempt in range(3):
            try:
                return os.open(path, flags, 0o644)
            except FileNotFoundError:
                if attempt == 2:
                    raise
                # the folder is made on demand (and may vanish with a last delete)
                path.parent.mkdir(parents=True, exist_ok=True)
        raise AssertionError("unreachable")

    def append_blocking(
        self, prefix: str, data: bytes | bytearray | memoryview, *, create: bool = True
    ) -> str:
        """Append ``data`` to the file of ``prefix`` as a new object; its key.

        With ``create=False`` a missing file (or folder) is ``FileNotFoundError``
        and nothing is made: the caller appends to an upload it has not yet
        checked, and only an upload's own chunks may create its file.

        ``O_APPEND`` writes of one file never interleave, whichever process
        makes them, and the file offset after the write tells where it went.
        Each object is padded to whole blocks, so every object starts on a
        block and deleting one frees exactly its blocks (a 204800-byte chunk
        needs no padding). A write cut short (disk full) is freed at once.
        """
        path = self.local_path(f"{prefix}{APPENDED}")
        length = len(data)
        padded = -length % APPEND_ALIGN
        try:
            if create:
                fd = self._open(path, os.O_CREAT | os.O_APPEND)
            else:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
            try:
                written = os.writev(fd, [data, _ZEROS[:padded]] if padded else [data])
                end = os.lseek(fd, 0, os.SEEK_CUR)
                if written != length + padded:
                    _punch(path, end - written, written)
                    raise OSError(errno.ENOSPC, "the append was cut short", str(path))
                if self.fsync:
                    os.fdatasync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _translate(exc) from exc
        return f"{prefix}{APPENDED}@{end - written}+{length}"

    async def compose(self, keys: Sequence[str], dest: str, observe: Observer) -> int:
        sources = [self._source(k) for k in keys]
        target = self.local_path(dest)
        try:
            return await asyncio.to_thread(self._compose, sources, target, observe)
        except OSError as exc:
            raise _translate(exc) from exc

    def _compose(self, sources: list[_Source], target: Path, observe: Observer) -> int:
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
        source = self._source(key)
        try:
            handle = await asyncio.to_thread(open, source.path, "rb")
        except OSError as exc:
            raise _translate(exc) from exc
        try:
            if source.length is not None:  # a range of an appended file
                last = source.length - 1
                end = last if end is None else min(end, last)
                start += source.offset
                end += source.offset
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

    async def probe(self) -> None:
        """The root is a directory this process can write in. A volume that was
        not mounted, removed or made read-only under a running server fails
        here, not at the next chunk."""
        await asyncio.to_thread(_writable_directory, self.root)

    async def stat(self, key: str) -> ObjectInfo:
        source = self._source(key)
        try:
            st = await asyncio.to_thread(os.stat, source.path)
        except OSError as exc:
            raise _translate(exc) from exc
        if source.length is None:
            return _info(st)
        if st.st_size < source.offset + source.length:
            raise FileNotFoundError(errno.ENOENT, "appended object cut short", key)
        etag = f'"{source.length:x}-{st.st_ino:x}-{source.offset:x}"'
        return ObjectInfo(source.length, etag, st.st_mtime)

    # -- removing --------------------------------------------------------------

    async def delete(self, key: str) -> None:
        source = self._source(key)
        if source.length is not None:  # with its padding
            padded = source.length + -source.length % APPEND_ALIGN
            await asyncio.to_thread(_punch, source.path, source.offset, padded)
            return
        await asyncio.to_thread(self._delete, source.path)

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

    def _walk(self, directory: Path) -> builtins.list[tuple[str, ObjectInfo]]:
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


def _writable_directory(path: Path) -> None:
    if not path.is_dir():
        raise FileNotFoundError(errno.ENOENT, "the storage root is not a directory", str(path))
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "the storage root is not writable", str(path))
