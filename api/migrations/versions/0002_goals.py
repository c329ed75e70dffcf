"""effect goals: the units' adopted routines (goal 1) and the indexes the goal queries use

Revision ID: 0002
Revises: 0001

Written by hand and checked against the models on SQLite and PostgreSQL
(tests/api/test_setup.py compares the migrated schema with SQLModel.metadata).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_routines",
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("adopted", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("district", "unit"),
    )
    # Plain CREATE INDEX: no table rebuild on SQLite (batch mode is for column changes).  Each index
    # covers the columns its query reads outside the JSON (api/goals.py, bench/goals.py).
    op.create_index("ix_case_events_kind_on_case_id", "case_events", ["kind", "on", "case_id"])
    op.create_index("ix_case_events_case_id_kind_on", "case_events", ["case_id", "kind", "on"])
    op.create_index("ix_cases_closed_on_client", "cases", ["closed_on", "district", "reference", "id"])
    op.create_index("ix_cases_client_opened", "cases", ["district", "reference", "opened", "id"])
    op.create_index("ix_cases_id_district", "cases", ["id", "district"])


def downgrade() -> None:
    op.drop_index("ix_cases_id_district", table_name="cases")
    op.drop_index("ix_cases_client_opened", table_name="cases")
    op.drop_index("ix_cases_closed_on_client", table_name="cases")
    op.drop_index("ix_case_events_case_id_kind_on", table_name="case_events")
    op.drop_index("ix_case_events_kind_on_case_id", table_name="case_events")
    op.drop_table("unit_routines")
