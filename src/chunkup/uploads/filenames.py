"""Client-supplied file names: kept for people, never trusted as paths.

The original name is shown back (``title``, ``Content-Disposition``) after
sanitizing; storage keys use a separate ASCII slug of it, so that no name a
client sends can walk a directory tree or collide with a reserved device name.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 200
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_filename(raw: str | None) -> str | None:
    """A display-safe version of ``raw``, or ``None`` if nothing usable is left."""
    if not raw:
        return None
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    name = _CONTROL.sub("", name).strip().strip(".").strip()
    # lone surrogates (from undecodable bytes) cannot be stored or sent back
    name = name.encode("utf-8", "replace").decode("utf-8")
    if not name:
        return None
    if _RESERVED.match(name):
        name = f"_{name}"
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = f"{stem[: MAX_NAME - len(ext) - 1]}.{ext}"
        else:
            name = name[:MAX_NAME]
    return name


def storage_name(display_name: str | None, extension: str) -> str:
    """An ASCII file name for storage keys and URLs, ending in ``extension``."""
    stem = (display_name or "").rsplit(".", 1)[0] if display_name else ""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = _UNSAFE_SLUG.sub("-", ascii_stem).strip("-._")[:80] or "file"
    return f"{slug}{extension}"
