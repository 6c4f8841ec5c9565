"""HTTP: routes, request parsing, error rendering. The only package that imports FastAPI."""

from chunkup.api.app import create_app

__all__ = ["create_app"]
