"""tuspyserver as its README mounts it: a FastAPI app with the tus router at /files."""

import os

from fastapi import FastAPI
from tuspyserver import create_tus_router

app = FastAPI()
app.include_router(
    create_tus_router(
        files_dir=os.environ.get("TUS_FILES_DIR", "/tmp/chunkup-bench/tus-data"),
        max_size=64 * 1024 * 1024,
    )
)
