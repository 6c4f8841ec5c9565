"""What the packaging promises: the SDK needs none of the server, the embedded default
none of the cluster extras, and a missing extra names itself.

Each check runs in a fresh interpreter, so that what it imports is all it imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SERVER_SIDE = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "PIL", "pypdf", "prometheus_client")


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_sdk_imports_nothing_of_the_server():
    loaded = modules_after("from chunkup.client import AsyncClient, Client, ChunkupError")

    ours = {m for m in loaded if m.startswith("chunkup.")}
    assert ours and all(m.startswith("chunkup.client") for m in ours)
    assert not {m.split(".")[0] for m in loaded} & set(SERVER_SIDE)


def test_the_embedded_default_starts_without_the_cluster_extras(tmp_path: Path):
    loaded = modules_after(
        "import asyncio\n"
        "from chunkup.services import Services\n"
        "from chunkup.settings import Settings\n"
        "async def main():\n"
        f"    services = await Services.start(Settings(data_dir={str(tmp_path)!r}))\n"
        "    await services.db.ping()\n"
        "    await services.close()\n"
        "asyncio.run(main())"
    )

    assert not {m.split(".")[0] for m in loaded} & {"asyncpg", "obstore", "greenlet"}


def test_a_missing_extra_is_named_with_how_to_install_it():
    code = (
        "import sys\n"
        "sys.modules['asyncpg'] = sys.modules['obstore'] = None  # as if not installed\n"
        "from chunkup.db import Database\n"
        "from chunkup.errors import MissingExtra\n"
        "from chunkup.storage import open_storage\n"
        "for make in (lambda: Database('postgresql+asyncpg://u@127.0.0.1/db'),\n"
        "             lambda: open_storage('s3://bucket/prefix?region=us-east-1')):\n"
        "    try:\n"
        "        make()\n"
        "    except MissingExtra as exc:\n"
        "        print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "a PostgreSQL database needs the 'postgres' extra: pip install 'chunkup[postgres]'",
        "storage URL s3:// (an object store) needs the 's3' extra: pip install 'chunkup[s3]'",
    ]
