"""The one exception family of chunkup.

Every failure the contract names is a subclass of :class:`ChunkupError` carrying
its HTTP status and machine ``code``; ``api/errors.py`` renders them all in one
place as ``{"detail": ..., "code": ..., **extra}``. Domain code raises these and
never knows about HTTP frameworks::

    ChunkupError
    ├── BadRequest (400)          invalid_content_range, chunk_size_mismatch, md5_mismatch, ...
    ├── Unauthorized (401)        invalid_token
    ├── Forbidden (403)           not_owner, upload_refused (pre-create hook)
    ├── NotFound (404)            upload_not_found, media_not_found, not_found
    ├── RequestTimeout (408)      request_timeout
    ├── Conflict (409)            range_conflict, offset_mismatch (tus)
    ├── Gone (410)                upload_expired
    ├── PreconditionFailed (412)  tus_version_unsupported (tus)
    ├── PayloadTooLarge (413)     request_too_large, upload_too_large (tus)
    ├── UnsupportedMediaType (415) unsupported_media_type (tus)
    ├── RangeNotSatisfiable (416) range_not_satisfiable
    ├── TooManyRequests (429)     rate_limited, too_many_uploads, upload_quota_exceeded
    ├── ChecksumMismatch (460)    checksum_mismatch (tus)
    └── Unavailable (503)         storage_unavailable, database_unavailable
"""

from __future__ import annotations

from typing import Any, ClassVar


class ChunkupError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_detail: ClassVar[str] = "Internal server error."

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.default_detail
        self.extra = extra
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code, **self.extra}

    def headers(self) -> dict[str, str] | None:
        """HTTP headers the status calls for (``WWW-Authenticate``, ``Retry-After``)."""
        return None


class BadRequest(ChunkupError):
    status = 400
    code = "invalid"
    default_detail = "Invalid request."


class Unauthorized(ChunkupError):
    status = 401
    code = "invalid_token"
    default_detail = "Authentication credentials were not provided or are invalid."

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ChunkupError):
    status = 403
    code = "forbidden"
    default_detail = "You are not allowed to do this."


class NotFound(ChunkupError):
    status = 404
    code = "not_found"
    default_detail = "Not found."


class MethodNotAllowed(ChunkupError):
    status = 405
    code = "method_not_allowed"
    default_detail = "Method not allowed."


class RequestTimeout(ChunkupError):
    status = 408
    code = "request_timeout"
    default_detail = "The request body stopped arriving; send the chunk again."


class Conflict(ChunkupError):
    status = 409
    code = "conflict"
    default_detail = "Conflict."


class Gone(ChunkupError):
    status = 410
    code = "gone"
    default_detail = "Gone."


class PayloadTooLarge(ChunkupError):
    status = 413
    code = "request_too_large"
    default_detail = "The request body is larger than one chunk can need."


class PreconditionFailed(ChunkupError):
    status = 412
    code = "precondition_failed"
    default_detail = "A precondition of the request failed."


class UnsupportedMediaType(ChunkupError):
    status = 415
    code = "unsupported_media_type"
    default_detail = "The request body's Content-Type is not supported here."


class RangeNotSatisfiable(ChunkupError):
    status = 416
    code = "range_not_satisfiable"
    default_detail = "The requested byte range is not satisfiable."


class TooManyRequests(ChunkupError):
    status = 429
    code = "rate_limited"
    default_detail = "Too many requests; retry after the time given."

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class ChecksumMismatch(ChunkupError):
    """tus's checksum extension: the body differs from its Upload-Checksum (460)."""

    status = 460
    code = "checksum_mismatch"
    default_detail = "The request body does not match its Upload-Checksum; nothing was stored."


class Unavailable(ChunkupError):
    status = 503
    code = "unavailable"
    default_detail = "The service is temporarily unavailable; retry later."


# Named by the contract (and a few more for input it does not cover)


class ContentRangeRequired(BadRequest):
    code = "content_range_required"
    default_detail = "The Content-Range header is required."


class InvalidContentRange(BadRequest):
    code = "invalid_content_range"
    default_detail = "The Content-Range header is invalid."


class FilePartRequired(BadRequest):
    code = "file_part_required"
    default_detail = "Exactly one file part, 'image' or 'document', is required."


class ChunkSizeMismatch(BadRequest):
    code = "chunk_size_mismatch"
    default_detail = "The chunk's size does not match its Content-Range."


class ChunkTooLarge(BadRequest):
    code = "chunk_too_large"
    default_detail = "The chunk is larger than allowed."


class FileTooLarge(BadRequest):
    code = "file_too_large"
    default_detail = "The file is larger than allowed."


class UploadCompleted(BadRequest):
    code = "upload_completed"
    default_detail = "The upload is already completed."


class TotalMismatch(BadRequest):
    code = "total_mismatch"
    default_detail = "The total size differs from the one the upload was created with."


class FieldMismatch(BadRequest):
    code = "field_mismatch"
    default_detail = "The file part's name differs from the one the upload was created with."


class InvalidExpires(BadRequest):
    code = "invalid_expires"
    default_detail = "'expires' must be an ISO 8601 time in the future."


class UploadIncomplete(BadRequest):
    code = "upload_incomplete"
    default_detail = "Some bytes of the upload are missing."


