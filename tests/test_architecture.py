"""House rules: layers, import budget, public API pin, no AGPL imports."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import dcai

SRC = Path(dcai.__file__).parent

# Layers (../shared/DESIGN.md): algorithms < workflows < Workspace < interfaces. The modules of
# each layer are discovered, not listed: under an algorithm package, a module whose source
# imports one of WORKFLOW_MARKERS (anywhere: at module level, in a function, under
# TYPE_CHECKING) is a *workflow*; every other module, the package's ``__init__`` included, is an
# *algorithm*, and must load neither a workflow nor anything in FORBIDDEN_FOR_ALGORITHMS.
ALGORITHM_PACKAGES = ("quality", "labels", "analysis", "monitor", "rules", "augment")
# Packages of the foundation and of run tracking, whose pure modules sit beside workflow ones:
# the same rule holds for them.
MIXED_PACKAGES = ("data", "experiments", "deploy")
WORKFLOW_MARKERS = ("dcai.store", "dcai.workspace", "sqlalchemy")
FORBIDDEN_FOR_ALGORITHMS = (
    "dcai.store",
    "dcai.workspace",
    "dcai.cli",
    "sqlalchemy",
    "rich",
    "typer",
    "fastapi",
)


@dataclass(frozen=True)
class Import:
    name: str  # a module, or for ``from m import x`` also ``m.x`` (x may be a submodule)
    runtime: bool  # False under ``if TYPE_CHECKING:``
    eager: bool  # at module level, not inside a function


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, package: str) -> None:
        self.package = package
        self.found: list[Import] = []
        self._type_checking = 0
        self._functions = 0

    def _add(self, name: str) -> None:
        self.found.append(Import(name, not self._type_checking, not self._functions))

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        self.visit(test)
        self._type_checking += guarded
        for child in node.body:
            self.visit(child)
        self._type_checking -= guarded
        for child in node.orelse:
            self.visit(child)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:  # relative: resolve against the importing package
            parts = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        self._add(base)
        for alias in node.names:
            self._add(f"{base}.{alias.name}")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(path: Path) -> list[Import]:
    name = _module_name(path)
    collector = _ImportCollector(name if path.name == "__init__.py" else name.rpartition(".")[0])
    collector.visit(ast.parse(path.read_text()))
    return collector.found


def _imports(path: Path) -> set[str]:
    return {i.name for i in _imports_of(path)}


def _is_under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _layers() -> dict[str, tuple[list[str], list[str]]]:
    """``{package: (algorithm modules, workflow modules)}`` for each algorithm package present."""
    layers: dict[str, tuple[list[str], list[str]]] = {}
    for package in (*ALGORITHM_PACKAGES, *MIXED_PACKAGES):
        if not (SRC / package).is_dir():
            continue  # a package the design plans but the code has not grown yet
        algorithms: list[str] = []
        workflows: list[str] = []
        for path in sorted((SRC / package).rglob("*.py")):
            uses_the_store = any(_is_under(i.name, WORKFLOW_MARKERS) for i in _imports_of(path))
            (workflows if uses_the_store else algorithms).append(_module_name(path))
        layers[f"dcai.{package}"] = (algorithms, workflows)
    return layers


LAYERS = _layers()
ALGORITHM_MODULES = sorted(m for algorithms, _ in LAYERS.values() for m in algorithms)
WORKFLOW_MODULES = sorted(m for _, workflows in LAYERS.values() for m in workflows)


def test_layers_are_discovered() -> None:
    assert {"dcai.quality", "dcai.labels", "dcai.analysis"} <= set(LAYERS)
    for package, (algorithms, _) in LAYERS.items():
        assert package in algorithms, f"{package}/__init__.py must be an algorithm module"
    assert {"dcai.quality.audit", "dcai.quality.review", "dcai.labels.reports"} <= set(
        WORKFLOW_MODULES
    )
    assert {"dcai.quality._label_issues", "dcai.labels._agreement"} <= set(ALGORITHM_MODULES)


def _path_of(module: str) -> Path:
    path = SRC.parent.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def test_algorithms_do_not_import_a_workflow() -> None:
    """Direct imports, read from the source; a lazy import inside a function is allowed."""
    forbidden = (*FORBIDDEN_FOR_ALGORITHMS, *WORKFLOW_MODULES)
    problems = sorted(
        {
            f"{module} imports {name}"
            for module in ALGORITHM_MODULES
            for i in _imports_of(_path_of(module))
            if i.runtime and i.eager
            for name in forbidden
            if _is_under(i.name, (name,))
        }
    )
    assert not problems, "\n".join(problems)


# Runs in a fresh interpreter: numpy, pandas, SciPy and scikit-learn (allowed for algorithms, and
# slow to import) are loaded once; then each target is imported in a forked child (or, without
# fork, in an interpreter of its own), with no dcai module loaded yet.
# A meta-path hook records which dcai modules were on the stack when the first forbidden module
# was imported, so a failure names the import chain.
_FRESH_IMPORT = """
import importlib, json, os, sys, traceback

