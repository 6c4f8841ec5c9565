"""chunkup: a self-hostable chunked media upload service."""

__version__ = "0.1.0"
