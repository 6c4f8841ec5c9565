"""Stripping private metadata from image files without touching their pixels.

Each format is rewritten at the container level: JPEG segments, PNG chunks,
WebP RIFF chunks and GIF blocks are copied as they are, except those that
carry metadata (EXIF with its GPS position and camera serials, XMP, IPTC,
comments, embedded thumbnails, text chunks, data after the image's end).
HEIF/HEIC and AVIF keep their metadata as items of their own (``Exif``, and
``mime`` for XMP): those items' bytes are zeroed and their type renamed in
place, so no offset in the file moves (the orientation lives in the image's
``irot``/``imir`` properties there, not in EXIF, and stays). The
compressed image data is never decoded or re-encoded, so the pixels stay
bit for bit the same. What the picture needs to be shown right is kept: the
ICC colour profile, the Adobe colour-transform marker of CMYK JPEGs,
transparency, animation control, and the EXIF orientation, rewritten as a
minimal EXIF block holding that one tag.

``strip_metadata`` returns the new bytes, or ``None`` when there was nothing to
remove (the file stays byte for byte what was uploaded).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator

ORIENTATION = 0x0112


class Malformed(ValueError):
    """The container does not have the structure this module expects."""


def strip_metadata(data: bytes, mimetype: str, orientation: int | None) -> bytes | None:
    """``data`` without metadata, or ``None`` if nothing would change.

    ``orientation`` (EXIF 1-8) is kept as the only EXIF tag when it is not 1.
    """
    keep = orientation if orientation in range(2, 9) else None
    strip = _STRIPPERS.get(mimetype)
    if strip is None:
        return None
    result = strip(data, keep)
    return None if result == data else result


def minimal_exif(orientation: int) -> bytes:
    """A TIFF structure with one IFD holding only the Orientation tag (little endian)."""
    entry = struct.pack("<HHIHH", ORIENTATION, 3, 1, orientation, 0)  # SHORT, 1 value
    return b"II*\x00" + struct.pack("<IH", 8, 1) + entry + struct.pack("<I", 0)


# -- JPEG ------------------------------------------------------------------------------------

# a marker inside entropy-coded data: 0xFF not followed by a stuffed 0x00, a restart
# marker (0xD0-0xD7) or another 0xFF (fill)
_JPEG_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
_SOS, _EOI, _COM = 0xDA, 0xD9, 0xFE
_APP0, _APP1, _APP2, _APP14, _APP15 = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == _COM:
        return False
    if not _APP0 <= marker <= _APP15:
        return True  # tables, frame and scan headers: the image itself
    if marker == _APP0:
        return payload.startswith(b"JFIF\x00")  # not JFXX: it holds a thumbnail
    if marker == _APP2:
        return payload.startswith(b"ICC_PROFILE\x00")  # not MPF, FlashPix
    if marker == _APP14:
        return payload.startswith(b"Adobe")  # the colour transform of CMYK/YCCK
    return False  # APP1 (EXIF, XMP), APP13 (IPTC/Photoshop), vendor segments


def _strip_jpeg(data: bytes, orientation: int | None) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise Malformed("no SOI")
    out = [data[:2]]
    pos, size = 2, len(data)
    while pos < size:
        if data[pos] != 0xFF or pos + 1 >= size:
            raise Malformed(f"no marker at {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _STANDALONE:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        if marker == _EOI:
            out.append(data[pos : pos + 2])
            break  # whatever follows (MPF images, appended files) is dropped
        if pos + 4 > size:
            raise Malformed("truncated segment header")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > size:
            raise Malformed(f"segment of {length} bytes at {pos} runs past the end")
        if _keep_jpeg_segment(marker, data[pos + 4 : end]):
            out.append(data[pos:end])
        elif orientation and marker == _APP1 and data.startswith(b"Exif\x00\x00", pos + 4):
            payload = b"Exif\x00\x00" + minimal_exif(orientation)
            out.append(b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload)
            orientation = None  # once
        pos = end
        if marker == _SOS:  # entropy-coded data runs to the next real marker
            found = _JPEG_MARKER.search(data, pos)
            if found is None:
                out.append(data[pos:])
                break
            out.append(data[pos : found.start()])
            pos = found.start()
    return b"".join(out)


# -- PNG -------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# ancillary chunks that change how the image looks (colour, transparency, animation)
_PNG_RENDERING = {
    b"iCCP",
    b"sRGB",
    b"gAMA",
    b"cHRM",
    b"cICP",
    b"mDCV",
    b"cLLI",
    b"sBIT",
    b"bKGD",
    b"tRNS",
    b"pHYs",
    b"acTL",
    b"fcTL",
    b"fdAT",
}


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _strip_png(data: bytes, orientation: int | None) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise Malformed("no PNG signature")
    out = [_PNG_SIGNATURE]
    pos, size = len(_PNG_SIGNATURE), len(data)
    while True:
        if pos + 12 > size:
            raise Malformed("truncated chunk")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > size:
            raise Malformed(f"chunk {kind!r} runs past the end")
        critical = not kind[0] & 0x20  # an upper-case first letter: IHDR, PLTE, IDAT, IEND
        if critical or kind in _PNG_RENDERING:
            out.append(data[pos:end])
        elif kind == b"eXIf" and orientation is not None:
            out.append(_png_chunk(b"eXIf", minimal_exif(orientation)))
            orientation = None
        pos = end
        if kind == b"IEND":
            return b"".join(out)  # anything after the end is dropped


# -- WebP ------------------------------------------------------------------------------------

_WEBP_KEPT = {b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return kind + struct.pack("<I", len(payload)) + payload + pad


def _strip_webp(data: bytes, orientation: int | None) -> bytes:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise Malformed("no RIFF WEBP header")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    size = min(len(data), 8 + riff_size)
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos + 8 <= size:
        kind, length = struct.unpack_from("<4sI", data, pos)
        end = pos + 8 + length
        if end > size:
            raise Malformed(f"chunk {kind!r} runs past the end")
        chunks.append((kind, data[pos + 8 : end]))
        pos = end + (length % 2)
    if not chunks or chunks[0][0] != b"VP8X":
        # a simple WebP (one VP8/VP8L chunk) has no place for metadata: drop trailers only
        return data[:size]
    body = []
    has_exif = False
    for kind, payload in chunks:
        if kind in _WEBP_KEPT:
            body.append((kind, payload))
        elif kind == b"EXIF" and orientation is not None and not has_exif:
            body.append((kind, minimal_exif(orientation)))
            has_exif = True
    vp8x = bytearray(body[0][1])
    vp8x[0] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
    if has_exif:
        vp8x[0] |= _VP8X_EXIF
    body[0] = (b"VP8X", bytes(vp8x))
    payload = b"WEBP" + b"".join(_riff_chunk(kind, chunk) for kind, chunk in body)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


# -- GIF -------------------------------------------------------------------------------------

# application extensions that drive playback or colour, not metadata
_GIF_APPLICATIONS = {b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012"}
_GIF_GRAPHIC_CONTROL, _GIF_PLAIN_TEXT, _GIF_APPLICATION = 0xF9, 0x01, 0xFF


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """The position after the data sub-blocks starting at ``pos`` (and their terminator)."""
    size = len(data)
    while pos < size:
        length = data[pos]
        pos += 1 + length
        if length == 0:
            return pos
    raise Malformed("sub-blocks run past the end")


def _strip_gif(data: bytes, orientation: int | None) -> bytes:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise Malformed("no GIF header")
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    out = [data[:pos]]
    size = len(data)
    while pos < size:
        introducer = data[pos]
        if introducer == 0x3B:  # trailer; anything after it is dropped
            out.append(b"\x3b")
            return b"".join(out)
        if introducer == 0x2C:  # image: descriptor, local colour table, LZW data
            if pos + 11 > size:
                raise Malformed("truncated image descriptor")
            local = data[pos + 9]
            start = pos + 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            end = _skip_sub_blocks(data, start)
            out.append(data[pos:end])
        elif introducer == 0x21 and pos + 2 < size:  # extension: label, sub-blocks
            label = data[pos + 1]
            end = _skip_sub_blocks(data, pos + 2)
            identifier = data[pos + 3 : pos + 14] if data[pos + 2] == 11 else b""
            if label in (_GIF_GRAPHIC_CONTROL, _GIF_PLAIN_TEXT) or (
                label == _GIF_APPLICATION and identifier in _GIF_APPLICATIONS
            ):
                out.append(data[pos:end])
        else:
            raise Malformed(f"unknown GIF block {introducer:#x} at {pos}")
        pos = end
    return b"".join(out)


# -- HEIF, HEIC, AVIF (ISO base media file format) ------------------------------------------

_METADATA_ITEMS = {b"Exif", b"mime"}  # EXIF; XMP (and any other MIME-typed payload)
_BLANKED_ITEM = b"free"  # an item type no reader interprets


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, payload start, box end)`` of each box in ``data[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise Malformed("truncated box header")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise Malformed(f"box {kind!r} at {pos} runs past its parent")
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes | bytearray, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, payload, box_end in _boxes(data, start, end):
        if found == kind:
            return payload, box_end
    return None


def _uint(data: bytes | bytearray, pos: int, size: int) -> int:
    if size == 0:
        return 0
    if pos + size > len(data):
        raise Malformed("truncated field")
    return int.from_bytes(data[pos : pos + size], "big")


def _metadata_items(data: bytearray, start: int, end: int) -> dict[int, int]:
    """``{item id: offset of its item_type}`` of the metadata items an ``iinf`` lists."""
    version = data[start]
    pos = start + 4 + (2 if version == 0 else 4)  # full box header, entry count
    items = {}
    for kind, payload, _box_end in _boxes(data, pos, end):
        if kind != b"infe" or data[payload] < 2:
            continue  # versions 0 and 1 (no item types) are not used by HEIF
        id_size = 2 if data[payload] == 2 else 4
        item_id = _uint(data, payload + 4, id_size)
        type_at = payload + 4 + id_size + 2
        if bytes(data[type_at : type_at + 4]) in _METADATA_ITEMS:
            items[item_id] = type_at
    return items


def _item_extents(
    data: bytearray, start: int, idat: int | None, wanted: set[int]
) -> Iterator[tuple[int, int]]:
    """``(file offset, length)`` of each extent an ``iloc`` gives the ``wanted`` items."""
    version = data[start]
    pos = start + 4
    offset_size, length_size = data[pos] >> 4, data[pos] & 15
    base_size, index_size = data[pos + 1] >> 4, data[pos + 1] & 15
    count_size = 2 if version < 2 else 4
    count = _uint(data, pos + 2, count_size)
    pos += 2 + count_size
    for _ in range(count):
        item_id = _uint(data, pos, count_size)
        pos += count_size
        method = 0
        if version in (1, 2):
            method = _uint(data, pos, 2) & 15
            pos += 2
        pos += 2  # data_reference_index
        base = _uint(data, pos, base_size)
        pos += base_size
        extents = _uint(data, pos, 2)
        pos += 2
        for _ in range(extents):
            if version in (1, 2):
                pos += index_size
            offset, length = (
                _uint(data, pos, offset_size),
                _uint(data, pos + offset_size, length_size),
            )
            pos += offset_size + length_size
            if item_id not in wanted:
                continue
            if method == 1 and idat is not None:
                yield idat + base + offset, length
            elif method == 0:
                yield base + offset, length
            else:
                raise Malformed(f"item {item_id} is stored by construction method {method}")


def _strip_isobmff(data: bytes, orientation: int | None) -> bytes:
    out = bytearray(data)
    meta = _child(out, 0, len(out), b"meta")
    if meta is None:
        raise Malformed("no meta box")
    start, end = meta[0] + 4, meta[1]  # meta is a full box
    iinf, iloc = _child(out, start, end, b"iinf"), _child(out, start, end, b"iloc")
    if iinf is None or iloc is None:
        raise Malformed("no item information or location")
    items = _metadata_items(out, *iinf)
    if not items:
        return data
    idat = _child(out, start, end, b"idat")
    for at, length in _item_extents(out, iloc[0], idat[0] if idat else None, set(items)):
        if length == 0 or at + length > len(out):
            raise Malformed("a metadata extent runs past the end")
        out[at : at + length] = bytes(length)
    for type_at in items.values():
        out[type_at : type_at + 4] = _BLANKED_ITEM
    return bytes(out)


_STRIPPERS = {
    "image/jpeg": _strip_jpeg,
    "image/png": _strip_png,
    "image/webp": _strip_webp,
    "image/gif": _strip_gif,
    "image/heic": _strip_isobmff,
    "image/heif": _strip_isobmff,
    "image/avif": _strip_isobmff,
}
