"""Real image and PDF files for the media tests, made on the spot with Pillow and pypdf."""

from __future__ import annotations

import asyncio
import functools
import io
import os
import struct
import zlib
from typing import Any

from PIL import ExifTags, Image, ImageCms, PngImagePlugin
from pypdf import PdfReader, PdfWriter

from chunkup import models
from chunkup.db import Database
from chunkup.db import queries as q
from tests.media.bombs import pdf_file
from tests.support import LiveServer, pdf_document

GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (52.0, 22.0, 12.5),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (4.0, 53.0, 41.0),
}


def noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    bands = len(mode)
    return Image.frombytes(mode, (width, height), os.urandom(width * height * bands))


def encoded(image: Image.Image, fmt: str, **save: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


@functools.cache
def srgb_icc() -> bytes:
    """An sRGB ICC profile, made once: its header records the second it was created."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation: int | None = 6) -> Image.Exif:
    """EXIF as a phone writes it: orientation, make and model, a GPS position."""
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "Phone Maker"
    exif[ExifTags.Base.Model] = "Phone 12"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    return exif


def phone_jpeg(width: int = 640, height: int = 480, orientation: int | None = 6) -> bytes:
    """A photo stored sideways (EXIF orientation 6) with GPS tags and an ICC profile."""
    return encoded(
        noise(width, height),
        "JPEG",
        quality=90,
        exif=camera_exif(orientation),
        icc_profile=srgb_icc(),
        comment=b"taken at home",
    )


def animated_gif(colors: tuple[tuple[int, int, int], ...] = ((255, 0, 0), (0, 255, 0))) -> bytes:
    frames = [Image.new("RGB", (120, 80), color) for color in colors]
    return encoded(
        frames[0],
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=100,
        loop=0,
        comment=b"made by someone",
    )


def cmyk_jpeg(color: tuple[int, int, int, int] = (255, 0, 0, 0)) -> bytes:
    return encoded(Image.new("CMYK", (320, 240), color), "JPEG", quality=95)


def png16(value: int = 32768, size: tuple[int, int] = (300, 200)) -> bytes:
    """A 16-bit greyscale PNG of one grey ``value`` (0-65535)."""
    return encoded(Image.new("I;16", size, value), "PNG")


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_text("Comment", "my flat at 12 Some Street", zip=True)
    info.add_itxt("Location", "52.37N 4.89E")
    return encoded(noise(200, 150), "PNG", pnginfo=info)


def solid_png(color: tuple[int, int, int], size: tuple[int, int] = (500, 300)) -> bytes:
    return encoded(Image.new("RGB", size, color), "PNG")


def encrypted_pdf(user_password: str = "", pages: int = 2) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_document(pages, 200, 300))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit PNG of zeros: a few kilobytes declaring ``width`` x ``height`` pixels."""
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def stored_media(server: LiveServer, media_id: int) -> models.Media:
    """The Media row as the server stored it (``extra`` included), from its database."""

    async def fetch() -> models.Media | None:
        db = Database(server.settings.resolved_database_url)
        try:
            return await db.read(lambda conn: q.get_media(conn, media_id))
        finally:
            await db.dispose()

    media = asyncio.run(fetch())
    assert media is not None
    return media


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def rotated_pdf(degrees: int = 90) -> bytes:
    """A portrait page (300 x 400) shown turned by ``degrees`` (its /Rotate)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_document(1, 300, 400))))
    writer.pages[0].rotate(degrees)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_with_huge_image(side: int) -> bytes:
    """One page showing a ``side`` x ``side`` RGB image of zeros: small file, slow render."""
    row = b"\x00" * (side * 3)
    compressor = zlib.compressobj(9)
    stream = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    content = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n"
        % (side, side, len(stream))
        + stream
        + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    return pdf_file(objects, header=b"%PDF-1.4\n")
