"""The fast lane: a documented route whose endpoint FastAPI calls with the request alone.

Why: a chunk is the request this service answers most, and FastAPI's request handler
around an endpoint (solving its dependencies, validating its parameters, checking and
serialising what it returns) cost a chunk more CPU than splitting its multipart body.
The chunk endpoint reads its headers, token and body itself, so it needs none of that.

What the fast lane skips: everything ``APIRoute.get_route_handler()`` builds by
default. ``FastLaneRoute`` overrides that hook, as FastAPI's "Custom Request and
APIRoute class" documents, and hands back the endpoint itself: an
``async def endpoint(request) -> Response`` that does its own parsing and returns a
finished response (no ``response_model`` check runs on it).

What it keeps: the rest of ``APIRoute``. The route is the one route of its path and
method: it is matched, puts itself in the scope (the request metrics are labelled with
its path), answers other methods with 405 and ``Allow``, and hands exceptions to the
app's handlers (the contract's JSON error body), all as FastAPI's own routes do. Its
OpenAPI operation comes from its declaration: ``response_model``, ``responses`` and
``status_code`` as usual, and ``openapi_extra`` for the parameters and body that the
endpoint reads by hand, since FastAPI cannot see them in its signature.

Because FastAPI would silently not run them, a fast-lane route refuses to be built
with dependencies or with an endpoint that declares anything but the request.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class FastLaneRoute(APIRoute):
    """An ``APIRoute`` that serves its endpoint as it is (see the module docstring)."""

    def get_route_handler(self) -> Endpoint:
        endpoint = self.endpoint
        if self.dependencies:
            raise TypeError(f"{self.path}: a fast-lane route runs no dependencies")
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"{self.path}: a fast-lane endpoint is an async function")
        if len(inspect.signature(endpoint).parameters) != 1:
            raise TypeError(f"{self.path}: a fast-lane endpoint takes the request alone")
        handler: Endpoint = endpoint
        return handler