class Md5Mismatch(BadRequest):
    code = "md5_mismatch"
    default_detail = "The MD5 of the uploaded bytes differs from the one given."


class InvalidImage(BadRequest):
    code = "invalid_image"
    default_detail = "The file is not a JPEG, PNG, GIF, WebP, HEIC or AVIF image that decodes."


class InvalidDocument(BadRequest):
    code = "invalid_document"
    default_detail = "The file is not a readable PDF."


class InvalidType(BadRequest):
    code = "invalid_type"
    default_detail = "'type' must be one of image, doc, eimage."


class FieldRequired(BadRequest):
    code = "field_required"
    default_detail = "A required field is missing."


class InvalidField(BadRequest):
    code = "invalid_field"
    default_detail = "A field has an invalid value."


class InvalidBody(BadRequest):
    code = "invalid_body"
    default_detail = "The request body could not be parsed."


class InvalidUploadId(BadRequest):
    code = "invalid_upload_id"
    default_detail = "The upload id is malformed."


class NotOwner(Forbidden):
    code = "not_owner"
    default_detail = "Only the media's creator may delete it."


class UploadNotFound(NotFound):
    code = "upload_not_found"
    default_detail = "No such upload."


class MediaNotFound(NotFound):
    code = "media_not_found"
    default_detail = "No such media."


class RangeConflict(Conflict):
    code = "range_conflict"
    default_detail = "The chunk overlaps bytes already stored for this upload."


class UploadExpired(Gone):
    code = "upload_expired"
    default_detail = "The upload has expired."


class StorageUnavailable(Unavailable):
    code = "storage_unavailable"
    default_detail = "The storage could not be written or read; retry later."


class DatabaseUnavailable(Unavailable):
    code = "database_unavailable"
    default_detail = "The database is busy or unreachable; retry later."


class InspectionUnavailable(Unavailable):
    code = "inspection_unavailable"
    default_detail = "Files of this type cannot be checked right now; retry later."


class TooManyUploads(TooManyRequests):
    code = "too_many_uploads"
    default_detail = "Too many unfinished uploads; complete or abort some first."


class UploadQuotaExceeded(TooManyRequests):
    code = "upload_quota_exceeded"
    default_detail = "Your unfinished uploads would exceed the bytes allowed at once."


class TooManyRanges(BadRequest):
    code = "too_many_ranges"
    default_detail = (
        "This chunk would leave the upload with too many separate byte ranges; "
        "send the chunks that fill its gaps first (see 'offset' and the upload's status)."
    )


class TooManyChunks(BadRequest):
    code = "too_many_chunks"
    default_detail = (
        "The upload holds as many chunks as its size allows; send larger chunks "
        "(up to the chunk limit) or start again."
    )


# tus 1.0.0 (``/api/v2/media/tus/``)


class TusVersionUnsupported(PreconditionFailed):
    code = "tus_version_unsupported"
    default_detail = "Send the header Tus-Resumable: 1.0.0; no other tus version is supported."

    def headers(self) -> dict[str, str] | None:
        return {"Tus-Version": "1.0.0"}


class OffsetMismatch(Conflict):
    code = "offset_mismatch"
    default_detail = "Upload-Offset differs from the upload's current offset; HEAD it first."


class UploadTooLarge(PayloadTooLarge):
    code = "upload_too_large"
    default_detail = "The upload is larger than allowed."


class InvalidTusHeader(BadRequest):
    code = "invalid_tus_header"
    default_detail = "A tus header is missing or invalid."


class ChecksumAlgorithmUnsupported(BadRequest):
    code = "checksum_algorithm_unsupported"
    default_detail = "Upload-Checksum must use md5, sha1 or sha256."


class FinalUploadImmutable(Forbidden):
    code = "final_upload_immutable"
    default_detail = "A final (concatenated) upload takes no PATCH: its bytes are its parts'."


# the application's pre-create hook (CHUNKUP_HOOK_PRE_CREATE_URL)


class UploadRefused(Forbidden):
    code = "upload_refused"
    default_detail = "The application refused this upload."


# The HTTP layer (``api/protocol.py``): refused before the app sees the request


class MalformedRequest(BadRequest):
    code = "invalid_request"
    default_detail = "Malformed HTTP request."


class UriTooLong(ChunkupError):
    status = 414
    code = "uri_too_long"
    default_detail = "The request's URL is longer than allowed."


class HeaderFieldsTooLarge(ChunkupError):
    status = 431
    code = "request_header_fields_too_large"
    default_detail = "The request line and headers are larger than allowed."


class ServerBusy(Unavailable):
    code = "server_busy"
    default_detail = "Too many open connections; retry shortly."

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": "1"}


# Installation (raised at start-up, never in a request)


class MissingExtra(ImportError):
    """A configured feature needs an optional dependency that is not installed.

    The embedded default (SQLite, local disk) needs none; PostgreSQL and object
    stores come with the extras ``chunkup[postgres]`` and ``chunkup[s3]``, and the
    message names the one to install instead of a bare ``No module named ...``.
    """

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} needs the {extra!r} extra: pip install 'chunkup[{extra}]'")
        self.extra = extra
