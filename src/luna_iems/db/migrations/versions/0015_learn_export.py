"""Issue 13: the DP export's privacy budget ledger (ε spent per calendar month, and on the bandit
statistics) and the digests of signed exports imported as bandit priors (a replay counts once).
The Ed25519 signing key is a 0600 file under DATA_DIR, not a row.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import luna_iems.db.base

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = luna_iems.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "learn_budget",
        sa.Column("ledger", sa.String(length=20), nullable=False),
        sa.Column("epsilon_spent", sa.Float(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("ledger", name=op.f("pk_learn_budget")),
    )
    op.create_table(
        "learn_prior_imports",
        sa.Column("digest_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("period_from", _TS, nullable=False),
        sa.Column("period_to", _TS, nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("imported_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("digest_sha256", name=op.f("pk_learn_prior_imports")),
    )


def downgrade() -> None:
    op.drop_table("learn_prior_imports")
    op.drop_table("learn_budget")
