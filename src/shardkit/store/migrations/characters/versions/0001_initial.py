"""Initial characters schema: the versioned characters table."""

# Revision ID: 0001
# Revises:
# Create Date: 2025-11-25

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the characters table."""
    op.create_table(
        "characters",
        sa.Column("id", sa.Integer(), nullable=False),
        # No foreign key: accounts live in the master database.
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("world", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),  # name.casefold()
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("experience", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("health", sa.Integer(), nullable=False, server_default=sa.text("100")),
        sa.Column("gold", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("inventory", JSON, nullable=False, server_default=sa.text("'[]'")),
        sa.Column("data", JSON, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),  # soft delete
        sa.PrimaryKeyConstraint("id", name="pk_characters"),
        # Soft-deleted characters keep their name, so a restore never collides.
        sa.UniqueConstraint("world", "name_key", name="uq_characters_world_name_key"),
    )
    op.create_index("ix_characters_account_id", "characters", ["account_id"])


def downgrade() -> None:
    """Drop the characters table."""
    op.drop_index("ix_characters_account_id", table_name="characters")
    op.drop_table("characters")
