"""End to end: bad input through the real ``dcai`` CLI, and the shape of its ``--json`` output.

Every bad input must give exit code 2 (bad input or unknown ref) and one line on stderr
that names the file, column or rows at fault and says what to do, and must leave the
workspace exactly as it was: the same ``data list``/``data log`` output and no new file
under ``objects/``.

A populated workspace is built once per module (``ds``: 60 rows with ids ``u000``..``u059``
as v1, a split of it as v2) and copied for each test, so tests never see each other's
changes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import CliResult, run_dcai

EXIT_BAD_INPUT = 2
LABELS = ("cat", "dog", "bird")


# Helpers ------------------------------------------------------------------------------


def base_frame() -> pd.DataFrame:
    """60 rows: an id column, two numeric features, a categorical, a group, three classes."""
    rng = np.random.default_rng(7)
    n = 60
    return pd.DataFrame(
        {
            "uid": [f"u{i:03d}" for i in range(n)],
            "x1": rng.normal(size=n).round(4),
            "x2": rng.integers(0, 100, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "grp": [f"g{i % 12}" for i in range(n)],
            "label": [LABELS[i % 3] for i in range(n)],
        }
    )


def ok(result: CliResult) -> CliResult:
    assert result.returncode == 0, result
    assert "Traceback" not in result.stderr, result
    return result


def ok_json(result: CliResult) -> Any:
    ok(result)
    return json.loads(result.stdout)


def object_files(ws: Path) -> list[str]:
    """Every file under the artifact store (objects, and temporaries), relative to it; not the
    check files kept beside objects (one per object, see dcai.store._objects)."""
    root = ws / "objects"
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(".check")
    )


# Runs the real entry point twice in one fresh process (one interpreter start instead of
# two): ``dcai -w WS data list --json`` and ``dcai -w WS data log NAME --json``.
_LIST_AND_LOG = """
import contextlib, io, json, sys
from dcai.cli.main import main
ws, name = sys.argv[1], sys.argv[2]
result = {}
for key, argv in (("list", ["data", "list", "--json"]), ("log", ["data", "log", name, "--json"])):
    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            main(["--workspace", ws, *argv])
        except SystemExit as exit:
            code = exit.code or 0
    if code:
        sys.exit(f"dcai {' '.join(argv)} exited {code}")
    result[key] = json.loads(out.getvalue())
print(json.dumps(result))
"""


def _tables(ws: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every metadata table, read directly (stricter than list/log)."""
    with closing(sqlite3.connect(f"file:{ws / 'metadata.db'}?mode=ro", uri=True)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall()) for n in names}


@dataclass(frozen=True)
class Snapshot:
    datasets: Any
    log: Any
    objects: list[str]
    tables: dict[str, list[tuple[Any, ...]]]


def snapshot(ws: Path, dataset: str = "ds") -> Snapshot:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCAI_")}
    env["DCAI_AUTHOR"] = "tester"
    proc = subprocess.run(
        [sys.executable, "-c", _LIST_AND_LOG, str(ws), dataset],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    both = json.loads(proc.stdout)
    return Snapshot(
        datasets=both["list"], log=both["log"], objects=object_files(ws), tables=_tables(ws)
    )


def assert_rejected(result: CliResult, *fragments: str, code: int = EXIT_BAD_INPUT) -> str:
    """Exit ``code``, nothing on stdout, one ``error:`` line on stderr holding each fragment."""
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr, result
    assert result.stdout.strip() == "", result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result
    line = lines[0]
    assert line.startswith("error: "), result
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


@dataclass
class Template:
    path: Path
    snapshot: Snapshot
    v1: dict[str, Any]
    v2: dict[str, Any]


# Bad input: one case per kind of mistake -----------------------------------------------


def _stray_csv() -> str:
    rows = [f"{i * 0.5},{LABELS[i % 3]}" for i in range(40)]
    rows[3] = f"?,{LABELS[0]}"  # data row 4
    rows[8] = f"?,{LABELS[1]}"  # data row 9
    rows[16] = f"unknown,{LABELS[2]}"  # data row 17
    return "x1,label\n" + "\n".join(rows) + "\n"


def _mixed_jsonl() -> str:
    lines = [json.dumps({"x2": i, "label": LABELS[i % 3]}) for i in range(10)]
    lines[5] = json.dumps({"x2": "six", "label": "cat"})  # row 6
    return "\n".join(lines) + "\n"


def _annotations(rows: list[tuple[str, str, str]], columns: str) -> str:
    return columns + "\n" + "\n".join(",".join(r) for r in rows) + "\n"


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes]
    argv: tuple[str, ...]
    fragments: tuple[str, ...]