forbidden, targets = json.loads(sys.argv[1]), json.loads(sys.argv[2])
chains = {}  # forbidden name -> the dcai modules on the stack when it was first imported

def under(name, prefix):
    return name == prefix or name.startswith(prefix + ".")

class Recorder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        for prefix in forbidden:
            if under(name, prefix) and prefix not in chains:
                chain, frame = [prefix], sys._getframe(1)
                while frame is not None:
                    module = frame.f_globals.get("__name__", "")
                    if module.startswith("dcai") and module not in chain:
                        chain.insert(0, module)
                    frame = frame.f_back
                chains[prefix] = chain
        return None

def check(target):
    sys.meta_path.insert(0, Recorder)
    try:
        importlib.import_module(target)
    except Exception:
        result = {"target": target, "error": traceback.format_exc()}
    else:
        loaded = [f for f in forbidden if any(under(m, f) for m in sys.modules)]
        result = {"target": target, "loaded": {f: chains.get(f, [f]) for f in loaded}}
    print(json.dumps(result), flush=True)

import numpy, pandas, scipy.stats, sklearn.base
for target in targets:
    if len(targets) == 1 or not hasattr(os, "fork"):
        check(target)
        break
    pid = os.fork()
    if pid == 0:
        check(target)
        os._exit(0)
    os.waitpid(pid, 0)
