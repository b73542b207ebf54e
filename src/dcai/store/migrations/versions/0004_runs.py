"""Schema 4: experiment tracking — experiments, runs, their params, metrics, tags, artifacts.

Revision ID: 0004_runs
Revises: 0003_labels
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dcai.store.migrations import set_schema_version

revision: str = "0004_runs"
down_revision: str | None = "0003_labels"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False, unique=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("dataset_versions.id"), nullable=True),
        sa.Column("code_json", sa.Text, nullable=False),
        sa.Column("env_json", sa.Text, nullable=False),
        sa.Column("diff_object", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("ended_at", sa.String(40), nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
    )
    op.create_index("ix_runs_experiment", "runs", ["experiment_id", "id"])
    op.create_table(
        "run_params",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "run_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("timestamp", sa.Float, nullable=False),
    )
    op.create_index("ix_run_metrics_key", "run_metrics", ["run_id", "key", "step"])
    op.create_table(
        "run_latest_metrics",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
    )
    op.create_index("ix_run_latest_key_value", "run_latest_metrics", ["key", "value"])
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "run_artifacts",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("name", sa.String(500), primary_key=True),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
    )
    set_schema_version(4)


def downgrade() -> None:
    op.drop_table("run_artifacts")
    op.drop_table("run_tags")
    op.drop_index("ix_run_latest_key_value", table_name="run_latest_metrics")
    op.drop_table("run_latest_metrics")
    op.drop_index("ix_run_metrics_key", table_name="run_metrics")
    op.drop_table("run_metrics")
    op.drop_table("run_params")
    op.drop_index("ix_runs_experiment", table_name="runs")
    op.drop_table("runs")
    op.drop_table("experiments")
    set_schema_version(3)
