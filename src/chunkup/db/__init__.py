"""Persistence: tables, queries and migrations. The only package that imports SQLAlchemy."""

from sqlalchemy.engine import Connection

from chunkup.db.engine import Database

__all__ = ["Connection", "Database"]
