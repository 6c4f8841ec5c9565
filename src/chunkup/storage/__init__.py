"""Where bytes live, behind one small interface (see ``base.Storage``).

``open_storage(url)`` picks the backend from the URL scheme; each backend is one
module, and only backends touch files or object-store clients:

- ``file:///path``: the local disk (``local.py``);
- ``s3://bucket/prefix?endpoint=…``, ``gs://…``, ``az://…``: an object store
  through obstore (``object_store.py``), ``memory://`` its in-process variant.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from chunkup.errors import MissingExtra
from chunkup.storage.base import ObjectExists, ObjectInfo, PresignedUrls, Storage

__all__ = ["ObjectExists", "ObjectInfo", "PresignedUrls", "Storage", "open_storage"]


def open_storage(url: str, *, fsync: bool = False) -> Storage:
    """The backend for ``url``; ``fsync`` applies to the local disk only."""
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from chunkup.storage.local import LocalStorage

        return LocalStorage.from_url(url, fsync=fsync)

    try:
        from chunkup.storage.object_store import OBJECT_STORE_SCHEMES, ObjectStorage
    except ModuleNotFoundError as exc:  # obstore is an optional extra
        if exc.name != "obstore":
            raise
        raise MissingExtra(f"storage URL {scheme}:// (an object store)", "s3") from exc

    if scheme in OBJECT_STORE_SCHEMES:
        return ObjectStorage.from_url(url)
    raise ValueError(
        f"unsupported storage URL scheme {scheme!r} (supported: file://, s3://, gs://, az://, "
        "memory://)"
    )
