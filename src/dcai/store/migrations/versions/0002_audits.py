"""Schema 2: stored audits of a version and the review decisions taken on them.

Revision ID: 0002_audits
Revises: 0001_datasets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dcai.store.migrations import set_schema_version

revision: str = "0002_audits"
down_revision: str | None = "0001_datasets"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("audit_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("dataset_versions.id"), nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
        sa.Column("scores_object", sa.String(64), nullable=False),
        sa.Column("issues_object", sa.String(64), nullable=False),
        sa.Column("probs_object", sa.String(64), nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_audits_version", "audits", ["version_id"])
    op.create_table(
        "review_decisions",
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id"), primary_key=True),
        sa.Column("example_id", sa.String(200), primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("label_json", sa.Text, nullable=True),
        sa.Column("issue_types", sa.String(200), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "review_applications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id"), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("dataset_versions.id"), nullable=False),
        sa.Column("decisions", sa.Integer, nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("applied_at", sa.String(40), nullable=False),
    )
    set_schema_version(2)


def downgrade() -> None:
    op.drop_table("review_applications")
    op.drop_table("review_decisions")
    op.drop_index("ix_audits_version", table_name="audits")
    op.drop_table("audits")
    set_schema_version(1)
