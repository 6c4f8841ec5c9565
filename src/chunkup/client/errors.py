"""What the client raises: the contract's errors as exceptions, plus a failed link.

Every exception carries the HTTP ``status``, the contract's machine ``code``, the
``detail`` sentence and the body's extra members (``offset``, ``missing``,
``field``)::

    ChunkupError
    ├── NetworkError          the link failed on every attempt (status None, code network_error)
    ├── InvalidResponse       a success answer that is not the contract's JSON
    └── APIError              the server answered with an error status
        ├── BadRequest (400)          invalid_content_range, md5_mismatch, invalid_image, ...
        ├── AuthenticationError (401) invalid_token
        ├── PermissionDenied (403)    not_owner
        ├── NotFound (404)            upload_not_found, media_not_found
        ├── RequestTimeout (408)      request_timeout
        ├── Conflict (409)            range_conflict
        ├── Gone (410)                upload_expired
        ├── PayloadTooLarge (413)     request_too_large
        ├── RateLimited (429)         rate_limited, too_many_uploads, upload_quota_exceeded
        └── ServerError (5xx)         storage_unavailable, database_unavailable, internal_error
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx


class ChunkupError(Exception):
    status: int | None = None
    code: str = "error"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.body: dict[str, Any] = {}

    def __str__(self) -> str:
        prefix = f"{self.status} {self.code}" if self.status else self.code
        return f"{prefix}: {self.detail}"


class NetworkError(ChunkupError):
    code = "network_error"


class InvalidResponse(ChunkupError):
    code = "invalid_response"


class APIError(ChunkupError):
    """An error answer: ``{"detail": ..., "code": ..., **extra}`` with its status."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any],
        *,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        detail = body.get("detail")
        code = body.get("code")
        super().__init__(
            detail if isinstance(detail, str) and detail else f"HTTP {status}",
            code=code if isinstance(code, str) and code else f"http_{status}",
            status=status,
        )
        self.body = body
        self.retry_after = retry_after
        self.request_id = request_id

    @property
    def offset(self) -> int | None:
        """The upload's contiguous offset (``range_conflict``, ``upload_incomplete``)."""
        value = self.body.get("offset")
        return int(value) if isinstance(value, str | int) and str(value).isdigit() else None

    @property
    def missing(self) -> list[list[int]] | None:
        """The missing byte ranges, end inclusive (``upload_incomplete``)."""
        value = self.body.get("missing")
        return value if isinstance(value, list) else None

    @property
    def field(self) -> str | None:
        value = self.body.get("field")
        return value if isinstance(value, str) else None


class BadRequest(APIError):
    pass


class AuthenticationError(APIError):
    pass


class PermissionDenied(APIError):
    pass


class NotFound(APIError):
    pass


class RequestTimeout(APIError):
    pass


class Conflict(APIError):
    pass


class Gone(APIError):
    pass


class PayloadTooLarge(APIError):
    pass


class RateLimited(APIError):
    pass


class ServerError(APIError):
    pass


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    408: RequestTimeout,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    429: RateLimited,
}


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error answer (the body read already)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        body = {"detail": text or response.reason_phrase or f"HTTP {response.status_code}"}
    status = response.status_code
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    return cls(
        status,
        body,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        request_id=response.headers.get("x-request-id"),
    )
