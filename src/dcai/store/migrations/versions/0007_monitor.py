"""Schema 7: monitoring — a deployment's windows as a time series, and its alert episodes.

Revision ID: 0007_monitor
Revises: 0006_deployments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dcai.store.migrations import set_schema_version

revision: str = "0007_monitor"
down_revision: str | None = "0006_deployments"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment", sa.String(200), nullable=False),
        sa.Column("spec", sa.String(40), nullable=False),
        sa.Column("window_start", sa.String(40), nullable=False),
        sa.Column("window_end", sa.String(40), nullable=False),
        sa.Column("complete", sa.Integer, nullable=False),
        sa.Column("model_version", sa.String(220), nullable=True),
        sa.Column("metrics_json", sa.Text, nullable=False),
        sa.Column("columns_json", sa.Text, nullable=False),
        sa.Column("computed_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("deployment", "spec", "window_start", name="uq_monitor_window"),
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment", sa.String(200), nullable=False),
        sa.Column("spec", sa.String(40), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("since", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("alert_json", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("deployment", "spec", "rule", "since", name="uq_monitor_alert"),
    )
    set_schema_version(7)


def downgrade() -> None:
    op.drop_table("monitor_alerts")
    op.drop_table("monitor_windows")
    set_schema_version(6)
