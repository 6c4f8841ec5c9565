"""tus's promise: a PATCH cut off half-way keeps what arrived; the client resumes from HEAD."""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support import CHUNK, LiveServer, md5_of, noise_image
from tests.tus.conftest import Tus, metadata, upload_id_of


def send_half_and_hang_up(tus: Tus, url: str, data: bytes, sent: int, extra: str = "") -> None:
    """A raw PATCH (as ``tus``'s user) announcing ``len(data)`` bytes that stops after
    ``sent`` of them."""
    server = tus.server
    path = url.split(str(server.port), 1)[1]
    head = (
        f"PATCH {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token(tus.user_id)}\r\n"
        "Tus-Resumable: 1.0.0\r\n"
        "Upload-Offset: 0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"{extra}"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + data[:sent])
        sock.shutdown(socket.SHUT_WR)  # the end of the body, after every byte sent
        # the server hangs up once it read that end: the bytes before it reached it
        while sock.recv(65536):
            pass


def wait_for_offset(tus: Tus, url: str, at_least: int) -> int:
    deadline = time.monotonic() + 10
    while True:
        offset = int(tus.head(url).headers["Upload-Offset"])
        if offset >= at_least or time.monotonic() > deadline:
            return offset
        time.sleep(0.05)


def test_a_patch_cut_off_half_way_keeps_its_bytes_and_resumes(
    tus: Tus, server: LiveServer, user_id: int
):
    data = noise_image(400, 400)  # about 480 KB: two full pieces and a short one
    half = len(data) // 2 + 1234
    url = tus.create_url(
        len(data), **{"Upload-Metadata": metadata(filename="cut.png", filetype="image/png")}
    )
    send_half_and_hang_up(tus, url, data, half)

    offset = wait_for_offset(tus, url, half)
    assert offset == half  # every byte that arrived, the last piece shorter than a chunk
    pieces = server.chunk_records(upload_id_of(url))
    assert len(pieces) == -(-half // CHUNK)
    assert server.stored_upload_bytes(upload_id_of(url)) == data[:half]

    response = tus.patch(url, offset, data[offset:])
    assert response.status_code == 204, response.text
    assert response.headers["Upload-Offset"] == str(len(data))
    with server.client(user_id) as client:
        media = client.complete(upload_id_of(url), md5_of(data))
        assert media.status_code == 201, media.text

    assert httpx.get(media.json()["image"]).content == data


def test_a_checksummed_patch_cut_off_keeps_nothing(tus: Tus, server: LiveServer):
    data = b"k" * (CHUNK * 2 + 10)
    url = tus.create_url(len(data))
    checksum = "Upload-Checksum: sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()
    send_half_and_hang_up(tus, url, data, CHUNK + 100, extra=checksum + "\r\n")
    upload_id = upload_id_of(url)
    deadline = time.monotonic() + 10
    while server.unreferenced_chunk_bytes(upload_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.unreferenced_chunk_bytes(upload_id) == 0  # stored, then removed
    assert server.chunk_records(upload_id) == []
    assert tus.head(url).headers["Upload-Offset"] == "0"


def test_racing_patches_at_one_offset_never_interleave(server: LiveServer, user_id: int):
    first, second = b"A" * (CHUNK * 3), b"B" * (CHUNK * 3)
    setup = Tus(server, user_id)
    url = setup.create_url(len(first))

    def send(body: bytes) -> int:
        client = Tus(server, user_id)
        try:
            return client.patch(url, 0, body).status_code
        finally:
            client.close()

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(send, [first, second]))
    assert statuses == [204, 409]
    assert setup.head(url).headers["Upload-Offset"] == str(len(first))
    upload_id = upload_id_of(url)
    stored = server.stored_upload_bytes(upload_id)
    assert stored in (first, second)  # every byte from one PATCH, none from the other
    assert server.unreferenced_chunk_bytes(upload_id) == 0
    setup.close()
