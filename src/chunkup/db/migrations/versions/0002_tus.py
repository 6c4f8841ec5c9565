"""tus uploads: their metadata, and the parts of final (concatenated) uploads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tus_uploads",
        sa.Column("upload_id", sa.String(32), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(8)),
        sa.Column("concat", sa.String(8)),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.id"],
            ondelete="CASCADE",
            name="fk_tus_uploads_upload_id_uploads",
        ),
        sa.PrimaryKeyConstraint("upload_id", name="pk_tus_uploads"),
    )
    op.create_table(
        "tus_parts",
        sa.Column("final_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["final_id"],
            ["uploads.id"],
            ondelete="CASCADE",
            name="fk_tus_parts_final_id_uploads",
        ),
        sa.PrimaryKeyConstraint("final_id", "position", name="pk_tus_parts"),
    )
    op.create_index("ix_tus_parts_part_id", "tus_parts", ["part_id"])


def downgrade() -> None:
    op.drop_table("tus_parts")
    op.drop_table("tus_uploads")
