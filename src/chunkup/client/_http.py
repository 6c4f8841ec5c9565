"""What ``Client`` and ``AsyncClient`` share about HTTP: headers, timeouts, failures."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from chunkup.client.errors import InvalidResponse, NetworkError

try:
    from chunkup import __version__
except ImportError:  # installed alone (sdk/, chunkup-client): `chunkup` is a namespace package
    from importlib.metadata import version

    __version__ = version("chunkup-client")

M = TypeVar("M", bound=BaseModel)


def client_options(base_url: str, token: str, timeout: float) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "headers": {
            "Authorization": f"Bearer {token}",
            "User-Agent": f"chunkup-python/{__version__}",
        },
        "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
    }


def network_error(method: str, url: str, exc: httpx.TransportError) -> NetworkError:
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    error = NetworkError(f"{method} {url} failed: {reason}")
    error.__cause__ = exc
    return error


def parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise InvalidResponse(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} with a body that is not a {model.__name__}"
        ) from exc
