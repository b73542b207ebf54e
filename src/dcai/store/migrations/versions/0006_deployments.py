"""Schema 6: deployments — an endpoint's routing as an append-only history of revisions.

Revision ID: 0006_deployments
Revises: 0005_registry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dcai.store.migrations import set_schema_version

revision: str = "0006_deployments"
down_revision: str | None = "0005_registry"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "deployment_revisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column(
            "primary_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False
        ),
        sa.Column(
            "canary_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=True
        ),
        sa.Column("canary_percent", sa.Float, nullable=False),
        sa.Column(
            "shadow_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=True
        ),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("review_below", sa.Float, nullable=True),
        sa.Column("parent_revision", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("deployment_id", "revision", name="uq_deployment_revision"),
    )
    set_schema_version(6)


def downgrade() -> None:
    op.drop_table("deployment_revisions")
    op.drop_table("deployments")
    set_schema_version(5)
