"""The schema, as SQLAlchemy Core tables (one schema for SQLite and PostgreSQL).

Core rather than the ORM: the per-chunk path is three short statements, and
plain rows keep it cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every dialect."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


uploads = Table(
    "uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", BigInteger, nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("filename", String(255)),
    Column("ranges", JSON, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
    Column("completed_at", UTCDateTime),
    Column("media_id", Integer),
    # chunk objects held and the bytes they take in storage (padding included):
    # bounded per upload and counted towards quotas (see uploads/usage.py)
    Column("chunk_count", BigInteger, nullable=False, server_default="0"),
    Column("stored_bytes", BigInteger, nullable=False, server_default="0"),
)


def _owned_by_upload(name: str) -> Column[str]:
    """A key column naming an upload: the row goes when the upload does."""
    return Column(name, String(32), ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True)


chunks = Table(
    "upload_chunks",
    metadata,
    _owned_by_upload("upload_id"),
    Column("start_byte", BigInteger, primary_key=True),
    Column("end_byte", BigInteger, nullable=False),
    Column("key", String(512), nullable=False),
)

media = Table(
    "media",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False, index=True),
    Column("upload_id", String(32), unique=True),
    Column("type", String(8), nullable=False),
    Column("title", String(255)),
    Column("filename", String(255), nullable=False),
    Column("file_token", String(32), nullable=False, unique=True),
    Column("file_key", String(512), nullable=False),
    Column("mimetype", String(127), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("extra", JSON, nullable=False),
    Column("added_at", UTCDateTime, nullable=False, index=True),
    # SQLite: AUTOINCREMENT, so a deleted Media's id is never handed out again
    # (without it SQLite reuses max(id) + 1); PostgreSQL's sequence never does
    sqlite_autoincrement=True,
)

pending_files = Table(
    "pending_files",
    metadata,
    Column("token", String(32), primary_key=True),
    Column("upload_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

# What a tus client said about an upload (``/api/v2/media/tus/``): an upload made
# by the chunk protocol has no row here, and is still a tus resource.
tus_uploads = Table(
    "tus_uploads",
    metadata,
    _owned_by_upload("upload_id"),
    Column("metadata", Text, nullable=False),
    Column("media_type", String(8)),
    Column("concat", String(8)),
    Column("declared", String(8)),  # see models.TusRecord
)

# The parts of a final (concatenated) tus upload, in order: a part's stored
# objects are the final's chunks until the final completes, expires or is aborted.
tus_parts = Table(
    "tus_parts",
    metadata,
    _owned_by_upload("final_id"),
    Column("position", Integer, primary_key=True),
    Column("part_id", String(32), nullable=False, index=True),
)


# Webhook events waiting for (or done with) delivery, one row per event and
# receiver URL: written in the transaction that made the event happen (the
# outbox), claimed by one node at a time for one attempt (``claim`` and
# ``claimed_until``, a lease another node takes over once it has run out).
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False, index=True),
    Column("event_type", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("give_up_at", UTCDateTime, nullable=False),
    Column("claim", String(32)),
    Column("claimed_until", UTCDateTime),
    Column("last_error", Text),
    Column("delivered_at", UTCDateTime),
    Index("ix_webhook_outbox_status_next", "status", "next_attempt_at"),
)
