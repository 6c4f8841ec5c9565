"""``python -m bench.cluster``: chunkup on its three backends, and as a three-node cluster.

One run measures the same load (U uploads of the 5 MiB image at once, one chunk
in flight each, then their completes) on SQLite + local disk, PostgreSQL +
local disk and PostgreSQL + S3 (SeaweedFS ``weed mini`` as the tests start it),
each on one ``chunkup serve --workers 1``; then three ``chunkup serve`` on one
PostgreSQL database and one bucket, the uploads spread over them round-robin.
Reported apart, per chunk (chunk phase only) and per upload (complete phase):
chunkup's CPU, the CPU of PostgreSQL's backends for the bench's database (from
/proc, by their process title), the storage server's CPU; chunks/s, p50/p99,
completion time. ``--baseline BIN`` also measures another build's ``chunkup``
executable (e.g. ``/work/main/.venv/bin/chunkup``) on each setup, old and new in
alternation, for before/after figures in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench import procs
from bench.run import CHUNK, ROOT, VENV_BIN, MiB, Server, free_port, log, make_png

PG = os.environ.get("CHUNKUP_BENCH_PG", "postgres@127.0.0.1:5432")
SETUPS = ("sqlite-disk", "postgres-disk", "postgres-s3")
PG_DISK_OVER_SQLITE = 1.25  # issue 17: a node's CPU per chunk on PG + disk vs SQLite


async def _admin(sql: str) -> None:
    import asyncpg

    user, host = PG.split("@")
    address, port = host.split(":")
    conn = await asyncpg.connect(user=user, host=address, port=int(port), database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def new_database() -> str:
    name = f"chunkup_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def weed_pid() -> int | None:
    """The ``weed mini`` this process started (tests/seaweed.py does not hand out its pid)."""
    for pid in procs.tree(os.getpid()):
        try:
            if b"weed" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]:
                return pid
        except OSError:
            continue
    return None


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.png = self.work / "files" / "image-5MiB.png"
        self.png.parent.mkdir(exist_ok=True)
        if not self.png.exists():
            make_png(self.png, 5 * MiB)
        self.secret = secrets.token_urlsafe(32)
        self.user_base = 500_000
        self.seaweed: object | None = None
        self.weed: int | None = None

    def start_nodes(
        self, binary: str, setup: str, database: str | None, nodes: int
    ) -> list[Server]:
        env = {"CHUNKUP_JWT_SECRET": self.secret}
        if database is not None:
            user, host = PG.split("@")
            env["CHUNKUP_DATABASE_URL"] = f"postgresql+asyncpg://{user}@{host}/{database}"
        if setup.endswith("-s3"):
            env["CHUNKUP_STORAGE_URL"] = self.seaweed.storage_url(  # type: ignore[attr-defined]
                f"b-{secrets.token_hex(4)}"
            )
        data = Path(tempfile.mkdtemp(prefix=f"cluster-{setup}-", dir=self.work))
        servers = []
        for node in range(nodes):
            port = free_port()
            argv = [
                binary, "serve", "--port", str(port), "--data-dir", str(data / f"n{node}"),
                "--workers", "1", "--log-level", "warning",
            ]  # fmt: skip
            server = Server(f"{setup}-n{node}", argv, env=env, port=port, cwd=self.work,
                            probe="/healthz")  # fmt: skip
            servers.append(server.start())
        return servers

    def measure(self, binary: str, setup: str, nodes: int = 1) -> dict:
        database = new_database() if setup.startswith("postgres") else None
        servers: list[Server] = []
        try:
            servers = self.start_nodes(binary, setup, database, nodes)
            groups: dict = {}
            if database is not None:
                groups["postgres"] = {"cmdline": f" {database} "}
            if setup.endswith("-s3") and self.weed is not None:
                groups["storage"] = {"roots": [self.weed]}
            if nodes > 1:
                for i, server in enumerate(servers):
                    groups[f"node{i}"] = {"roots": [server.pid]}
            uploads, rounds = self.args.uploads, self.args.rounds
            spec = {
                "system": "chunkup",
                "file": str(self.png),
                "field": "image",
                "type": "image",
                "filename": "photo.png",
                "uploads": uploads,
                "parallel": 1,
                "rounds": rounds,
                "user_base": self.user_base,
                "time_limit": self.args.scenario_limit,
                "cleanup": True,
                "secret": self.secret,
                "port": servers[0].port,
                "ports": [s.port for s in servers],
                "server_pid": servers[0].pid,
                "more_servers": [s.pid for s in servers[1:]],
                "chunk": CHUNK,
                "cpu_groups": groups,
            }
            self.user_base += uploads * rounds
            spec_path = self.work / f"cluster-spec-{os.getpid()}.json"
            spec_path.write_text(json.dumps(spec))
            done = subprocess.run(
                [sys.executable, "-m", "bench.load", str(spec_path)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=self.args.scenario_limit + 180,
            )
            if done.returncode != 0:
                return {"errors": 1, "error_samples": [done.stderr[-500:]]}
            result: dict = json.loads(done.stdout.strip().splitlines()[-1])
            if nodes > 1:
                result["node_cpu_ms_per_chunk"] = [
                    result.get(f"node{i}_cpu_ms_per_chunk") for i in range(nodes)
                ]
            return result
        finally:
            for server in servers:
                server.stop()
            if database is not None:
                drop_database(database)

    def run(self) -> dict:
        from tests.seaweed import run_seaweed

        variants = [("new", str(VENV_BIN / "chunkup"))]
        if self.args.baseline:
            variants.append(("old", self.args.baseline))
        rows: list[dict] = []
        with ExitStack() as stack:
            self.seaweed = stack.enter_context(run_seaweed(self.work / "seaweed"))
            self.weed = weed_pid()
            for repeat in range(self.args.repeat):
                for setup in self.args.setups:
                    order = variants if repeat % 2 == 0 else variants[::-1]
                    for variant, binary in order:
                        log(f"[bench] cluster: {setup} ({variant}, pass {repeat + 1})")
                        result = self.measure(binary, setup)
                        rows.append({"setup": setup, "variant": variant, "nodes": 1, **result})
            if self.args.three_nodes:
                log("[bench] cluster: three nodes on postgres-s3")
                result = self.measure(variants[0][1], "postgres-s3", nodes=3)
                rows.append({"setup": "postgres-s3", "variant": "new", "nodes": 3, **result})
        return {"rows": rows, "targets": targets(rows), "load_average": os.getloadavg()[0]}


def _median(values: list[float]) -> float | None:
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def best(rows: list[dict], setup: str, variant: str, key: str, nodes: int = 1) -> float | None:
    """The median of ``key`` over the passes of one setup and variant."""
    return _median(
        [
            r.get(key)
            for r in rows
            if r["setup"] == setup and r["variant"] == variant and r["nodes"] == nodes
        ]
    )


def targets(rows: list[dict]) -> list[dict]:
    lite = best(rows, "sqlite-disk", "new", "server_cpu_ms_per_chunk")
    pg = best(rows, "postgres-disk", "new", "server_cpu_ms_per_chunk")
    found = []
    if lite and pg:
        found.append(
            {
                "target": "PostgreSQL + disk: node CPU per chunk"
                f" <= {PG_DISK_OVER_SQLITE}x SQLite's",
                "measured": f"{pg:.3f} ms vs {lite:.3f} ms ({pg / lite:.2f}x)",
                "pass": pg <= PG_DISK_OVER_SQLITE * lite,
            }
        )
    return found


COLUMNS = (
    ("chunks/s", "chunks_per_s"),
    ("node CPU ms/chunk", "server_cpu_ms_per_chunk"),
    ("PG CPU ms/chunk", "postgres_cpu_ms_per_chunk"),
    ("storage CPU ms/chunk", "storage_cpu_ms_per_chunk"),
    ("p50 ms", "latency_p50_ms"),
    ("p99 ms", "latency_p99_ms"),
    ("complete ms/upload", "complete_ms_per_upload"),
    ("node CPU ms/complete", "server_cpu_ms_per_complete"),
    ("PG CPU ms/complete", "postgres_cpu_ms_per_complete"),
    ("storage CPU ms/complete", "storage_cpu_ms_per_complete"),
    ("errors", "errors"),
)


def summary(report: dict) -> str:
    head = ["setup", "build", "nodes", *(name for name, _ in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report["rows"]:
        cells = [row["setup"], row["variant"], str(row["nodes"])]
        for _, key in COLUMNS:
            value = row.get(key)
            cells.append("-" if value is None else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    for row in report["rows"]:
        if row["nodes"] > 1:
            lines.append(
                f"\nthree nodes: {row.get('chunks_per_s')} chunks/s aggregate, node CPU ms/chunk "
                f"{row.get('node_cpu_ms_per_chunk')}"
            )
    for target in report["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        lines.append(f"\n{verdict}  {target['target']}: {target['measured']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one pass, one round each")
    parser.add_argument("--baseline", help="another build's chunkup executable, measured too")
    parser.add_argument("--uploads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None, help="passes over the setups")
    parser.add_argument("--no-three-nodes", dest="three_nodes", action="store_false")
    parser.add_argument(
        "--setups", nargs="*", choices=SETUPS, default=list(SETUPS), help="which single-node setups"
    )
    parser.add_argument("--scenario-limit", type=float, default=120.0)
    parser.add_argument(
        "--work-dir", default=os.path.join(tempfile.gettempdir(), "chunkup-bench-cluster")
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cluster.json"))
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.repeat = args.repeat or (1 if args.quick else 2)
    began = time.monotonic()
    report = Run(args).run()
    report["seconds"] = round(time.monotonic() - began)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(summary(report) + "\n")
    print(summary(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
