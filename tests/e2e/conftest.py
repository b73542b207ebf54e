"""Fixtures shared by the end-to-end tests: one populated workspace per module, copied per test.

The template holds dataset ``ds`` — 60 rows of :func:`base_frame` with ids ``u000``..``u059``
as v1, and a seeded split of it as v2 — built through the real CLI once per test module.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import Template, base_frame, ok, ok_json, snapshot


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    root = tmp_path_factory.mktemp("template")
    ws = root / "ws"
    ok(run_dcai("init", workspace=ws))
    base_frame().to_csv(root / "base.csv", index=False)
    v1 = ok_json(
        run_dcai("data", "add", "ds", str(root / "base.csv"), "--id", "uid", "--json", workspace=ws)
    )
    v2 = ok_json(run_dcai("data", "split", "ds", "--seed", "3", "--json", workspace=ws))
    return Template(path=ws, snapshot=snapshot(ws), v1=v1, v2=v2)


@pytest.fixture
def ws(template: Template, tmp_path: Path) -> Path:
    """A private copy of the template workspace."""
    path = tmp_path / "ws"
    shutil.copytree(template.path, path)
    return path


def shuffled_digits(seed: int) -> pd.DataFrame:
    """scikit-learn's digits in a seeded random order (index reset)."""
    from dcai.demo import digits_frame

    return digits_frame().sample(frac=1.0, random_state=seed).reset_index(drop=True)


def build_deploy_workspace(
    ws: Path,
    *,
    rows: int = 300,
    c_values: tuple[float, ...] = (1.0, 0.1),
    deploy: bool = True,
    shuffle: int | None = None,
) -> Path:
    """A workspace with digits (``rows`` rows, split), one registered model version per C
    (``digits/1``, ``digits/2``, ...) and deployment ``web`` serving ``digits/1``.

    ``shuffle`` (a seed) takes the rows from :func:`shuffled_digits` instead of the first ones
    (scikit-learn's digits are grouped by writer: later rows differ from earlier ones).

    Built with the library — seconds, where the CLI takes a process per step; the tests that
    use it exercise ``dcai deploy`` / ``dcai serve``, and the CLI steps that build it are tested
    on their own elsewhere.
    """
    import dcai
    from dcai.demo import digits_frame

    with dcai.Workspace(ws) as workspace:
        frame = digits_frame() if shuffle is None else shuffled_digits(shuffle)
        workspace.data.add("digits", frame.head(rows), label="label")
        workspace.data.split("digits", dev=0.2, test=0.0, seed=0)
        for c in c_values:
            run = workspace.runs.train("digits", params={"C": c}, n_boot=0, capture_code=False)
            workspace.models.register(run.run, name="digits")
        if deploy:
            workspace.deployments.create("web", model="digits/1")
    return ws
