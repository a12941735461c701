"""Bans can be lifted (lifted_at, lifted_by); single-use registration keys for closed betas."""

# Revision ID: 0002
# Revises: 0001
# Create Date: 2026-05-10

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    """Add the unban columns and the registration_keys table."""
    # Plain ADD COLUMN (nullable, no default) works in place on SQLite and PostgreSQL alike.
    op.add_column("bans", sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("bans", sa.Column("lifted_by", sa.String(64), nullable=True))
    op.create_table(
        "registration_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),  # sha256 hex of the key
        sa.Column("note", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_registration_keys"),
        sa.UniqueConstraint("key_hash", name="uq_registration_keys_key_hash"),
        sa.ForeignKeyConstraint(
            ["used_by"],
            ["accounts.id"],
            name="fk_registration_keys_used_by_accounts",
            ondelete="SET NULL",
        ),
    )


def downgrade() -> None:
    """Drop the registration keys and the unban columns."""
    op.drop_table("registration_keys")
    with op.batch_alter_table("bans") as batch:
        batch.drop_column("lifted_by")
        batch.drop_column("lifted_at")
