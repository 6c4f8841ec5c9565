"""Where bytes live, behind one small interface (see ``base.Storage``).

``open_storage(url)`` picks the backend from the URL scheme; each backend is one
module, and only backends touch files or object-store clients.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from chunkup.storage.base import ObjectExists, ObjectInfo, Storage

__all__ = ["ObjectExists", "ObjectInfo", "Storage", "open_storage"]


def open_storage(url: str, *, fsync: bool = False) -> Storage:
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from chunkup.storage.local import LocalStorage

        return LocalStorage.from_url(url, fsync=fsync)
    raise ValueError(f"unsupported storage URL scheme {scheme!r} (supported: file://)")
