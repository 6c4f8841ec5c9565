"""PDF documents: validated with pypdf, the first page rendered with PDFium.

pypdf decides whether the file is a PDF (its pages must be readable); the
page count is recorded, and an encrypted PDF is accepted and marked. PDFium
(pypdfium2's bundled build) then renders the first page into the preview; a
document PDFium cannot open (a user password, damage pypdf tolerates) is still
accepted, without a preview.

Both inflate whatever the file asks for, so the server calls them only in the
sandbox's capped child processes (``sandbox.py``), never in a serving worker.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from chunkup.errors import InvalidDocument

log = logging.getLogger(__name__)

# PDFium is not thread-safe, not even across documents: one render at a time per process
_PDFIUM = threading.Lock()
RENDER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class PdfFacts:
    pages: int | None
    encrypted: bool


def read_pdf(path: Path) -> PdfFacts:
    """A PDF starts with ``%PDF-`` and pypdf can read its pages (or it is sealed)."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PyPdfError

    with open(path, "rb") as handle:
        if handle.read(5) != b"%PDF-":
            raise InvalidDocument("The file does not start with %PDF-.")
        handle.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # an open file, not a path: pypdf reads what it needs instead of all of it
                reader = PdfReader(handle, strict=False)
                encrypted = reader.is_encrypted
                if encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                    # readable only with a password: accepted, but its pages are sealed
                    return PdfFacts(pages=None, encrypted=True)
                pages = len(reader.pages)
        except (
            PyPdfError,
            OSError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            RecursionError,
        ) as exc:
            raise InvalidDocument() from exc
    if pages < 1:
        raise InvalidDocument("The PDF has no pages.")
    return PdfFacts(pages=pages, encrypted=encrypted)


def render_first_page(path: Path, *, longest: int) -> Image.Image | None:
    """The first page as RGB, ``longest`` px on its long side; ``None`` if PDFium cannot.

    Rendering is progressive and stops at ``RENDER_SECONDS``: a page built to take
    minutes (a huge image of zeros, millions of paths) gets no preview, not a core.
    """
    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            log.info("no preview for %s: %s", path.name, exc)
            return None
        try:
            if len(document) < 1:
                return None
            page = document[0]
            try:
                return _render(page, longest)
            finally:
                page.close()
        except (pdfium.PdfiumError, ValueError) as exc:
            log.info("no preview for %s: %s", path.name, exc)
            return None
        finally:
            document.close()


def _render(page: Any, longest: int) -> Image.Image | None:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    width, height = page.get_size()  # points, the page's /Rotate applied
    if not (width > 0 and height > 0):
        return None
    scale = longest / max(width, height)
    size = max(1, round(width * scale)), max(1, round(height * scale))
    bitmap = pdfium.PdfBitmap.new_native(*size, format=raw.FPDFBitmap_BGR)
    try:
        bitmap.fill_rect((255, 255, 255, 255), 0, 0, *size)
        deadline = time.monotonic() + RENDER_SECONDS
        pause = raw.IFSDK_PAUSE(version=1)
        should_pause = dict(raw.IFSDK_PAUSE._fields_)["NeedToPauseNow"](
            lambda _pause: time.monotonic() > deadline
        )
        pause.NeedToPauseNow = should_pause  # referenced until the render ends
        flags = raw.FPDF_ANNOT
        status = raw.FPDF_RenderPageBitmap_Start(bitmap, page, 0, 0, *size, 0, flags, pause)
        while status == raw.FPDF_RENDER_TOBECONTINUED and time.monotonic() <= deadline:
            status = raw.FPDF_RenderPage_Continue(page, pause)
        raw.FPDF_RenderPage_Close(page)
        if status != raw.FPDF_RENDER_DONE:
            log.info("no preview: the first page did not render in %s s", RENDER_SECONDS)
            return None
        # a copy: the bitmap's buffer goes with the bitmap
        image: Image.Image = bitmap.to_pil()
        return image.convert("RGB")
    finally:
        bitmap.close()
