"""process versions in the database: which version each district serves, who stored a version

Revision ID: 0004
Revises: 0003

An existing database learns its current versions from what it stored last: per district,
the version first loaded most recently (what the service was serving when it stopped).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("process_versions", sa.Column("created_by", sa.String(length=128), nullable=True))
    op.add_column(
        "process_versions", sa.Column("status", sa.String(length=16), nullable=False, server_default="published")
    )
    op.create_table(
        "current_versions",
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["version"], ["process_versions.version"]),
        sa.PrimaryKeyConstraint("district"),
    )
    op.execute(
        """
        INSERT INTO current_versions (district, version, since, published_by)
        SELECT p.district, p.version, p.first_loaded_at, 'migration 0004'
        FROM process_versions p
        WHERE p.first_loaded_at = (SELECT max(q.first_loaded_at) FROM process_versions q WHERE q.district = p.district)
          AND p.version = (
              SELECT max(r.version) FROM process_versions r
              WHERE r.district = p.district AND r.first_loaded_at = p.first_loaded_at
          )
        """
    )


def downgrade() -> None:
    op.drop_table("current_versions")
    with op.batch_alter_table("process_versions") as batch_op:
        batch_op.drop_column("status")
        batch_op.drop_column("created_by")
