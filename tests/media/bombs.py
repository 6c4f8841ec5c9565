"""Decompression bombs, made here from nothing: small files that inflate hugely.

Each PDF is a valid one-page document whose one expensive part inflates to
``INFLATED`` bytes (200 MiB from about 200 KB): the page's content stream, an
image it shows, the font its text uses, an ICC profile its image names, or the
object stream that holds the page itself. The PNGs are a 30000x30000 image of
a few kilobytes and a small image carrying text chunks that inflate to tens
of MiB.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

from PIL import Image

MiB = 1024 * 1024
INFLATED = 200 * MiB
_BLOCK = b" " * MiB


@lru_cache(maxsize=8)
def deflated(size: int = INFLATED, fill: bytes = b" ") -> bytes:
    """``size`` bytes of ``fill`` (repeated), deflated: about 1000x smaller."""
    block = fill * (MiB // len(fill))
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + compressor.flush()


def stream(entries: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (entries, len(data)) + data + b"\nendstream"


def flate_stream(entries: bytes, inflated: int = INFLATED, fill: bytes = b" ") -> bytes:
    return stream(entries + b" /Filter /FlateDecode", deflated(inflated, fill))


def pdf_file(objects: list[bytes], header: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") -> bytes:
    """A PDF with a classic cross-reference table; object ``n`` is ``objects[n - 1]``."""
    out = bytearray(header)
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"


def page(resources: bytes = b"", contents: int = 4) -> bytes:
    return (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << %s >> /Contents %d 0 R >>" % (resources, contents)
    )


def content_stream_bomb(inflated: int = INFLATED) -> bytes:
    """The first page's content stream inflates to ``inflated`` bytes of spaces."""
    return pdf_file([CATALOG, PAGES, page(), flate_stream(b"", inflated)])


def image_bomb(side: int = 16000) -> bytes:
    """The page shows a ``side`` x ``side`` grey image of zeros with a soft mask as large.

    PDFium streams a plain image down to the page's size, but decodes a soft
    mask whole: 256 MB at 16000.
    """
    entries = b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
    entries += b"/BitsPerComponent 8"
    image = flate_stream(entries % (side, side) + b" /SMask 6 0 R", side * side, b"\x00")
    mask = flate_stream(entries % (side, side), side * side, b"\x00")
    show = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
    return pdf_file(
        [CATALOG, PAGES, page(b"/XObject << /Im0 5 0 R >>"), stream(b"", show), image, mask]
    )


def font_bomb(inflated: int = INFLATED) -> bytes:
    """The page's text uses a TrueType font whose embedded file inflates hugely."""
    text = b"BT /F1 24 Tf 72 700 Td (Hello) Tj ET"
    font = (
        b"<< /Type /Font /Subtype /TrueType /BaseFont /Bomb /FirstChar 32 /LastChar 126 "
        b"/Widths [%s] /FontDescriptor 6 0 R >>" % b" ".join([b"600"] * 95)
    )
    descriptor = (
        b"<< /Type /FontDescriptor /FontName /Bomb /Flags 32 /FontBBox [0 0 1000 1000] "
        b"/ItalicAngle 0 /Ascent 1000 /Descent 0 /CapHeight 1000 /StemV 80 /FontFile2 7 0 R >>"
    )
    return pdf_file(
        [
            CATALOG,
            PAGES,
            page(b"/Font << /F1 5 0 R >>"),
            stream(b"", text),
            font,
            descriptor,
            flate_stream(b"/Length1 %d" % inflated, inflated, b"\x00"),
        ]
    )


def icc_profile_bomb(inflated: int = INFLATED) -> bytes:
    """The page's small image is in an ICC colour space whose profile inflates hugely."""
    pixels = b"\x80" * (8 * 8 * 3)
    image = stream(
        b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace [/ICCBased 6 0 R] "
        b"/BitsPerComponent 8",
        pixels,
    )
    show = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
    return pdf_file(
        [
            CATALOG,
            PAGES,
            page(b"/XObject << /Im0 5 0 R >>"),
            stream(b"", show),
            image,
            flate_stream(b"/N 3", inflated, b"\x00"),
        ]
    )


def object_stream_bomb(inflated: int = INFLATED) -> bytes:
    """The catalog, page tree and page live in an object stream padded to ``inflated``.

    Objects in an object stream need a cross-reference stream (PDF 1.5): type 2
    entries name the stream and the index inside it.
    """
    members = [CATALOG, PAGES, page()]
    offsets, body = [], b""
    for member in members:
        offsets.append(len(body))
        body += member + b"\n"
    index = b" ".join(b"%d %d" % (number, offset) for number, offset in enumerate(offsets, 1))
    head = index + b"\n"
    compressor = zlib.compressobj(9)
    packed = compressor.compress(head + body)
    padding = inflated - len(head) - len(body)
    packed += b"".join(compressor.compress(_BLOCK) for _ in range(padding // MiB))
    packed += compressor.compress(b" " * (padding % MiB)) + compressor.flush()
    objstm = stream(
        b"/Type /ObjStm /N %d /First %d /Filter /FlateDecode" % (len(members), len(head)),
        packed,
    )
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    content_at = len(out)
    out += b"4 0 obj\n" + stream(b"", b"0 0 m 10 10 l S") + b"\nendobj\n"
    objstm_at = len(out)
    out += b"5 0 obj\n" + objstm + b"\nendobj\n"
    xref_at = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    rows += [struct.pack(">BIH", 2, 5, i) for i in range(len(members))]
    rows += [struct.pack(">BIH", 1, content_at, 0), struct.pack(">BIH", 1, objstm_at, 0)]
    rows += [struct.pack(">BIH", 1, xref_at, 0)]
    xref = stream(b"/Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R", b"".join(rows))
    out += b"6 0 obj\n" + xref + b"\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


PDF_BOMBS = {
    "content stream": content_stream_bomb,
    "image": image_bomb,
    "font": font_bomb,
    "icc profile": icc_profile_bomb,
    "object stream": object_stream_bomb,
}


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_pixel_bomb(side: int = 30000) -> bytes:
    """A ``side`` x ``side`` grey PNG (900 megapixels) whose IDAT holds one row: 60 bytes."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * (side + 1), 9)  # a filter byte, then the pixels
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def png_text_bomb(chunks: int = 60, inflated: int = MiB - 1024) -> bytes:
    """A 64x64 PNG with ``chunks`` zTXt chunks, each inflating to ``inflated`` bytes."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(buffer, "PNG")
    plain = buffer.getvalue()
    text = zlib.compress(b"A" * inflated, 9)
    bomb = b"".join(_png_chunk(b"zTXt", b"k%d\x00\x00" % i + text) for i in range(chunks))
    at = plain.index(b"IDAT") - 4  # text before the pixels: read by Image.open itself
    return plain[:at] + bomb + plain[at:]
