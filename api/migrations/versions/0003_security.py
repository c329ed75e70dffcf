"""security: an append-only audit trail with request, source and token; revoked tokens

Revision ID: 0003
Revises: 0002

The audit trail is append-only in the database, not by convention: triggers refuse
UPDATE and DELETE (and TRUNCATE on PostgreSQL; on SQLite an INSERT OR REPLACE) of audit
rows, whoever asks.  What a trigger cannot stop is the table's owner dropping or disabling
it: in production the schema belongs to the role that migrates, and the service's role
gets SELECT and INSERT only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MESSAGE = "the audit trail is append-only"


def upgrade() -> None:
    for name in ("case_district", "request_id", "source", "token_id"):
        op.add_column("audit_records", sa.Column(name, sa.String(length=64), nullable=True))
    op.create_index("ix_audit_records_case_district", "audit_records", ["case_district"])
    op.create_table(
        "revocations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("issued_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_revocations_token_id", "revocations", ["token_id"], unique=True)
    op.create_index("ix_revocations_subject", "revocations", ["subject"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END $$;
            CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records
                FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
            CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
                FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
            """
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_records_no_{verb.lower()} BEFORE {verb} ON audit_records "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
        # INSERT OR REPLACE deletes the row it replaces without firing DELETE triggers (unless
        # recursive_triggers is on): an insert may only add a row, never land on an existing one.
        op.execute(
            "CREATE TRIGGER audit_records_no_replace BEFORE INSERT ON audit_records "
            "WHEN EXISTS (SELECT 1 FROM audit_records WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_records_no_truncate ON audit_records")
        op.execute("DROP TRIGGER audit_records_no_change ON audit_records")
        op.execute("DROP FUNCTION audit_records_append_only()")
    else:
        op.execute("DROP TRIGGER audit_records_no_replace")
        op.execute("DROP TRIGGER audit_records_no_update")
        op.execute("DROP TRIGGER audit_records_no_delete")
    op.drop_index("ix_revocations_subject", table_name="revocations")
    op.drop_index("ix_revocations_token_id", table_name="revocations")
    op.drop_table("revocations")
    op.drop_index("ix_audit_records_case_district", table_name="audit_records")
    with op.batch_alter_table("audit_records") as batch_op:
        for name in ("token_id", "source", "request_id", "case_district"):
            batch_op.drop_column(name)
