"""Uploads, their chunks, and media.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from chunkup.db.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(255)),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime()),
        sa.Column("media_id", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_uploads"),
    )
    op.create_index("ix_uploads_user_id", "uploads", ["user_id"])
    op.create_index("ix_uploads_status", "uploads", ["status"])
    op.create_index("ix_uploads_expires_at", "uploads", ["expires_at"])
    op.create_table(
        "upload_chunks",
        sa.Column("upload_id", sa.String(32), nullable=False),
        sa.Column("start_byte", sa.BigInteger(), nullable=False),
        sa.Column("end_byte", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.id"],
            ondelete="CASCADE",
            name="fk_upload_chunks_upload_id_uploads",
        ),
        sa.PrimaryKeyConstraint("upload_id", "start_byte", name="pk_upload_chunks"),
    )
    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("upload_id", sa.String(32)),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("title", sa.String(255)),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("file_token", sa.String(32), nullable=False),
        sa.Column("file_key", sa.String(512), nullable=False),
        sa.Column("mimetype", sa.String(127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_media"),
        sa.UniqueConstraint("upload_id", name="uq_media_upload_id"),
        sa.UniqueConstraint("file_token", name="uq_media_file_token"),
    )
    op.create_index("ix_media_user_id", "media", ["user_id"])
    op.create_index("ix_media_added_at", "media", ["added_at"])
    op.create_table(
        "pending_files",
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("upload_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name="pk_pending_files"),
    )
    op.create_index("ix_pending_files_created_at", "pending_files", ["created_at"])


def downgrade() -> None:
    op.drop_table("pending_files")
    op.drop_table("media")
    op.drop_table("upload_chunks")
    op.drop_table("uploads")
