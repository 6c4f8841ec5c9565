"""The client's models mirror the contract's, and the client package needs no server code."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel

from chunkup.api import schemas
from chunkup.client import models


def shape(model: type[BaseModel]) -> dict[str, tuple[str, bool]]:
    """Each field's annotation and whether it is required."""
    return {
        name: (str(field.annotation).replace(f"{model.__module__}.", ""), field.is_required())
        for name, field in model.model_fields.items()
    }


@pytest.mark.parametrize(
    ("server", "client"),
    [
        (schemas.ChunkMedia, models.ChunkMedia),
        (schemas.UploadStatusBody, models.UploadStatus),
        (schemas.Thumbnail, models.Thumbnail),
        (schemas.ImageRendition, models.ImageRendition),
        (schemas.Media, models.Media),
    ],
)
def test_the_client_model_has_the_servers_fields(server: type[BaseModel], client: type[BaseModel]):
    assert shape(client) == shape(server)


def test_the_client_package_imports_no_server_code():
    program = (
        "import sys, chunkup.client; "
        "server = ('fastapi', 'starlette', 'uvicorn', 'sqlalchemy', 'obstore', 'PIL', "
        "'chunkup.api', 'chunkup.uploads', 'chunkup.db', 'chunkup.storage', 'chunkup.settings'); "
        "print(sorted(m for m in sys.modules if m.startswith(server)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
