"""Where unfinished uploads are remembered between runs, so a restart resumes them.

An upload is known by its file's identity (absolute path, size, mtime in
nanoseconds) and the server it goes to; a changed file is a new upload.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

MAX_AGE = 8 * 86400  # the server forgets an unfinished upload within 24 h + 7 days


class ResumeStore(Protocol):
    """Upload ids by key; ``upload(..., resume=store)`` uses one."""

    def load(self, key: str) -> str | None: ...

    def save(self, key: str, upload_id: str) -> None: ...

    def discard(self, key: str) -> None: ...


def resume_key(server: str, path: str, size: int, mtime_ns: int) -> str:
    return json.dumps([server.rstrip("/"), path, size, mtime_ns])


def default_state_file() -> Path:
    """``$CHUNKUP_STATE_FILE``, else ``$XDG_CACHE_HOME/chunkup/uploads.json`` (``~/.cache``)."""
    explicit = os.environ.get("CHUNKUP_STATE_FILE")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "chunkup" / "uploads.json"


class ResumeFile:
    """A small JSON file ``{"uploads": {key: {"upload_id", "saved_at"}}}``.

    Each change reads, edits and atomically replaces the file under an exclusive
    lock, so several ``chunkup upload`` processes may share it. An unreadable file
    counts as empty: losing it costs a re-upload, never a failure.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_state_file()

    def load(self, key: str) -> str | None:
        entry = self._read().get(key)
        return entry.get("upload_id") if isinstance(entry, dict) else None

    def save(self, key: str, upload_id: str) -> None:
        with self._locked():
            uploads = self._read()
            uploads[key] = {"upload_id": upload_id, "saved_at": int(time.time())}
            self._write(uploads)

    def discard(self, key: str) -> None:
        with self._locked():
            uploads = self._read()
            if uploads.pop(key, None) is not None:
                self._write(uploads)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        uploads = data.get("uploads") if isinstance(data, dict) else None
        return uploads if isinstance(uploads, dict) else {}

    def _write(self, uploads: dict[str, Any]) -> None:
        oldest = time.time() - MAX_AGE
        kept = {
            key: entry
            for key, entry in uploads.items()
            if isinstance(entry, dict) and entry.get("saved_at", 0) >= oldest
        }
        fd, temp = tempfile.mkstemp(prefix=".uploads-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": 1, "uploads": kept}, out, indent=1)
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows: last writer wins
            yield
            return
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
