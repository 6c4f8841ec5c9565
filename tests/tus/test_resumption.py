"""tus's promise: a PATCH cut off half-way keeps what arrived; the client resumes from HEAD."""

from __future__ import annotations

import socket
import time

import httpx

from tests.support import CHUNK, LiveServer, md5_of, noise_image
from tests.tus.conftest import Tus, metadata, upload_id_of


def send_half_and_hang_up(server: LiveServer, url: str, data: bytes, sent: int) -> None:
    """A raw PATCH announcing ``len(data)`` bytes that stops after ``sent`` of them."""
    path = url.split(str(server.port), 1)[1]
    head = (
        f"PATCH {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token(1)}\r\n"
        "Tus-Resumable: 1.0.0\r\n"
        "Upload-Offset: 0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + data[:sent])
        time.sleep(0.3)  # let the server take the bytes before the connection drops


def wait_for_offset(tus: Tus, url: str, at_least: int) -> int:
    deadline = time.monotonic() + 10
    while True:
        offset = int(tus.head(url).headers["Upload-Offset"])
        if offset >= at_least or time.monotonic() > deadline:
            return offset
        time.sleep(0.05)


def test_a_patch_cut_off_half_way_keeps_its_bytes_and_resumes(tus: Tus, server: LiveServer):
    data = noise_image(400, 400)  # about 480 KB: two full pieces and a short one
    half = len(data) // 2 + 1234
    url = tus.create_url(
        len(data), **{"Upload-Metadata": metadata(filename="cut.png", filetype="image/png")}
    )
    send_half_and_hang_up(server, url, data, half)

    offset = wait_for_offset(tus, url, half)
    assert offset == half  # every byte that arrived, the last piece shorter than a chunk
    objects = server.chunk_objects(upload_id_of(url))
    assert len(objects) == -(-half // CHUNK)

    response = tus.patch(url, offset, data[offset:])
    assert response.status_code == 204, response.text
    assert response.headers["Upload-Offset"] == str(len(data))
    with server.client(1) as client:
        media = client.complete(upload_id_of(url), md5_of(data))
        assert media.status_code == 201, media.text

    assert httpx.get(media.json()["image"]).content == data
