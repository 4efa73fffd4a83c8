"""Issue 12: tariffs, one row per version of a site's tariff (valid from a date in the site calendar).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import luna_iems.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tariff_versions",
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column(
            "components",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_tariff_versions")),
        sa.UniqueConstraint("site", "valid_from", name=op.f("uq_tariff_versions_site_valid_from")),
    )


def downgrade() -> None:
    op.drop_table("tariff_versions")
