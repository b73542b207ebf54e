"""Schema 1: the settings table, datasets, their versions and the versions' parents.

Revision ID: 0001_datasets
Revises: (none)
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

from dcai.store.migrations import meta_table, set_schema_version

revision: str = "0001_datasets"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "dcai_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("data_object", sa.String(64), nullable=False),
        sa.Column("annotations_object", sa.String(64), nullable=True),
        sa.Column("n_annotations", sa.Integer, nullable=False),
        sa.Column("schema_json", sa.Text, nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("dataset_id", "version_hash", name="uq_version_hash"),
        sa.UniqueConstraint("dataset_id", "seq", name="uq_version_seq"),
    )
    op.create_index("ix_versions_hash", "dataset_versions", ["version_hash"])
    op.create_table(
        "version_parents",
        sa.Column("child_id", sa.Integer, sa.ForeignKey("dataset_versions.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("dataset_versions.id"), nullable=False),
    )
    # When this database began: gc refuses to delete objects older than it.
    op.execute(meta_table().insert().values(key="created_at", value=repr(time.time())))
    set_schema_version(1)


def downgrade() -> None:
    op.drop_table("version_parents")
    op.drop_index("ix_versions_hash", table_name="dataset_versions")
    op.drop_table("dataset_versions")
    op.drop_table("datasets")
    op.drop_table("dcai_meta")
