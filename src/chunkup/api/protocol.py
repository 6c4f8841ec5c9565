"""uvicorn's HTTP protocol, answering malformed HTTP in the contract's JSON shape.

Requests that never reach the app (two Content-Lengths, a negative one, broken
chunk framing) are refused by the protocol itself; stock uvicorn answers them
with a plain-text 400. This keeps the refusal and the closed connection and
changes only the body.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        body = json.dumps(
            {"detail": f"Malformed HTTP request: {msg}", "code": "invalid_request"}
        ).encode()
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def uvicorn_options(log_level: str = "info") -> dict[str, object]:
    """How chunkup runs under uvicorn, for ``chunkup serve`` and the tests alike."""
    return {
        "loop": "uvloop",
        "http": JsonErrorHttpToolsProtocol,
        "log_level": log_level,
        "log_config": None,
        "timeout_graceful_shutdown": 30,
        "server_header": False,
    }
