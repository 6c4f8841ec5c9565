"""Media ids never come back; uploads count their chunk objects and stored bytes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

- ``media.id`` on SQLite becomes ``INTEGER PRIMARY KEY AUTOINCREMENT``. Without
  it SQLite hands out ``max(id) + 1``, so deleting the newest Media gave its id
  to the next upload, and a post still naming the deleted id showed somebody
  else's file. The table is recreated (batch mode) with its rows; SQLite's
  ``sqlite_sequence`` starts at the largest id copied. PostgreSQL's sequence
  never reuses a value: nothing to do there.
- ``uploads.chunk_count`` and ``uploads.stored_bytes``: how many chunk objects
  an upload holds and what they take in storage (padding included), so that
  an upload's objects can be bounded and quotas count what is really stored
  without reading its chunk list on every chunk.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "media", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(
            sa.Column("chunk_count", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("stored_bytes")
        batch.drop_column("chunk_count")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "media", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
