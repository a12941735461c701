"""The audit log records the actor's address and each action's result, and is searched by
actor, target and action."""

# Revision ID: 0002
# Revises: 0001
# Create Date: 2026-06-01

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add address and result (older rows: results "ok"), and the search indexes."""
    op.add_column("audit_log", sa.Column("address", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("result", sa.String(16), nullable=False,
                                         server_default=sa.text("'ok'")))
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor", "id"])
    op.create_index("ix_audit_log_target_id", "audit_log", ["target", "id"])
    op.create_index("ix_audit_log_action_id", "audit_log", ["action", "id"])


def downgrade() -> None:
    """Drop the indexes and the two columns."""
    op.drop_index("ix_audit_log_action_id", table_name="audit_log")
    op.drop_index("ix_audit_log_target_id", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("result")
        batch.drop_column("address")
