"""SSH keys approved per workspace

Revision ID: 0005
Revises: 0004

An SSH key (its fingerprint) authorized for an account acts in a workspace
only once an owner of that workspace has approved it for that account: one
row per (workspace, account, fingerprint), checked at every session, not
only when the key is authorized. Without it, whoever authorized a key for
an account could act through it in any workspace the account joined later.

SSH sessions are a SQLite feature (one service account, forced commands);
on PostgreSQL the database role proves who acts, so no keydesk role is
granted anything on this table there.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from keydesk.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ssh_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("approved_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("approved_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "account_id", "fingerprint"),
    )
    op.create_index("ix_ssh_approval_fingerprint", "ssh_approval", ["fingerprint"])
    if op.get_context().dialect.name == "postgresql":
        # Owner only: no policy and no grant, so no keydesk role reads or writes it.
        op.execute("ALTER TABLE ssh_approval ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_index("ix_ssh_approval_fingerprint", table_name="ssh_approval")
    op.drop_table("ssh_approval")
