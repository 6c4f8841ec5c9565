"""chunkup's Python client: resumable, parallel uploads with typed results and errors.

::

    from chunkup.client import Client

    with Client("http://127.0.0.1:8000", token) as client:
        media = client.upload("photo.png")           # -> Media
        print(media.id, media.image)

``AsyncClient`` has the same methods as coroutines. This package needs only
httpx and pydantic: it imports nothing of the server.
"""

from chunkup.client._async import AsyncClient
from chunkup.client._job import CHUNK_SIZE, Progress
from chunkup.client._sync import Client
from chunkup.client.errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    ChunkupError,
    Conflict,
    Gone,
    InvalidResponse,
    NetworkError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RequestTimeout,
    ServerError,
)
from chunkup.client.models import (
    ChunkMedia,
    ImageRendition,
    Media,
    MediaPage,
    MediaType,
    Thumbnail,
    UploadStatus,
)
from chunkup.client.resume import ResumeFile, ResumeStore, default_state_file
from chunkup.client.retry import Retry

__all__ = [
    "CHUNK_SIZE",
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequest",
    "ChunkMedia",
    "ChunkupError",
    "Client",
    "Conflict",
    "Gone",
    "ImageRendition",
    "InvalidResponse",
    "Media",
    "MediaPage",
    "MediaType",
    "NetworkError",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "Progress",
    "RateLimited",
    "RequestTimeout",
    "ResumeFile",
    "ResumeStore",
    "Retry",
    "ServerError",
    "Thumbnail",
    "UploadStatus",
    "default_state_file",
]
