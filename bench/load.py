"""The load process: ``python -m bench.load SPEC.json`` drives one scenario and prints JSON.

It runs apart from the server (its own process, its own CPU), on uvloop with raw
asyncio streams: every request is written from bytes built before the clock
starts (the multipart envelope and the chunk's bytes are shared by every upload;
only the request head and the small ``upload_id`` part are made per request),
and responses are parsed by hand. httpx would cost this process about 0.35 ms of
CPU per chunk and cap the figures on a 2-core machine.

A scenario is ``rounds`` rounds; in each, ``uploads`` uploads run at once, each
sending its first chunk and then the rest with ``parallel`` requests in flight
(one keep-alive connection each); when every upload of the round has all its
chunks stored, the round's completes are sent at once. The server tree's CPU
time is read from /proc at each phase boundary, so the chunk phase and the
completion phase are accounted for apart.

Protocols: ``chunkup`` (and ``floor``: the same chunk requests, no complete),
``drf`` (drf-chunked-upload: PUT with Content-Range and a ``file`` part, POST
md5 to complete) and ``tus`` (POST create with Upload-Length, PATCH pieces).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from bench import procs

BOUNDARY = "chunkupbenchboundary7d0a9c"
REQUEST_TIMEOUT = 120.0


class HttpError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1, reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = False

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.used = False

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, parts: list[bytes | memoryview]) -> Response:
        for attempt in (1, 2):
            if self.writer is None:
                await self._open()
            reused = self.used
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    self.writer.writelines(parts)
                    response = await self._read()
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.close()
                if reused and attempt == 1:
                    continue  # a keep-alive connection the server had closed: once more
                raise HttpError(f"connection: {exc!r}") from exc
            except TimeoutError as exc:
                self.close()
                raise HttpError("request timed out") from exc
            self.used = True
            if response.headers.get(b"connection", b"").lower() == b"close":
                self.close()
            return response
        raise AssertionError("unreachable")

    async def _read(self) -> Response:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if status in (204, 304) or status < 200:
            body = b""
        elif b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            pieces = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                pieces.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(pieces)
        else:
            body = await self.reader.read()
            headers[b"connection"] = b"close"
        return Response(status, headers, body)


def _head(method: str, path: str, port: int, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _file_part(field_name: str, filename: str, data: memoryview) -> list[bytes | memoryview]:
    return [
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field_name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode(),
        data,
        f"\r\n--{BOUNDARY}--\r\n".encode(),
    ]


def _text_part(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


@dataclass
class Stats:
    chunk_latencies: list[float] = field(default_factory=list)
    other_latencies: list[float] = field(default_factory=list)  # tus create
    complete_latencies: list[float] = field(default_factory=list)
    chunks: int = 0
    bytes: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    media_ids: list = field(default_factory=list)  # what cleanup removes
    open_uploads: list = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text[:300])


class Protocol:
    """How one system is spoken: chunk requests, completion, cleanup."""

    has_complete = True

    def __init__(self, spec: dict, data: bytes) -> None:
        self.spec = spec
        self.port = spec["port"]
        self.data = memoryview(data)
        self.total = len(data)
        self.chunk = spec["chunk"]
        self.md5 = hashlib.md5(data).hexdigest()
        self.starts = list(range(0, self.total, self.chunk))
        self.filename = spec["filename"]

    def piece(self, index: int) -> memoryview:
        start = self.starts[index]
        return self.data[start : start + self.chunk]

    async def create(self, conn: Connection, slot: int, stats: Stats) -> str | None:
        """An upload id before the first chunk (tus), or None (the first chunk makes it)."""
        return None

    async def send_chunk(
        self, conn: Connection, slot: int, index: int, upload_id: str | None
    ) -> str: ...

    async def complete(self, conn: Connection, slot: int, upload_id: str) -> object: ...

    async def cleanup(self, conn: Connection, slot: int, item: object) -> None:
        return None


class Chunkup(Protocol):
    """The SelfCommunity chunk protocol (also what the floor is sent)."""

    def __init__(self, spec: dict, data: bytes) -> None:
        super().__init__(spec, data)
        from chunkup.auth import mint_token

        self.field = spec["field"]
        self.type = spec["type"]
        # one user per upload (every slot of every round: "who"), as many people each
        # uploading a file; the per-user rate limit stays at its
        # default and is never what a figure measures
        self.tokens = [
            mint_token(spec["secret"], spec["user_base"] + who, ttl_seconds=3600)
            if spec.get("secret")
            else "none"
            for who in range(spec["uploads"] * spec["rounds"])
        ]
        self.bodies = [
            _file_part(self.field, self.filename, self.piece(i)) for i in range(len(self.starts))
        ]
        self.body_lengths = [sum(len(p) for p in body) for body in self.bodies]

    async def send_chunk(self, conn, slot, index, upload_id):
        start = self.starts[index]
        end = min(start + self.chunk, self.total) - 1
        extra = _text_part("upload_id", upload_id) if upload_id else b""
        head = _head(
            "POST",
            "/api/v2/media/upload/chunk/",
            self.port,
            {
                "Authorization": f"Bearer {self.tokens[slot]}",
                "Content-Range": f"bytes {start}-{end}/{self.total}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(len(extra) + self.body_lengths[index]),
            },
        )
        response = await conn.request([head + extra, *self.bodies[index]])
        if response.status != 201:
            raise HttpError(f"chunk {index}: {response.status} {response.body[:200]!r}")
        return upload_id or response.json()["upload_id"]

    async def complete(self, conn, slot, upload_id):
        body = urlencode({"upload_id": upload_id, "md5": self.md5, "type": self.type}).encode()
        head = _head(
            "POST",
            "/api/v2/media/upload/complete/",
            self.port,
            {
                "Authorization": f"Bearer {self.tokens[slot]}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": str(len(body)),
            },
        )
        response = await conn.request([head + body])
        if response.status != 201:
            raise HttpError(f"complete: {response.status} {response.body[:200]!r}")
        return ("media", response.json()["id"])

    async def cleanup(self, conn, slot, item):
        what, ident = item
        path = f"/api/v2/media/{ident}/" if what == "media" else f"/api/v2/media/upload/{ident}/"
        head = _head(
            "DELETE",
            path,
            self.port,
            {"Authorization": f"Bearer {self.tokens[slot]}", "Content-Length": "0"},
        )
        await conn.request([head])


class Floor(Chunkup):
    has_complete = False


class Drf(Protocol):
    """drf-chunked-upload: PUT chunks in order, then POST the md5."""

    def __init__(self, spec: dict, data: bytes) -> None:
        super().__init__(spec, data)
        self.token = spec["token"]
        self.bodies = [
            _file_part("file", self.filename, self.piece(i)) for i in range(len(self.starts))
        ]
        self.body_lengths = [sum(len(p) for p in body) for body in self.bodies]

    async def send_chunk(self, conn, slot, index, upload_id):
        start = self.starts[index]
        end = min(start + self.chunk, self.total) - 1
        extra = b"" if upload_id else _text_part("filename", self.filename)
        path = f"/api/chunked_upload/{upload_id}/" if upload_id else "/api/chunked_upload/"
        head = _head(
            "PUT",
            path,
            self.port,
            {
                "Authorization": f"Token {self.token}",
                "Accept": "application/json",
                "Content-Range": f"bytes {start}-{end}/{self.total}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(len(extra) + self.body_lengths[index]),
            },
        )
        response = await conn.request([head + extra, *self.bodies[index]])
        if response.status != 200:
            raise HttpError(f"chunk {index}: {response.status} {response.body[:200]!r}")
        return upload_id or response.json()["id"]

    async def complete(self, conn, slot, upload_id):
        body = urlencode({"md5": self.md5}).encode()
        head = _head(
            "POST",
            f"/api/chunked_upload/{upload_id}/",
            self.port,
            {
                "Authorization": f"Token {self.token}",
                "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": str(len(body)),
            },
        )
        response = await conn.request([head + body])
        if response.status != 200:
            raise HttpError(f"complete: {response.status} {response.body[:200]!r}")
        return None


class Tus(Protocol):
    """tus 1.0.0 core + creation: POST with Upload-Length, then PATCH each piece."""

    has_complete = False

    async def create(self, conn, slot, stats):
        name = base64.b64encode(self.filename.encode()).decode()
        head = _head(
            "POST",
            "/files/",
            self.port,
            {
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(self.total),
                "Upload-Metadata": f"filename {name}",
                "Content-Length": "0",
            },
        )
        began = time.perf_counter()
        response = await conn.request([head])
        stats.other_latencies.append(time.perf_counter() - began)
        if response.status != 201:
            raise HttpError(f"create: {response.status} {response.body[:200]!r}")
        return urlsplit(response.headers[b"location"].decode()).path

    async def send_chunk(self, conn, slot, index, upload_id):
        piece = self.piece(index)
        head = _head(
            "PATCH",
            upload_id,
            self.port,
            {
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(self.starts[index]),
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(len(piece)),
            },
        )
        response = await conn.request([head, piece])
        if response.status != 204:
            raise HttpError(f"patch {index}: {response.status} {response.body[:200]!r}")
        return upload_id


PROTOCOLS = {"chunkup": Chunkup, "floor": Floor, "drf": Drf, "tus": Tus, "tus-node": Tus}


async def _upload_chunks(
    proto: Protocol, conns: list[Connection], slot: int, parallel: int, limit: int, stats: Stats
) -> str | None:
    """Send one upload's chunks (the first alone, then ``parallel`` at once); its id."""
    count = min(len(proto.starts), limit)
    try:
        upload_id = await proto.create(conns[0], slot, stats)
        began = time.perf_counter()
        upload_id = await proto.send_chunk(conns[0], slot, 0, upload_id)
        stats.chunk_latencies.append(time.perf_counter() - began)
        stats.chunks += 1
        stats.bytes += len(proto.piece(0))
    except HttpError as exc:
        stats.error(str(exc))
        return None
    queue = list(range(count - 1, 0, -1))
    failed = False

    async def worker(conn: Connection) -> None:
        nonlocal failed
        while queue and not failed:
            index = queue.pop()
            began = time.perf_counter()
            try:
                await proto.send_chunk(conn, slot, index, upload_id)
            except HttpError as exc:
                stats.error(str(exc))
                failed = True
                return
            stats.chunk_latencies.append(time.perf_counter() - began)
            stats.chunks += 1
            stats.bytes += len(proto.piece(index))

    await asyncio.gather(*(worker(conn) for conn in conns[:parallel]))
    return None if failed else upload_id


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


