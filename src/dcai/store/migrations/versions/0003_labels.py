"""Schema 3: labeling guidelines and stored label reports (agreement, consensus, HLP).

Revision ID: 0003_labels
Revises: 0002_audits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dcai.store.migrations import set_schema_version

revision: str = "0003_labels"
down_revision: str | None = "0002_audits"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "guidelines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("content_object", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("name", "seq", name="uq_guideline_seq"),
        sa.UniqueConstraint("name", "content_object", name="uq_guideline_content"),
    )
    op.create_table(
        "label_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("dataset_versions.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
        sa.Column("table_object", sa.String(64), nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_label_reports_version", "label_reports", ["version_id", "kind"])
    set_schema_version(3)


def downgrade() -> None:
    op.drop_index("ix_label_reports_version", table_name="label_reports")
    op.drop_table("label_reports")
    op.drop_table("guidelines")
    set_schema_version(2)
