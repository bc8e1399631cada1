"""durable timers: one table for everything due at a time; follow-ups move onto it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema, and give every waiting follow-up its timer."""
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_status_due", ["status", "due_at"], unique=False)
    # A follow-up waiting to be asked gets its ``followup.ask`` timer, one already asked its
    # ``followup.expire``: the keys and payloads are those the bot itself writes.
    json = "::json" if op.get_bind().dialect.name == "postgresql" else ""
    for status, kind, step, due in (
        ("pending", "followup.ask", ":ask", "due_at"),
        ("sent", "followup.expire", ":expire", "expires_at"),
    ):
        op.execute(
            sa.text(
                "INSERT INTO timers (kind, key, due_at, payload, status, attempts, created_at) "
                f"SELECT :kind, 'followup:' || id || :step, {due}, "
                f"('{{\"followup\": ' || id || '}}'){json}, 'pending', 0, created_at "
                f"FROM followups WHERE status = :status AND {due} IS NOT NULL"
            ).bindparams(kind=kind, step=step, status=status)
        )


def downgrade() -> None:
    """Downgrade schema (follow-ups keep their own due and expiry times)."""
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_status_due")
    op.drop_table("timers")