async def run(spec: dict) -> dict:
    with open(spec["file"], "rb") as handle:
        data = handle.read()
    proto = PROTOCOLS[spec["system"]](spec, data)
    uploads, parallel, rounds = spec["uploads"], spec["parallel"], spec["rounds"]
    limit = spec.get("max_chunks") or len(proto.starts)
    complete = proto.has_complete and not spec.get("max_chunks")
    server = spec["server_pid"]
    # several nodes (bench.cluster): each upload's connections go to them round-robin
    ports = spec.get("ports") or [proto.port]
    conns = [
        [Connection(ports[(slot * parallel + p) % len(ports)]) for p in range(parallel)]
        for slot in range(uploads)
    ]
    stats = Stats()
    # per phase: wall, server user, server system, load user, load system, whole machine busy
    phases = {"chunk": [0.0] * 6, "complete": [0.0] * 6}

    server_pids = procs.tree(server)  # listed once: reading /proc is not the load's CPU
    for other in spec.get("more_servers", []):  # the other nodes of a cluster run
        server_pids += procs.tree(other)
    # CPU of other processes (bench.cluster: each node, PostgreSQL's backends, the
    # storage server), per phase: {name: {"roots": [pid], "cmdline": substring}}
    groups: dict = spec.get("cpu_groups", {})
    group_cpu = {name: {"chunk": 0.0, "complete": 0.0} for name in groups}

    def group_pids(group: dict) -> list[int]:
        pids = [pid for root in group.get("roots", []) for pid in procs.tree(root)]
        if group.get("cmdline"):
            pids += procs.matching(group["cmdline"])
        return pids

    def groups_snapshot() -> dict[str, float]:
        return {name: sum(procs.cpu_times(0, group_pids(g))) for name, g in groups.items()}

    def snapshot(opening: bool) -> list[float]:
        # the server's counters outside the load's own CPU window, on either side
        if opening:
            user, system = procs.cpu_times(server, server_pids)
            busy = procs.machine_busy_seconds()
            own = resource.getrusage(resource.RUSAGE_SELF)
            wall = time.perf_counter()
        else:
            wall = time.perf_counter()
            own = resource.getrusage(resource.RUSAGE_SELF)
            busy = procs.machine_busy_seconds()
            user, system = procs.cpu_times(server, server_pids)
        return [wall, user, system, own.ru_utime, own.ru_stime, busy]

    def account(phase: str, before: list[float], after: list[float]) -> None:
        for i in range(6):
            phases[phase][i] += after[i] - before[i]

    start_memory = procs.memory(server)
    deadline = time.monotonic() + spec["time_limit"]
    rounds_done = 0
    for round_index in range(rounds):
        base = round_index * uploads  # "who": the upload's user, one per upload
        if time.monotonic() > deadline:
            break
        groups_before = groups_snapshot()
        before = snapshot(True)
        ids = await asyncio.gather(
            *(
                _upload_chunks(proto, conns[slot], base + slot, parallel, limit, stats)
                for slot in range(uploads)
            )
        )
        account("chunk", before, snapshot(False))
        for name, seconds in groups_snapshot().items():
            group_cpu[name]["chunk"] += seconds - groups_before[name]
        rounds_done += 1
        if not complete:
            stats.open_uploads += [(base + slot, uid) for slot, uid in enumerate(ids) if uid]
            continue

        async def finish(slot: int, upload_id: str, base: int = base) -> None:
            began = time.perf_counter()
            try:
                item = await proto.complete(conns[slot][0], base + slot, upload_id)
            except HttpError as exc:
                stats.error(str(exc))
                return
            stats.complete_latencies.append(time.perf_counter() - began)
            if item is not None:
                stats.media_ids.append((base + slot, item))

        recorder = None
        if spec.get("profile_complete"):  # bench --profile: py-spy over the completes only
            recorder = subprocess.Popen(
                [*spec["profile_complete"], "-o", f"{spec['profile_out']}.{round_index}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1.5)  # attached and sampling
        groups_middle = groups_snapshot()
        middle = snapshot(True)
        await asyncio.gather(*(finish(slot, uid) for slot, uid in enumerate(ids) if uid))
        account("complete", middle, snapshot(False))
        for name, seconds in groups_snapshot().items():
            group_cpu[name]["complete"] += seconds - groups_middle[name]
        if recorder is not None:
            await asyncio.sleep(0.1)
            procs.stop_recorder(recorder)

    memory = procs.memory(server).as_dict()
    # cleanup, outside every measurement: completed media deleted, open uploads aborted
    if spec.get("cleanup") and isinstance(proto, Chunkup) and not isinstance(proto, Floor):
        items = list(stats.media_ids)
        items += [(slot, ("upload", uid)) for slot, uid in stats.open_uploads]
        for who, item in items:
            try:
                await proto.cleanup(conns[who % uploads][0], who, item)
            except HttpError as exc:
                stats.error(f"cleanup: {exc}")
    for row in conns:
        for conn in row:
            conn.close()

    lat = stats.chunk_latencies
    n = stats.chunks
    chunk_wall, s_user, s_sys, l_user, l_sys, busy = phases["chunk"]
    complete_wall, c_user, c_sys, cl_user, cl_sys, _ = phases["complete"]
    # CPU that neither the server nor this process used while chunks were sent: other work
    # on the machine (another test run...) that the figures of this scenario shared cores with
    others = max(0.0, busy - s_user - s_sys - l_user - l_sys)
    server_chunk_cpu, server_complete_cpu = s_user + s_sys, c_user + c_sys

    def per_chunk(seconds: float) -> float | None:
        return round(seconds * 1000 / n, 3) if n else None

    result = {
        "rounds_done": rounds_done,
        "uploads_total": rounds_done * uploads,
        "chunks": n,
        "bytes": stats.bytes,
        "chunk_wall_s": round(chunk_wall, 3),
        "chunks_per_s": round(n / chunk_wall, 1) if chunk_wall else None,
        "mb_per_s": round(stats.bytes / 1e6 / chunk_wall, 1) if chunk_wall else None,
        "latency_p50_ms": _ms(_percentile(lat, 50)),
        "latency_p99_ms": _ms(_percentile(lat, 99)),
        "latency_max_ms": _ms(max(lat) if lat else None),
        "completes": len(stats.complete_latencies),
        "complete_wall_s": round(complete_wall, 3),
        "complete_p50_ms": _ms(_percentile(stats.complete_latencies, 50)),
        "complete_max_ms": _ms(max(stats.complete_latencies) if stats.complete_latencies else None),
        "create_p50_ms": _ms(_percentile(stats.other_latencies, 50)),
        "server_cpu_chunk_phase_s": round(server_chunk_cpu, 3),
        "server_cpu_complete_phase_s": round(server_complete_cpu, 3),
        "server_cpu_ms_per_chunk": per_chunk(server_chunk_cpu),
        "server_user_ms_per_chunk": per_chunk(s_user),
        "server_sys_ms_per_chunk": per_chunk(s_sys),
        "server_cpu_ms_per_chunk_all_in": per_chunk(server_chunk_cpu + server_complete_cpu),
        "server_cpu_ms_per_complete": (
            round(server_complete_cpu * 1000 / len(stats.complete_latencies), 1)
            if stats.complete_latencies
            else None
        ),
        "server_cpu_s_per_gb": (
            round((server_chunk_cpu + server_complete_cpu) / (stats.bytes / 1e9), 2)
            if stats.bytes
            else None
        ),
        "server_busy_cores": round(server_chunk_cpu / chunk_wall, 2) if chunk_wall else None,
        "load_cpu_chunk_phase_s": round(l_user + l_sys, 3),
        "load_cpu_complete_phase_s": round(cl_user + cl_sys, 3),
        "load_cpu_ms_per_chunk": per_chunk(l_user + l_sys),
        "load_user_ms_per_chunk": per_chunk(l_user),
        "load_sys_ms_per_chunk": per_chunk(l_sys),
        "load_busy_cores": round((l_user + l_sys) / chunk_wall, 2) if chunk_wall else None,
        "other_busy_cores": round(others / chunk_wall, 2) if chunk_wall else None,
        "errors": stats.errors,
        "error_samples": stats.error_samples,
        "rss_start_max_mb": round(start_memory.hwm_max_mb, 1),
        "rss_start_sum_mb": round(start_memory.rss_sum_mb, 1),
        **memory,
    }
    completes = len(stats.complete_latencies)
    for name, cpu in group_cpu.items():
        result[f"{name}_cpu_ms_per_chunk"] = per_chunk(cpu["chunk"])
        result[f"{name}_cpu_ms_per_complete"] = (
            round(cpu["complete"] * 1000 / completes, 1) if completes else None
        )
    result["complete_ms_per_upload"] = (
        round(complete_wall * 1000 / completes, 1) if completes else None
    )
    return result


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    import uvloop

    async def bounded() -> dict:
        async with asyncio.timeout(spec["time_limit"] + 120):
            return await run(spec)

    result = uvloop.run(bounded())
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
