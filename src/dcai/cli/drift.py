"""``dcai drift``: compare two tables (files or dataset versions) column by column."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._output import console, print_json


def drift(
    ctx: typer.Context,
    reference: Annotated[
        str,
        typer.Argument(help="The reference: a CSV, Parquet or JSON Lines file, or a dataset ref."),
    ],
    current: Annotated[str, typer.Argument(help="The data to check, the same way.")],
    alpha: Annotated[
        float, typer.Option("--alpha", help="Significance level after the correction.")
    ] = 0.05,
    min_effect: Annotated[
        float | None,
        typer.Option(
            "--min-effect",
            help="Smallest effect that counts as drift, for both kinds (default 0.05 reference "
            "SDs of Wasserstein for numbers, 0.1 Jensen-Shannon distance for categories).",
        ),
    ] = None,
    correction: Annotated[
        str, typer.Option("--correction", help="bh (Benjamini-Hochberg), bonferroni or none.")
    ] = "bh",
    categorical: Annotated[
        list[str] | None,
        typer.Option("--categorical", help="Treat this column as categories (repeatable)."),
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="dcai, or evidently (its DataDriftPreset defaults).")
    ] = "dcai",
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit 1 when the data drifted.")
    ] = False,
    json_: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")
    ] = False,
) -> None:
    """Test every shared column for drift: KS and chi-square of homogeneity, Benjamini-Hochberg
    across columns, drift only when significant and at least a practical effect."""
    from dcai.errors import InvalidInputError
    from dcai.monitor._sources import is_file, read_side
    from dcai.monitor.drift import DriftDetector, report_dict

    if correction not in ("bh", "bonferroni", "none"):
        raise InvalidInputError(
            f"--correction {correction!r} is not understood", hint="Use bh, bonferroni or none."
        )
    stores = None
    if not (is_file(reference) and is_file(current)):
        from dcai.cli._context import open_workspace

        stores = open_workspace(ctx).stores
    ref, cur = read_side(reference, stores), read_side(current, stores)
    detector = DriftDetector(
        alpha=alpha,
        min_effect=min_effect,
        correction=None if correction == "none" else correction,  # type: ignore[arg-type]
        categorical=tuple(dict.fromkeys((*(categorical or ()), *ref.categorical))),
        mode=mode,  # type: ignore[arg-type]
    )
    table = detector.fit(ref.frame, keep_sample=0).check(cur.frame)
    report = report_dict(table)
    if json_:
        print_json(report)
    else:
        shown = Table(title=f"{escape(ref.source)} → {escape(cur.source)}", title_justify="left")
        for name in ("column", "method", "p adjusted", "effect [95 % interval]", "drift", "note"):
            shown.add_column(name, justify="right" if name in ("p adjusted",) else "left")
        for row in table.to_dict("records"):
            effect = row["effect"]
            interval = (
                f"{effect:.3f} [{row['effect_low']:.3f}, {row['effect_high']:.3f}] "
                f"{row['effect_name']}"
                if effect == effect
                else "—"
            )
            p = row["p_adjusted"]
            shown.add_row(
                escape(str(row["column"])),
                str(row["method"]),
                f"{p:.2g}" if p == p else "—",
                interval,
                "[red]drift[/]" if row["drift"] else "no",
                escape(str(row.get("note") or "")),
            )
        console.print(shown)
        drifted = [c["column"] for c in report["columns"] if c["drift"]]
        verdict = (
            f"[red]drift[/] in {len(drifted)} of {len(report['columns'])} columns: "
            + escape(", ".join(drifted))
            if report["drift"]
            else f"[green]no drift[/] ({len(drifted)} of {len(report['columns'])} columns)"
        )
        console.print(verdict)
    if fail_on_drift and report["drift"]:
        raise typer.Exit(1)
