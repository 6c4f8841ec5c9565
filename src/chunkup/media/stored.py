"""The files of a Media: its original, and the renditions its ``extra`` names.

A rendition is recorded in the Media's ``extra`` JSON as ``{"key", "width",
"height"}`` (a thumbnail also with ``"color"``) under ``extra["thumbnail"]`` or
``extra["preview"]``; the responsive pictures as a list of ``{"key", "width",
"height", "mimetype"}`` under ``extra["renditions"]``, narrowest first, and the
thumbnail's BlurHash as ``extra["blurhash"]``. No column is needed: a Media's
pictures are read with it, never queried. Every object lives under the Media's
own key prefix, so removing the prefix removes it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from chunkup.media.renditions import Picture, Rendition
from chunkup.models import Media

THUMBNAIL = "thumbnail"
PREVIEW = "preview"
ROLES = (THUMBNAIL, PREVIEW)
RENDITIONS = "renditions"
BLURHASH = "blurhash"


@dataclass(frozen=True, slots=True)
class StoredRendition:
    key: str
    width: int
    height: int
    color: str | None = None


@dataclass(frozen=True, slots=True)
class StoredPicture:
    key: str
    width: int
    height: int
    mimetype: str


def record_picture(key: str, picture: Picture) -> dict[str, object]:
    """One entry of ``extra["renditions"]``."""
    return {
        "key": key,
        "width": picture.width,
        "height": picture.height,
        "mimetype": picture.mimetype,
    }


def stored_pictures(media: Media) -> list[StoredPicture]:
    """The responsive pictures ``extra`` records, as stored (narrowest first)."""
    entries = media.extra.get(RENDITIONS)
    pictures = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        key, width, height = entry.get("key"), entry.get("width"), entry.get("height")
        mimetype = entry.get("mimetype")
        if (
            isinstance(key, str)
            and isinstance(width, int)
            and isinstance(height, int)
            and isinstance(mimetype, str)
        ):
            pictures.append(StoredPicture(key, width, height, mimetype))
    return pictures


def stored_blurhash(media: Media) -> str | None:
    value = media.extra.get(BLURHASH)
    return value if isinstance(value, str) else None


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
    for picture in stored_pictures(media):
        files[picture.key] = picture.mimetype
    return files
