"""Where things live in storage.

Every chunk write gets a key of its own (with a random suffix; on local disk,
the byte range it was appended at), so two racing writes of the same range
never touch one object: the database decides which one counts, and the loser's
object is garbage. Media files live under a fresh
random token per completion attempt: unguessable URLs, and no attempt can
overwrite another's file.
"""

from __future__ import annotations

import re
import secrets

CHUNKS = "chunks/"
MEDIA = "media/"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def new_upload_id() -> str:
    return secrets.token_hex(16)  # 128 random bits


def new_file_token() -> str:
    return secrets.token_hex(16)


def is_upload_id(value: str) -> bool:
    return _UPLOAD_ID.fullmatch(value) is not None


def chunk_prefix(upload_id: str) -> str:
    return f"{CHUNKS}{upload_id}/"


def chunk_key(upload_id: str, start: int, end: int) -> str:
    return f"{CHUNKS}{upload_id}/{start:015d}-{end:015d}.{secrets.token_hex(4)}"


def media_prefix(file_token: str) -> str:
    return f"{MEDIA}{file_token}/"


def media_key(file_token: str, name: str) -> str:
    return f"{MEDIA}{file_token}/{name}"


def upload_id_of_chunk_key(key: str) -> str | None:
    parts = key.split("/")
    if len(parts) >= 3 and parts[0] + "/" == CHUNKS and is_upload_id(parts[1]):
        return parts[1]
    return None
