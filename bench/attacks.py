"""Every attack of issue 14 against a real server: its answer, its cost and the limit.

Run from the repository root: ``.venv/bin/python -m bench.attacks`` (``make
bench-attacks``); about a minute, most of it waiting out the HTTP timeouts
at their defaults (10 s for headers, 5 s keep-alive). Starts ``chunkup serve
--workers 1`` (its own temp data dir, SQLite, local disk, default limits, and
``CHUNKUP_METRICS_TOKEN`` set), then runs each attack with raw sockets or
httpx and records:

- the answer: status and error ``code``, or ``closed``;
- the wall time until that answer or close (for an upload: the complete call);
- the worker's peak RSS over its RSS just before the attack (``VmHWM`` after
  ``/proc/PID/clear_refs`` = 5, minus ``VmRSS`` at the reset), so a figure is
  what the attack cost the one process that serves everybody;
- the limit that answers it: the setting and its default (``settings.py``).

The per-chunk latency at chunk 6000 needs more chunks than the default
``upload_chunk_factor`` allows one upload, so that run gets a second server
with the factor raised to 32 (the default server shows the refusal).

Not a test: the tests assert these answers (tests/robustness/, tests/media/
test_bombs.py, tests/tus/test_refused_final.py); this prints the figures for
the issue's closing note and writes ``bench/results/attacks.md`` and ``.json``.
An attack that fails to run gets a row saying why; the others still run.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from bench import procs
from chunkup.auth import mint_token
from chunkup.settings import Settings
from tests.media import bombs
from tests.robustness.test_hostile_input import (
    RawResponse,
    bystander_for,
    head,
    read_response,
)
from tests.robustness.test_http_limits import (
    connection_is_closed_or_answered,
    send_while_reading,
)
from tests.robustness.test_http_limits import get as raw_get
from tests.robustness.test_no_5xx import claims
from tests.robustness.test_no_5xx import token as hand_made_token
from tests.support import (
    SECRET,
    ChunkClient,
    ServerProcess,
    md5_of,
    noise_image,
    pdf_document,
    start_upload,
    starts_like,
)
from tests.tus.conftest import TUS, Tus, metadata
from tests.tus.test_concatenation import send_partials

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MiB = 1024 * 1024
METRICS_TOKEN = "bench-metrics-token"
DOCUMENT = 50 * MiB  # the largest document: the most room for gaps
T = TypeVar("T")
Answer = httpx.Response | RawResponse | None


@dataclass
class Row:
    item: str  # the attack, numbered as in the brief
    attack: str
    answer: str
    seconds: float | None
    peak_mib: float | None  # the worker's peak RSS over its RSS before the attack
    limit: str
    note: str = ""


# -- the server and its worker ----------------------------------------------------------


def _status_bytes(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} for process {pid}")


def _address_space_cap(pid: int) -> str:
    """``Max address space`` of ``/proc/PID/limits`` (soft limit), in MiB."""
    for row in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if row.startswith("Max address space"):
            soft = row[26:].split()[0]
            return soft if soft == "unlimited" else f"{int(soft) // MiB} MiB"
    return "?"


@dataclass
class Target:
    """A running ``chunkup serve --workers 1``: the worker is the process itself."""

    server: ServerProcess
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def pid(self) -> int:
        return int(self.server.process.pid)

    def token(self, user_id: int) -> str:  # what tests.tus.conftest.Tus asks its server for
        return mint_token(SECRET, user_id)

    def client(self, user_id: int) -> ChunkClient:
        headers = {"Authorization": f"Bearer {self.token(user_id)}"}
        return ChunkClient(httpx.Client(base_url=self.url, headers=headers, timeout=120), user_id)

    def measure(self, action: Callable[[], T]) -> tuple[T, float, float]:
        """``action``'s result, wall seconds, and the worker's peak RSS over its RSS
        before it, in MiB (the peak marks of the worker and its children are reset)."""
        procs.reset_peak_rss(self.pid)
        before = _status_bytes(self.pid, "VmRSS")
        started = time.monotonic()
        result = action()
        seconds = time.monotonic() - started
        peak = _status_bytes(self.pid, "VmHWM")
        return result, round(seconds, 3), round((peak - before) / MiB, 1)

    def sandbox_children(self) -> str:
        """The PDF sandbox's children now: each one's peak RSS (since the last reset)
        and the address-space cap the OS holds it to."""
        found = []
        for pid in procs.tree(self.pid)[1:]:
            try:
                peak = _status_bytes(pid, "VmHWM") / MiB
                found.append(f"child peak {peak:.0f} MiB, RLIMIT_AS {_address_space_cap(pid)}")
            except (OSError, RuntimeError):
                continue  # gone meanwhile
        return (
            "; ".join(found)
            or "its sandbox child failed within its caps and was discarded (none alive after)"
        )


@contextmanager
def running(**env: str) -> Iterator[Target]:
    with tempfile.TemporaryDirectory(prefix="chunkup-attacks-") as cwd:
        data_dir = Path(cwd) / "data"
        environment = {"CHUNKUP_JWT_SECRET": SECRET, "CHUNKUP_DATA_DIR": str(data_dir), **env}
        server = ServerProcess(Path(cwd), "--log-level", "warning", env=environment).start()
        try:
            yield Target(server, data_dir)
        finally:
            server.stop()


# -- answers and limits -----------------------------------------------------------------


def answer_of(response: Answer) -> str:
    """``status code`` (the contract's error code when the body has one), or ``closed``."""
    if response is None:
        return "closed"
    body = response.content if isinstance(response, httpx.Response) else response.body
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        code = None
    return f"{response.status_code} {code}" if code else str(response.status_code)


def limit(*names: str) -> str:
    """``CHUNKUP_NAME=default`` for each setting, as settings.py declares it."""
    shown = []
    for name in names:
        default = Settings.model_fields[name].get_default(call_default_factory=True)
        if default is None or isinstance(default, SecretStr):
            default = "unset"
        shown.append(f"CHUNKUP_{name.upper()}={default}")
    return ", ".join(shown)


# -- 1-3: bombs ---------------------------------------------------------------------------

PDF_LIMIT = limit("pdf_memory_limit_mb", "pdf_time_limit_s")


def complete_bomb(
    target: Target, user: int, data: bytes, field: str, filename: str
) -> tuple[httpx.Response, float, float]:
    """Upload ``data`` in chunks, then complete it, measured."""
    with target.client(user) as client:
        upload_id = client.upload_chunks(data, field=field, filename=filename)
        return target.measure(lambda: client.complete(upload_id, md5_of(data)))


def pdf_row(target: Target, item: str, name: str, data: bytes, inflated: str) -> Row:
    response, seconds, peak = complete_bomb(target, 1, data, "document", "bomb.pdf")
    shown = answer_of(response)
    if response.status_code == 201:
        shown += " (no preview)" if response.json()["image"] is None else " (with preview)"
    attack = f"PDF {name} bomb, {len(data) / 1000:.0f} KB inflating to {inflated}"
    return Row(item, attack, shown, seconds, peak, PDF_LIMIT, target.sandbox_children())


def bombs_rows(target: Target) -> list[Row]:
    # what a worker loads on its first PDF and image is not a bomb's cost
    complete_bomb(target, 1, pdf_document(1, 60, 80), "document", "warm.pdf")
    complete_bomb(target, 1, bombs.png_text_bomb(1, 10), "image", "warm.png")
    rows = [pdf_row(target, "1", "content-stream", bombs.content_stream_bomb(), "200 MiB")]
    for kind in ("image", "font", "icc profile"):
        data = bombs.PDF_BOMBS[kind]()
        inflated = "2 x 256 MB (16000² image and soft mask)" if kind == "image" else "200 MiB"
        rows.append(pdf_row(target, "1", kind, data, inflated))
    rows.append(
        pdf_row(target, "2", "content-stream", bombs.content_stream_bomb(1024 * MiB), "1 GiB")
    )
    rows.append(pdf_row(target, "2", "object-stream", bombs.object_stream_bomb(), "200 MiB"))
    normal = pdf_document(3, 300, 400)
    response, seconds, peak = complete_bomb(target, 1, normal, "document", "normal.pdf")
    shown = answer_of(response) + (" (with preview)" if response.json().get("image") else "")
    attack = f"a normal 3-page PDF, {len(normal) / 1000:.0f} KB (for comparison)"
    rows.append(Row("1", attack, shown, seconds, peak, PDF_LIMIT, target.sandbox_children()))
    pixels, text = bombs.png_pixel_bomb(), bombs.png_text_bomb()
    for data, name, attack, bound in (
        (
            pixels,
            "pixels.png",
            f"PNG 30000x30000 (900 MP) in {len(pixels)} B",
            limit("image_max_pixels"),
        ),
        (
            text,
            "text.png",
            f"PNG 64x64 with zTXt inflating to 60 MiB, {len(text) / 1000:.0f} KB",
            "PNG text at most 4 MiB (fixed)",
        ),
    ):
        response, seconds, peak = complete_bomb(target, 1, data, "image", name)
        rows.append(Row("3", attack, answer_of(response), seconds, peak, bound))
    return rows


# -- 4: HTTP without a token ------------------------------------------------------------


def connect(target: Target) -> socket.socket:
    return socket.create_connection(("127.0.0.1", target.port), timeout=30)


def wait_for_close(sock: socket.socket, within: float) -> tuple[bool, bytes]:
    """Whether the server closes ``sock`` within ``within`` seconds, and what it sent."""
    received, deadline = b"", time.monotonic() + within
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            block = sock.recv(65536)
            if not block:
                return True, received
            received += block
    except TimeoutError:
        return False, received
    except (ConnectionResetError, BrokenPipeError):
        return True, received
    return False, received


def header_line_a_second(target: Target) -> tuple[Answer, int]:
    with connect(target) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        lines, started = 0, time.monotonic()
        try:
            while time.monotonic() - started < 60:
                sock.sendall(b"X-%d: v\r\n" % lines)
                lines += 1
                if connection_is_closed_or_answered(sock, wait=1.0):  # the attack's pace
                    break
        except OSError:
            pass  # closed while we were writing
        sock.settimeout(5)
        return read_response(sock), lines


def silent_connection(target: Target) -> str:
    with connect(target) as sock:
        closed, sent = wait_for_close(sock, 60)
    if not closed:
        return "still open after 60 s"
    return "closed" if not sent else f"closed after {sent.split(b' ', 2)[1].decode()}"


def idle_keep_alive(target: Target) -> tuple[str, float]:
    with connect(target) as sock:
        sock.sendall(raw_get("/healthz", close=False))
        response = read_response(sock)
        assert response is not None and response.status_code == 200, response
        started = time.monotonic()
        closed, _ = wait_for_close(sock, 60)
    return ("closed" if closed else "open after 60 s"), round(time.monotonic() - started, 3)


def many_idle_connections(target: Target) -> tuple[float, str]:
    """100 idle connections and 100 that sent a request line, then another user's
    upload: its time, and when the 200 were closed."""
    token = mint_token(SECRET, 1)
    started = time.monotonic()
    with ExitStack() as stack:
        idle = [stack.enter_context(connect(target)) for _ in range(100)]
        slow = [stack.enter_context(connect(target)) for _ in range(100)]
        for sock in slow:
            sock.sendall(head(token).split(b"\r\n", 1)[0] + b"\r\n")
        with bystander_for(target.server) as bystander:
            upload_started = time.monotonic()
            bystander.finish()
            upload = round(time.monotonic() - upload_started, 3)
        closed_at: list[float] = []

        def close_time(sock: socket.socket) -> None:
            if wait_for_close(sock, 30)[0]:
                closed_at.append(time.monotonic() - started)

        waits = [threading.Thread(target=close_time, args=(s,)) for s in idle + slow]
        for wait in waits:
            wait.start()
        for wait in waits:
            wait.join()
    last = f"{max(closed_at):.1f} s" if closed_at else "-"
    return upload, f"{len(closed_at)} of 200 closed, the last after {last}"


def http_rows(target: Target) -> list[Row]:
    rows = []
    header_limit = limit("http_header_timeout")
    (response, lines), seconds, peak = target.measure(lambda: header_line_a_second(target))
    rows.append(
        Row(
            "4",
            "headers, one line a second",
            answer_of(response),
            seconds,
            peak,
            header_limit,
            f"{lines} lines sent",
        )
    )
    shown, seconds, peak = target.measure(lambda: silent_connection(target))
    rows.append(Row("4", "a connection that sends nothing", shown, seconds, peak, header_limit))
    big = [
        (
            "a 32 MiB header line",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (32 * MiB) + b"\r\n\r\n",
            limit("http_max_head_bytes"),
        ),
        (
            "100 000 header lines",
            b"GET /healthz HTTP/1.1\r\n"
            + b"".join(b"X-%d: v\r\n" % i for i in range(100_000))
            + b"\r\n",
            limit("http_max_header_fields", "http_max_head_bytes"),
        ),
        (
            "a 32 MiB URL",
            b"GET /healthz?q=" + b"a" * (32 * MiB) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            limit("http_max_url_bytes"),
        ),
    ]
    for label, payload, setting in big:
        (response, elapsed), _, peak = target.measure(
            lambda p=payload: send_while_reading(target.port, p)  # type: ignore[misc]
        )
        rows.append(Row("4", label, answer_of(response), round(elapsed, 3), peak, setting))
    (shown, after), _, peak = target.measure(lambda: idle_keep_alive(target))
    rows.append(
        Row(
            "4",
            "an idle keep-alive connection (time: after its answer)",
            shown,
            after,
            peak,
            limit("http_keep_alive_timeout"),
        )
    )
    (upload, closed), _, peak = target.measure(lambda: many_idle_connections(target))
    rows.append(
        Row(
            "4",
            "200 idle or slow connections + one upload (time: the upload's)",
            "upload 201",
            upload,
            peak,
            limit("http_max_connections", "http_header_timeout"),
            closed,
        )
    )
    return rows


# -- 5: tiny chunks -----------------------------------------------------------------------


def disk_bytes(directory: Path) -> int:
    """The blocks the files under ``directory`` take on disk, in bytes."""
    return sum(p.stat().st_blocks * 512 for p in directory.rglob("*") if p.is_file())


def one_byte_chunks(target: Target) -> Row:
    total = 10_000
    with target.client(105) as client:
        upload_id = start_upload(client, total=total, size=1)

        def send_until_refused() -> tuple[int, httpx.Response, float]:
            for start in range(1, 200):
                began = time.monotonic()
                response = client.chunk(b"t", start, total, upload_id=upload_id)
                if response.status_code != 201:
                    return start, response, time.monotonic() - began
            raise RuntimeError("199 one-byte chunks were all accepted")

        (accepted, refused, seconds), _, peak = target.measure(send_until_refused)
    taken = disk_bytes(target.data_dir / "storage" / "chunks" / upload_id)
    return Row(
        "5",
        f"1-byte chunks of a {total}-byte upload (time: the refused one)",
        f"201 x{accepted}, then {answer_of(refused)}",
        round(seconds, 3),
        peak,
        limit("upload_chunk_factor"),
        f"{accepted} bytes take {taken / 1024:.0f} KiB on disk ({taken // accepted} B a chunk)",
    )


def gapped_chunks(target: Target) -> Row:
    with target.client(106) as client:
        first = client.chunk(starts_like(b"x" * 10, "document"), 0, DOCUMENT, field="document")
        assert first.status_code == 201, first.text
        upload_id = first.json()["upload_id"]

        def send_until_refused() -> tuple[int, httpx.Response, float]:
            for n in range(2, 200):
                data, start = b"x" * 10, (n - 1) * 20
                began = time.monotonic()
                response = client.chunk(
                    data, start, DOCUMENT, upload_id=upload_id, field="document"
                )
                if response.status_code != 201:
                    return n, response, time.monotonic() - began
            raise RuntimeError("199 gapped chunks were all accepted")

        (refused_at, refused, seconds), _, peak = target.measure(send_until_refused)
        status = client.status(upload_id)
    return Row(
        "5",
        "10-byte chunks, each after a gap (time: the refused one)",
        f"{answer_of(refused)} at chunk {refused_at}",
        round(seconds, 3),
        peak,
        limit("upload_max_ranges"),
        f"status answer {len(status.content)} B with {len(status.json()['ranges'])} ranges",
    )


def held_starts() -> list[int]:
    """64 ranges spread over the document, then chunks that each extend one of them:
    5999 chunks after the first, the most ranges allowed held all along."""
    stride = DOCUMENT // 64
    starts = [g * stride for g in range(1, 64)]
    step = 1
    while len(starts) < 5999:
        starts += [g * stride + step * 10 for g in range(64)][: 5999 - len(starts)]
        step += 1
    return starts


def chunk_6000_latency(target: Target) -> Row:
    with target.client(107) as client:
        first = client.chunk(starts_like(b"x" * 10, "document"), 0, DOCUMENT, field="document")
        assert first.status_code == 201, first.text
        upload_id = first.json()["upload_id"]

        def send_all() -> tuple[list[float], dict[str, int]]:
            times: list[float] = []
            outcomes: dict[str, int] = {}
            for start in held_starts():
                began = time.perf_counter()
                response = client.chunk(
                    b"x" * 10, start, DOCUMENT, upload_id=upload_id, field="document"
                )
                times.append((time.perf_counter() - began) * 1000)
                outcomes[answer_of(response)] = outcomes.get(answer_of(response), 0) + 1
            return times, outcomes

        (times, outcomes), seconds, peak = target.measure(send_all)
        ranges = len(client.status(upload_id).json()["ranges"])
    early, late = statistics.median(times[:20]), statistics.median(times[-20:])
    return Row(
        "5",
        "6000 10-byte chunks holding 64 ranges (time: the whole run)",
        ", ".join(f"{k} x{v}" for k, v in outcomes.items()),
        seconds,
        peak,
        limit("upload_max_ranges")
        + "; this run: CHUNKUP_UPLOAD_CHUNK_FACTOR=32, CHUNKUP_RATE_LIMIT_PER_SECOND=0",
        f"median per chunk: chunks 2-21 {early:.2f} ms, chunks 5981-6000 {late:.2f} ms "
        f"(HTTP, keep-alive); {ranges} ranges held",
    )


# -- 6-10 ---------------------------------------------------------------------------------


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def unknown_upload_ids(target: Target) -> Row:
    before = files_under(target.data_dir)

    def send() -> list[str]:
        with target.client(108) as client:
            return [
                answer_of(client.chunk(b"x" * 100, 100, 300, upload_id=secrets.token_hex(16)))
                for _ in range(20)
            ]

    answers, seconds, peak = target.measure(send)
    left = sorted(files_under(target.data_dir) - before)
    return Row(
        "6",
        "20 chunks for unknown upload ids (time: all 20)",
        " / ".join(sorted(set(answers))),
        seconds,
        peak,
        "- (ownership checked before storage)",
        f"paths under the data dir: {len(before)} before, {len(before) + len(left)} after"
        + (f" (new: {', '.join(left[:5])})" if left else ""),
    )


def refused_tus_final(target: Target) -> Row:
    tus = Tus(target, 109)  # type: ignore[arg-type]  # it asks only for .url and .token()
    try:
        data = pdf_document(pages=1)
        urls = send_partials(tus, data, 3)
        final = "final;" + " ".join(urls)
        as_image = {
            "Upload-Concat": final,
            "Upload-Metadata": metadata(filename="a.pdf", type="image"),
        }
        refused, seconds, peak = target.measure(lambda: tus.http.post(TUS, headers=as_image))
        joinable = 0
        for url in urls:
            answer = tus.head(url)
            whole = answer.headers.get("Upload-Offset") == answer.headers.get("Upload-Length")
            if answer.status_code == 200 and answer.headers.get("Upload-Concat") == "partial":
                joinable += whole
        as_doc = {"Upload-Concat": final, "Upload-Metadata": metadata(filename="a.pdf", type="doc")}
        again = tus.http.post(TUS, headers=as_doc)
    finally:
        tus.close()
    location = refused.headers.get("Location")
    return Row(
        "7",
        "tus final of 3 PDF partials with type=image",
        answer_of(refused),
        seconds,
        peak,
        "-",
        f"Location: {'yes' if location else 'none'}; {joinable} of 3 partials still whole and "
        f"joinable; joined again with type=doc: {answer_of(again)}",
    )


def former_500s(target: Target) -> list[Row]:
    auth = {"Authorization": f"Bearer {target.token(110)}"}
    rows = []
    with target.client(110) as client:
        media = client.upload(noise_image(40, 30), filename="f.png")
        assert media.status_code == 201, media.text
        file_url = media.json()["image"]

        def odd_token() -> httpx.Response:
            bad = hand_made_token(claims(user_id=2**63))
            return client.http.get("/api/v2/media/", headers={"Authorization": f"Bearer {bad}"})

        def huge_range() -> httpx.Response:
            return httpx.get(file_url, headers={"Range": "bytes=" + "9" * 4301 + "-"})

        def far_expires() -> httpx.Response:
            expires = "9999-12-31T23:59:59-14:00"
            return client.chunk(starts_like(b"a" * 10), 0, 100, extra={"expires": expires})

        def deep_json() -> httpx.Response:
            return client.http.post(
                "/api/v2/media/upload/complete/",
                content=b"[" * 16_000,
                headers={**auth, "Content-Type": "application/json"},
            )

        def bad_concat() -> httpx.Response:
            headers = {**auth, "Tus-Resumable": "1.0.0", "Upload-Concat": "final;http://[bad/"}
            return client.http.post(TUS, headers=headers)

        cases: list[tuple[str, Callable[[], httpx.Response]]] = [
            ("a signed token whose user_id is 2^63", odd_token),
            ("Range: bytes=<4301 digits>- on a public file URL (no token)", huge_range),
            ("expires=9999-12-31T23:59:59-14:00 on a first chunk", far_expires),
            ("a complete body of 16 000 '['", deep_json),
            ("tus Upload-Concat: final;http://[bad/", bad_concat),
        ]
        for label, call in cases:
            response, seconds, peak = target.measure(call)
            note = ""
            if response.status_code == 201 and "expires" in response.json():
                note = f"expires clamped to {response.json()['expires']}"
            rows.append(Row("8", label, answer_of(response), seconds, peak, "-", note))
    return rows


def media_id_reuse(target: Target) -> Row:
    with target.client(111) as client:
        first = client.upload(noise_image(20, 20), filename="a.png")
        assert first.status_code == 201, first.text
        deleted = first.json()["id"]
        gone = client.http.delete(f"/api/v2/media/{deleted}/")
        again, seconds, peak = target.measure(
            lambda: client.upload(noise_image(20, 20), filename="b.png")
        )
    new = again.json().get("id")
    verdict = "larger" if isinstance(new, int) and new > deleted else "NOT larger"
    return Row(
        "9",
        "delete the newest Media, upload again (SQLite; time: the new upload)",
        f"delete {gone.status_code}, upload {answer_of(again)}",
        seconds,
        peak,
        "-",
        f"deleted id {deleted}, new id {new}: {verdict}",
    )


def metrics_rows(target: Target) -> Row:
    def scrape(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{target.url}/metrics", headers=headers)

    without, seconds, peak = target.measure(lambda: scrape(None))
    wrong, right = scrape("not-the-token"), scrape(METRICS_TOKEN)
    return Row(
        "10",
        "/metrics with CHUNKUP_METRICS_TOKEN set",
        f"none: {answer_of(without)}; wrong: {answer_of(wrong)}; right: {answer_of(right)}",
        seconds,
        peak,
        limit("metrics_token"),
        "set for this run",
    )


# -- the run --------------------------------------------------------------------------------


def attempt(item: str, label: str, run: Callable[[], Row | list[Row]]) -> list[Row]:
    """``run``'s rows, or one row saying why it could not run."""
    print(f"[attacks] {item}: {label}", file=sys.stderr, flush=True)
    try:
        rows = run()
    except Exception as exc:  # an attack that cannot run is a row, not the end of the run
        return [Row(item, label, f"not run: {type(exc).__name__}: {exc}", None, None, "-")]
    return rows if isinstance(rows, list) else [rows]


def main() -> None:
    if not Path("/proc/self/clear_refs").exists():
        raise SystemExit("needs Linux /proc (clear_refs) to read the worker's peak memory")
    rows: list[Row] = []
    with running(CHUNKUP_METRICS_TOKEN=METRICS_TOKEN) as target:
        idle_mib = _status_bytes(target.pid, "VmRSS") / MiB
        rows += attempt("1-3", "bombs", lambda: bombs_rows(target))
        rows += attempt("4", "HTTP without a token", lambda: http_rows(target))
        rows += attempt("5", "1-byte chunks", lambda: one_byte_chunks(target))
        rows += attempt("5", "gapped chunks", lambda: gapped_chunks(target))
        rows += attempt("6", "unknown upload ids", lambda: unknown_upload_ids(target))
        rows += attempt("7", "refused tus final", lambda: refused_tus_final(target))
        rows += attempt("8", "former 500s", lambda: former_500s(target))
        rows += attempt("9", "media id reuse", lambda: media_id_reuse(target))
        rows += attempt("10", "/metrics", lambda: metrics_rows(target))
    with running(CHUNKUP_UPLOAD_CHUNK_FACTOR="32", CHUNKUP_RATE_LIMIT_PER_SECOND="0") as target:
        rows += attempt("5", "chunk 6000", lambda: chunk_6000_latency(target))
    rows.sort(key=lambda row: int(row.item.split("-")[0]))
    write(rows, idle_mib)


def header() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "commit": commit,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_1min": round(os.getloadavg()[0], 1),  # the machine is shared
        "cores": os.cpu_count(),
    }


def write(rows: list[Row], idle_mib: float) -> None:
    facts = header() | {"worker_idle_rss_mib": round(idle_mib, 1)}
    lines = [
        "| # | attack | answer | time (s) | worker peak over before (MiB) | limit (default) "
        "| notes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = [
            row.item,
            row.attack,
            row.answer,
            "-" if row.seconds is None else f"{row.seconds:.3f}",
            "-" if row.peak_mib is None else f"{row.peak_mib:.1f}",
            row.limit,
            row.note,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    table = "\n".join(lines)
    summary = ", ".join(f"{k} {v}" for k, v in facts.items())
    print(f"{summary}\n\n{table}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "attacks.md").write_text(
        "# Issue 14's attacks: answer, cost, limit (`python -m bench.attacks`)\n\n"
        f"{summary}; one `chunkup serve --workers 1`, SQLite, local disk, default limits.\n\n"
        f"{table}\n"
    )
    (RESULTS / "attacks.json").write_text(
        json.dumps(facts | {"rows": [asdict(row) for row in rows]}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
