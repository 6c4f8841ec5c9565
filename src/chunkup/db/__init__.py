"""Persistence: tables, queries and migrations. The only package that imports SQLAlchemy."""

from sqlalchemy.ext.asyncio import AsyncConnection as Connection

from chunkup.db.engine import Database

__all__ = ["Connection", "Database"]
