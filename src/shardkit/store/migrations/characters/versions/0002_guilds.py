"""Guilds: guilds per world, their members with ranks, and pending invitations."""

# Revision ID: 0002
# Revises: 0001
# Create Date: 2025-12-01

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    """Create guilds, guild_members and guild_invites."""
    op.create_table(
        "guilds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("world", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),  # name.casefold()
        sa.Column("motd", sa.String(512), nullable=False, server_default=sa.text("''")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_guilds"),
        sa.UniqueConstraint("world", "name_key", name="uq_guilds_world_name_key"),
    )
    op.create_table(
        "guild_members",
        # The primary key: a character is in at most one guild.
        sa.Column("character_id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.String(16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("character_id", name="pk_guild_members"),
        sa.ForeignKeyConstraint(
            ["character_id"], ["characters.id"], ondelete="CASCADE",
            name="fk_guild_members_character_id_characters",
        ),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guilds.id"], ondelete="CASCADE",
            name="fk_guild_members_guild_id_guilds",
        ),
        sa.CheckConstraint(
            "rank IN ('leader', 'officer', 'member')", name="ck_guild_members_rank"
        ),
    )
    op.create_index("ix_guild_members_guild_id", "guild_members", ["guild_id"])
    op.create_table(
        "guild_invites",
        sa.Column("guild_id", sa.Integer(), nullable=False),
        sa.Column("character_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("guild_id", "character_id", name="pk_guild_invites"),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guilds.id"], ondelete="CASCADE",
            name="fk_guild_invites_guild_id_guilds",
        ),
        sa.ForeignKeyConstraint(
            ["character_id"], ["characters.id"], ondelete="CASCADE",
            name="fk_guild_invites_character_id_characters",
        ),
    )
    op.create_index("ix_guild_invites_character_id", "guild_invites", ["character_id"])


def downgrade() -> None:
    """Drop the guild tables."""
    op.drop_index("ix_guild_invites_character_id", table_name="guild_invites")
    op.drop_table("guild_invites")
    op.drop_index("ix_guild_members_guild_id", table_name="guild_members")
    op.drop_table("guild_members")
    op.drop_table("guilds")
