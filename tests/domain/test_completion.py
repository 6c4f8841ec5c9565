"""Completion's rules in-process: the MD5, whole uploads only, one Media per upload."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from chunkup.errors import (
    InvalidImage,
    Md5Mismatch,
    UploadExpired,
    UploadIncomplete,
    UploadNotFound,
)
from chunkup.models import Kind, MediaType, UploadStatus
from tests.domain.conftest import Domain
from tests.support import CHUNK, md5_of, noise_image, pdf_document, starts_like

OWNER, STRANGER = 1, 2


async def test_a_whole_image_completes_into_a_media_and_its_chunks_go(domain: Domain):
    data = noise_image(300, 300)  # two chunks
    upload_id = await domain.upload(OWNER, data, filename="photo.png")
    media = await domain.services.completion.complete(OWNER, upload_id, md5_of(data), None)
    assert media.type is MediaType.IMAGE
    assert (media.width, media.height, media.mimetype) == (300, 300, "image/png")
    assert media.user_id == OWNER and media.upload_id == upload_id
    assert await domain.keys(f"chunks/{upload_id}/") == []
    stored = b"".join([b async for b in domain.services.storage.read(media.file_key)])
    assert stored == data  # nothing to strip: byte for byte
    upload = (await domain.services.uploads.status(OWNER, upload_id)).upload
    assert upload.status is UploadStatus.COMPLETED and upload.media_id == media.id


async def test_a_document_completes_as_doc_with_its_name_as_title(domain: Domain):
    data = pdf_document(pages=1, width=60, height=80)
    upload_id = await domain.upload(OWNER, data, kind=Kind.DOCUMENT, filename="report.pdf")
    media = await domain.services.completion.complete(OWNER, upload_id, md5_of(data), None)
    assert media.type is MediaType.DOC
    assert media.title == "report.pdf" and media.mimetype == "application/pdf"


async def test_a_wrong_md5_is_refused_and_the_upload_kept_for_a_retry(domain: Domain):
    data = noise_image(16, 16)
    upload_id = await domain.upload(OWNER, data)
    with pytest.raises(Md5Mismatch):
        await domain.services.completion.complete(OWNER, upload_id, "0" * 32, None)
    assert await domain.keys("media/") == []  # the assembled file is removed
    media = await domain.services.completion.complete(OWNER, upload_id, md5_of(data), None)
    assert media.size == len(data)


async def test_an_incomplete_upload_names_its_offset_and_what_is_missing(domain: Domain):
    data = noise_image(300, 300)
    first = await domain.chunk(OWNER, data[:CHUNK], 0, len(data))
    with pytest.raises(UploadIncomplete) as refused:
        await domain.services.completion.complete(OWNER, first.upload.id, md5_of(data), None)
    assert refused.value.extra == {"offset": str(CHUNK), "missing": [[CHUNK, len(data) - 1]]}


async def test_completing_twice_or_concurrently_gives_the_one_same_media(domain: Domain):
    data = noise_image(64, 64)
    upload_id = await domain.upload(OWNER, data)
    complete = domain.services.completion.complete
    results = await asyncio.gather(
        *(complete(OWNER, upload_id, md5_of(data), None) for _ in range(5))
    )
    again = await complete(OWNER, upload_id, md5_of(data), None)
    assert {m.id for m in results} == {again.id}
    assert len({key for key in await domain.keys("media/") if "thumbnail" not in key}) == 1


async def test_only_the_owner_completes_and_an_expired_upload_is_gone(domain: Domain):
    data = noise_image(16, 16)
    upload_id = await domain.upload(OWNER, data)
    with pytest.raises(UploadNotFound):
        await domain.services.completion.complete(STRANGER, upload_id, md5_of(data), None)
    domain.clock.advance(timedelta(hours=24, seconds=1))
    with pytest.raises(UploadExpired):
        await domain.services.completion.complete(OWNER, upload_id, md5_of(data), None)


async def test_bytes_that_are_no_image_are_invalid_image_and_leave_no_file(domain: Domain):
    html = b"<html>not a picture</html>"
    with pytest.raises(InvalidImage):  # fail fast: it cannot even begin an image
        await domain.upload(OWNER, html)
    assert await domain.keys("chunks/") == []
    data = starts_like(html)  # a PNG's signature, then no PNG: completion decodes it
    upload_id = await domain.upload(OWNER, data)
    with pytest.raises(InvalidImage):
        await domain.services.completion.complete(OWNER, upload_id, md5_of(data), None)
    assert await domain.keys("media/") == []


@pytest.mark.parametrize("upload_id", ["not-an-id", "0" * 32])
async def test_an_id_that_names_no_upload_of_the_caller_is_upload_not_found(
    domain: Domain, upload_id: str
):
    with pytest.raises(UploadNotFound):
        await domain.services.completion.complete(OWNER, upload_id, "0" * 32, None)
