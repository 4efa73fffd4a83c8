"""Document ingest as a background job: status, progress, error and the job's parameters per item.

Existing items are complete: they become `ready` with their chunk count as progress.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ingest_status", sa.String(length=16), server_default="ready", nullable=False)
        )
        batch_op.add_column(sa.Column("ingest_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("chunks_done", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("chunks_total", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "ingest_job",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f("ix_items_ingest_status"), ["ingest_status"], unique=False)
    op.execute(
        "UPDATE items SET chunks_done = (SELECT count(*) FROM item_chunks"
        " WHERE item_chunks.item_id = items.item_id)"
    )
    op.execute("UPDATE items SET chunks_total = chunks_done")


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_ingest_status"))
        batch_op.drop_column("ingest_job")
        batch_op.drop_column("chunks_total")
        batch_op.drop_column("chunks_done")
        batch_op.drop_column("ingest_error")
        batch_op.drop_column("ingest_status")
