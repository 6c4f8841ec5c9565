"""``Client``: the blocking client; chunks go up from a small thread pool."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
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


class _Stopped(Exception):
    """Another part of the upload failed: this one gives up quietly."""


class Client:
    """The chunkup API over HTTP, blocking::

        with Client("https://media.example.com", token) as client:
            media = client.upload("photo.jpg")

    Every method raises a :class:`~chunkup.client.errors.ChunkupError` subclass on failure,
    after retrying what can succeed on a second try (see :class:`Retry`).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60.0,
        retry: Retry | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or Retry()
        self._http = httpx.Client(
            **client_options(self.base_url, token, timeout), transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # the plain calls

    def status(self, upload_id: str) -> UploadStatus:
        """What the server holds of an unfinished (or finished) upload."""
        return parse(UploadStatus, self._request("GET", f"/api/v2/media/upload/{upload_id}/"))

    def abort(self, upload_id: str) -> None:
        """Drop an unfinished upload and its stored chunks."""
        self._request("DELETE", f"/api/v2/media/upload/{upload_id}/", gone_is_done=True)

    def complete(
        self,
        upload_id: str,
        md5: str,
        type: MediaType | None = None,  # the contract's name
    ) -> Media:
        """Finish an upload whose bytes are all stored (``upload`` does this itself)."""
        body = {"upload_id": upload_id, "md5": md5} | ({"type": type} if type else {})
        return parse(Media, self._request("POST", COMPLETE_PATH, json=body))

    def get_media(self, media_id: int) -> Media:
        return parse(Media, self._request("GET", f"/api/v2/media/{media_id}/"))

    def delete_media(self, media_id: int) -> None:
        self._request("DELETE", f"/api/v2/media/{media_id}/", gone_is_done=True)

    def list_media(self, *, limit: int = 20, offset: int = 0) -> MediaPage:
        """The caller's media, newest first."""
        response = self._request("GET", "/api/v2/media/", params={"limit": limit, "offset": offset})
        return parse(MediaPage, response)

    # the upload

    def upload(
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
        """Upload a file (a path, or a seekable binary file from its position) → its Media.

        ``type`` is ``image``, ``eimage`` or ``doc``; by default a PDF goes up as a
        document (``doc``) and anything else as an image. The first chunk creates the
        upload, the others go ``parallel`` at a time. ``upload_id`` resumes that
        upload: only the bytes the server lacks are sent. ``resume`` remembers the
        upload id of a file path between runs (see :class:`ResumeFile`), so a re-run
        after a crash resumes by itself.
        """
        check_arguments(type, chunk_size, parallel)
        job = UploadJob.open(
            source, filename=filename, chunk_size=chunk_size, type_=type, progress=progress
        )
        try:
            if job.size == 0:
                raise ValueError(f"{job.filename} is empty: there is nothing to upload")
            key = job.resume_key(self.base_url) if resume is not None else None
            remembered = resume.load(key) if resume is not None and key else None
            status = self._resumable(job, upload_id or remembered, explicit=upload_id is not None)
            try:
                if status is not None and status.media_id is not None:
                    media = self.get_media(status.media_id)  # it finished before we heard
                else:
                    media = self._upload(job, status, parallel, resume, key)
            except ChunkupError as exc:
                if resume is not None and key and not keeps_resume_entry(exc.code, exc.status):
                    resume.discard(key)
                raise
            if resume is not None and key:
                resume.discard(key)
            return media
        finally:
            job.close()

    def _resumable(
        self, job: UploadJob, upload_id: str | None, *, explicit: bool
    ) -> UploadStatus | None:
        if upload_id is None:
            return None
        try:
            status = self.status(upload_id)
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

    def _upload(
        self,
        job: UploadJob,
        status: UploadStatus | None,
        parallel: int,
        resume: ResumeStore | None,
        key: str | None,
    ) -> Media:
        first = job.read_block()
        assert first is not None
        if status is None:
            job.part = field_for(job.type, first[1])
            created = parse(
                ChunkMedia, self._request("POST", CHUNK_PATH, **job.chunk_request(*first))
            )
            if resume is not None and key:
                resume.save(key, created.upload_id)
            job.begin(created.upload_id, job.part, [[0, len(first[1]) - 1]])
            self._send_rest(job, [], parallel)
        else:
            job.begin(status.upload_id, status.kind, status.ranges)  # kind = the part's name
            self._send_rest(job, job.pieces(*first), parallel)
        try:
            return self.complete(job.upload_id or "", job.md5(), job.type)
        except APIError as exc:
            if abort_after_complete_error(exc.code, exc.status):
                with contextlib.suppress(ChunkupError):
                    self.abort(job.upload_id or "")
            raise

    def _send_rest(self, job: UploadJob, pieces: list[Piece], parallel: int) -> None:
        """Read the rest of the file (hashing it) and send what the server lacks.

        At most ``2 * parallel`` chunks are in memory: ``parallel`` on the wire and as
        many read ahead.
        """
        stop = threading.Event()
        slots = threading.BoundedSemaphore(2 * parallel)
        errors: list[BaseException] = []

        def finished(future: Future[None]) -> None:
            slots.release()
            error = None if future.cancelled() else future.exception()
            if error is not None and not isinstance(error, _Stopped):
                errors.append(error)
                stop.set()

        pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="chunkup-upload")
        try:
            for piece in job.remaining(pieces):
                slots.acquire()
                if stop.is_set():
                    slots.release()
                    break
                pool.submit(self._send_piece, job, piece, stop).add_done_callback(finished)
        except BaseException:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        if errors:
            raise errors[0]

    def _send_piece(self, job: UploadJob, piece: Piece, stop: threading.Event) -> None:
        """One chunk, retried; on a 409 the server's ranges say what is still to send."""
        if stop.is_set():
            raise _Stopped
        pending = [piece]
        conflicts = 0
        while pending:
            start, data = pending.pop()
            try:
                self._request("POST", CHUNK_PATH, stop=stop, **job.chunk_request(start, data))
            except Conflict as exc:
                conflicts += 1
                if exc.offset is None or conflicts >= self.retry.attempts:
                    raise
                pending.extend(job.pieces(start, data, self.status(job.upload_id or "").ranges))
        job.advance(len(piece[1]))

    # one request, retried

    def _request(
        self,
        method: str,
        path: str,
        *,
        stop: threading.Event | None = None,
        gone_is_done: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send until a success, an error worth no retry, or the attempts run out.

        ``gone_is_done``: a 404 after a lost answer means the earlier attempt did it.
        """
        lost_answer = False
        failures = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
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
            wait = self.retry.delay(failures, getattr(error, "retry_after", None))
            if stop is None:
                time.sleep(wait)
            elif stop.wait(wait):
                raise _Stopped
