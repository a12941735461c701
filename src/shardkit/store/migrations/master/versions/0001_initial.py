"""Initial master schema: accounts, bans, login_history, worlds."""

# Revision ID: 0001
# Revises:
# Create Date: 2025-11-25

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    """Create the master tables."""
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),  # name.casefold()
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("stored_key", sa.LargeBinary(), nullable=False),
        sa.Column("server_key", sa.LargeBinary(), nullable=False),
        sa.Column("iterations", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False, server_default=sa.text("'player'")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("name_key", name="uq_accounts_name_key"),
        sa.CheckConstraint("role IN ('player', 'gm', 'admin')", name="ck_accounts_role"),
    )

    op.create_table(
        "bans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("ip_range", sa.String(64), nullable=True),  # CIDR, e.g. "203.0.113.0/24"
        sa.Column("reason", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),  # NULL: permanent
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bans"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_bans_account_id_accounts", ondelete="CASCADE"
        ),
        sa.CheckConstraint("account_id IS NOT NULL OR ip_range IS NOT NULL", name="ck_bans_target"),
    )
    op.create_index("ix_bans_account_id", "bans", ["account_id"])

    op.create_table(
        "login_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),  # NULL: unknown account name
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_login_history"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_login_history_account_id_accounts",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_login_history_account_id_at", "login_history", ["account_id", "at"])
    op.create_index("ix_login_history_ip_at", "login_history", ["ip", "at"])

    op.create_table(
        "worlds",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("name", name="pk_worlds"),
    )


def downgrade() -> None:
    """Drop the master tables."""
    op.drop_table("worlds")
    op.drop_index("ix_login_history_ip_at", table_name="login_history")
    op.drop_index("ix_login_history_account_id_at", table_name="login_history")
    op.drop_table("login_history")
    op.drop_index("ix_bans_account_id", table_name="bans")
    op.drop_table("bans")
    op.drop_table("accounts")
