"""worklists: the open steps and the folded log stored with each case, assignment, one audit row per list

Revision ID: 0006
Revises: 0005

Existing cases get their open steps from `brytupp refresh` (the daily job), which decides every
open case whose steps were never stored (``cases.steps_as_of`` empty).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("assigned_to", sa.String(length=128), nullable=True))
    op.add_column("cases", sa.Column("steps_as_of", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("state", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))
    op.create_index("ix_cases_assigned_to", "cases", ["assigned_to"])
    op.create_index("ix_cases_unsettled", "cases", ["district", "steps_as_of"])
    op.add_column("audit_records", sa.Column("case_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))
    op.create_table(
        "open_steps",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("child", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("phase", sa.String(length=64), nullable=False),
        sa.Column("guaranteed", sa.Boolean(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("sort_due", sa.Date(), nullable=False),
        sa.Column("waiting", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "step", "child"),
    )
    op.create_index(
        "ix_open_steps_worklist", "open_steps", ["district", "unit", "waiting", "sort_due", "case_id", "step", "child"]
    )


def downgrade() -> None:
    op.drop_table("open_steps")
    with op.batch_alter_table("audit_records") as batch_op:
        batch_op.drop_column("case_ids")
    op.drop_index("ix_cases_unsettled", "cases")
    op.drop_index("ix_cases_assigned_to", "cases")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("state")
        batch_op.drop_column("steps_as_of")
        batch_op.drop_column("assigned_to")
