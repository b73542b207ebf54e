"""Model cards: what a registered model is, what data made it, and where it is weak.

``model_card(ws, "digits@production")`` writes the card of one registered version as Markdown
(or ``fmt="html"``, a self-contained page): the data version and its lineage back to the first
version, the label-quality summary of that data (from the newest audit of the version, or of
its nearest audited ancestor, named as such), metrics overall with their intervals, per class
and per slice, the baselines, the known weak slices (every class or slice at least
:data:`WEAK_MARGIN` below the overall accuracy, with at least :data:`WEAK_MIN_N` examples),
the code version and the environment. It follows the sections of Mitchell et al.'s model
cards that dcai can fill from what it recorded; intended use and ethical considerations are
left to the author (the ``description`` given at registration is printed first).

References
----------
Mitchell, M. et al. (2019). Model Cards for Model Reporting. FAT* '19, 220–229.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any, Literal

from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["WEAK_MARGIN", "WEAK_MIN_N", "model_card"]

#: A class or slice this far (absolute) below the overall dev accuracy is listed as weak…
WEAK_MARGIN = 0.05
#: …when it has at least this many dev examples.
WEAK_MIN_N = 5
_KEY_PACKAGES = ("dcai", "scikit-learn", "numpy", "scipy", "pandas")

Block = tuple[Any, ...]


def _pct(value: Any) -> str:
    return "—" if value is None or value != value else f"{float(value):.3f}"


def _interval(record: dict[str, Any]) -> str:
    low, high = record.get("low"), record.get("high")
    if low is None or high is None or low != low:
        return "—"
    return f"[{float(low):.3f}, {float(high):.3f}]"


def _artifact_json(stores: Stores, detail: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = [a for a in detail["artifacts"] if a["name"] == name]
    if not found:
        return None
    data: dict[str, Any] = json.loads(stores.objects.read_bytes(found[0]["sha256"]))
    return data


def _lineage(version: Any) -> list[list[str]]:
    rows = []
    current = version
    while current is not None:
        rows.append(
            [
                f"{current.dataset}@v{current.seq}",
                current.short_id,
                current.operation,
                current.message or "",
                f"{current.rows:,}",
            ]
        )
        parents = current.parents
        current = parents[0] if parents else None
    return rows


def _label_quality(stores: Stores, version: Any) -> list[Block]:
    from dcai.quality.audit import list_audits

    audits = list_audits(stores, version.dataset)
    by_version = {a.version_id: a for a in reversed(audits)}  # newest wins
    current, hops = version, 0
    while current is not None:
        audit = by_version.get(current.id)
        if audit is not None:
            summary = audit.summary
            where = "this version" if hops == 0 else f"its ancestor {current.ref} ({hops} back)"
            noise = summary.get("label_noise", {}) or {}
            rate = noise.get("rate")
            interval = noise.get("interval") or []
            items = [
                f"audit {audit.short_id} of {where}, {audit.created_at[:10]}",
                f"{summary.get('examples_with_issues', 0):,} of {summary.get('examples', 0):,} "
                "examples flagged",
                "issues by type: "
                + ", ".join(f"{k} {v}" for k, v in summary.get("issues_by_type", {}).items()),
            ]
            if rate is not None:
                text = f"estimated label noise: {float(rate):.1%}"
                n_issues = noise.get("n_issues")
                if n_issues is not None and len(interval) == 2:
                    # The interval is of the number of wrong labels, not of the rate.
                    text += (
                        f" (≈{float(n_issues):,.0f} examples, 95% interval "
                        f"{float(interval[0]):,.0f}–{float(interval[1]):,.0f})"
                    )
                items.append(text)
            if hops:
                items.append(
                    "review decisions applied since then are in the lineage above; "
                    "audit this version for a current figure"
                )
            return [("list", items)]
        parents = current.parents
        current, hops = (parents[0] if parents else None), hops + 1
    return [("p", f"No audit of this data yet (dcai audit {version.ref}).")]


def _weak(overall: float | None, metrics: dict[str, Any]) -> list[list[str]]:
    if overall is None:
        return []
    rows = []
    dev = metrics.get("dev", {})
    for record in dev.get("per_class", []):
        recall, n = record.get("recall"), int(record.get("support") or 0)
        if recall is not None and n >= WEAK_MIN_N and recall <= overall - WEAK_MARGIN:
            rows.append(["class", str(record.get("class")), str(n), _pct(recall), "recall"])
    for column, groups in metrics.get("slices", {}).items():
        for record in groups:
            value, n = record.get("value"), int(record.get("n") or 0)
            if value is not None and n >= WEAK_MIN_N and value <= overall - WEAK_MARGIN:
                rows.append([column, str(record.get("group")), str(n), _pct(value), "accuracy"])
    return sorted(rows, key=lambda r: float(r[3]) if r[3] != "—" else 1.0)


def _blocks(stores: Stores, ref: str) -> tuple[str, list[Block]]:
    from dcai.data.versions import resolve_ref
    from dcai.experiments.registry import alias_history, resolve_model

    mv = resolve_model(stores, ref)
    from dcai.experiments.query import run_detail

    detail = run_detail(stores, mv.run)
    metrics = _artifact_json(stores, detail, "metrics.json") or {}
    blocks: list[Block] = []
    aliases = ", ".join(mv.aliases) or "none"
    blocks.append(
        (
            "list",
            [
                f"version {mv.version} · aliases: {aliases}",
                f"registered {mv.created_at[:19]} by {mv.author}",
                f"model artifact sha256 {mv.model_sha256}",
                f"run {detail['id']} (experiment {detail['experiment']}, {detail['status']})",
                "recipe "
                + str(detail["params"].get("recipe"))
                + "; parameters: "
                + (
                    ", ".join(f"{k}={v}" for k, v in detail["params"].items() if k != "recipe")
                    or "defaults"
                ),
            ],
        )
    )
    if mv.description:
        blocks.append(("p", mv.description))

    blocks.append(("h2", "Data"))
    if mv.dataset is None:
        blocks.append(("p", "The run recorded no dataset version."))
    else:
        version = resolve_ref(stores, mv.dataset)
        blocks.append(
            (
                "p",
                f"Trained on {version.ref} (full content hash {version.id}), {version.rows:,} "
                f"rows; label column {mv.signature.get('label')!r}, {len(mv.classes)} classes, "
                f"{len(mv.features)} input columns.",
            )
        )
        blocks.append(("h3", "Lineage (newest first)"))
        blocks.append(
            ("table", ["version", "id", "operation", "message", "rows"], _lineage(version))
        )
        blocks.append(("h3", "Label quality"))
        blocks.extend(_label_quality(stores, version))

    blocks.append(("h2", "Metrics"))
    overall_accuracy = None
    for split in ("dev", "test"):
        report = metrics.get(split)
        if not report:
            continue
        rows = []
        for record in report.get("overall", []):
            if record.get("value") is None:
                continue
            if record.get("metric") == "accuracy":
                overall_accuracy = overall_accuracy if split == "test" else record["value"]
            rows.append([str(record.get("metric")), _pct(record.get("value")), _interval(record)])
        blocks.append(("h3", f"{split} split ({report.get('n', 0):,} examples)"))
        blocks.append(("table", ["metric", "value", "95% interval"], rows))
    dev = metrics.get("dev", {})
    if dev.get("per_class"):
        blocks.append(("h3", "Per class (dev)"))
        blocks.append(
            (
                "table",
                ["class", "support", "precision", "recall", "f1"],
                [
                    [
                        str(r.get("class")),
                        str(r.get("support")),
                        _pct(r.get("precision")),
                        _pct(r.get("recall")),
                        _pct(r.get("f1")),
                    ]
                    for r in dev["per_class"]
                ],
            )
        )
    for column, groups in metrics.get("slices", {}).items():
        blocks.append(("h3", f"By {column} (dev accuracy)"))
        blocks.append(
            (
                "table",
                ["group", "n", "accuracy"],
                [[str(g.get("group")), str(g.get("n")), _pct(g.get("value"))] for g in groups],
            )
        )
    baselines = metrics.get("baselines", {})
    if baselines:
        blocks.append(("h3", "Baselines (dev)"))
        blocks.append(
            ("table", ["baseline", "value"], [[k, _pct(v)] for k, v in baselines.items()])
        )

    blocks.append(("h2", "Known weak slices"))
    weak = _weak(overall_accuracy, metrics)
    if weak:
        blocks.append(
            (
                "p",
                f"Classes and slices at least {WEAK_MARGIN:.0%} below the overall dev accuracy "
                f"({_pct(overall_accuracy)}), with at least {WEAK_MIN_N} examples:",
            )
        )
        blocks.append(("table", ["slice", "group", "n", "value", "metric"], weak))
    else:
        blocks.append(("p", f"None at least {WEAK_MARGIN:.0%} below the overall dev accuracy."))

    blocks.append(("h2", "Code"))
    code = detail["code"]
    if code.get("kind") == "git":
        items = [
            f"git commit {code.get('commit')} on {code.get('branch')}",
            "working tree dirty: "
            + ("yes, diff sha256 " + str(code.get("diff_sha256")) if code.get("dirty") else "no"),
        ]
        untracked = code.get("untracked") or []
        if untracked:
            items.append(f"untracked files: {len(untracked)}")
    else:
        items = [f"code: {code.get('kind')}"] + (
            [f"script {code.get('script')} sha256 {code.get('script_sha256')}"]
            if code.get("script")
            else []
        )
    blocks.append(("list", items))

    blocks.append(("h2", "Environment"))
    env = detail["environment"]
    packages = env.get("packages", {})
    blocks.append(
        (
            "list",
            [
                "Python {} on {} {} ({})".format(
                    env.get("python", {}).get("version"),
                    env.get("platform", {}).get("system"),
                    env.get("platform", {}).get("release"),
                    env.get("platform", {}).get("machine"),
                ),
                "packages: "
                + ", ".join(f"{p} {packages[p]}" for p in _KEY_PACKAGES if p in packages),
            ],
        )
    )
    moves = [
        m for m in alias_history(stores, mv.name) if mv.version in (m.from_version, m.to_version)
    ]
    if moves:
        blocks.append(("h2", "Alias history of this version"))
        blocks.append(
            (
                "table",
                ["when", "alias", "from", "to", "by", "reason"],
                [
                    [
                        m.at[:19],
                        m.alias,
                        str(m.from_version or "—"),
                        str(m.to_version or "—"),
                        m.author,
                        m.reason,
                    ]
                    for m in moves
                ],
            )
        )
    return f"Model card: {mv.ref}", blocks


def _markdown(title: str, blocks: list[Block]) -> str:
    out = [f"# {title}", ""]
    for block in blocks:
        kind = block[0]
        if kind == "h2":
            out += [f"## {block[1]}", ""]
        elif kind == "h3":
            out += [f"### {block[1]}", ""]
        elif kind == "p":
            out += [str(block[1]), ""]
        elif kind == "list":
            out += [f"- {item}" for item in block[1]] + [""]
        elif kind == "table":
            headers, rows = block[1], block[2]

            def cell(value: str) -> str:
                return str(value).replace("|", "\\|").replace("\n", " ")

            out.append("| " + " | ".join(headers) + " |")
            out.append("|" + "---|" * len(headers))
            out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out)


def _html(title: str, blocks: list[Block]) -> str:
    e = html.escape
    body = [f"<h1>{e(title)}</h1>"]
    for block in blocks:
        kind = block[0]
        if kind in ("h2", "h3"):
            body.append(f"<{kind}>{e(str(block[1]))}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{e(str(block[1]))}</p>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{e(str(i))}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in block[1])
            rows = "".join(
                "<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in block[2]
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;"
        "padding:.2rem .5rem;text-align:left}th{background:#f3f3f3}"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title><style>{style}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def model_card(stores: Stores, ref: str, *, fmt: Literal["markdown", "html"] = "markdown") -> str:
    """The model card of a registered version (``NAME``, ``NAME/3``, ``NAME@alias``)."""
    if fmt not in ("markdown", "html"):
        raise InvalidInputError(f"unknown card format {fmt!r}", hint="Use markdown or html.")
    title, blocks = _blocks(stores, ref)
    return _markdown(title, blocks) if fmt == "markdown" else _html(title, blocks)
