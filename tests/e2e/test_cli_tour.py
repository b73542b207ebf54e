"""The README tour through the real CLI: init, add, re-add, log, diff, split, labels, export, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.conftest import run_dcai


def test_tour(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    data = tmp_path / "reviews.csv"
    frame = pd.DataFrame(
        {
            "review_id": [f"r{i}" for i in range(40)],
            "stars": [i % 5 + 1 for i in range(40)],
            "text": [
                f"review {i} says the product is {'good' if i % 2 else 'bad'} overall"
                for i in range(40)
            ],
            "sentiment": ["pos" if i % 2 else "neg" for i in range(40)],
        }
    )
    frame.to_csv(data, index=False)

    assert run_dcai("init", workspace=ws).returncode == 0
    added = run_dcai(
        "data",
        "add",
        "reviews",
        str(data),
        "--label",
        "sentiment",
        "--id",
        "review_id",
        "--json",
        workspace=ws,
    )
    assert added.returncode == 0, added
    first = json.loads(added.stdout)
    assert set(first) >= {"ref", "id", "rows", "new"}
    assert first["rows"] == 40 and first["new"] is True and first["ref"].startswith("reviews@")

    again = json.loads(run_dcai("data", "add", "reviews", str(data), "--json", workspace=ws).stdout)
    assert again["new"] is False and again["id"] == first["id"]

    frame.loc[[3, 5], "sentiment"] = "neutral"
    frame.to_csv(data, index=False)
    second = json.loads(
        run_dcai("data", "add", "reviews", str(data), "--json", workspace=ws).stdout
    )
    assert second["new"] is True

    diff = json.loads(
        run_dcai("data", "diff", first["ref"], second["ref"], "--json", workspace=ws).stdout
    )
    assert diff["counts"]["relabeled"] == 2
    assert {r["example_id"] for r in diff["relabeled"]} == {"r3", "r5"}

    human = run_dcai("data", "diff", first["ref"], second["ref"], workspace=ws)
    assert "relabeled: 2" in human.stdout and "r3" in human.stdout

    split = run_dcai(
        "data",
        "split",
        "reviews",
        "--dev",
        "0.1",
        "--test",
        "0.2",
        "--seed",
        "1",
        "--json",
        workspace=ws,
    )
    assert split.returncode == 0, split
    balance = json.loads(split.stdout)["balance"]
    assert sum(balance["sizes"].values()) == 40
    assert any("neutral" in w for w in balance["warnings"])

    ann = tmp_path / "ann.csv"
    pd.DataFrame(
        {
            "example_id": ["r1", "r2", "r1"],
            "annotator": ["a", "a", "b"],
            "label": ["pos", "neg", "neg"],
        }
    ).to_csv(ann, index=False)
    imported = run_dcai("labels", "import", "reviews", str(ann), "--json", workspace=ws)
    assert json.loads(imported.stdout)["annotations"] == 3

    log = json.loads(run_dcai("data", "log", "reviews", "--json", workspace=ws).stdout)
    assert [v["operation"] for v in log] == ["import_annotations", "split", "add", "add"]
    assert log[0]["parents"] == [log[1]["ref"]]

    listing = json.loads(run_dcai("data", "list", "--json", workspace=ws).stdout)
    assert listing[0]["name"] == "reviews" and listing[0]["versions"] == 4

    shown = json.loads(run_dcai("data", "show", "reviews", "--json", workspace=ws).stdout)
    assert shown["label_counts"]["neutral"] == 2 and shown["annotations"] == 3

    out = tmp_path / "export.parquet"
    assert run_dcai("data", "export", "reviews", str(out), workspace=ws).returncode == 0
    exported = pd.read_parquet(out)
    assert list(exported.columns) == ["example_id", "stars", "text", "sentiment", "split"]

    # --workspace also works after the command, and DCAI_HOME is honoured.
    after = run_dcai("data", "list", "--json", "--workspace", str(ws))
    assert json.loads(after.stdout)[0]["name"] == "reviews"
    env = run_dcai("data", "list", "--json", env={"DCAI_HOME": str(ws)})
    assert json.loads(env.stdout)[0]["name"] == "reviews"


def test_help_reads_well() -> None:
    top = run_dcai("--help")
    assert top.returncode == 0
    for word in ("init", "data", "labels", "demo"):
        assert word in top.stdout
    sub = run_dcai("data", "split", "--help")
    for option in ("--dev", "--test", "--stratify", "--group", "--seed", "--json"):
        assert option in sub.stdout


def test_demo_runs_offline(tmp_path: Path) -> None:
    result = run_dcai("demo", "--workspace", str(tmp_path / "demo"))
    assert result.returncode == 0, result
    assert "Lineage of digits" in result.stdout
    assert "Balance" in result.stdout
    log = json.loads(
        run_dcai("data", "log", "digits", "--json", workspace=tmp_path / "demo").stdout
    )
    assert [v["operation"] for v in log] == [
        "retrain",
        "import_annotations",
        "review",
        "plant_label_errors",
        "tag",
        "split",
        "add",
    ]
    assert "planted errors found" in result.stdout
    assert log[3]["rows"] == 1797
    # The labelers part: agreement, the confused pair, consensus, HLP, conventions.
    for fragment in ("Fleiss' kappa", "1 ↔ 8", "Dawid–Skene consensus", "human-level performance"):
        assert fragment in result.stdout, fragment
    assert "filler_words" in result.stdout and "ellipsis" in result.stdout
    # Error analysis: the priority table, the verdict, and the offline HTML report.
    assert "What to work on next" in result.stdout and "clean vs collect" in result.stdout
    report = tmp_path / "demo" / "reports" / "analysis-digits-noisy.html"
    assert report.is_file() and "Plotly" in report.read_text(encoding="utf-8")
    # Train and register: the same recipe on the noisy and the cleaned version, compared on one
    # evaluation set, both registered, the better one in production.
    assert "train and register" in result.stdout
    for fragment in ("(noisy labels): dev accuracy", "(cleaned): dev accuracy", "cleaned − noisy"):
        assert fragment in result.stdout, fragment
    assert "Data-centric view" in result.stdout and "plant_label_errors" in result.stdout
    assert "registered digits/1, digits/2; production → digits/" in result.stdout
    assert "runs data-view --recipe logreg" in result.stdout
    assert "models card digits@production" in result.stdout
    shown = json.loads(
        run_dcai("models", "show", "digits", "--json", workspace=tmp_path / "demo").stdout
    )
    versions = shown["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3]  # 3: retrained from production data
    # digits/1 is the noisy version's model, digits/2 the cleaned (reviewed) one's.
    assert [v["dataset"] for v in versions][:2] == [f"digits@{log[i]['id']}" for i in (3, 2)]
    assert sum("production" in v["aliases"] for v in versions) == 1
    # Deploy and serve: a real server, a canary rolled back, feedback, data flowing back.
    assert "deploy and serve" in result.stdout and "rolled back without a restart" in result.stdout
    deployment = json.loads(
        run_dcai("deploy", "show", "digits-web", "--json", workspace=tmp_path / "demo").stdout
    )
    assert [h["action"] for h in deployment["history"]] == [
        "create",
        "set",
        "canary",
        "rollback",
        "canary",
        "canary",
        "promote",
    ]
    assert deployment["canary"] is None and deployment["mode"] == "partial"
    assert deployment["primary"] == {"model": "digits/3"}
    logged = json.loads(
        run_dcai(
            "logs", "show", "digits-web", "--limit", "5000", "--json", workspace=tmp_path / "demo"
        ).stdout
    )
    # 241 requests served over HTTP (120 with feedback), then six simulated hours of 150.
    assert len(logged["rows"]) == 241 + 900
    live = logged["rows"][:241]  # newest first: the simulated hours end before the live minute
    assert len(live) == 241 and {r["route"] for r in live} == {"primary", "canary"}
    assert sum(r["feedback"] is not None for r in live) == 120
    # Monitor, alert, retrain: the drift alert fired; the report was written.
    for fragment in ("monitor, alert, retrain", "alert inputs drifted", "retrained: digits@"):
        assert fragment in result.stdout, fragment
    assert (tmp_path / "demo" / "reports" / "monitor-digits-web.html").is_file()
    production = json.loads(
        run_dcai("data", "log", "digits-production", "--json", workspace=tmp_path / "demo").stdout
    )
    assert production[0]["operation"] == "from_logs" and production[0]["rows"] == 120
