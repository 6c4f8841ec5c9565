"""What a tus request declares, as typed values the tus service takes (no parsing here).

The HTTP layer (``chunkup.api.tus_headers``) reads the header values into
these; the service only ever sees them, so the rules about what an upload is
stay apart from the rules about how a header is spelled. ``BodyInterrupted``
is the one thing the HTTP layer tells the service about a body: the client
went away in the middle of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# the digests an Upload-Checksum may name (tus's checksum extension)
CHECKSUMS: dict[str, Callable[[], hashlib._Hash]] = {
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}


class BodyInterrupted(Exception):
    """The client went away in the middle of a body (the HTTP layer raises it)."""


@dataclass(frozen=True, slots=True)
class TusMetadata:
    """An ``Upload-Metadata``: its text as sent (kept, and echoed by HEAD) and its pairs."""

    raw: str = ""
    pairs: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Checksum:
    """An ``Upload-Checksum``: the algorithm and the digest the body must have."""

    algorithm: str
    digest: bytes

    def hasher(self) -> hashlib._Hash:
        return CHECKSUMS[self.algorithm]()


@dataclass(frozen=True, slots=True)
class Concat:
    """An ``Upload-Concat``: ``partial``, or ``final`` with its parts' upload ids."""

    final: bool
    part_ids: tuple[str, ...] = ()
