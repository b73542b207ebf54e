"""House rules: layers, import budget, public API pin, no AGPL imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import dcai

SRC = Path(dcai.__file__).parent

# Pure algorithm modules: no store, no interfaces, no workspace.
ALGORITHM_MODULES = [
    "data/_content.py",
    "data/_diff.py",
    "data/_readers.py",
    "data/_schema.py",
    "data/_splits.py",
    "quality/_validation.py",
    "quality/_confident_learning.py",
    "quality/_ranking.py",
    "quality/_label_issues.py",
    "quality/_neighbors.py",
    "quality/_outliers.py",
    "quality/_duplicates.py",
    "quality/_dataset_issues.py",
    "quality/_features.py",
    "quality/_models.py",
    "quality/_cross_val.py",
    "quality/_embeddings.py",
    "labels/_agreement.py",
    "labels/_agreement_bootstrap.py",
    "labels/_agreement_by.py",
    "labels/_agreement_input.py",
    "labels/_agreement_kernels.py",
    "labels/_agreement_stats.py",
    "labels/_agreement_tables.py",
    "labels/_annotation_codes.py",
    "labels/_consensus.py",
    "labels/_convention_rules.py",
    "labels/_convention_text.py",
    "labels/_conventions.py",
    "labels/_dawid_skene.py",
    "labels/_hlp.py",
    "labels/_label_studio.py",
    "labels/_sampling.py",
    "labels/_tasks.py",
    "analysis/_metrics.py",
    "analysis/_metrics_input.py",
    "analysis/_metrics_resample.py",
    "analysis/_priorities.py",
    "analysis/_requirements.py",
    "analysis/_slices.py",
    "analysis/_slice_predicates.py",
    "analysis/_slice_search.py",
    "analysis/_slice_parse.py",
    "analysis/_slice_report.py",
    "analysis/_slice_stats.py",
    "analysis/_learning_curve.py",
    "analysis/_power_law.py",
    "analysis/_curve_fits.py",
    "analysis/_clean_vs_collect.py",
    "experiments/_code_version.py",
    "experiments/_environment.py",
    "experiments/_where.py",
]
FORBIDDEN_FOR_ALGORITHMS = (
    "dcai.store",
    "dcai.cli",
    "dcai.workspace",
    "sqlalchemy",
    "typer",
    "fastapi",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_algorithms_do_not_import_the_store_or_interfaces() -> None:
    for relative in ALGORITHM_MODULES:
        for name in _imports(SRC / relative):
            assert not name.startswith(FORBIDDEN_FOR_ALGORITHMS), f"{relative} imports {name}"


def test_nothing_imports_cleanlab() -> None:
    for path in SRC.rglob("*.py"):
        assert not any(n.split(".")[0] == "cleanlab" for n in _imports(path)), path


def test_import_budget_of_the_pure_data_package() -> None:
    code = (
        "import sys, dcai.data\n"
        "heavy = [m for m in ('sqlalchemy', 'typer', 'rich', 'fastapi', 'dask', 'sklearn') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_pinned() -> None:
    assert sorted(dcai.__all__) == [
        "ColumnRoles",
        "DatasetSummary",
        "DatasetVersion",
        "DcaiError",
        "InvalidInputError",
        "MissingDependencyError",
        "SchemaError",
        "UnknownRefError",
        "VersionDiff",
        "Workspace",
        "WorkspaceBusyError",
        "WorkspaceError",
        "__version__",
    ]
    for name in dcai.__all__:
        assert getattr(dcai, name) is not None


def test_error_tree() -> None:
    assert issubclass(dcai.SchemaError, dcai.InvalidInputError)
    assert issubclass(dcai.InvalidInputError, ValueError)
    assert issubclass(dcai.UnknownRefError, LookupError)
    assert issubclass(dcai.WorkspaceBusyError, dcai.WorkspaceError)
    assert issubclass(dcai.MissingDependencyError, ImportError)


def test_import_budget_of_the_quality_algorithms() -> None:
    code = (
        "import sys, dcai.quality\n"
        "from dcai.quality import find_label_issues, find_outliers, find_duplicates\n"
        "heavy = [m for m in ('sqlalchemy', 'typer', 'rich', 'fastapi', 'dask', 'distributed', 'torch')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_quality_public_api_is_pinned() -> None:
    import dcai.quality

    assert dcai.quality.__all__ == [
        "LabelNoiseEstimate",
        "compute_confident_joint",
        "cross_val_predict_proba",
        "default_model",
        "embed_text",
        "estimate_label_noise",
        "feature_matrix",
        "find_class_imbalance",
        "find_duplicates",
        "find_label_issues",
        "find_missing_values",
        "find_outliers",
        "label_quality_scores",
        "missing_value_summary",
        "nearest_neighbors",
        "neighbor_label_probs",
    ]
    for name in dcai.quality.__all__:
        assert callable(getattr(dcai.quality, name))


HEAVY_FOR_THE_CLI = ("pandas", "numpy", "sqlalchemy", "sklearn", "scipy", "pyarrow", "plotly")


def test_import_budget_of_the_cli() -> None:
    """Issue 21: `dcai --help` builds the whole command tree without the data stack.

    Commands import the workspace (pandas, SQLAlchemy, ...) when they run, not when the CLI
    module is loaded; ``--help`` of the root and of a group must stay that light too.
    """
    code = (
        "import sys\n"
        "from dcai.cli.main import main\n"
        "for args in (['--help'], ['data', '--help'], ['runs', 'list', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"heavy = [m for m in {HEAVY_FOR_THE_CLI!r} if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="


def test_import_dcai_is_light() -> None:
    code = (
        "import sys, dcai\n"
        f"heavy = [m for m in {(*HEAVY_FOR_THE_CLI, 'typer', 'rich')!r} if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_listing_datasets_loads_no_data_stack(tmp_path: Path) -> None:
    """Issue 21: `dcai data list` reads the catalogue with SQL only (no pandas, pyarrow)."""
    ws = tmp_path / "ws"
    subprocess.run(
        [sys.executable, "-c", f"import dcai; dcai.Workspace({str(ws)!r})"], check=True
    )
    code = (
        "import sys, contextlib, io\n"
        "from dcai.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        main(['-w', {str(ws)!r}, 'data', 'list', '--json'])\n"
        "    except SystemExit as exit:\n"
        "        assert not exit.code, exit.code\n"
        "heavy = [m for m in ('pandas', 'numpy', 'pyarrow', 'sklearn', 'scipy') "
        "if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="
