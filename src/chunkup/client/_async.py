"""``AsyncClient``: the same client for asyncio; chunks go up from a few tasks."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx

from chunkup.client._http import client_options, network_error, parse
from chunkup.client._job import (
    CHUNK_PATH,
    CHUNK_SIZE,
    COMPLETE_PATH,
    Piece,
    Progress,
    Source,
    UploadJob,
    abort_after_complete_error,
    check_arguments,
    field_for,
    keeps_resume_entry,
)
from chunkup.client.errors import (
    APIError,
    ChunkupError,
    Conflict,
    Gone,
    NotFound,
    error_from_response,
)
from chunkup.client.models import ChunkMedia, Media, MediaPage, MediaType, UploadStatus
from chunkup.client.resume import ResumeStore
from chunkup.client.retry import Retry


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_error(error)
        if not isinstance(error, asyncio.CancelledError):
            return error
    return group


class AsyncClient:
    """The chunkup API over HTTP, for asyncio; the methods of :class:`Client`, awaited::

    async with AsyncClient("https://media.example.com", token) as client:
        media = await client.upload("photo.jpg")
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60.0,
        retry: Retry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or Retry()
        self._http = httpx.AsyncClient(
            **client_options(self.base_url, token, timeout), transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # the plain calls

    async def status(self, upload_id: str) -> UploadStatus:
        """What the server holds of an unfinished (or finished) upload."""
        response = await self._request("GET", f"/api/v2/media/upload/{upload_id}/")
        return parse(UploadStatus, response)

    async def abort(self, upload_id: str) -> None:
        """Drop an unfinished upload and its stored chunks."""
        await self._request("DELETE", f"/api/v2/media/upload/{upload_id}/", gone_is_done=True)

    async def complete(
        self,
        upload_id: str,
        md5: str,
        type: MediaType | None = None,  # the contract's name
    ) -> Media:
        """Finish an upload whose bytes are all stored (``upload`` does this itself)."""
        body = {"upload_id": upload_id, "md5": md5} | ({"type": type} if type else {})
        return parse(Media, await self._request("POST", COMPLETE_PATH, json=body))

    async def get_media(self, media_id: int) -> Media:
        return parse(Media, await self._request("GET", f"/api/v2/media/{media_id}/"))

    async def delete_media(self, media_id: int) -> None:
        await self._request("DELETE", f"/api/v2/media/{media_id}/", gone_is_done=True)

    async def list_media(self, *, limit: int = 20, offset: int = 0) -> MediaPage:
        """The caller's media, newest first."""
        params = {"limit": limit, "offset": offset}
        return parse(MediaPage, await self._request("GET", "/api/v2/media/", params=params))

    # the upload

    async def upload(
        self,
        source: Source,
        type: MediaType | None = None,  # the contract's name
        chunk_size: int = CHUNK_SIZE,
        parallel: int = 4,
        progress: Progress | None = None,
        *,
        upload_id: str | None = None,
        filename: str | None = None,
        resume: ResumeStore | None = None,
    ) -> Media:
        """Upload a file and return its Media; see :meth:`Client.upload`."""
        check_arguments(type, chunk_size, parallel)
        job = UploadJob.open(
            source, filename=filename, chunk_size=chunk_size, type_=type, progress=progress
        )
        try:
            if job.size == 0:
                raise ValueError(f"{job.filename} is empty: there is nothing to upload")
            key = job.resume_key(self.base_url) if resume is not None else None
            remembered = resume.load(key) if resume is not None and key else None
            status = await self._resumable(
                job, upload_id or remembered, explicit=upload_id is not None
            )
            try:
                if status is not None and status.media_id is not None:
                    media = await self.get_media(status.media_id)  # it finished before we heard
                else:
                    media = await self._upload(job, status, parallel, resume, key)
            except ChunkupError as exc:
                if resume is not None and key and not keeps_resume_entry(exc.code, exc.status):
                    resume.discard(key)
                raise
            if resume is not None and key:
                resume.discard(key)
            return media
        finally:
            job.close()

    async def _resumable(
        self, job: UploadJob, upload_id: str | None, *, explicit: bool
    ) -> UploadStatus | None:
        if upload_id is None:
            return None
        try:
            status = await self.status(upload_id)
        except (NotFound, Gone):
            if explicit:
                raise
            return None
        problem = job.resume_problem(status)
        if problem is not None:
            if explicit:
                raise ValueError(problem)
            return None
        return status

    async def _upload(
        self,
        job: UploadJob,
        status: UploadStatus | None,
        parallel: int,
        resume: ResumeStore | None,
        key: str | None,
    ) -> Media:
        first = await asyncio.to_thread(job.read_block)
        assert first is not None
        if status is None:
            job.part = field_for(job.type, first[1])
            response = await self._request("POST", CHUNK_PATH, **job.chunk_request(*first))
            created = parse(ChunkMedia, response)
            if resume is not None and key:
                resume.save(key, created.upload_id)
            job.begin(created.upload_id, job.part, [[0, len(first[1]) - 1]])
            await self._send_rest(job, [], parallel)
        else:
            job.begin(status.upload_id, status.kind, status.ranges)  # kind = the part's name
            await self._send_rest(job, job.pieces(*first), parallel)
        try:
            return await self.complete(job.upload_id or "", job.md5(), job.type)
        except APIError as exc:
            if abort_after_complete_error(exc.code, exc.status):
                with contextlib.suppress(ChunkupError):
                    await self.abort(job.upload_id or "")
            raise

    async def _send_rest(self, job: UploadJob, pieces: list[Piece], parallel: int) -> None:
        """Read the rest of the file (hashing it) and send what the server lacks.

        At most ``2 * parallel`` chunks are in memory: ``parallel`` on the wire and as
        many read ahead in the queue.
        """
        queue: asyncio.Queue[Piece | None] = asyncio.Queue(maxsize=parallel)

        async def read() -> None:
            for piece in pieces:
                await queue.put(piece)
            while (block := await asyncio.to_thread(job.read_block)) is not None:
                for piece in job.pieces(*block):
                    await queue.put(piece)
            for _ in range(parallel):
                await queue.put(None)

        async def send() -> None:
            while (piece := await queue.get()) is not None:
                await self._send_piece(job, piece)

        failure: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(read())
                for _ in range(parallel):
                    group.create_task(send())
        except BaseExceptionGroup as errors:
            failure = _first_error(errors)
        if failure is not None:
            raise failure

    async def _send_piece(self, job: UploadJob, piece: Piece) -> None:
        """One chunk, retried; on a 409 the server's ranges say what is still to send."""
        pending = [piece]
        conflicts = 0
        while pending:
            start, data = pending.pop()
            try:
                await self._request("POST", CHUNK_PATH, **job.chunk_request(start, data))
            except Conflict as exc:
                conflicts += 1
                if exc.offset is None or conflicts >= self.retry.attempts:
                    raise
                status = await self.status(job.upload_id or "")
                pending.extend(job.pieces(start, data, status.ranges))
        job.advance(len(piece[1]))

    # one request, retried

    async def _request(
        self, method: str, path: str, *, gone_is_done: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """Send until a success, an error worth no retry, or the attempts run out."""
        lost_answer = False
        failures = 0
        while True:
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                error: ChunkupError = network_error(method, self.base_url + path, exc)
                lost_answer = True
            else:
                if response.is_success or (
                    gone_is_done and lost_answer and response.status_code == 404
                ):
                    return response
                error = error_from_response(response)
            failures += 1
            if failures >= self.retry.attempts or not self.retry.retryable(error):
                raise error
            await asyncio.sleep(self.retry.delay(failures, getattr(error, "retry_after", None)))
