"""One upload's plan and bookkeeping, shared by ``Client`` and ``AsyncClient`` (no I/O policy).

The file is read once, in order, in blocks of ``chunk_size``; every block feeds the
MD5, and the parts of it the server does not hold yet become the chunks to send.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from chunkup.client.models import MediaType, UploadStatus
from chunkup.client.resume import resume_key

CHUNK_SIZE = 204800
CHUNK_PATH = "/api/v2/media/upload/chunk/"
COMPLETE_PATH = "/api/v2/media/upload/complete/"
MEDIA_TYPES = ("image", "eimage", "doc")

Source = str | os.PathLike[str] | BinaryIO
Progress = Callable[[int, int], None]
"""Called as ``progress(bytes_on_server, total)``: first once the upload exists (its
first chunk stored, or what a resumed upload holds already), then after every chunk,
in order (never from two threads at once)."""
Piece = tuple[int, bytes]  # (start offset, the bytes)


def field_for(type_: MediaType | None, head: bytes) -> str:
    """The chunk's file part: ``document`` for a doc (asked for, or a PDF), else ``image``."""
    if type_ is not None:
        return "document" if type_ == "doc" else "image"
    return "document" if head.lstrip(b"\x00\t\n\r ")[:5] == b"%PDF-" else "image"


def uncovered(start: int, end: int, ranges: list[list[int]]) -> list[tuple[int, int]]:
    """The parts of ``[start, end]`` (inclusive) outside the stored ``ranges``."""
    gaps: list[tuple[int, int]] = []
    cursor = start
    for low, high in sorted((r[0], r[1]) for r in ranges):
        if high < cursor or low > end:
            continue
        if low > cursor:
            gaps.append((cursor, low - 1))
        cursor = max(cursor, high + 1)
        if cursor > end:
            break
    if cursor <= end:
        gaps.append((cursor, end))
    return gaps


def check_arguments(type_: str | None, chunk_size: int, parallel: int) -> None:
    if type_ is not None and type_ not in MEDIA_TYPES:
        raise ValueError(f"type must be one of {', '.join(MEDIA_TYPES)}, not {type_!r}")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    if parallel < 1:
        raise ValueError("parallel must be at least 1")


@dataclass
class UploadJob:
    """A file on its way up: the reader, the hash, what the server holds, the progress."""

    file: BinaryIO
    size: int
    filename: str
    chunk_size: int
    type: MediaType | None = None
    progress: Progress | None = None
    identity: tuple[str, int, int] | None = None  # absolute path, size, mtime_ns
    owns_file: bool = False
    upload_id: str | None = None
    part: str = "image"  # the file part: image or document
    stored: list[list[int]] = field(default_factory=list)
    done: int = 0
    _position: int = 0
    _md5: Any = field(default_factory=hashlib.md5)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(
        cls,
        source: Source,
        *,
        filename: str | None,
        chunk_size: int,
        type_: MediaType | None,
        progress: Progress | None,
    ) -> UploadJob:
        """A job reading a path (opened here) or a binary file from its current position."""
        if isinstance(source, str | os.PathLike):
            path = Path(source).resolve()
            file: BinaryIO = open(path, "rb")  # closed by close()
            stat = os.fstat(file.fileno())
            return cls(
                file=file,
                size=stat.st_size,
                filename=filename or path.name,
                chunk_size=chunk_size,
                type=type_,
                progress=progress,
                identity=(str(path), stat.st_size, stat.st_mtime_ns),
                owns_file=True,
            )
        try:
            here = source.tell()
            size = source.seek(0, os.SEEK_END) - here
            source.seek(here)
        except (AttributeError, OSError) as exc:
            raise ValueError("a file object must be seekable, so its size is known") from exc
        name = getattr(source, "name", None)
        return cls(
            file=source,
            size=size,
            filename=filename or (Path(name).name if isinstance(name, str) else "upload.bin"),
            chunk_size=chunk_size,
            type=type_,
            progress=progress,
        )

    def close(self) -> None:
        if self.owns_file:
            self.file.close()

    @property
    def total(self) -> int:
        return self.size

    def resume_key(self, server: str) -> str | None:
        return resume_key(server, *self.identity) if self.identity else None

    def resume_problem(self, status: UploadStatus) -> str | None:
        """Why ``status`` cannot be this file's upload to resume, if it cannot."""
        if status.total != self.size:
            return f"upload {status.upload_id} is {status.total} bytes, the file {self.size}"
        if self.type is not None and status.kind != field_for(self.type, b""):
            return f"upload {status.upload_id} is a {status.kind} upload, not {self.type}"
        if status.status == "expired":
            return f"upload {status.upload_id} has expired"
        if status.status == "completed" and status.media_id is None:
            return f"upload {status.upload_id} is completed"
        return None

    # reading

    def read_block(self) -> Piece | None:
        """The next ``chunk_size`` bytes of the file, hashed; None at the end."""
        if self._position >= self.size:
            return None
        want = min(self.chunk_size, self.size - self._position)
        parts: list[bytes] = []
        got = 0
        while got < want:
            part = self.file.read(want - got)
            if not part:
                raise ValueError(f"{self.filename} shrank while it was being read")
            parts.append(part)
            got += len(part)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._md5.update(data)
        start = self._position
        self._position += len(data)
        return start, data

    def md5(self) -> str:
        assert self._position == self.size, "the whole file must be read first"
        return str(self._md5.hexdigest())

    # planning

    def begin(self, upload_id: str, part: str, stored: list[list[int]]) -> None:
        """The upload exists: report what the server already holds."""
        self.upload_id = upload_id
        self.part = part
        self.stored = stored
        self.done = sum(high - low + 1 for low, high in stored)
        if self.progress is not None:
            self.progress(self.done, self.size)

    def pieces(self, start: int, data: bytes, ranges: list[list[int]] | None = None) -> list[Piece]:
        """The parts of a block the server does not hold (by ``ranges``, else at the start)."""
        holes = uncovered(start, start + len(data) - 1, self.stored if ranges is None else ranges)
        return [(low, data[low - start : high - start + 1]) for low, high in holes]

    def remaining(self, pieces: list[Piece]) -> Iterator[Piece]:
        """``pieces``, then the pieces of every block still to read, read as they are asked for."""
        yield from pieces
        while (block := self.read_block()) is not None:
            yield from self.pieces(*block)

    def advance(self, sent: int) -> None:
        with self._lock:
            self.done += sent
            if self.progress is not None:
                self.progress(self.done, self.size)

    # requests

    def chunk_request(self, start: int, data: bytes) -> dict[str, Any]:
        """``httpx`` keyword arguments for one chunk (the first when no upload id yet)."""
        end = start + len(data) - 1
        return {
            "headers": {"Content-Range": f"bytes {start}-{end}/{self.size}"},
            "data": {"upload_id": self.upload_id} if self.upload_id else {},
            "files": {self.part: (self.filename, data, "application/octet-stream")},
        }


def keeps_resume_entry(code: str, status: int | None) -> bool:
    """After a failure, is the upload still worth resuming on the next run?

    Yes after a network failure, a server error, a rate limit or an expired token;
    no after an answer that says this upload cannot succeed (gone, refused).
    """
    return (
        status is None
        or status in (401, 408, 429)
        or status >= 500
        or code in ("upload_incomplete",)
    )


def abort_after_complete_error(code: str, status: int | None) -> bool:
    """A 400 from complete (bad MD5, not an image, too large): the upload cannot succeed."""
    return status == 400 and code != "upload_incomplete"
