"""Labels: annotations from several labelers (agreement and aggregation build on these)."""

from __future__ import annotations

from dcai.labels.annotations import ANNOTATION_COLUMNS, import_annotations, read_annotations

__all__ = ["ANNOTATION_COLUMNS", "import_annotations", "read_annotations"]
