"""index on pacing.tat: when the next chat held back by its pacing may send

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("pacing", schema=None) as batch_op:
        batch_op.create_index("ix_pacing_tat", ["tat"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("pacing", schema=None) as batch_op:
        batch_op.drop_index("ix_pacing_tat")
