"""The private parts of dependencies chunkup leans on, held to the shape it uses.

pyproject.toml caps these dependencies below their next minor release and
requirements/*.txt pins the tested one. When `make lock` (or a raised cap) brings a
release that moved one of these parts, a test here fails by name: fix the code that
uses it, then raise the cap.
"""

from __future__ import annotations

import inspect

from sqlalchemy import bindparam, column, select, table
from sqlalchemy.dialects import sqlite


def test_uvicorn_httptools_protocol_as_api_protocol_subclasses_it():
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

    assert STATUS_LINE[400].startswith(b"HTTP/1.1 400 ")
    assert list(inspect.signature(HttpToolsProtocol.send_400_response).parameters) == [
        "self",
        "msg",
    ]


def test_sqlalchemy_compiled_statement_as_db_prepared_reads_it():
    uploads = table("uploads", column("id"), column("user_id"))
    statement = select(uploads.c.id).where(
        uploads.c.user_id == bindparam("user"), uploads.c.id == bindparam("id")
    )

    compiled = statement.compile(dialect=sqlite.dialect())

    assert compiled.positiontup == ["user", "id"]  # type: ignore[attr-defined]
    assert set(compiled.binds) >= {"user", "id"}  # type: ignore[attr-defined]
    assert compiled.binds["user"].type.dialect_impl(sqlite.dialect()) is not None  # type: ignore[attr-defined]
