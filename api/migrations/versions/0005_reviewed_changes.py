"""reviewed changes: drafts of district and central processes, the publication history, audit targets

Revision ID: 0005
Revises: 0004

An existing database's history starts with what each district serves now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_drafts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("base_version", sa.String(length=64), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("findings", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposed_by", sa.String(length=128), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_process_drafts_district", "process_drafts", ["district"])
    op.create_index("ix_process_drafts_status", "process_drafts", ["status"])
    op.create_table(
        "process_publications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("draft_id", sa.Uuid(), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("drafted_by", sa.String(length=128), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=128), nullable=True),
        sa.Column("withdrawal_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["version"], ["process_versions.version"]),
        sa.ForeignKeyConstraint(["draft_id"], ["process_drafts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_process_publications_district", "process_publications", ["district"])
    # The audit trail names the draft or version a process action was on.
    op.add_column("audit_records", sa.Column("target", sa.String(length=64), nullable=True))
    op.execute(
        """
        INSERT INTO process_publications (district, version, effective_from, applied_at, drafted_by, created_at, note)
        SELECT c.district, c.version, date(c.since), c.since, c.published_by, c.since, 'i kraft när historiken började'
        FROM current_versions c
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_records") as batch_op:
        batch_op.drop_column("target")
    op.drop_table("process_publications")
    op.drop_table("process_drafts")