CASES = [
    Case(
        "missing-label-column",
        {"nolabel.csv": "x1,colour,outcome\n1.5,red,yes\n2.5,blue,no\n"},
        ("data", "add", "fresh", "nolabel.csv"),
        ("nolabel.csv", "no label column", "--label", "outcome"),
    ),
    Case(
        "missing-label-column-existing-dataset",
        {"nolabel.csv": "uid,x1,outcome\nu001,1.5,yes\nu002,2.5,no\n"},
        ("data", "add", "ds", "nolabel.csv"),
        ("nolabel.csv", "no label column", "--label", "outcome"),
    ),
    Case(
        "misspelled-label-column",
        {"reviews.csv": "x1,sentiment\n1.5,pos\n2.5,neg\n"},
        ("data", "add", "fresh", "reviews.csv", "--label", "sentimnet"),
        (
            "reviews.csv",
            'column "sentimnet"',
            "no such column",
            'Did you mean "sentiment"',
            "--label",
        ),
    ),
    Case(
        "misspelled-id-column",
        {"withid.csv": "uid,x1,label\nu001,1.5,cat\nu002,2.5,dog\n"},
        ("data", "add", "ds", "withid.csv", "--id", "iud"),
        ("withid.csv", 'column "iud"', 'Did you mean "uid"', "--id"),
    ),
    Case(
        "empty-file",
        {"empty.csv": b""},
        ("data", "add", "ds", "empty.csv"),
        ("empty.csv", "empty", "header row"),
    ),
    Case(
        "header-without-rows",
        {"header.csv": "x1,colour,label\n"},
        ("data", "add", "ds", "header.csv"),
        ("header.csv", "no rows", "header row and data"),
    ),
    Case(
        "duplicate-ids",
        {"dupids.csv": "uid,x1,label\na,1,cat\nb,2,dog\nc,3,cat\nb,4,dog\nd,5,cat\na,6,dog\n"},
        ("data", "add", "ds", "dupids.csv", "--id", "uid"),
        ("dupids.csv", 'column "uid"', "duplicate ids", "'a'", "'b'", "rows 1, 2, 4, 6", "unique"),
    ),
    Case(
        "unreadable-parquet",
        {"garbage.parquet": bytes(range(256)) * 8},
        ("data", "add", "ds", "garbage.parquet"),
        ("garbage.parquet", "cannot read the file as parquet", "Supported formats"),
    ),
    Case(
        "unsupported-suffix",
        {"table.xlsx": b"PK\x03\x04 not really a spreadsheet"},
        ("data", "add", "ds", "table.xlsx"),
        ("table.xlsx", "unsupported file type '.xlsx'", "CSV", "Parquet", "JSON Lines"),
    ),
    Case(
        "file-not-found",
        {},
        ("data", "add", "ds", "no_such_file.csv"),
        ("no_such_file.csv", "file not found", "Check the path"),
    ),
    Case(
        "mixed-types-jsonl",
        {"mixed.jsonl": _mixed_jsonl()},
        ("data", "add", "ds", "mixed.jsonl"),
        ("mixed.jsonl", 'column "x2"', "mixes types", "row 6", "one type"),
    ),
    Case(
        "stray-strings-in-numeric-column",
        {"stray.csv": _stray_csv()},
        ("data", "add", "ds", "stray.csv"),
        ("stray.csv", 'column "x1"', "mostly numbers", "'?'", "rows 4, 9, 17", "--text or --meta"),
    ),
    Case(
        "empty-label-values",
        {"nolabels.csv": "x1,label\n1,cat\n2,dog\n3,\n4,cat\n5,dog\n6,cat\n7,\n8,  \n9,dog\n"},
        ("data", "add", "ds", "nolabels.csv"),
        ("nolabels.csv", 'column "label"', "3 empty label values", "rows 3, 7, 8", "Fill or drop"),
    ),
    Case(
        "repeated-header-name",
        {"twice.csv": "x1,x1,label\n1,2,cat\n3,4,dog\n"},
        ("data", "add", "ds", "twice.csv"),
        ("twice.csv", 'column "x1"', "appears twice", "Rename"),
    ),
    Case(
        "invalid-dataset-name",
        {"ok.csv": "x1,label\n1,cat\n2,dog\n"},
        ("data", "add", "bad name", "ok.csv"),
        ("invalid dataset name 'bad name'", "letters, digits"),
    ),
    Case(
        "markup-like-column-name",
        {"ok.csv": "x1,label\n1,cat\n2,dog\n"},
        ("data", "add", "ds", "ok.csv", "--label", "[/]lbl"),
        ("ok.csv", 'column "[/]lbl"', "no such column"),
    ),
    Case(
        "markup-like-file-name",
        {},
        ("data", "add", "ds", "[red]data[/].csv"),
        ("[red]data[/].csv", "file not found"),
    ),
    # Unknown refs.
    Case(
        "show-unknown-dataset", {}, ("data", "show", "nosuch"), ("no dataset named 'nosuch'", "ds")
    ),
    Case(
        "show-unknown-hash",
        {},
        ("data", "show", "ds@deadbeef"),
        ("'ds'", "no version 'deadbeef'", "dcai data log ds"),
    ),
    Case(
        "show-unknown-seq", {}, ("data", "show", "ds@v9"), ("no version 'v9'", "dcai data log ds")
    ),
    Case("show-malformed-ref", {}, ("data", "show", "ds@XYZ!"), ("'ds@XYZ!'", "NAME@v3")),
    Case(
        "diff-unknown-a",
        {},
        ("data", "diff", "ds@deadbeef", "ds"),
        ("no version 'deadbeef'", "dcai data log ds"),
    ),
    Case("diff-unknown-b", {}, ("data", "diff", "ds@v1", "nosuch"), ("no dataset named 'nosuch'",)),
    Case("log-unknown-dataset", {}, ("data", "log", "nosuch"), ("no dataset named 'nosuch'",)),
    Case(
        "export-unknown-ref",
        {},
        ("data", "export", "ds@deadbeef", "out.csv"),
        ("no version 'deadbeef'",),
    ),
    Case("split-unknown-dataset", {}, ("data", "split", "nosuch"), ("no dataset named 'nosuch'",)),
    Case(
        "labels-unknown-dataset",
        {"ann.csv": _annotations([("u001", "ann", "cat")], "example_id,annotator,label")},
        ("labels", "import", "nosuch", "ann.csv"),
        ("no dataset named 'nosuch'",),
    ),
    # Annotations.
    Case(
        "annotations-unknown-ids",
        {
            "ann.csv": _annotations(
                [
                    ("u001", "ann", "cat"),
                    ("zzz", "ann", "dog"),
                    ("u002", "bo", "cat"),
                    ("yyy", "bo", "bird"),
                ],
                "example_id,annotator,label",
            )
        },
        ("labels", "import", "ds", "ann.csv"),
        (
            "ann.csv",
            'column "example_id"',
            "2 annotation(s)",
            "'zzz', 'yyy'",
            "rows 2, 4",
            "dcai data export",
        ),
    ),
    Case(
        "annotations-without-annotator-column",
        {"ann.csv": _annotations([("u001", "ann", "cat")], "example_id,labeler,label")},
        ("labels", "import", "ds", "ann.csv"),
        ("ann.csv", 'column "annotator"', "no such column", "--annotator", "labeler"),
    ),
    Case(
        "annotations-duplicate-pairs",
        {
            "ann.csv": _annotations(
                [
                    ("u001", "ann", "cat"),
                    ("u002", "ann", "dog"),
                    ("u001", "ann", "dog"),
                    ("u001", "bo", "dog"),
                ],
                "example_id,annotator,label",
            )
        },
        ("labels", "import", "ds", "ann.csv"),
        ("ann.csv", "more than once", "rows 1, 3", "one label per (example_id, annotator)"),
    ),
    Case(
        "annotations-empty-label",
        {"ann.csv": "example_id,annotator,label\nu001,ann,cat\nu002,ann,\n"},
        ("labels", "import", "ds", "ann.csv"),
        ("ann.csv", 'column "label"', "empty", "row 2"),
    ),
    # Splits.
    Case(
        "split-fractions-overflow",
        {},
        ("data", "split", "ds", "--dev", "0.6", "--test", "0.5"),
        ("--dev + --test", "0.6 + 0.5", "Lower one"),
    ),
    Case(
        "split-fraction-out-of-range",
        {},
        ("data", "split", "ds", "--dev", "1.5"),
        ("--dev must be a fraction", "1.5"),
    ),
    Case(
        "split-group-missing-column",
        {},
        ("data", "split", "ds", "--group", "site"),
        ('column "site"', "no such column", "--group", "grp"),
    ),
    Case(
        "split-stratify-missing-column",
        {},
        ("data", "split", "ds", "--stratify", "colr"),
        ('column "colr"', "no such column", "--stratify", "colour"),
    ),
    # Export destinations.
    Case(
        "export-unknown-format",
        {},
        ("data", "export", "ds", "out.csv", "--format", "xml"),
        ("out.csv", "unknown export format 'xml'", "--format"),
    ),
    Case(
        "export-into-a-folder",
        {"existing_dir/keep.txt": "keep"},
        ("data", "export", "ds", "existing_dir", "--format", "csv"),
        ("existing_dir", "cannot write the file", "folder"),
    ),
    Case(
        "export-under-a-file",
        {"plain.txt": "not a folder"},
        ("data", "export", "ds", "plain.txt/out.csv"),
        ("plain.txt/out.csv", "cannot write the file"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(
    case: Case, template: Template, ws: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for name, content in case.files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    before = sorted(p.relative_to(work) for p in work.rglob("*"))

    result = run_dcai(*case.argv, workspace=ws, cwd=work)

    assert_rejected(result, *case.fragments)
    assert snapshot(ws) == template.snapshot
    # Nothing was written beside the inputs either (no export, no stray temporary file).
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before


def test_template_is_what_the_cases_assume(template: Template) -> None:
    """Guards the cases above: they rely on ids u000..u059, a v1 add and a v2 split."""
    log = template.snapshot.log
    assert [v["seq"] for v in log] == [2, 1]
    assert [v["operation"] for v in log] == ["split", "add"]
    assert template.snapshot.datasets == [
        {
            "name": "ds",
            "versions": 2,
            "latest": template.v2["ref"],
            "rows": 60,
            "updated_at": log[0]["created_at"],
        }
    ]
    # One data object per version: content-addressed, nothing else in the store.
    digests = [_data_object(template.path, v["ref"]) for v in log]
    assert len(set(digests)) == 2
    stored = [p for p in template.snapshot.objects if p.startswith("sha256/")]
    assert stored == sorted(f"sha256/{d[:2]}/{d}.parquet" for d in digests)


def _data_object(ws: Path, ref: str) -> str:
    import dcai

    with dcai.Workspace(ws, create=False) as workspace:
        return workspace.data.version(ref).data_object


# Not a workspace ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("data", "list"),
        ("data", "log", "ds"),
        ("data", "show", "ds"),
        ("data", "add", "ds", "x.csv"),
        ("labels", "import", "ds", "x.csv"),
    ],
    ids=lambda a: "-".join(a[:2]),
)
@pytest.mark.parametrize("how", ["flag", "cwd"])
def test_commands_outside_a_workspace_say_to_run_init(
    argv: tuple[str, ...], how: str, tmp_path: Path
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "x.csv").write_text("x1,label\n1,cat\n2,dog\n")
    where: dict[str, Any] = (
        {"workspace": folder, "cwd": tmp_path} if how == "flag" else {"cwd": folder}
    )
    result = run_dcai(*argv, **where)
    assert result.returncode != 0, result
    line = assert_rejected(result, "no dcai workspace", "dcai init", code=result.returncode)
    assert str(folder.name) in line or ".dcai" in line
    # Nothing was created: no workspace by accident.
    assert sorted(p.name for p in folder.iterdir()) == ["x.csv"]


# Odd but valid input is printed literally, never parsed as markup -----------------------


def test_markup_like_names_and_values_are_shown_literally(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ok(run_dcai("init", workspace=ws))
    frame = pd.DataFrame(
        {
            "x1": np.arange(30),
            "[/]": np.arange(30) * 2,
            "[red]c": [f"v{i % 4}" for i in range(30)],
            "label": ["[/]", "[bold]y"] * 15,
        }
    )
    frame.to_csv(tmp_path / "odd.csv", index=False)
    added = ok(
        run_dcai(
            "data", "add", "odd", str(tmp_path / "odd.csv"), "-m", "[/] see [red]x", workspace=ws
        )
    )
    assert "added odd@" in added.stdout
    shown = ok(run_dcai("data", "show", "odd", workspace=ws))
    for text in ("[/]", "[red]c", "[bold]y", "[/] see [red]x"):
        assert text in shown.stdout, shown
    logged = ok(run_dcai("data", "log", "odd", workspace=ws))
    assert "[/] see [red]x" in logged.stdout
    split = ok(run_dcai("data", "split", "odd", workspace=ws))
    assert "[bold]y" in split.stdout
    diff = ok(run_dcai("data", "diff", "odd@v1", "odd@v2", workspace=ws))
    assert "split" in diff.stdout


# --json output --------------------------------------------------------------------------


def test_add_json_reports_ref_id_rows_new(ws: Path, tmp_path: Path) -> None:
    frame = base_frame()
    frame.loc[5, "label"] = "dog" if frame.loc[5, "label"] != "dog" else "cat"
    frame.to_csv(tmp_path / "v3.csv", index=False)
    objects_before = object_files(ws)

    first = ok_json(run_dcai("data", "add", "ds", str(tmp_path / "v3.csv"), "--json", workspace=ws))
    assert {"ref", "id", "rows", "new"} <= set(first)
    assert first["new"] is True
    assert first["rows"] == 60
    assert len(first["id"]) == 64 and int(first["id"], 16) >= 0
    assert first["ref"] == f"ds@{first['id'][:7]}"
    assert first["dataset"] == "ds" and first["operation"] == "add"
    assert len(object_files(ws)) == len(objects_before) + 1

    again = ok_json(run_dcai("data", "add", "ds", str(tmp_path / "v3.csv"), "--json", workspace=ws))
    assert again["new"] is False
    assert (again["ref"], again["id"], again["rows"]) == (first["ref"], first["id"], 60)
    assert len(object_files(ws)) == len(objects_before) + 1

    log = ok_json(run_dcai("data", "log", "ds", "--json", workspace=ws))
    assert [v["seq"] for v in log] == [3, 2, 1]
    assert log[0]["ref"] == first["ref"]
    # The new version keeps the declared id column of the dataset.
    assert log[0]["params"]["id"] == "uid"


def test_list_and_log_json(template: Template) -> None:
    datasets = template.snapshot.datasets
    assert isinstance(datasets, list) and len(datasets) == 1
    assert set(datasets[0]) == {"name", "versions", "latest", "rows", "updated_at"}
    log = template.snapshot.log
    required = {
        "ref",
        "dataset",
        "id",
        "seq",
        "rows",
        "operation",
        "params",
        "message",
        "author",
        "created_at",
        "parents",
        "columns",
        "annotations",
    }
    for version in log:
        assert required <= set(version), version
        assert version["author"] == "tester"
        assert version["ref"] == f"ds@{version['id'][:7]}"
    v2, v1 = log
    assert (v1["ref"], v2["ref"]) == (template.v1["ref"], template.v2["ref"])
    assert v1["parents"] == [] and v2["parents"] == [v1["ref"]]
    assert v1["columns"]["id"] == "uid" and v1["columns"]["label"] == "label"
    assert v1["columns"]["split"] is None and v2["columns"]["split"] == "split"
    assert v2["params"]["seed"] == 3


def test_show_json(template: Template) -> None:
    ws = template.path
    v1 = ok_json(run_dcai("data", "show", "ds@v1", "--json", workspace=ws))
    assert v1["ref"] == template.v1["ref"] and v1["seq"] == 1
    assert v1["label_counts"] == {"cat": 20, "dog": 20, "bird": 20}
    assert "balance" not in v1
    assert v1["columns"]["features"] == ["x1", "x2", "colour", "grp"]

    v2 = ok_json(run_dcai("data", "show", "ds", "--json", workspace=ws))
    assert v2["ref"] == template.v2["ref"] and v2["operation"] == "split"
    assert sum(v2["label_counts"].values()) == v2["rows"] == 60
    balance = v2["balance"]
    assert sum(balance["sizes"].values()) == 60
    assert set(balance["sizes"]) == {"train", "dev", "test"}
    for label, per_split in balance["counts"].items():
        assert sum(per_split.values()) == v2["label_counts"][label]


def test_diff_json_counts_and_rows(ws: Path, tmp_path: Path) -> None:
    frame = base_frame().set_index("uid")
    frame.loc["u010", "label"] = "bird" if frame.loc["u010", "label"] != "bird" else "cat"
    frame.loc["u020", "label"] = "dog" if frame.loc["u020", "label"] != "dog" else "cat"
    frame.loc["u030", "x1"] = 99.5
    frame = frame.drop(index=["u001", "u002", "u003"])
    frame.loc["u900"] = [0.25, 7, "red", "g0", "cat"]
    frame.reset_index().to_csv(tmp_path / "v3.csv", index=False)
    v3 = ok_json(run_dcai("data", "add", "ds", str(tmp_path / "v3.csv"), "--json", workspace=ws))

    diff = ok_json(run_dcai("data", "diff", "ds@v1", v3["ref"], "--json", workspace=ws))
    old = base_frame().set_index("uid")
    assert diff["counts"] == {
        "added": 1,
        "removed": 3,
        "relabeled": 2,
        "changed": 1,
        "moved": 0,
        "annotations_added": 0,
        "annotations_removed": 0,
        "annotations_changed": 0,
    }
    assert diff["added"] == [{"example_id": "u900", "label": "cat"}]
    assert sorted(r["example_id"] for r in diff["removed"]) == ["u001", "u002", "u003"]
    assert sorted(diff["relabeled"], key=lambda r: r["example_id"]) == [
        {
            "example_id": uid,
            "old_label": old.loc[uid, "label"],
            "new_label": frame.loc[uid, "label"],
        }
        for uid in ("u010", "u020")
    ]
    assert diff["changed"] == [{"example_id": "u030", "columns": ["x1"]}]

    # v2 → v3 drops the split column; the same version against itself has no differences.
    assert ok_json(run_dcai("data", "diff", "ds@v2", v3["ref"], "--json", workspace=ws))[
        "columns_removed"
    ] == ["split"]
    same = ok_json(run_dcai("data", "diff", v3["ref"], v3["ref"], "--json", workspace=ws))
    assert not any(same["counts"].values())


def test_split_json_balance_and_groups(ws: Path, tmp_path: Path) -> None:
    args = (
        "data",
        "split",
        "ds@v1",
        "--dev",
        "0.2",
        "--test",
        "0.2",
        "--group",
        "grp",
        "--seed",
        "11",
        "--json",
    )
    result = ok_json(run_dcai(*args, workspace=ws))
    assert {"ref", "id", "rows", "new", "balance"} <= set(result)
    assert result["new"] is True and result["rows"] == 60
    balance = result["balance"]
    assert set(balance) >= {"sizes", "counts", "shares", "warnings"}
    assert sum(balance["sizes"].values()) == 60
    for split in balance["sizes"]:
        total = sum(balance["counts"][label][split] for label in balance["counts"])
        assert total == balance["sizes"][split]
        assert sum(balance["shares"][label][split] for label in balance["shares"]) == pytest.approx(
            1.0, abs=1e-3
        )

    out = tmp_path / "split.csv"
    ok(run_dcai("data", "export", result["ref"], str(out), workspace=ws))
    exported = pd.read_csv(out)
    assert exported.groupby("grp")["split"].nunique().max() == 1  # no group straddles splits
    assert exported["split"].value_counts().to_dict() == balance["sizes"]

    again = ok_json(run_dcai(*args, workspace=ws))
    assert again["new"] is False and again["id"] == result["id"]


def test_labels_import_json(ws: Path, tmp_path: Path) -> None:
    (tmp_path / "ann.csv").write_text(
        _annotations(
            [("u001", "ann", "cat"), ("u001", "bo", "dog"), ("u002", "ann", "bird")],
            "example_id,annotator,label",
        )
    )
    result = ok_json(
        run_dcai("labels", "import", "ds", str(tmp_path / "ann.csv"), "--json", workspace=ws)
    )
    assert result["new"] is True
    assert result["annotations"] == 3 and result["imported"] == 3
    assert result["rows"] == 60
    out = tmp_path / "ann_out.csv"
    ok(run_dcai("data", "export", result["ref"], str(out), "--annotations", workspace=ws))
    exported = pd.read_csv(out)
    assert sorted(
        zip(exported["example_id"], exported["annotator"], exported["label"], strict=True)
    ) == [("u001", "ann", "cat"), ("u001", "bo", "dog"), ("u002", "ann", "bird")]
