"""Model files benchmark (issue 21): save/load time and size of dcai's model format.

Usage::

    python benchmarks/model_files.py [--texts 2000] [--out BENCHMARKS.md] [--repeat 3] [--check]

Each recipe (logreg, hgb, rf, tfidf-logreg) is fitted on ``--texts`` rows generated
deterministically with a seeded numpy generator: short texts drawn from a fixed vocabulary, a
numeric, an integer and a categorical column, and a 3-class label that depends on them. The
fitted model is saved and loaded with dcai's format (``dump_model``/``load_model_bytes``), and,
as references only, with skops and with pickle; times are the best of ``--repeat`` in a fresh
process, sizes are the bytes saved. A second child times ``import dcai.experiments.model_files``
in a fresh process and reports whether it (or a load) imported torch or skops. The results
replace the "Model files (issue 21)" section of ``--out``; ``--check`` exits with status 1 if a
target is missed (tfidf-logreg: save and load under 1 s, file at most 2x pickle's).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import dispatch_child, machine, run_step, write_section
from _common import versions as package_versions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Model files (issue 21)"
SEED = 20240621
RECIPES = ("logreg", "hgb", "rf", "tfidf-logreg")
FORMATS = ("dcai", "skops", "pickle")
TARGET_SECONDS = 1.0
TARGET_SIZE_RATIO = 2.0
_WORD_TEXT = (
    "good bad film plot actor scene music story slow fast funny dark bright long short great "
    "boring classic modern script camera light sound ending start hero villain love war city "
    "night day family friend money time house road sea sky fire water dream song"
)
WORDS = _WORD_TEXT.split()


def _data(n: int) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    lengths = rng.integers(4, 12, n)
    words = np.array(WORDS)
    texts = [" ".join(words[rng.integers(0, len(words), k)]) for k in lengths]
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 5, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "note": texts,
        }
    )
    frame.loc[::50, "x"] = np.nan
    good = np.array(["good" in t or "great" in t for t in texts])
    label = np.where(good, "pos", np.where(x > 0.5, "mixed", "neg"))
    return frame, label


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def child_measure(args: list[str]) -> dict[str, Any]:
    """Fit ``recipe`` and time saving/loading it in ``fmt``."""
    recipe, fmt, n, repeat = args[0], args[1], int(args[2]), int(args[3])
    import numpy as np

    from dcai.experiments.recipes import build_recipe

    frame, y = _data(n)
    X = frame[["note"]] if recipe == "tfidf-logreg" else frame[["x", "k", "colour"]]
    model = build_recipe(recipe, X, random_state=0).fit(X, y)
    if fmt == "dcai":
        from dcai.experiments.model_files import dump_model, load_model_bytes

        def save() -> bytes:
            return dump_model(model)

        def load(data: bytes) -> Any:
            return load_model_bytes(data)

    elif fmt == "skops":
        import skops.io as sio

        def save() -> bytes:
            return bytes(sio.dumps(model))

        def load(data: bytes) -> Any:
            return sio.loads(data, trusted=sio.get_untrusted_types(data=data))

    else:
        import pickle

        def save() -> bytes:
            return pickle.dumps(model, protocol=5)

        def load(data: bytes) -> Any:
            return pickle.loads(data)

    save_s, data = _best(save, repeat)
    load_s, loaded = _best(lambda: load(data), repeat)
    same = bool(np.array_equal(loaded.predict_proba(X), model.predict_proba(X)))
    deterministic = save() == data
    return {"save": save_s, "load": load_s, "size": len(data), "same": same, "det": deterministic}


def child_import(args: list[str]) -> dict[str, Any]:
    """Time importing model_files in this fresh process; see what loading a model imports."""
    start = time.perf_counter()
    import dcai.experiments.model_files as mf

    seconds = time.perf_counter() - start
    from sklearn.linear_model import LogisticRegression

    mf.load_model_bytes(mf.dump_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1])))
    return {
        "seconds": seconds,
        "torch": "torch" in sys.modules,
        "skops": "skops" in sys.modules,
    }


def run(n: int, out: Path, repeat: int, check: bool) -> int:
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for recipe in RECIPES:
        for fmt in FORMATS:
            r = run_step(__file__, "measure", recipe, fmt, str(n), str(repeat))
            results[recipe, fmt] = r
            print(
                f"{recipe:<13} {fmt:<7} save {r['save']:7.3f} s  load {r['load']:7.3f} s"
                f"  {r['size'] / 1e6:8.2f} MB  same={r['same']} deterministic={r['det']}",
                flush=True,
            )
    imports = run_step(__file__, "import")
    print(f"import dcai.experiments.model_files: {imports['seconds']:.3f} s", flush=True)

    tfidf, tfidf_pickle = results["tfidf-logreg", "dcai"], results["tfidf-logreg", "pickle"]
    checks = [
        (
            f"tfidf-logreg saves in under {TARGET_SECONDS:g} s",
            tfidf["save"] < TARGET_SECONDS,
            f"{tfidf['save']:.3f} s",
        ),
        (
            f"tfidf-logreg loads in under {TARGET_SECONDS:g} s",
            tfidf["load"] < TARGET_SECONDS,
            f"{tfidf['load']:.3f} s",
        ),
        (
            f"tfidf-logreg file at most {TARGET_SIZE_RATIO:g}x pickle's",
            tfidf["size"] <= TARGET_SIZE_RATIO * tfidf_pickle["size"],
            f"{tfidf['size'] / tfidf_pickle['size']:.2f}x",
        ),
        (
            "every recipe saves to the same bytes twice and loads to the same predictions",
            all(results[r, "dcai"]["det"] and results[r, "dcai"]["same"] for r in RECIPES),
            ", ".join(r for r in RECIPES if not results[r, "dcai"]["det"]) or "all",
        ),
        (
            "importing model_files and loading import neither torch nor skops",
            not imports["torch"] and not imports["skops"],
            f"torch: {imports['torch']}, skops: {imports['skops']}",
        ),
    ]
    ok = all(passed for _, passed, _ in checks)
    for target, passed, value in checks:
        print(f"  [{'ok' if passed else 'MISSED'}] {target}: {value}")

    versions = package_versions(("numpy", "scikit-learn", "skops"))
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {machine()}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ".",
        "",
        f"Command: `python benchmarks/model_files.py --texts {n} --repeat {repeat}`.",
        "",
        f"Each recipe is fitted on {n:,} generated rows (short texts from a fixed"
        f" {len(WORDS)}-word vocabulary for tfidf-logreg; a numeric column with missing values,"
        " an integer and a categorical column for the others; 3 classes) and saved/loaded in"
        " memory, each format in a fresh"
        f" process, best of {repeat}. skops and pickle are references only: dcai stores"
        " `model.dcai` (its own format) and loads old `model.skops` files through skops.",
        "",
        "| recipe | format | save | load | size | vs pickle | same bytes twice |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for recipe in RECIPES:
        base = results[recipe, "pickle"]["size"]
        for fmt in FORMATS:
            r = results[recipe, fmt]
            lines.append(
                f"| {recipe} | {fmt} | {r['save']:.3f} s | {r['load']:.3f} s |"
                f" {r['size'] / 1e6:.2f} MB | {r['size'] / base:.2f}× |"
                f" {'yes' if r['det'] else 'no'} |"
            )
    lines += [
        "",
        f"`import dcai.experiments.model_files` in a fresh process: {imports['seconds']:.3f} s"
        f" (torch imported: {'yes' if imports['torch'] else 'no'}; skops imported after a load:"
        f" {'yes' if imports['skops'] else 'no'}).",
        "",
        "Targets (issue 21):",
        "",
    ]
    for target, passed, value in checks:
        lines.append(f"- {'met' if passed else '**missed**'}: {target} ({value})")
    write_section(out, SECTION, "\n".join(lines) + "\n")
    print(f"\nwrote {SECTION!r} to {out}")
    return 0 if ok or not check else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000, help="rows to fit each recipe on")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "BENCHMARKS.md", help="Markdown file to update"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timings per step (best is kept)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if dispatch_child(parser, args.child, {"measure": child_measure, "import": child_import}):
        return 0
    return run(args.texts, args.out, args.repeat, args.check)


if __name__ == "__main__":
    sys.exit(main())
