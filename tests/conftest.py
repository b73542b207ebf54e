"""Shared fixtures: a fresh workspace, a clean DCAI_* environment, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai


@pytest.fixture(autouse=True)
def _clean_dcai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's DCAI_* settings."""
    for key in list(os.environ):
        if key.startswith("DCAI_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DCAI_AUTHOR", "tester")


@pytest.fixture
def tmp_workspace(tmp_path: Path) -> Iterator[dcai.Workspace]:
    ws = dcai.Workspace(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def small_frame(rng: np.random.Generator) -> pd.DataFrame:
    """60 rows: two numeric features, a categorical, a text column, three classes."""
    n = 60
    return pd.DataFrame(
        {
            "x1": rng.normal(size=n).round(4),
            "x2": rng.integers(0, 100, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "review": [f"this is review number {i} with several words" for i in range(n)],
            "label": rng.choice(["cat", "dog", "bird"], size=n),
        }
    )


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def __repr__(self) -> str:
        return f"<CliResult rc={self.returncode}\nstdout={self.stdout}\nstderr={self.stderr}>"


def run_dcai(
    *args: str,
    workspace: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> CliResult:
    """Run the real ``dcai`` entry point in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DCAI_")}
    full_env["DCAI_AUTHOR"] = "tester"
    full_env["COLUMNS"] = "200"
    if env:
        full_env.update(env)
    argv = [sys.executable, "-m", "dcai.cli.main"]
    if workspace is not None:
        argv += ["--workspace", str(workspace)]
    proc = subprocess.run(
        [*argv, *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout
    )
    return CliResult(proc)


@pytest.fixture
def dcai_cli() -> type[object]:
    """The ``run_dcai`` helper, as a fixture for tests that prefer injection."""
    return run_dcai  # type: ignore[return-value]
