"""The per-chunk statements, compiled once and run on SQLite's own cursor.

A chunk's transaction is three short statements. SQLite runs each in about
10 µs; SQLAlchemy's execution pipeline around it (execution context, events,
result wrapping) cost 50-90 µs more per statement, most of the transaction's
CPU. ``Prepared`` keeps the statement a Core statement of ``tables.py`` —
compiled by SQLAlchemy for the connection's dialect, with that dialect's own
type processors for parameters and results, so there is still one schema and
one SQL — and skips only the per-call machinery.

Only where the driver is synchronous (SQLite): on PostgreSQL the statement
goes through ``Connection.execute`` as any other (asyncpg's cursor needs the
greenlet bridge, and there the network round trip outweighs the pipeline).
Driver errors are raised as SQLAlchemy's, so callers see the same exceptions
either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import Compiled

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[tuple[str, Processor], ...]  # in positional order
    columns: tuple[tuple[str, Processor], ...]  # result columns, in order


class Prepared:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def first(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row as a mapping of column name to (processed) value."""
        if conn.dialect.name != "sqlite":
            row = conn.execute(self.statement, dict(params)).mappings().first()
            return dict(row) if row is not None else None
        compiled = self._for(conn.dialect)
        cursor = self._run(conn, compiled, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return {
            name: process(value) if process is not None else value
            for (name, process), value in zip(compiled.columns, row, strict=True)
        }

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute; the number of rows changed."""
        if conn.dialect.name != "sqlite":
            return conn.execute(self.statement, dict(params)).rowcount
        cursor = self._run(conn, self._for(conn.dialect), params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _run(self, conn: Connection, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        args = tuple(
            process(params[name]) if process is not None else params[name]
            for name, process in compiled.params
        )
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, args)
        except conn.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            raise DBAPIError.instance(
                compiled.sql, args, exc, conn.dialect.loaded_dbapi.Error
            ) from exc
        return cursor

    def _for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(dialect)
            self._compiled[key] = compiled
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        order = compiled.positiontup  # type: ignore[attr-defined]
        if order is None:
            raise TypeError(f"{dialect.name} is not a positional-parameter dialect")
        binds = compiled.binds  # type: ignore[attr-defined]
        params = tuple(
            (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in order
        )
        columns = tuple(
            (column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in getattr(self.statement, "selected_columns", ())
        )
        return _Compiled(compiled.string, params, columns)
