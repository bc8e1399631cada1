"""conversation: threads, staff prompts, guest notes, answered questions, stays

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "guest_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guest_id"],
            ["guests.id"],
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guest_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guest_notes_guest_id"), ["guest_id"], unique=False)

    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("entry", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guest_id"],
            ["guests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.create_index("ix_questions_created_at", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_questions_guest_id"), ["guest_id"], unique=False)

    # Nullable columns and indexes: plain ALTER TABLE on every backend (SQLite too), no copy.
    op.add_column("guests", sa.Column("room_set_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("guests", sa.Column("thread_request_id", sa.Integer(), nullable=True))
    op.add_column("guests", sa.Column("thread_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "guests",
        sa.Column("thread_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.add_column("outbox", sa.Column("request_id", sa.Integer(), nullable=True))
    op.create_index("ix_outbox_chat_message", "outbox", ["chat_id", "message_id"], unique=False)
    op.add_column("requests", sa.Column("message_id", sa.BigInteger(), nullable=True))
    op.add_column("requests", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.add_column(
        "staff",
        sa.Column("prompt_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.add_column("staff", sa.Column("prompt_request_id", sa.Integer(), nullable=True))
    op.add_column("staff", sa.Column("prompt_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema (plain ALTER TABLE DROP COLUMN: SQLite 3.35 and newer have it)."""
    for table, column in (
        ("staff", "prompt_until"),
        ("staff", "prompt_request_id"),
        ("staff", "prompt_kind"),
        ("requests", "merged_into_id"),
        ("requests", "message_id"),
        ("guests", "thread_kind"),
        ("guests", "thread_until"),
        ("guests", "thread_request_id"),
        ("guests", "room_set_at"),
    ):
        op.drop_column(table, column)
    op.drop_index("ix_outbox_chat_message", "outbox")
    op.drop_column("outbox", "request_id")
    op.drop_index("ix_questions_guest_id", "questions")
    op.drop_index("ix_questions_created_at", "questions")
    op.drop_table("questions")
    op.drop_index("ix_guest_notes_guest_id", "guest_notes")
    op.drop_table("guest_notes")
