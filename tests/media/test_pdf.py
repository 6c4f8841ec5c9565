"""pypdf's facts and PDFium's first-page render, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from chunkup.errors import InvalidDocument
from chunkup.media import pdf
from tests.media.samples import encrypted_pdf, pdf_with_huge_image, rotated_pdf
from tests.support import pdf_document


def saved(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_the_page_count_is_read(tmp_path: Path):
    facts = pdf.read_pdf(saved(tmp_path, pdf_document(pages=4, width=60, height=80)))
    assert (facts.pages, facts.encrypted) == (4, False)


def test_a_pdf_sealed_by_a_password_has_no_page_count(tmp_path: Path):
    facts = pdf.read_pdf(saved(tmp_path, encrypted_pdf(user_password="secret")))
    assert (facts.pages, facts.encrypted) == (None, True)


def test_something_else_is_invalid_document(tmp_path: Path):
    with pytest.raises(InvalidDocument):
        pdf.read_pdf(saved(tmp_path, b"%PDF-1.7\nnot really\n%%EOF\n"))


def test_the_first_page_renders_at_1024_px_on_its_long_side(tmp_path: Path):
    page = pdf.render_first_page(saved(tmp_path, pdf_document(2, 300, 400)), longest=1024)
    assert page is not None
    assert (page.mode, page.size) == ("RGB", (768, 1024))


def test_the_page_rotation_is_applied(tmp_path: Path):
    page = pdf.render_first_page(saved(tmp_path, rotated_pdf(90)), longest=1024)
    assert page is not None and page.size == (1024, 768)


def test_a_sealed_pdf_has_no_render(tmp_path: Path):
    path = saved(tmp_path, encrypted_pdf(user_password="secret"))
    assert pdf.render_first_page(path, longest=1024) is None


def test_a_page_that_renders_too_slowly_has_no_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(pdf, "RENDER_SECONDS", 0.01)
    path = saved(tmp_path, pdf_with_huge_image(6000))  # 36 Mpx of zeros to decode
    assert pdf.render_first_page(path, longest=1024) is None


def test_the_same_page_renders_given_the_time(tmp_path: Path):
    path = saved(tmp_path, pdf_with_huge_image(2000))
    page = pdf.render_first_page(path, longest=1024)
    assert page is not None and page.getpixel((10, 10)) == (0, 0, 0)
