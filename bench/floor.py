"""The floor: a bare ASGI app that reads each request body fully and answers a fixed 201.

Served by the same uvicorn (uvloop, httptools) as chunkup, with the same worker
counts, it is what the HTTP stack alone costs: ``python -m uvicorn bench.floor:app``.
"""

from __future__ import annotations

BODY = b'{"upload_id":"floor","offset":"0","expires":"2030-01-01T00:00:00Z"}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope, receive, send) -> None:  # noqa: ANN001 (a plain ASGI callable)
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 201, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
