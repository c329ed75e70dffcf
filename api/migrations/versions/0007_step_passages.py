"""step passages, their monthly counts and pending interventions: each step instance a case passed
(opened, completed, due) and per district, step and month how many took how many days, for the live
figures per step; the guaranteed interventions a case qualifies for and was not offered yet, for
equality in practice

Revision ID: 0007
Revises: 0006

Passages are recorded from this version on, by every write that completes an open step; the
pending interventions of existing cases by ``brytupp refresh`` (the daily job decides every open case).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_passages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("child", sa.Integer(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("phase", sa.String(length=64), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_step_passages_case_id", "step_passages", ["case_id"], unique=False)
    op.create_index("ix_step_passages_district", "step_passages", ["district", "step", "case_id"])
    op.create_table(
        "step_months",
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("with_due", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("district", "step", "month", "days"),
    )
    op.create_table(
        "pending_interventions",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("intervention", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "step"),
    )
    op.create_index("ix_pending_interventions_district", "pending_interventions", ["district", "intervention", "case_id"])


def downgrade() -> None:
    op.drop_table("pending_interventions")
    op.drop_table("step_months")
    op.drop_table("step_passages")
