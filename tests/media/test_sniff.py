"""Whether a file's first bytes can begin a file of the kind it declares."""

from __future__ import annotations

import pytest

from chunkup.errors import InvalidDocument, InvalidImage
from chunkup.media.sniff import leading_bytes_fit, refuse_unless_leading_bytes_fit
from chunkup.models import Kind
from tests.support import noise_image, pdf_document


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_every_accepted_image_format_fits_an_image(fmt: str):
    assert leading_bytes_fit(Kind.IMAGE, noise_image(8, 8, fmt)[:16])


def test_a_pdf_fits_a_document_and_not_an_image():
    head = pdf_document(pages=1, width=10, height=10)[:16]
    assert leading_bytes_fit(Kind.DOCUMENT, head)
    assert not leading_bytes_fit(Kind.IMAGE, head)


@pytest.mark.parametrize(
    "head",
    [
        b"hello, world",
        b"<svg xmlns=",
        b"<!doctype html>",
        b"RIFF\x00\x00\x00\x00WAVE",
        b"PK\x03\x04",
    ],
)
def test_text_svg_html_wav_and_zip_cannot_begin_an_image(head: bytes):
    with pytest.raises(InvalidImage):
        refuse_unless_leading_bytes_fit(Kind.IMAGE, head)


@pytest.mark.parametrize(
    "head",
    [
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00",
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00",
        b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00",
    ],
)
def test_a_heic_or_avif_ftyp_box_fits_an_image(head: bytes):
    assert leading_bytes_fit(Kind.IMAGE, head)


@pytest.mark.parametrize("head", [b"PK", b"\x00P", b"\x01\x00\x00\x18ftypheic"])
def test_an_ftyp_box_too_large_to_be_one_cannot_begin_an_image(head: bytes):
    """An ftyp box is a few dozen bytes: its size's first two bytes are zero."""
    assert not leading_bytes_fit(Kind.IMAGE, head)


def test_a_png_cannot_begin_a_document_declared_as_only_that():
    with pytest.raises(InvalidDocument):
        refuse_unless_leading_bytes_fit(Kind.DOCUMENT, noise_image(8, 8)[:16], only_kind=True)


def test_by_default_the_other_kinds_bytes_pass_and_neither_kinds_get_the_fields_error():
    refuse_unless_leading_bytes_fit(Kind.DOCUMENT, noise_image(8, 8)[:16])
    refuse_unless_leading_bytes_fit(Kind.IMAGE, b"%PDF-1.7\n")
    with pytest.raises(InvalidDocument):
        refuse_unless_leading_bytes_fit(Kind.DOCUMENT, b"hello, world")


@pytest.mark.parametrize(
    "head",
    [b"\xff", b"\xff\xd8", b"\x89PN", b"RIFF", b"RIFF\x10\x00", b"\x00\x00\x00", b"%P"],
)
def test_a_first_chunk_shorter_than_a_signature_is_judged_on_what_it_has(head: bytes):
    kind = Kind.DOCUMENT if head.startswith(b"%") else Kind.IMAGE
    assert leading_bytes_fit(kind, head)
