"""Doctests of the namespaces (``ws.data``, ``ws.runs``, ...) get a ready workspace as ``ws``.

Each such doctest runs on its own copy of one template, built once per process: 300 digits
(``digits``, split train/dev), three labelers' annotations on 60 of them, an audit, two trained
runs registered as ``digits/1`` and ``digits/2`` (``production`` → 1), and a deployment ``web``
serving ``digits/1``. So a method's example is one line that really runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_TEMPLATE: dict[str, Path] = {}


def _template(root: Path) -> Path:
    if "ws" in _TEMPLATE:
        return _TEMPLATE["ws"]
    import dcai
    from dcai.demo import digits_frame, simulate_labelers

    path = root / "namespace-template"
    with dcai.Workspace(path) as ws:
        ws.data.add("digits", digits_frame().head(300), label="label")
        split = ws.data.split("digits", dev=0.2, test=0.0, seed=0)
        ids = split.to_pandas(columns=["example_id", "label"])
        ws.labels.import_annotations(split.ref, simulate_labelers(ids, n_items=60, seed=0))
        ws.quality.audit("digits", cv=3)
        for C in (1.0, 0.1):
            run = ws.runs.train("digits", params={"C": C}, n_boot=0, capture_code=False).run
            ws.models.register(run, name="digits")
        ws.models.set_alias("digits", 1, "production")
        ws.deployments.create("web", model="digits/1")
    _TEMPLATE["ws"] = path
    return path


@pytest.fixture(autouse=True)
def _namespace_workspace(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Only for doctests of ``dcai.*.namespace`` modules: ``ws`` (a fresh copy) and ``pd``."""
    module = getattr(getattr(request.node, "dtest", None), "name", "")
    wanted = (module.startswith("dcai.") and ".namespace." in module) or module.startswith(
        "dcai.workspace.Workspace."
    )
    if not wanted:
        yield
        return
    import pandas as pd

    import dcai

    template = _template(tmp_path_factory.getbasetemp())
    target = tmp_path_factory.mktemp("ns") / "ws"
    shutil.copytree(template, target)
    ws = dcai.Workspace(target, create=False)
    namespace: dict[str, Any] = request.getfixturevalue("doctest_namespace")
    namespace.update(ws=ws, pd=pd)
    try:
        yield
    finally:
        namespace.pop("ws", None)
        ws.close()
