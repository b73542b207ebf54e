"""``dcai drift`` through the real CLI: files and dataset versions, strict JSON, the exit code
on drift, and bad input named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import assert_rejected, ok


def _refuse(constant: str) -> None:
    raise AssertionError(f"not strict JSON: {constant}")


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drift")
    rng = np.random.default_rng(7)
    n = 3000

    def frame(shift: float, share_b: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "age": rng.normal(40 + shift, 10, n).round(1),
                "steady": rng.normal(0, 1, n),
                "colour": rng.choice(["a", "b"], n, p=[1 - share_b, share_b]),
                "blank": np.nan,
                "label": rng.integers(0, 3, n),
            }
        )

    frame(0, 0.5).to_csv(root / "ref.csv", index=False)
    frame(5, 0.8).to_csv(root / "cur.csv", index=False)
    frame(0, 0.5).drop(columns="steady").to_csv(root / "narrow.csv", index=False)
    return root


def test_files_compare_column_by_column_in_strict_json(tables: Path) -> None:
    result = run_dcai("drift", str(tables / "ref.csv"), str(tables / "cur.csv"), "--json")
    ok(result)
    report = json.loads(result.stdout, parse_constant=_refuse)
    by_column = {c["column"]: c for c in report["columns"]}
    assert report["drift"] is True
    assert by_column["age"]["drift"] and by_column["age"]["method"] == "ks"
    assert by_column["colour"]["drift"] and by_column["colour"]["method"] == "chi2"
    assert not by_column["steady"]["drift"]
    assert by_column["blank"]["p_value"] is None and not by_column["blank"]["drift"]
    assert set(by_column["age"]) == {"column", "method", "p_value", "p_adjusted", "effect", "drift"}


def test_fail_on_drift_sets_the_exit_code_and_the_table_says_why(tables: Path) -> None:
    drifted = run_dcai("drift", str(tables / "ref.csv"), str(tables / "cur.csv"), "--fail-on-drift")
    assert drifted.returncode == 1, drifted.stderr
    assert "drift in" in drifted.stdout and "age" in drifted.stdout
    same = run_dcai("drift", str(tables / "ref.csv"), str(tables / "ref.csv"), "--fail-on-drift")
    assert same.returncode == 0 and "no drift" in same.stdout


def test_dataset_versions_compare_features_and_label(tables: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ok(run_dcai("init", workspace=ws))
    for name in ("ref", "cur"):
        ok(run_dcai("data", "add", "t", str(tables / f"{name}.csv"), workspace=ws))
    result = run_dcai("drift", "t@v1", "t@v2", "--json", workspace=ws)
    ok(result)
    columns = {c["column"]: c for c in json.loads(result.stdout)["columns"]}
    assert "label" in columns and columns["label"]["method"] == "chi2"  # integer classes
    assert columns["age"]["drift"] and not columns["label"]["drift"]


def test_bad_input_is_named(tables: Path, tmp_path: Path) -> None:
    assert_rejected(
        run_dcai("drift", str(tables / "ref.csv"), str(tables / "narrow.csv")), "steady"
    )
    assert_rejected(
        run_dcai("drift", str(tables / "ref.csv"), str(tables / "cur.csv"), "--correction", "x"),
        "--correction",
    )
    ok(run_dcai("init", workspace=tmp_path / "ws"))
    assert_rejected(
        run_dcai("drift", "nope@v1", str(tables / "cur.csv"), workspace=tmp_path / "ws"),
        "nope",
    )
