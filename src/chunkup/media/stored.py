"""The files of a Media: its original, and the renditions its ``extra`` names.

A rendition is recorded in the Media's ``extra`` JSON as ``{"key", "width",
"height"}`` (a thumbnail also with ``"color"``) under ``extra["thumbnail"]`` or
``extra["preview"]``; its object lives under the Media's own key prefix, so
removing the prefix removes it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from chunkup.media.renditions import Rendition
from chunkup.models import Media

THUMBNAIL = "thumbnail"
PREVIEW = "preview"
ROLES = (THUMBNAIL, PREVIEW)


@dataclass(frozen=True, slots=True)
class StoredRendition:
    key: str
    width: int
    height: int
    color: str | None = None


def record(key: str, rendition: Rendition, role: str) -> dict[str, object]:
    """What ``extra[role]`` holds for ``rendition`` stored under ``key``."""
    entry: dict[str, object] = {"key": key, "width": rendition.width, "height": rendition.height}
    if role == THUMBNAIL:
        entry["color"] = rendition.color
    return entry


def stored_rendition(media: Media, role: str) -> StoredRendition | None:
    entry = media.extra.get(role)
    if not isinstance(entry, dict):
        return None
    key, width, height = entry.get("key"), entry.get("width"), entry.get("height")
    if not (isinstance(key, str) and isinstance(width, int) and isinstance(height, int)):
        return None
    color = entry.get("color")
    return StoredRendition(key, width, height, color if isinstance(color, str) else None)


def served_files(media: Media) -> dict[str, str]:
    """Every key a Media's URLs name, with its content type: nothing else is served."""
    files = {media.file_key: media.mimetype}
    for role in ROLES:
        stored = stored_rendition(media, role)
        if stored is not None:
            files[stored.key] = Rendition.mimetype
    return files
