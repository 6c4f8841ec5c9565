"""``make bench``: chunkup against the bare-ASGI floor and two peers, over real HTTP.

Every server runs as its own process (its own temp data dir, only 127.0.0.1),
every scenario's load as another process (``bench.load``); the figures, the
targets of issue 5 (PASS/FAIL) and the machine go to stdout and to
``bench/results/latest.json`` (and a Markdown table to ``latest.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench import procs

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
CHUNK = 204800
MiB = 1024 * 1024
CORES = os.cpu_count() or 1

PEERS = {
    # name: (pip packages, what it is)
    "drf": (["drf-chunked-upload", "gunicorn"], "drf-chunked-upload on gunicorn (sync workers)"),
    "tus": (["tuspyserver", "uvicorn", "uvloop", "httptools"], "tuspyserver on uvicorn"),
    # npm packages, locked in bench/peers/tus_node/package-lock.json (npm ci into the work dir)
    "tus-node": (
        ["@tus/server", "@tus/file-store"],
        "@tus/server + @tus/file-store on node:http (one process: Node runs one thread)",
    ),
}
# issue 17: the embedded default (1 worker, U=16, 5 MiB, P=1, chunk phase)
EMBEDDED_CPU_MS = 0.5
EMBEDDED_VS_FLOOR = 0.55
EMBEDDED_P99_MS_BEFORE = 24.0  # p99 at U=16 on main when issue 17 was filed


STARTED = time.monotonic()


def log(text: str) -> None:
    elapsed = f"{time.monotonic() - STARTED:5.0f}s"
    print(text.replace("[bench]", f"[bench {elapsed}]", 1), file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- machine and files


def source_state() -> dict:
    """The commit measured, and whether src/ had uncommitted changes."""

    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return run.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "src")
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "src_uncommitted_changes": len(dirty.splitlines())}


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import uvicorn

    return {
        "cores": CORES,
        "cpu_model": model,
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": os.getloadavg()[0],
        "uvicorn": uvicorn.__version__,
    }


def make_png(path: Path, target: int) -> None:
    """A PNG of random pixels just under ``target`` bytes: it decodes, it does not compress."""
    from PIL import Image

    side = int(math.sqrt(target / 3))
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1)
        if buffer.tell() <= target:
            path.write_bytes(buffer.getvalue())
            return
        side -= 8


def make_pdf(path: Path, size: int) -> None:
    """A valid one-page PDF of exactly ``size`` bytes, its bulk in an unreferenced binary stream.

    The cross-reference table is exact, so a reader finds every object from it (as in
    a real PDF whose bulk is image streams) instead of scanning the file to rebuild it.
    """
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length 0 >>\nstream\n\nendstream",
    ]

    def build(padding: int) -> bytes:
        body, offsets = bytearray(head), []
        for number, text in enumerate(objects, start=1):
            offsets.append(len(body))
            body += b"%d 0 obj\n" % number + text + b"\nendobj\n"
        offsets.append(len(body))
        body += b"5 0 obj\n<< /Length %d >>\nstream\n" % padding
        body += noise[:padding] + b"\nendstream\nendobj\n"
        xref = len(body)
        body += b"xref\n0 6\n0000000000 65535 f \n"
        body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        body += b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
        return bytes(body)

    noise = os.urandom(size)
    padding = size - len(build(0))
    for _ in range(3):  # the /Length and offsets grow by a digit or two: settle
        document = build(padding)
        padding += size - len(document)
    document = build(padding)
    assert len(document) == size, (len(document), size)
    path.write_bytes(document)


def read_md5_seconds(path: Path, repeats: int = 5) -> float:
    """Median time to read the file (page cache warm, as chunkup's chunks are) and MD5 it."""
    times = []
    for _ in range(repeats + 1):
        began = time.perf_counter()
        digest = hashlib.md5()
        with open(path, "rb") as handle:
            while block := handle.read(MiB):
                digest.update(block)
        digest.hexdigest()
        times.append(time.perf_counter() - began)
    times = sorted(times[1:])
    return times[len(times) // 2]


# ---------------------------------------------------------------- servers


class Server:
    """One server process tree: started, probed, stopped by its own pid."""

    def __init__(
        self, name: str, argv: list[str], *, env: dict, port: int, cwd: Path, probe: str
    ) -> None:
        self.name, self.argv, self.env, self.port, self.cwd, self.probe = (
            name,
            argv,
            env,
            port,
            cwd,
            probe,
        )
        self.process: subprocess.Popen | None = None
        self.log_path = cwd / f"{name}-{port}.log"

    def start(self, timeout: float = 90.0) -> Server:
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.probe}", timeout=2)
                return self
            except urllib.error.HTTPError:
                return self  # it answers: up
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer in {timeout:.0f} s: {self.tail()}")

    def tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is None:
            return
        pids = procs.tree(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for pid in pids:  # anything of its own tree left behind: by id
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.process.poll() is None:
            self.process.wait(timeout=10)
        self.log_file.close()
        self.process = None


def chunkup_server(work: Path, workers: int) -> tuple[Server, dict]:
    data = Path(tempfile.mkdtemp(prefix=f"chunkup-w{workers}-", dir=work))
    port = free_port()
    argv = [
        str(VENV_BIN / "chunkup"),
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    server = Server(f"chunkup-w{workers}", argv, env={}, port=port, cwd=work, probe="/healthz")
    server.start()
    secret = (data / "jwt-secret").read_text().strip()  # generated on first start
    return server, {"secret": secret, "data_dir": str(data)}


def uvicorn_argv(python: str | Path, app: str, app_dir: Path, port: int, workers: int) -> list[str]:
    """A uvicorn command line with chunkup's own server settings (uvloop, httptools)."""
    return [
        str(python), "-m", "uvicorn", app, "--app-dir", str(app_dir),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools",
        "--log-level", "warning", "--no-server-header",
    ]  # fmt: skip


def floor_server(work: Path, workers: int) -> tuple[Server, dict]:
    port = free_port()
    argv = uvicorn_argv(sys.executable, "bench.floor:app", ROOT, port, workers)
    server = Server(f"floor-w{workers}", argv, env={}, port=port, cwd=work, probe="/")
    return server.start(), {}


def peer_venv(work: Path, name: str) -> tuple[Path | None, str, dict]:
    """The peer's own virtual environment (made once per work dir): python, status, versions."""
    packages, _ = PEERS[name]
    venv = work / "peers" / name
    python = venv / "bin" / "python"
    stamp = venv / ".bench-installed"
    try:
        if not stamp.exists() or stamp.read_text() != " ".join(packages):
            log(f"[bench] installing peer {name}: {' '.join(packages)} into {venv}")
            if not python.exists():
                subprocess.run(
                    ["python3", "-m", "venv", str(venv)],
                    check=True,
                    capture_output=True,
                    timeout=300,
                )
            done = subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    *packages,
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                lines = [line for line in done.stderr.splitlines() if "WARNING" not in line]
                return None, "pip install failed: " + " ".join(lines[-3:])[:300], {}
            stamp.write_text(" ".join(packages))
        listing = subprocess.run(
            [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        wanted = {
            "drf-chunked-upload",
            "django",
            "djangorestframework",
            "gunicorn",
            "tuspyserver",
            "fastapi",
            "starlette",
            "uvicorn",
        }
        versions = {
            item["name"].lower(): item["version"]
            for item in json.loads(listing.stdout or "[]")
            if item["name"].lower() in wanted
        }
        return python, "ok", versions
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return None, f"could not set up: {exc!r}"[:300], {}


def node_peer(work: Path) -> tuple[Path | None, str, dict]:
    """@tus/server installed from its lock file into the work dir: its folder, status, versions."""
    source = BENCH / "peers" / "tus_node"
    target = work / "peers" / "tus-node"
    target.mkdir(parents=True, exist_ok=True)
    lock = (source / "package-lock.json").read_text()
    try:
        if (
            not (target / "node_modules").exists()
            or (target / "package-lock.json").read_text(errors="replace") != lock
        ):
            log(f"[bench] installing peer tus-node (npm ci) into {target}")
            for name in ("package.json", "package-lock.json", "server.mjs"):
                shutil.copyfile(source / name, target / name)
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                return None, "npm ci failed: " + done.stderr[-300:], {}
        shutil.copyfile(source / "server.mjs", target / "server.mjs")
        versions = {}
        for package in ("server", "file-store"):
            meta = target / "node_modules" / "@tus" / package / "package.json"
            versions[f"@tus/{package}"] = json.loads(meta.read_text())["version"]
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30)
        versions["node"] = node.stdout.strip()
        return target, "ok", versions
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        return None, f"could not set up: {exc!r}"[:300], {}


def tus_node_server(work: Path, folder: Path) -> tuple[Server, dict]:
    data = Path(tempfile.mkdtemp(prefix="tus-node-", dir=work))
    port = free_port()
    server = Server(
        "tus-node",
        ["node", str(folder / "server.mjs")],
        env={"TUS_FILES_DIR": str(data), "PORT": str(port)},
        port=port,
        cwd=work,
        probe="/files/",
    )
    return server.start(), {"data_dir": str(data)}


def drf_server(work: Path, python: Path, workers: int) -> tuple[Server, dict]:
    data = Path(tempfile.mkdtemp(prefix=f"drf-w{workers}-", dir=work))
    site = BENCH / "peers" / "drf_site"
    env = {"DRF_BENCH_DIR": str(data), "PYTHONPATH": str(site)}
    token = subprocess.run(
        [str(python), str(site / "setup_user.py")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    port = free_port()
    argv = [
        str(python.parent / "gunicorn"),
        "benchsite.wsgi",
        "--chdir",
        str(site),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    server = Server(
        f"drf-w{workers}", argv, env=env, port=port, cwd=work, probe="/api/chunked_upload/"
    )
    return server.start(), {"token": token, "data_dir": str(data)}


def tus_server(work: Path, python: Path, workers: int) -> tuple[Server, dict]:
    data = Path(tempfile.mkdtemp(prefix=f"tus-w{workers}-", dir=work))
    port = free_port()
    argv = uvicorn_argv(python, "tus_app:app", BENCH / "peers", port, workers)
    server = Server(
        f"tus-w{workers}",
        argv,
        env={"TUS_FILES_DIR": str(data)},
        port=port,
        cwd=work,
        probe="/files/",
    )
    return server.start(), {"data_dir": str(data)}


# ---------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    system: str
    workers: int
    size: str  # "5MiB" or "50MiB"
    uploads: int
    parallel: int
    rounds: int
    max_chunks: int | None = None  # the memory scenario: stop after this many chunks each
    label: str = ""
    result: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        return (self.workers, self.size, self.uploads, self.parallel, self.max_chunks)

    def as_dict(self) -> dict:
        return {
            "system": self.system,
            "workers": self.workers,
            "size": self.size,
            "uploads": self.uploads,
            "parallel": self.parallel,
            "rounds": self.rounds,
            "max_chunks": self.max_chunks,
            "label": self.label,
            **self.result,
        }


def rounds_for(target_chunks: int, uploads: int, chunks_per_upload: int, cap: int = 60) -> int:
    return max(1, min(cap, round(target_chunks / (uploads * chunks_per_upload))))


def plan(quick: bool, files: dict) -> tuple[list[tuple], list[str]]:
    """(system, workers, size, U, P, max_chunks) tuples and the notes on what was trimmed."""
    chunks = {size: math.ceil(info["bytes"] / CHUNK) for size, info in files.items()}
    worker_counts = sorted({1, CORES})
    notes = [
        "50 MiB uploads run at U=1 and U=16 only (U=64 x 50 MiB would be 3.3 GB a round); "
        "the memory scenario sends 64 x 50 MiB uploads 10 chunks each and leaves them open.",
        "Peers speak sequential protocols (drf-chunked-upload checks each chunk's offset, tus "
        "PATCHes at the current offset): they run with 1 chunk in flight per upload only.",
    ]
    if quick:
        target = peer_target = 300
        ours = [("5MiB", 1, 1), ("5MiB", 16, 1), ("50MiB", 1, 1)]
        floor = [("5MiB", 16, 1)]
        peers = [(CORES, "5MiB", 16)]
        notes.append(
            "--quick: 5 MiB at U=1 and 16 with 1 chunk in flight per upload, 50 MiB at U=1 "
            "only, the floor at U=16, the peers at U=16 with the default worker count; "
            "about 300 chunks a scenario (small samples: use the full run for figures)."
        )
    else:
        target, peer_target = 1000, 700
        ours = [(s, u, p) for s in ("5MiB",) for u in (1, 16, 64) for p in (1, 4)]
        ours += [(s, u, p) for s in ("50MiB",) for u in (1, 16) for p in (1, 4)]
        floor = ours
        peers = [(CORES, "5MiB", 1), (CORES, "5MiB", 16), (CORES, "50MiB", 1)]
        notes.append(
            "The peers (5-10x slower per chunk) run at U=1 and U=16 with 5 MiB and U=1 with "
            "50 MiB, with the default worker count, about 700 chunks a scenario; chunkup and "
            "the floor about 1000 (at least one round of every upload)."
        )
    from chunkup.settings import Settings

    fields = Settings.model_fields
    notes.append(
        "Every upload is made by a user of its own (a token each): the per-user rate limit "
        f"({fields['rate_limit_per_second'].default:g} requests/s, burst "
        f"{fields['rate_limit_burst'].default}) stays at its default and is never what is "
        "measured."
    )
    runs = []
    for workers in worker_counts:
        # the memory scenario first: in-flight memory, before any completion has run
        runs.append(("chunkup", workers, "50MiB", 64, 1, 10, 1))
        for size, u, p in ours:
            runs.append(("chunkup", workers, size, u, p, None, rounds_for(target, u, chunks[size])))
        for size, u, p in floor:
            runs.append(("floor", workers, size, u, p, None, rounds_for(target, u, chunks[size])))
    for peer in PEERS:
        for workers, size, u in peers:
            rounds = rounds_for(peer_target, u, chunks[size])
            runs.append((peer, workers, size, u, 1, None, rounds))
    return runs, notes


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.user_base = 1000
        self.scenarios: list[Scenario] = []
        self.peer_status: dict[str, dict] = {}
        self.deadline = time.monotonic() + args.time_budget
        self.profiles: dict = {}

    def files(self) -> dict:
        files_dir = self.work / "files"
        files_dir.mkdir(exist_ok=True)
        png, pdf = files_dir / "image-5MiB.png", files_dir / "document-50MiB-v2.pdf"
        if not png.exists():
            make_png(png, 5 * MiB)
        if not pdf.exists() or pdf.stat().st_size != 50 * MiB:
            make_pdf(pdf, 50 * MiB)
        return {
            "5MiB": {
                "path": str(png),
                "bytes": png.stat().st_size,
                "field": "image",
                "type": "image",
                "filename": "photo.png",
            },
            "50MiB": {
                "path": str(pdf),
                "bytes": pdf.stat().st_size,
                "field": "document",
                "type": "doc",
                "filename": "report.pdf",
            },
        }

    def load(self, server: Server, spec: dict, *, scenario: Scenario | None) -> dict:
        spec = {**spec, "port": server.port, "server_pid": server.pid, "chunk": CHUNK}
        spec_path = self.work / "spec.json"
        spec_path.write_text(json.dumps(spec))
        quiet = self.wait_quiet()
        procs.reset_peak_rss(server.pid)
        time.sleep(0.2)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "bench.load", str(spec_path)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=spec["time_limit"] + 180,
            )
        except subprocess.TimeoutExpired:
            return {"errors": 1, "error_samples": ["load process timed out"]}
        if done.returncode != 0:
            return {"errors": 1, "error_samples": [done.stderr[-500:]]}
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["other_busy_cores_before"] = quiet
        return result

    def wait_quiet(self) -> float | None:
        """Wait (bounded) for a second in which the machine is nearly idle; its busy cores."""
        wait = self.args.quiet_wait
        if wait is None:
            wait = 0.0 if self.args.quick else 3.0  # --quick: no waiting, only the measure
        if wait <= 0:
            return None
        limit = time.monotonic() + wait
        while True:
            busy0, began = procs.machine_busy_seconds(), time.monotonic()
            time.sleep(1.0)
            busy = (procs.machine_busy_seconds() - busy0) / (time.monotonic() - began)
            if busy < 0.3 or time.monotonic() > limit or time.monotonic() > self.deadline:
                return round(busy, 2)

    def spec(self, system: str, size: str, u: int, p: int, rounds: int, extra: dict) -> dict:
        info = self.files_info[size]
        spec = {
            "system": system,
            "file": info["path"],
            "field": info["field"],
            "type": info["type"],
            "filename": info["filename"],
            "uploads": u,
            "parallel": p,
            "rounds": rounds,
            "user_base": self.user_base,
            "time_limit": self.args.scenario_limit,
            "cleanup": True,
            **extra,
        }
        self.user_base += u * rounds  # a fresh user for every upload
        return spec

    def run_on(self, server: Server, extra: dict, runs: list[tuple]) -> None:
        system = runs[0][0]
        warm = self.spec(system, "5MiB", 2, 2, 1, extra)
        self.load(server, warm, scenario=None)  # every worker imports and opens what it needs
        time.sleep(0.5)
        for system, workers, size, u, p, max_chunks, rounds in runs:
            if time.monotonic() > self.deadline:
                log(f"[bench] time budget spent: {system} w={workers} {size} U={u} P={p} skipped")
                continue
            scenario = Scenario(system, workers, size, u, p, rounds, max_chunks)
            spec = self.spec(system, size, u, p, rounds, {**extra, "max_chunks": max_chunks})
            log(
                f"[bench] {system:8} w={workers} {size:6} U={u:<3} P={p} rounds={rounds}"
                + (f" {max_chunks} chunks each, left open" if max_chunks else "")
            )
            scenario.result = self.load(server, spec, scenario=scenario)
            result = scenario.result
            log(
                f"          {result.get('chunks_per_s')} chunks/s, "
                f"p99 {result.get('latency_p99_ms')} ms, "
                f"server {result.get('server_cpu_ms_per_chunk')} ms CPU/chunk, "
                f"load {result.get('load_cpu_ms_per_chunk')} ms/chunk, "
                f"peak RSS {result.get('peak_rss_max_mb')} MB, errors {result.get('errors')}"
            )
            self.scenarios.append(scenario)
            time.sleep(0.3)

    def run(self) -> dict:
        began = time.time()
        self.files_info = self.files()
        info = machine()
        log(f"[bench] {info['cores']} cores, {info['cpu_model']}, Python {info['python']}")
        baseline = {
            size: round(read_md5_seconds(Path(meta["path"])) * 1000, 1)
            for size, meta in self.files_info.items()
        }
        log(f"[bench] read+MD5 from disk (page cache warm): {baseline} ms")
        runs, notes = plan(self.args.quick, self.files_info)
        by_server: dict[tuple, list[tuple]] = {}
        for run in runs:
            by_server.setdefault((run[0], run[1]), []).append(run)
        # what the targets are judged on first (the default worker count, the floor, the
        # peers), the 1-worker runs last: a spent time budget cuts the least needed
        order = sorted(
            by_server,
            key=lambda k: (k[1] != CORES, {"chunkup": 0, "floor": 1}.get(k[0], 2)),
        )
        for system, workers in order:
            group = by_server[(system, workers)]
            if self.args.only and system not in self.args.only:
                continue
            if system in PEERS:
                if self.args.no_peers:
                    continue
                if system not in self.peer_status:
                    if system == "tus-node":
                        python, status, versions = node_peer(self.work)
                    else:
                        python, status, versions = peer_venv(self.work, system)
                    self.peer_status[system] = {
                        "status": status,
                        "what": PEERS[system][1],
                        "versions": versions,
                        "python": str(python) if python else None,
                    }
                state = self.peer_status[system]
                if state["status"] != "ok":
                    log(f"[bench] peer {system}: {state['status']}")
                    continue
            server, extra = None, {}
            try:
                if system == "chunkup":
                    server, extra = chunkup_server(self.work, workers)
                elif system == "floor":
                    server, extra = floor_server(self.work, workers)
                elif system == "drf":
                    server, extra = drf_server(self.work, Path(state["python"]), workers)
                elif system == "tus-node":
                    server, extra = tus_node_server(self.work, Path(state["python"]))
                else:
                    server, extra = tus_server(self.work, Path(state["python"]), workers)
                log(f"[bench] {server.name} up (pid {server.pid}, port {server.port})")
                self.run_on(server, extra, group)
                if self.args.profile and system == "chunkup" and workers == 1:
                    self.profile(server, extra)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                reason = f"{type(exc).__name__}: {exc}"[:400]
                log(f"[bench] {system} w={workers} failed: {reason}")
                if system in PEERS:
                    self.peer_status[system]["status"] = f"did not run: {reason}"
                else:
                    raise
            finally:
                if server is not None:
                    server.stop()
                if extra.get("data_dir"):
                    shutil.rmtree(extra["data_dir"], ignore_errors=True)
        report = {
            "machine": info,
            "mode": "quick" if self.args.quick else "full",
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(began)),
            "duration_s": round(time.time() - began, 1),
            "chunk_bytes": CHUNK,
            "files": {size: meta["bytes"] for size, meta in self.files_info.items()},
            "read_md5_ms": baseline,
            "source": source_state(),
            "notes": notes,
            "peers": self.peer_status,
            "scenarios": [s.as_dict() for s in self.scenarios],
        }
        if self.profiles:
            report["profiles"] = self.profiles
        report["targets"] = targets(report)
        return report

    def profile(self, server: Server, extra: dict) -> None:
        """py-spy on the 1-worker server: the chunk path (GIL holders), then completions (all)."""
        pyspy = VENV_BIN / "py-spy"
        if not pyspy.exists():
            self.profiles["status"] = "py-spy not found: .venv/bin/pip install py-spy"
            return
        out_dir = self.work / "profiles"  # raw samples: large, kept out of the repository
        out_dir.mkdir(parents=True, exist_ok=True)
        # 16 uploads x 60 chunks, no completion: the chunk request path alone, GIL-holding
        # samples (what costs Python time, whichever thread)
        raw = out_dir / "profile-chunks.txt"
        log(f"[bench] profiling the chunk path with py-spy -> {raw}")
        spec = self.spec("chunkup", "50MiB", 16, 1, 1, {**extra, "max_chunks": 60})
        recorder = subprocess.Popen(
            [
                str(pyspy),
                "record",
                "-p",
                str(server.pid),
                "-r",
                "250",
                "--gil",
                "-f",
                "raw",
                "-o",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.5)
        began = time.perf_counter()
        result = self.load(server, spec, scenario=None)
        seconds = time.perf_counter() - began
        procs.stop_recorder(recorder)
        self.profiles["chunks"] = {
            "what": "16 uploads x 60 chunks of a 50 MiB document, no completion; "
            "samples of the thread holding the GIL",
            "raw": str(raw),
            "chunks_per_s_under_profiler": result.get("chunks_per_s"),
            **summarize_profile(raw, seconds + 1.5, 250),
        }
        # 50 MiB completions one at a time, py-spy attached for the complete requests only;
        # every thread sampled (hashing and file I/O release the GIL): ms per completion
        raw = out_dir / "profile-complete.txt"
        log(f"[bench] profiling 50 MiB completions with py-spy -> {raw}")
        rounds = 4
        spec = self.spec("chunkup", "50MiB", 1, 4, rounds, extra)
        spec["profile_complete"] = [
            str(pyspy),
            "record",
            "-p",
            str(server.pid),
            "-r",
            "250",
            "-f",
            "raw",
        ]
        spec["profile_out"] = str(raw)
        result = self.load(server, spec, scenario=None)
        parts = [Path(f"{raw}.{n}") for n in range(rounds)]
        raw.write_text("".join(p.read_text() for p in parts if p.exists()))
        for part in parts:
            part.unlink(missing_ok=True)
        completes = result.get("completes") or 0
        self.profiles["complete"] = {
            "what": f"{completes} completions of a 50 MiB document, one at a time; samples of "
            "every thread, as milliseconds per completion",
            "raw": str(raw),
            "complete_p50_ms_under_profiler": result.get("complete_p50_ms"),
            **summarize_profile(raw, 0, 250, per=completes),
        }


PROFILE_CATEGORIES = [
    # (name, substrings of a frame); a sample goes to the category of its deepest matching frame
    ("media inspection and previews", ("PIL/", "pypdf/", "pypdfium2/", "chunkup/media/")),
    ("assembly + MD5", ("chunkup/uploads/completion.py", "_compose", "hashlib")),
    ("storage (local disk)", ("chunkup/storage/",)),
    ("database (SQLAlchemy, sqlite3)", ("sqlalchemy/", "aiosqlite/", "sqlite3/", "chunkup/db/")),
    (
        "thread hand-offs (executor, to_thread)",
        ("concurrent/futures/", "asyncio/threads.py", "threading.py", "asyncio/futures.py"),
    ),
    ("multipart parsing", ("python_multipart/", "chunkup/api/multipart.py")),
    ("auth (JWT)", ("jwt/", "chunkup/auth.py")),
    ("upload logic (ranges, keys, service)", ("chunkup/uploads/",)),
    ("responses (JSON, pydantic)", ("pydantic/", "json/", "chunkup/api/schemas.py")),
    ("FastAPI/Starlette: routing, middleware, deps", ("fastapi/", "starlette/", "chunkup/api/")),
    ("uvicorn HTTP protocol", ("uvicorn/", "httptools")),
    ("event loop", ("asyncio/", "uvloop")),
]


IDLE_LEAVES = (
    "_worker (concurrent/futures/thread.py:81)",  # an executor thread waiting for work
    "Runner.run (asyncio/runners.py",  # the event loop in its poll (uvloop: no Python frame)
    "Condition.wait (threading.py",
    "Thread._wait_for_tstate_lock",
)


def _category(frames: list[str]) -> str:
    if any(frames[-1].startswith(leaf) for leaf in IDLE_LEAVES):
        return "waiting (idle threads, event-loop poll)"
    for frame in reversed(frames):
        for name, needles in PROFILE_CATEGORIES:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def summarize_profile(raw: Path, seconds: float, rate: int, top: int = 15, per: int = 0) -> dict:
    """GIL-holding samples by category (deepest matching frame) and the hottest leaf frames."""
    from collections import Counter

    leaves, categories, total = Counter(), Counter(), 0
    try:
        lines = raw.read_text().splitlines()
    except OSError:
        return {"status": "no profile written"}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        leaves[frames[-1]] += int(count)
        categories[_category(frames)] += int(count)
    if not total:
        return {"status": "no samples"}
    summary: dict = {
        "samples": total,
        "by_category": [[round(100 * n / total, 1), c] for c, n in categories.most_common()],
        "self_top": [[round(100 * n / total, 1), f] for f, n in leaves.most_common(top)],
    }
    if seconds:
        summary["gil_held_share"] = round(total / (seconds * rate), 2)
    if per:
        summary["ms_per_item_by_category"] = [
            [round(1000 * n / rate / per, 1), c] for c, n in categories.most_common()
        ]
    return summary


# ---------------------------------------------------------------- report


def _find(report: dict, **want) -> list[dict]:
    rows = []
    for row in report["scenarios"]:
        if all(row.get(k) == v for k, v in want.items()):
            rows.append(row)
    return rows


def _workers(n: int) -> str:
    return f"{n} worker" if n == 1 else f"{n} workers"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return round(a / b, 2)


def annotate(report: dict) -> None:
    """ours ÷ floor and ours ÷ peer throughput, on rows of the same shape."""
    for row in report["scenarios"]:
        if row["system"] == "floor" or row.get("max_chunks"):
            continue
        same = dict(
            workers=row["workers"],
            size=row["size"],
            uploads=row["uploads"],
            parallel=row["parallel"],
        )
        floor = _find(report, system="floor", max_chunks=None, **same)
        if floor:
            row["floor_chunks_per_s"] = floor[0].get("chunks_per_s")
            row["vs_floor"] = _ratio(row.get("chunks_per_s"), floor[0].get("chunks_per_s"))
        if row["system"] == "chunkup":
            for peer in PEERS:
                match = _find(report, system=peer, **same)
                if match:
                    row[f"vs_{peer}"] = _ratio(
                        row.get("chunks_per_s"), match[0].get("chunks_per_s")
                    )


def targets(report: dict) -> list[dict]:
    annotate(report)
    out = []
    w = CORES

    def add(name: str, ok: bool | None, detail: str) -> None:
        out.append(
            {
                "target": name,
                "result": "n/a" if ok is None else "PASS" if ok else "FAIL",
                "detail": detail,
            }
        )

    # 1. throughput at U=16 >= 60 % of the floor
    rows = [
        r
        for r in _find(report, system="chunkup", uploads=16, workers=w, max_chunks=None)
        if r.get("vs_floor") is not None
    ]
    for r in rows:
        add(
            f"U=16 throughput >= 60% of floor ({r['size']}, P={r['parallel']}, {w} workers)",
            r["vs_floor"] >= 0.6,
            f"{r['chunks_per_s']} vs floor {r['floor_chunks_per_s']} chunks/s "
            f"= {r['vs_floor']:.0%}",
        )
    if not rows:
        add("U=16 throughput >= 60% of floor", None, "not measured")
    # 2. each peer's server CPU per chunk >= 3x ours (chunk phase, U=16, 5 MiB, P=1)
    ours = _find(
        report, system="chunkup", uploads=16, size="5MiB", parallel=1, workers=w, max_chunks=None
    )
    for peer in PEERS:
        theirs = _find(report, system=peer, uploads=16, size="5MiB", parallel=1, workers=w)
        status = report["peers"].get(peer, {}).get("status", "not run")
        if not ours or not theirs:
            add(f"{peer} CPU/chunk >= 3x ours", None, status)
            continue
        a, b = ours[0].get("server_cpu_ms_per_chunk"), theirs[0].get("server_cpu_ms_per_chunk")
        ratio = _ratio(b, a)
        add(
            f"{peer} server CPU/chunk >= 3x ours (U=16, 5 MiB, P=1, {w} workers)",
            ratio is not None and ratio >= 3,
            f"{b} ms vs ours {a} ms = {ratio}x",
        )
    # issue 17: the embedded default, 1 worker, U=16, 5 MiB, P=1, chunk phase
    one = _find(
        report, system="chunkup", uploads=16, size="5MiB", parallel=1, workers=1, max_chunks=None
    )
    if one:
        r = one[0]
        cpu, p99 = r.get("server_cpu_ms_per_chunk"), r.get("latency_p99_ms")
        add(
            f"embedded default: server CPU/chunk <= {EMBEDDED_CPU_MS} ms (1 worker, U=16)",
            None if cpu is None else cpu <= EMBEDDED_CPU_MS,
            f"{cpu} ms",
        )
        add(
            f"embedded default: >= {EMBEDDED_VS_FLOOR:.0%} of the floor's chunks/s (1 worker)",
            None if r.get("vs_floor") is None else r["vs_floor"] >= EMBEDDED_VS_FLOOR,
            f"{r.get('chunks_per_s')} vs floor {r.get('floor_chunks_per_s')} chunks/s",
        )
        add(
            f"p99 at U=16 no worse than before issue 17 ({EMBEDDED_P99_MS_BEFORE} ms, 1 worker)",
            None if p99 is None else p99 <= EMBEDDED_P99_MS_BEFORE,
            f"{p99} ms",
        )
    # 3. 50 MiB completion <= 3x read+MD5 of the same bytes
    baseline = report["read_md5_ms"].get("50MiB")
    for workers in sorted({1, w}):
        rows = _find(
            report,
            system="chunkup",
            size="50MiB",
            uploads=1,
            parallel=1,
            workers=workers,
            max_chunks=None,
        )
        if rows and rows[0].get("complete_p50_ms") is not None and baseline:
            c = rows[0]["complete_p50_ms"]
            add(
                f"50 MiB completion <= 3x read+MD5 (U=1, {_workers(workers)})",
                c <= 3 * baseline,
                f"{c} ms vs read+MD5 {baseline} ms = {c / baseline:.1f}x",
            )
    # 4. peak RSS < 200 MB with 64 concurrent 50 MiB uploads in flight
    for r in _find(report, system="chunkup", max_chunks=10):
        many = r["workers"] > 1
        add(
            f"peak RSS < 200 MB, 64 x 50 MiB in flight ({_workers(r['workers'])})",
            r.get("peak_rss_max_mb") is not None
            and r["peak_rss_max_mb"] < 200
            and not r.get("errors"),
            f"largest process {r.get('peak_rss_max_mb')} MB"
            + (
                f", sum over {r.get('processes')} processes {r.get('peak_rss_sum_mb')} MB"
                if many
                else ""
            )
            + (f", {r.get('errors')} errors" if r.get("errors") else ""),
        )
    # 4b. memory does not grow with file size: completing 50 MiB documents stays under it too
    rows = _find(report, system="chunkup", size="50MiB", max_chunks=None)
    if rows:
        worst = max(rows, key=lambda r: r.get("peak_rss_max_mb") or 0)
        small = [
            r.get("peak_rss_max_mb") or 0 for r in _find(report, system="chunkup", size="5MiB")
        ]
        add(
            "peak RSS < 200 MB while 50 MiB documents complete (memory flat in file size)",
            (worst.get("peak_rss_max_mb") or 0) < 200,
            f"largest process {worst.get('peak_rss_max_mb')} MB "
            f"({_workers(worst['workers'])}, U={worst['uploads']}, P={worst['parallel']}); "
            f"with 5 MiB images at most {max(small, default=0)} MB",
        )
    # 5. chunk latency p99 < 50 ms at U=16 (16 requests in flight: P=1)
    for r in _find(report, system="chunkup", uploads=16, parallel=1, workers=w, max_chunks=None):
        add(
            f"chunk latency p99 < 50 ms at U=16 ({r['size']}, P=1, {w} workers)",
            r.get("latency_p99_ms") is not None and r["latency_p99_ms"] < 50,
            f"p99 {r.get('latency_p99_ms')} ms, p50 {r.get('latency_p50_ms')} ms",
        )
    return out


COLUMNS = [
    ("system", "system", "{}"),
    ("w", "workers", "{}"),
    ("size", "size", "{}"),
    ("U", "uploads", "{}"),
    ("P", "parallel", "{}"),
    ("chunks", "chunks", "{}"),
    ("chunks/s", "chunks_per_s", "{:.0f}"),
    ("MB/s", "mb_per_s", "{:.0f}"),
    ("p50 ms", "latency_p50_ms", "{:.1f}"),
    ("p99 ms", "latency_p99_ms", "{:.1f}"),
    ("complete ms", "complete_p50_ms", "{:.0f}"),
    ("srv CPU ms/chunk (usr+sys)", "server_cpu_ms_per_chunk", "{:.2f}"),
    ("incl. complete", "server_cpu_ms_per_chunk_all_in", "{:.2f}"),
    ("srv CPU s/GB", "server_cpu_s_per_gb", "{:.1f}"),
    ("load CPU ms/chunk", "load_cpu_ms_per_chunk", "{:.2f}"),
    ("peak RSS MB max/sum", None, ""),
    ("other cores", "other_busy_cores", "{:.2f}"),
    ("÷floor", "vs_floor", "{:.2f}"),
    ("err", "errors", "{}"),
]


def _cell(row: dict, key: str | None, fmt: str) -> str:
    if key == "server_cpu_ms_per_chunk" and row.get(key) is not None:
        return (
            f"{row[key]:.2f} ({row.get('server_user_ms_per_chunk', 0):.2f}"
            f"+{row.get('server_sys_ms_per_chunk', 0):.2f})"
        )
    if key is None:
        if row.get("peak_rss_max_mb") is None:
            return "-"
        if row.get("processes", 1) > 1:
            return f"{row['peak_rss_max_mb']:.0f}/{row['peak_rss_sum_mb']:.0f}"
        return f"{row['peak_rss_max_mb']:.0f}"
    value = row.get(key)
    if value is None:
        return "-"
    if key == "uploads" and row.get("max_chunks"):
        return f"{value}×{row['max_chunks']}ch"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def table(report: dict, markdown: bool = False) -> str:
    rows = [[_cell(r, key, fmt) for _, key, fmt in COLUMNS] for r in report["scenarios"]]
    heads = [name for name, _, _ in COLUMNS]
    if markdown:
        lines = ["| " + " | ".join(heads) + " |", "|" + "|".join(" --- " for _ in heads) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(heads)
    ]
    lines = ["  ".join(h.rjust(widths[i]) for i, h in enumerate(heads))]
    lines += ["  ".join(c.rjust(widths[i]) for i, c in enumerate(r)) for r in rows]
    return "\n".join(lines)


def summary(report: dict, markdown: bool = False) -> str:
    m = report["machine"]
    out = []
    out.append(
        f"Machine: {m['cores']} cores, {m['cpu_model']}, {m['memory_gb']} GB, "
        f"Python {m['python']}, "
        f"Linux {m['kernel']}, uvicorn {m['uvicorn']}; {report['mode']} run of {report['started']} "
        f"({report['duration_s']:.0f} s)."
    )
    source = report.get("source") or {}
    if source:
        out.append(
            f"Source: commit {source.get('commit')}"
            + (
                f" with {source['src_uncommitted_changes']} uncommitted file(s) in src/"
                if source.get("src_uncommitted_changes")
                else ""
            )
            + f"; load average at start {m.get('load_average_at_start')}."
        )
    out.append(
        "read+MD5 of the same bytes from disk (page cache warm): "
        + ", ".join(f"{k} {v} ms" for k, v in report["read_md5_ms"].items())
    )
    for name, state in report["peers"].items():
        versions = ", ".join(f"{k} {v}" for k, v in sorted(state.get("versions", {}).items()))
        out.append(
            f"peer {name}: {state['what']} — {state['status']}"
            + (f" ({versions})" if versions else "")
        )
    out.extend(f"note: {n}" for n in report["notes"])
    busy = [r for r in report["scenarios"] if (r.get("other_busy_cores") or 0) > 0.15]
    if busy:
        out.append(
            f"WARNING: in {len(busy)} of {len(report['scenarios'])} scenarios other processes "
            f"kept up to {max(r['other_busy_cores'] for r in busy):.2f} cores busy (column "
            "'other cores'): those figures shared the machine and are pessimistic."
        )
    out.append("")
    out.append(table(report, markdown))
    comparisons = []
    for row in report["scenarios"]:
        if row["system"] not in PEERS:
            continue
        same = {k: row[k] for k in ("workers", "size", "uploads", "parallel")}
        ours = _find(report, system="chunkup", max_chunks=None, **same)
        if not ours or not row.get("chunks_per_s") or not ours[0].get("chunks_per_s"):
            continue
        o = ours[0]
        speed = o["chunks_per_s"] / row["chunks_per_s"]
        theirs, mine = row["server_cpu_ms_per_chunk"], o["server_cpu_ms_per_chunk"]
        comparisons.append(
            f"{'- ' if markdown else '  '}chunkup ÷ {row['system']} ({_workers(row['workers'])}, "
            f"{row['size']}, U={row['uploads']}): throughput {speed:.2f}x; server CPU/chunk "
            f"{row['system']} {theirs} ms vs chunkup {mine} ms = {theirs / mine:.2f}x"
        )
    if comparisons:
        out.append("")
        out.append(
            "Against the peers (same shape, 1 chunk in flight per upload):"
            + ("\n" if markdown else "")
        )
        out.extend(comparisons)
    for name, prof in report.get("profiles", {}).items():
        if not isinstance(prof, dict) or "samples" not in prof:
            out.append(f"profile {name}: {prof}")
            continue
        out.append("")
        out.append(
            f"Profile '{name}' (py-spy, 1-worker server): {prof['what']}; raw: {prof['raw']}"
        )
        if "ms_per_item_by_category" in prof:
            for ms, category in prof["ms_per_item_by_category"]:
                out.append(f"  {ms:7.1f} ms  {category}")
        else:
            out.append(f"  the GIL was held {prof['gil_held_share']:.0%} of the time")
            for pct, category in prof["by_category"]:
                out.append(f"  {pct:5.1f}%  {category}")
        out.append("  hottest frames (self):")
        for pct, frame in prof["self_top"][:8]:
            out.append(f"  {pct:5.1f}%  {frame}")
    out.append("")
    out.append("Targets (issues 5 and 17):" if not markdown else "Targets (issues 5 and 17):\n")
    for t in report["targets"]:
        prefix = "- " if markdown else "  "
        out.append(f"{prefix}{t['result']:4}  {t['target']}: {t['detail']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a ~1 minute run: fewer scenarios, fewer chunks"
    )
    parser.add_argument(
        "--no-peers", action="store_true", help="leave drf-chunked-upload and tuspyserver out"
    )
    parser.add_argument(
        "--only", nargs="*", choices=["chunkup", "floor", *PEERS], help="run only these systems"
    )
    parser.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "chunkup-bench"))
    parser.add_argument("--out", default=str(BENCH / "results" / "latest.json"))
    parser.add_argument(
        "--scenario-limit", type=float, default=120.0, help="seconds one scenario may take"
    )
    parser.add_argument(
        "--time-budget", type=float, default=1500.0, help="seconds for all scenarios"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        help="seconds to wait before each scenario for the machine to be idle (default 3, "
        "none with --quick); the CPU others use during a scenario is reported either way",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the 1-worker server with py-spy (needs .venv/bin/py-spy)",
    )
    parser.add_argument(
        "--no-cluster",
        action="store_true",
        help="leave out the cluster backends (PostgreSQL + disk, PostgreSQL + S3, three nodes)",
    )
    parser.add_argument(
        "--baseline",
        help="another build's chunkup executable, measured beside this one on the cluster setups",
    )
    parser.add_argument(
        "--render", metavar="JSON", help="print the table of an earlier run's JSON, run nothing"
    )
    args = parser.parse_args(argv)
    if args.render:
        report = json.loads(Path(args.render).read_text())
        report["targets"] = targets(report)
        Path(args.render).with_suffix(".md").write_text(summary(report, markdown=True) + "\n")
        print(summary(report))
        return 0
    report = Bench(args).run()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(summary(report, markdown=True) + "\n")
    print(summary(report))
    print(f"\nwritten: {out} and {out.with_suffix('.md')}")
    if not args.no_cluster:
        from bench import cluster

        log("[bench] the cluster backends (bench.cluster)")
        cluster_args = ["--quick"] if args.quick else []
        if args.baseline:
            cluster_args += ["--baseline", args.baseline]
        cluster_out = out.with_name(out.stem.replace("latest", "cluster") + ".json")
        if cluster_out == out:
            cluster_out = out.with_name(out.stem + "-cluster.json")
        cluster.main([*cluster_args, "--out", str(cluster_out)])
        print(f"\nwritten: {cluster_out} and {cluster_out.with_suffix('.md')}")
    return 0
