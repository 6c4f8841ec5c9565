"""A tus upload remembers what its metadata declared about its kind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

``tus_uploads.declared``: ``type`` when the creation's ``Upload-Metadata``
named a Media type (the first bytes must begin a file of the upload's kind),
``filetype`` when it named only a MIME type (they must begin an image or a
PDF), NULL when it named neither (nothing is judged before completion). The
first PATCH used to parse the stored header again for this, which put the
HTTP layer's parser inside the upload service.

Existing rows are filled from their stored header: only the keys matter, and
whether each has a value (``key base64value``; values are never empty base64).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def declared_by(raw: str) -> str | None:
    """What an ``Upload-Metadata`` value declares: ``type``, ``filetype`` or None."""
    given = set()
    for item in raw.split(","):
        words = item.strip().split(" ")
        if len(words) == 2 and words[1]:
            given.add(words[0])
    if "type" in given:
        return "type"
    return "filetype" if "filetype" in given else None


def upgrade() -> None:
    with op.batch_alter_table("tus_uploads") as batch:
        batch.add_column(sa.Column("declared", sa.String(8)))
    table = sa.table(
        "tus_uploads",
        sa.column("upload_id", sa.String),
        sa.column("metadata", sa.Text),
        sa.column("declared", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(table.c.upload_id, table.c.metadata)).all()
    for upload_id, raw in rows:
        declared = declared_by(raw or "")
        if declared is not None:
            bind.execute(
                table.update().where(table.c.upload_id == upload_id).values(declared=declared)
            )


def downgrade() -> None:
    with op.batch_alter_table("tus_uploads") as batch:
        batch.drop_column("declared")
