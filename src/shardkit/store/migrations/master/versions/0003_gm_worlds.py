"""Game masters may be limited to some worlds: the gm_worlds table."""

# Revision ID: 0003
# Revises: 0002
# Create Date: 2026-06-01

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create gm_worlds: (account, world) pairs; an account without rows is not limited."""
    op.create_table(
        "gm_worlds",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("world", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "world", name="pk_gm_worlds"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_gm_worlds_account_id_accounts",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    """Drop gm_worlds."""
    op.drop_table("gm_worlds")