"""


def _fresh_imports(targets: list[str], forbidden: list[str]) -> list[dict[str, Any]]:
    batches = [targets] if hasattr(os, "fork") else [[t] for t in targets]
    results: list[dict[str, Any]] = []
    for batch in batches:
        out = subprocess.run(
            [sys.executable, "-c", _FRESH_IMPORT, json.dumps(forbidden), json.dumps(batch)],
            capture_output=True,
            text=True,
            check=True,
        )
        results += [json.loads(line) for line in out.stdout.splitlines()]
    return results


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_algorithms_load_no_workflow_in_a_fresh_interpreter(package: str) -> None:
    """Transitively: ``import dcai.labels`` and each algorithm module load no SQLAlchemy, store,
    workspace, workflow module, Rich or Typer."""
    algorithms, _ = LAYERS[package]
    forbidden = [*FORBIDDEN_FOR_ALGORITHMS, *WORKFLOW_MODULES]
    results = _fresh_imports(algorithms, forbidden)
    assert [r["target"] for r in results] == algorithms
    problems = [
        f"import {r['target']} failed:\n{r['error']}"
        if "error" in r
        else f"import {r['target']} loads "
        + "; ".join(" -> ".join(c) for c in sorted(r["loaded"].values(), key=len))
        for r in results
        if "error" in r or r["loaded"]
    ]
    assert not problems, "\n".join(problems)


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
    subprocess.run([sys.executable, "-c", f"import dcai; dcai.Workspace({str(ws)!r})"], check=True)
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


# The root and its namespaces (issue 22) ---------------------------------------------------

# Only the root and the interfaces know the Workspace; everything below takes ``Stores``.
WORKSPACE_USERS = (
    "dcai",
    "dcai.workspace",
    "dcai.cli",
    "dcai.demo",
    "dcai._demo_deploy",
    "dcai._demo_monitor",
)


def _all_modules() -> list[tuple[str, Path]]:
    return [(_module_name(path), path) for path in sorted(SRC.rglob("*.py"))]


def test_only_the_root_and_interfaces_import_the_workspace() -> None:
    """Any import counts (lazy, under TYPE_CHECKING): workflows are typed against ``Stores``."""
    problems = [
        f"{module} imports {i.name}"
        for module, path in _all_modules()
        if not _is_under(module, WORKSPACE_USERS[2:]) and module not in WORKSPACE_USERS[:2]
        for i in _imports_of(path)
        if _is_under(i.name, ("dcai.workspace",))
    ]
    assert not problems, "\n".join(problems)


def test_private_store_modules_stay_inside_the_store() -> None:
    problems = [
        f"{module} imports {i.name}"
        for module, path in _all_modules()
        if not _is_under(module, ("dcai.store",))
        for i in _imports_of(path)
        if i.name.startswith("dcai.store._")
    ]
    assert not problems, "\n".join(problems)


NAMESPACES = {
    "data": "dcai.data.namespace.DataNamespace",
    "labels": "dcai.labels.namespace.LabelsNamespace",
    "quality": "dcai.quality.namespace.QualityNamespace",
    "analysis": "dcai.analysis.namespace.AnalysisNamespace",
    "runs": "dcai.experiments.namespace.RunsNamespace",
    "models": "dcai.experiments.namespace.ModelsNamespace",
    "deployments": "dcai.deploy.namespace.DeploymentsNamespace",
    "monitor": "dcai.monitor.namespace.MonitorNamespace",
    "rules": "dcai.rules.namespace.RulesNamespace",
    "project": "dcai.project.namespace.ProjectNamespace",
}
SHORTCUTS = {
    "add_dataset": "data.add",
    "split": "data.split",
    "audit": "quality.audit",
    "review": "quality.review",
    "analyze": "analysis.analyze",
    "start_run": "runs.start",
    "train": "runs.train",
    "load_model": "models.load",
}
MAINTENANCE = {"init", "close", "verify", "backup", "gc"}
PROPERTIES = {"path", "settings", "meta", "objects", "stores"}


def _class(dotted: str) -> type:
    import importlib

    module, _, name = dotted.rpartition(".")
    cls: type = getattr(importlib.import_module(module), name)
    return cls


def test_the_workspace_is_a_thin_root_of_namespaces_and_listed_shortcuts() -> None:
    import inspect

    from dcai.workspace import Workspace

    public = {n for n in vars(Workspace) if not n.startswith("_")}
    assert public == set(NAMESPACES) | set(SHORTCUTS) | MAINTENANCE | (PROPERTIES - {"stores"})
    for name, dotted in NAMESPACES.items():
        attribute = inspect.getattr_static(Workspace, name)
        assert inspect.signature(attribute.func).return_annotation == dotted.rpartition(".")[2]
    for shortcut, target in SHORTCUTS.items():
        area, method = target.split(".")
        short = inspect.signature(getattr(Workspace, shortcut))
        full = inspect.signature(getattr(_class(NAMESPACES[area]), method))
        assert short == full, f"ws.{shortcut} must have ws.{target}'s signature"
        source = inspect.getsource(getattr(Workspace, shortcut))
        assert f"return self.{target}(" in source, f"ws.{shortcut} must be one call to ws.{target}"


@pytest.mark.parametrize("dotted", ["dcai.workspace.Workspace", *NAMESPACES.values()])
def test_public_methods_have_explicit_signatures_and_docstrings(dotted: str) -> None:
    import inspect

    cls = _class(dotted)
    for name, member in vars(cls).items():
        if name.startswith("_") and name != "__call__":
            continue
        function = getattr(member, "func", member)  # cached_property
        if not inspect.isfunction(function):
            continue
        kinds = {p.kind for p in inspect.signature(function).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds, f"{dotted}.{name} takes **kwargs"
        assert inspect.Parameter.VAR_POSITIONAL not in kinds, f"{dotted}.{name} takes *args"
        assert inspect.getdoc(function), f"{dotted}.{name} has no docstring"
        assert ">>> " in (inspect.getdoc(function) or ""), f"{dotted}.{name}: no runnable example"
        hints = inspect.signature(function)
        assert hints.return_annotation is not inspect.Signature.empty, f"{dotted}.{name}"


def test_every_namespace_class_has_a_runnable_example() -> None:
    import inspect

    for dotted in NAMESPACES.values():
        assert ">>> " in (inspect.getdoc(_class(dotted)) or ""), dotted
