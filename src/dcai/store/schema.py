"""The metadata schema: every table (SQLAlchemy Core), public for the repositories that own the SQL.

Workflow modules (``dcai.data.versions``, ``dcai.quality.audit``, ``dcai.experiments.runs``,
...) query these tables through ``stores.meta``; algorithm modules never import this module (a
test checks). The tables change only through Alembic revisions (``dcai.store.migrations``);
each schema version's tables are listed for them.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

meta = Table(
    "dcai_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(200), nullable=False),
)

versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    # sha256 of the canonical content (data + annotations + column roles).
    Column("version_hash", String(64), nullable=False),
    # 1, 2, 3 … within the dataset, in commit order.
    Column("seq", Integer, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("data_object", String(64), nullable=False),
    Column("annotations_object", String(64), nullable=True),
    Column("n_annotations", Integer, nullable=False, default=0),
    Column("schema_json", Text, nullable=False),
    Column("operation", String(64), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("author", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("dataset_id", "version_hash", name="uq_version_hash"),
    UniqueConstraint("dataset_id", "seq", name="uq_version_seq"),
)
Index("ix_versions_hash", versions.c.version_hash)

version_parents = Table(
    "version_parents",
    metadata,
    Column("child_id", Integer, ForeignKey("dataset_versions.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("dataset_versions.id"), nullable=False),
)

# Schema 2: audits of a version and the review decisions taken on them. --------------------

audits = Table(
    "audits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sha256 of (version, parameters, per-example results): the same audit is stored once.
    Column("audit_hash", String(64), nullable=False, unique=True),
    Column("version_id", Integer, ForeignKey("dataset_versions.id"), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("summary_json", Text, nullable=False),
    # Per-example scores, the issue list, and the out-of-sample probabilities (Parquet).
    Column("scores_object", String(64), nullable=False),
    Column("issues_object", String(64), nullable=False),
    Column("probs_object", String(64), nullable=True),
    Column("author", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
)
Index("ix_audits_version", audits.c.version_id)

review_decisions = Table(
    "review_decisions",
    metadata,
    Column("audit_id", Integer, ForeignKey("audits.id"), primary_key=True),
    Column("example_id", String(200), primary_key=True),
    # relabel | keep | remove
    Column("action", String(16), nullable=False),
    # The new label as JSON (keeps its type: 3 stays an integer, "3" a string).
    Column("label_json", Text, nullable=True),
    Column("issue_types", String(200), nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("note", Text, nullable=False),
    Column("decided_at", String(40), nullable=False),
)

review_applications = Table(
    "review_applications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("audit_id", Integer, ForeignKey("audits.id"), nullable=False),
    # The child version the decisions produced (the audited version itself when none changed it).
    Column("version_id", Integer, ForeignKey("dataset_versions.id"), nullable=False),
    Column("decisions", Integer, nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("applied_at", String(40), nullable=False),
)

# Schema 3: labeling guidelines and stored label reports (agreement, consensus, HLP). -------

guidelines = Table(
    "guidelines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    # 1, 2, 3 … within the name, in commit order; identical text is the same version.
    Column("seq", Integer, nullable=False),
    Column("content_object", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("author", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("name", "seq", name="uq_guideline_seq"),
    UniqueConstraint("name", "content_object", name="uq_guideline_content"),
)

label_reports = Table(
    "label_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version_id", Integer, ForeignKey("dataset_versions.id"), nullable=False),
    # agreement | consensus | hlp
    Column("kind", String(32), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("summary_json", Text, nullable=False),
    # The report's main table (Parquet): per pair, per example, or per scope and group.
    Column("table_object", String(64), nullable=True),
    Column("author", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
)
Index("ix_label_reports_version", label_reports.c.version_id, label_reports.c.kind)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The run's public id (32 hex digits); its first 8 name it on the command line.
    Column("run_id", String(32), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(200), nullable=False),
    # RUNNING | FINISHED | FAILED (CRASHED is derived: RUNNING whose process is gone)
    Column("status", String(16), nullable=False),
    Column("version_id", Integer, ForeignKey("dataset_versions.id"), nullable=True),
    Column("code_json", Text, nullable=False),
    Column("env_json", Text, nullable=False),
    Column("diff_object", String(64), nullable=True),
    Column("error", Text, nullable=True),
    Column("author", String(200), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("ended_at", String(40), nullable=True),
    # Updated at every flush: a RUNNING run whose heartbeat stops is reported CRASHED.
    Column("heartbeat_at", Float, nullable=False),
)
Index("ix_runs_experiment", runs.c.experiment_id, runs.c.id)

run_params = Table(
    "run_params",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

run_metrics = Table(
    "run_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float, nullable=False),
    Column("step", Integer, nullable=False),
    Column("timestamp", Float, nullable=False),
)
Index("ix_run_metrics_key", run_metrics.c.run_id, run_metrics.c.key, run_metrics.c.step)

#: The latest value of every metric of every run: what filters and listings read.
run_latest_metrics = Table(
    "run_latest_metrics",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float, nullable=False),
    Column("step", Integer, nullable=False),
)
Index("ix_run_latest_key_value", run_latest_metrics.c.key, run_latest_metrics.c.value)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("name", String(500), primary_key=True),
    Column("object", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
)

# Schema 5: the model registry — versions made from runs, aliases and their moves. ------------

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    # 1, 2, 3 … within the model, in registration order.
    Column("version", Integer, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("version_id", Integer, ForeignKey("dataset_versions.id"), nullable=True),
    # sha256 of the fitted model (the run's model artifact).
    Column("model_object", String(64), nullable=False),
    # Training features (name, dtype, role), label column and classes: what serving checks.
    Column("signature_json", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("author", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("model_id", "version", name="uq_model_version"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column("model_version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", String(40), nullable=False),
)

#: Every move of an alias (set, moved, removed): who, when, from which version to which.
model_alias_events = Table(
    "model_alias_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("author", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", String(40), nullable=False),
)
Index("ix_alias_events_model", model_alias_events.c.model_id, model_alias_events.c.id)

# Schema 6: deployments — an endpoint's routing, as an append-only history of revisions. -----

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(200), nullable=False),
)

#: Every change of a deployment is a new revision (1, 2, 3 … within it); the newest is live.
#: A revision holds the whole routing, so any revision can be served or returned to as is.
deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", Integer, ForeignKey("deployments.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    # create, canary, shadow, promote, rollback, set, ramp
    Column("action", String(32), nullable=False),
    Column("primary_version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("canary_version_id", Integer, ForeignKey("model_versions.id"), nullable=True),
    Column("canary_percent", Float, nullable=False),
    Column("shadow_version_id", Integer, ForeignKey("model_versions.id"), nullable=True),
    # full, partial, assist, shadow: the degree of automation.
    Column("mode", String(16), nullable=False),
    Column("review_below", Float, nullable=True),
    # The revision this one changed; a rollback returns to the parent's parent's routing.
    Column("parent_revision", Integer, nullable=True),
    Column("reason", Text, nullable=False),
    Column("author", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("deployment_id", "revision", name="uq_deployment_revision"),
)

# Schema 7: monitoring — windows of a deployment's log as a time series, and its alerts. ------

#: One row per deployment and window; recomputing a window replaces its row. The metrics are
#: a JSON object (metric → number or null), the per-column table a JSON list of objects.
monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(200), nullable=False),
    # "3600s" for time windows, "every:500" for request-count windows.
    Column("spec", String(40), nullable=False),
    Column("window_start", String(40), nullable=False),
    Column("window_end", String(40), nullable=False),
    Column("complete", Integer, nullable=False),
    Column("model_version", String(220), nullable=True),
    Column("metrics_json", Text, nullable=False),
    Column("columns_json", Text, nullable=False),
    Column("computed_at", String(40), nullable=False),
    UniqueConstraint("deployment", "spec", "window_start", name="uq_monitor_window"),
)

#: One row per alert episode (a rule in breach from ``since``); its state moves from firing to
#: resolved once. Delivery (console, JSON Lines, webhook) happens when a row is made or resolved.
monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(200), nullable=False),
    Column("spec", String(40), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("since", String(40), nullable=False),
    Column("state", String(16), nullable=False),
    Column("alert_json", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
    UniqueConstraint("deployment", "spec", "rule", "since", name="uq_monitor_alert"),
)

#: Tables introduced by each schema version, in order. Migration N creates these.
TABLES_BY_SCHEMA_VERSION: dict[int, list[Table]] = {
    1: [meta, datasets, versions, version_parents],
    2: [audits, review_decisions, review_applications],
    3: [guidelines, label_reports],
    4: [experiments, runs, run_params, run_metrics, run_latest_metrics, run_tags, run_artifacts],
    5: [models, model_versions, model_aliases, model_alias_events],
    6: [deployments, deployment_revisions],
    7: [monitor_windows, monitor_alerts],
}

#: Every column that references an object in the artifact store; garbage collection keeps
#: exactly the objects named here. Tables added by later schema versions append theirs.
OBJECT_REFERENCES = [
    versions.c.data_object,
    versions.c.annotations_object,
    audits.c.scores_object,
    audits.c.issues_object,
    audits.c.probs_object,
    guidelines.c.content_object,
    label_reports.c.table_object,
    runs.c.diff_object,
    run_artifacts.c.object,
    model_versions.c.model_object,
]
