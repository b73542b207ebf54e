"""Schema 5: the model registry — versions made from runs, aliases and every alias move.

Revision ID: 0005_registry
Revises: 0004_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dcai.store.migrations import set_schema_version

revision: str = "0005_registry"
down_revision: str | None = "0004_runs"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("dataset_versions.id"), nullable=True),
        sa.Column("model_object", sa.String(64), nullable=False),
        sa.Column("signature_json", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_model_version"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
        sa.Column("alias", sa.String(100), primary_key=True),
        sa.Column(
            "model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False
        ),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "model_alias_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("alias", sa.String(100), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_index("ix_alias_events_model", "model_alias_events", ["model_id", "id"])
    set_schema_version(5)


def downgrade() -> None:
    op.drop_index("ix_alias_events_model", table_name="model_alias_events")
    op.drop_table("model_alias_events")
    op.drop_table("model_aliases")
    op.drop_table("model_versions")
    op.drop_table("models")
    set_schema_version(4)
