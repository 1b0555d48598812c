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

On SQLite, triggers do what the declared ON DELETE CASCADE / SET NULL do,
whatever PRAGMA foreign_keys says: the sqlite3 shell has it off, so a
workspace or account deleted there by hand left its rows, and SQLite gives
the next workspace or account the same id (max rowid + 1): the new one
inherited the old one's approvals, members, integrations and keys (a key
acting in it with no ssh.approve in its trail).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from keydesk.store.models import UTCDateTime

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
    if op.get_context().dialect.name == "sqlite":
        _cascade_triggers()
    if op.get_context().dialect.name == "postgresql":
        # Owner only: no policy and no grant, so no keydesk role reads or writes it.
        op.execute("ALTER TABLE ssh_approval ENABLE ROW LEVEL SECURITY")


# (table deleted from, its children: (table, column, what is done to the child row))
_CASCADES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "workspace": (
        ("ssh_approval", "workspace_id", "DELETE"),
        ("membership", "workspace_id", "DELETE"),
        ("integration", "workspace_id", "DELETE"),
        ("audit_event", "workspace_id", "DELETE"),
    ),
    "account": (("ssh_approval", "account_id", "DELETE"), ("membership", "account_id", "DELETE")),
    "integration": (
        ("api_key", "integration_id", "DELETE"),
        ("audit_event", "integration_id", "SET NULL"),
    ),
    "api_key": (("key_usage", "api_key_id", "DELETE"),),
}


def _cascade_triggers() -> None:
    """SQLite runs these even with foreign keys off (a trigger's own DELETE
    fires the next table's trigger: integration, then api_key). Names come
    from _CASCADES alone."""
    for parent, children in _CASCADES.items():
        steps = "".join(
            f"DELETE FROM {child} WHERE {column} = OLD.id; "  # noqa: S608 (names of ours)
            if what == "DELETE"
            else f"UPDATE {child} SET {column} = NULL WHERE {column} = OLD.id; "  # noqa: S608
            for child, column, what in children
        )
        op.execute(
            f"CREATE TRIGGER {parent}_cascade AFTER DELETE ON {parent} "
            f"FOR EACH ROW BEGIN {steps}END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for parent in _CASCADES:
            op.execute(f"DROP TRIGGER IF EXISTS {parent}_cascade")
    op.drop_index("ix_ssh_approval_fingerprint", table_name="ssh_approval")
    op.drop_table("ssh_approval")
