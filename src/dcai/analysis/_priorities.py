"""What to work on next: one row per slice, sorted by what closing its gap would buy.

For every slice the table holds its share of the data, the model's performance on it (with a
bootstrap interval), a baseline — human-level performance on that slice when the labelers'
data has it, else a user-given figure, else overall HLP — the gap to the baseline and the
*potential gain* ``max(gap, 0) × share``: the overall improvement if the slice reached its
baseline (Ng, *Machine Learning Yearning*, ch. 14–17; the DeepLearning.AI MLOps course). Two
data-quality readings say *how* to close the gap: the share of the slice's labels the audit
flags as likely wrong, and how often independent labelers agree on its examples.

The recommended action follows fixed rules, in order (thresholds are module constants):

1. **leave it** — the slice is at its baseline: the gap is at most ``AT_BASELINE`` (1 point)
   or the baseline lies inside the slice's interval;
2. **fix labels** — its label-issue rate is at least ``ISSUE_RATE_FACTOR`` (2) times the
   overall rate and at least ``MIN_ISSUE_RATE`` (5 %) (for the whole data: at least 5 %);
3. **clarify the label definition** — labelers agree on fewer than ``LOW_AGREEMENT`` (80 %) of
   its doubly-labelled examples, or ``AGREEMENT_DROP`` (10 points) less than overall;
4. **collect or augment more of it** — a real gap on clean, consistently labelled data: the
   model has not seen enough of it (especially when the slice is small).

Without HLP or a user baseline for a slice, the data outside it is the baseline: the slice's
metric is held against the same metric on the **rest of the data**. For accuracy the gap
(rest − slice) gets Newcombe's hybrid score interval for a difference of two independent
proportions (Newcombe 1998, *Statistics in Medicine* 17, 873–890, method 10, from Wilson
1927 score intervals); for recall and F1 the two bootstrap intervals must not overlap. A slice
significantly below the rest gets ``baseline_source = "rest of the data"``, its gap and
potential gain, and rules 2–4 above. A slice that is not, but whose share of flagged labels is
well above the rest's — at least ``MIN_ISSUE_RATE``, at least ``ISSUE_RATE_FACTOR`` times the
rest's, and a one-sided Fisher exact test (Fisher 1922) significant at ``ISSUE_ALPHA`` after a
Bonferroni correction over the slices — gets **fix labels** on that evidence alone. Only the
rest are left with "no baseline to compare with". The whole data (``all``) has no rest.

>>> import numpy as np
>>> masks = {"night": np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)}
>>> y = np.array(["a"] * 10)
>>> pred = np.array(["b", "b", "a", "a"] + ["a"] * 6)
>>> table = priority_table(y, pred, masks, baselines={"all": 0.95}, n_boot=0)
>>> table[["name", "share", "value", "potential_gain"]].round(2).values.tolist()
[['all', 1.0, 0.8, 0.15], ['night', 0.4, 0.5, 0.18]]
>>> table.loc[1, "action"]
'collect or augment more of it'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from dcai.analysis._metrics import metric_by_group
from dcai.errors import InvalidInputError

__all__ = [
    "ACTIONS",
    "PRIORITY_COLUMNS",
    "REST_OF_DATA",
    "issue_rate_p",
    "newcombe_difference",
    "priority_table",
    "wilson_interval",
]

#: The baseline source of a slice held against the data outside it.
REST_OF_DATA = "rest of the data"
#: Family-wise level of the label-issue test (Bonferroni over the slices of the table).
ISSUE_ALPHA = 0.05

AT_BASELINE = 0.01
ISSUE_RATE_FACTOR = 2.0
MIN_ISSUE_RATE = 0.05
LOW_AGREEMENT = 0.80
AGREEMENT_DROP = 0.10
#: A slice at most this share of the data is "small" in the reason given.
SMALL_SHARE = 0.05
#: Agreement in a slice needs at least this many doubly-labelled examples to be read.
MIN_AGREEMENT_ITEMS = 10

ACTIONS = (
    "fix labels",
    "clarify the label definition",
    "collect or augment more of it",
    "leave it",
)
PRIORITY_COLUMNS = (
    "name",
    "kind",
    "n",
    "share",
    "metric_name",
    "value",
    "low",
    "high",
    "baseline",
    "baseline_source",
    "gap",
    "gap_low",
    "gap_high",
    "potential_gain",
    "label_issue_rate",
    "label_issue_rate_rest",
    "label_issue_p",
    "agreement",
    "agreement_items",
    "action",
    "reason",
)


def wilson_interval(x: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's (1927) score interval for a proportion ``x / n``.

    >>> [round(v, 4) for v in wilson_interval(56, 70)]
    [0.6918, 0.877]
    """
    if n <= 0:
        return 0.0, 1.0
    z = float(stats.norm.isf((1 - confidence) / 2))
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def newcombe_difference(
    x1: float, n1: float, x2: float, n2: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``p1 - p2`` with Newcombe's hybrid score interval (1998, method 10).

    >>> [round(v, 4) for v in newcombe_difference(56, 70, 48, 80)]
    [0.2, 0.0524, 0.3339]
    """
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return float(d), float(low), float(high)


def issue_rate_p(flagged_in: int, size: int, flagged_all: int, n: int) -> float:
    """One-sided Fisher exact p-value that a slice's flagged-label share exceeds the rest's:
    ``P(X >= flagged_in)`` for ``X`` hypergeometric (``size`` drawn from ``n``, ``flagged_all``
    flagged)."""
    return float(stats.hypergeom.sf(flagged_in - 1, n, flagged_all, size))


def priority_table(
    y_true: Any,
    y_pred: Any,
    slices: Mapping[str, Any] | pd.DataFrame,
    *,
    kinds: Mapping[str, str] | None = None,
    metric: str = "accuracy",
    baselines: Mapping[str, float] | None = None,
    baseline_sources: Mapping[str, str] | None = None,
    label_issues: Any = None,
    agreement: Mapping[str, tuple[float | None, int]] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """The "what to work on next" table (see the module docstring), sorted by potential gain.

    Parameters
    ----------
    y_true, y_pred
        Labels and out-of-sample predictions, one per example.
    slices
        Slice name → boolean mask over the examples (a dict or a boolean DataFrame). A row
        for the whole data, named ``"all"``, is always added.
    kinds
        Slice name → where it came from (``tag``, ``meta``, ``class``, ``predicted``,
        ``discovered``, ``user``); shown, not used.
    metric
        ``"accuracy"`` (default), ``"recall"`` or ``"f1"`` (macro over the slice's classes).
    baselines, baseline_sources
        Slice name → baseline value of the same metric, and where it came from (``hlp``,
        ``user``, ``run``). ``"all"`` is the fallback for slices without their own.
    label_issues
        One boolean per example: the audit flags its label as likely wrong.
    agreement
        Slice name → (share of doubly-labelled examples on which labelers agree, how many
        such examples); ``"all"`` for the whole data.

    Raises
    ------
    InvalidInputError
        A mask of the wrong length, or a baseline outside [0, 1].
    """
    true = np.asarray(y_true)
    n = len(true)
    masks = _masks(slices, n)
    masks["all"] = np.ones(n, dtype=bool)
    kinds = {**(kinds or {}), "all": "overall"}
    baselines = dict(baselines or {})
    sources = dict(baseline_sources or {})
    for name, given in baselines.items():
        if not (isinstance(given, int | float) and 0.0 <= float(given) <= 1.0):
            raise InvalidInputError(
                f"the baseline for {name!r} must be a number in [0, 1]; got {given!r}",
                hint="Give baselines as fractions, e.g. 0.92 for 92 %.",
            )
    frame = pd.DataFrame(masks)
    scores = metric_by_group(
        true,
        np.asarray(y_pred),
        frame,
        metric=metric,
        n_boot=n_boot,
        confidence=confidence,
        random_state=random_state,
    )
    issues = None if label_issues is None else np.asarray(label_issues, dtype=bool)
    if issues is not None and len(issues) != n:
        raise InvalidInputError(f"label_issues has {len(issues)} values for {n} examples")
    overall_issue_rate = float(issues.mean()) if issues is not None and n else None
    agreement = dict(agreement or {})
    overall_agreement = _readable(agreement.get("all"))
    rest = _rest_scores(
        true, np.asarray(y_pred), masks, baselines, metric, n_boot, confidence, random_state
    )
    n_tested = max(1, len(masks) - 1)
    rows = []
    for (name, mask), score in zip(masks.items(), scores.itertuples(), strict=True):
        size = int(mask.sum())
        share = size / n if n else 0.0
        baseline, source = _baseline(name, baselines, sources)
        value: float | None = None if size == 0 or pd.isna(score.value) else float(score.value)
        gap = None if baseline is None or value is None else baseline - value
        gap_low = gap_high = None
        if baseline is None and name in rest and value is not None:
            out_value, significant, gap_low, gap_high = rest[name]
            if significant and out_value is not None:
                baseline, source, gap = out_value, REST_OF_DATA, out_value - value
        issue_rate = float(issues[mask].mean()) if issues is not None and size else None
        issue_rest = issue_p = None
        if issues is not None and name != "all" and 0 < size < n:
            issue_rest = float(issues[~mask].mean())
            issue_p = min(
                1.0,
                n_tested * issue_rate_p(int(issues[mask].sum()), size, int(issues.sum()), n),
            )
        agree, agree_items = agreement.get(name, (None, 0))
        row = {
            "name": name,
            "kind": kinds.get(name, "user"),
            "n": size,
            "share": share,
            "metric_name": metric,
            "value": value,
            "low": None if pd.isna(score.low) else float(score.low),
            "high": None if pd.isna(score.high) else float(score.high),
            "baseline": baseline,
            "baseline_source": source,
            "gap": gap,
            "gap_low": gap_low,
            "gap_high": gap_high,
            "potential_gain": None if gap is None else max(gap, 0.0) * share,
            "label_issue_rate": issue_rate,
            "label_issue_rate_rest": issue_rest,
            "label_issue_p": issue_p,
            "agreement": agree if agree_items >= MIN_AGREEMENT_ITEMS else None,
            "agreement_items": int(agree_items),
        }
        row["action"], row["reason"] = _action(row, overall_issue_rate, overall_agreement)
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(PRIORITY_COLUMNS))
    # The whole data first, as the reference; then the slices by potential gain (slices with
    # an action but no gain, i.e. labels to fix on their own evidence, before those left).
    order = table["potential_gain"].astype(float).fillna(-1.0).to_numpy(copy=True)
    acted = (table["action"] != "leave it").to_numpy() & table["potential_gain"].isna().to_numpy()
    order[acted] = -0.5
    order[table["name"].to_numpy() == "all"] = np.inf
    table = table.iloc[np.argsort(-order, kind="stable")].reset_index(drop=True)
    return table


def _rest_scores(
    true: np.ndarray,
    pred: np.ndarray,
    masks: Mapping[str, np.ndarray],
    baselines: Mapping[str, float],
    metric: str,
    n_boot: int,
    confidence: float,
    random_state: int,
) -> dict[str, tuple[float | None, bool, float | None, float | None]]:
    """Per slice without a baseline: (metric outside it, significantly below it, gap interval).

    Accuracy: Newcombe's interval on (rest − slice). Other metrics: bootstrap intervals of
    slice and rest that do not overlap.
    """
    if "all" in baselines:
        return {}
    todo = {
        name: mask
        for name, mask in masks.items()
        if name != "all" and name not in baselines and 0 < mask.sum() < len(mask)
    }
    if not todo:
        return {}
    out: dict[str, tuple[float | None, bool, float | None, float | None]] = {}
    if metric == "accuracy":
        hit = true == pred
        for name, mask in todo.items():
            _, low, high = newcombe_difference(
                float(hit[~mask].sum()),
                float((~mask).sum()),
                float(hit[mask].sum()),
                float(mask.sum()),
                confidence,
            )
            out[name] = (float(hit[~mask].mean()), low > 0, low, high)
        return out
    inside = metric_by_group(
        true,
        pred,
        pd.DataFrame(todo),
        metric=metric,
        n_boot=n_boot,
        confidence=confidence,
        random_state=random_state,
    )
    outside = metric_by_group(
        true,
        pred,
        pd.DataFrame({name: ~mask for name, mask in todo.items()}),
        metric=metric,
        n_boot=n_boot,
        confidence=confidence,
        random_state=random_state,
    )
    for name, a, b in zip(todo, inside.itertuples(), outside.itertuples(), strict=True):
        value = None if pd.isna(b.value) else float(b.value)
        below = not (pd.isna(a.high) or pd.isna(b.low)) and float(a.high) < float(b.low)
        out[name] = (value, bool(below and n_boot > 0), None, None)
    return out


def _masks(slices: Mapping[str, Any] | pd.DataFrame, n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, mask in slices.items():
        values = np.asarray(mask, dtype=bool)
        if values.shape != (n,):
            raise InvalidInputError(
                f"slice {name!r} has {values.shape[0] if values.ndim else 0} values for {n} examples",
                hint="Give one true/false value per example.",
            )
        if str(name) == "all":
            continue
        out[str(name)] = values
    return out


def _baseline(
    name: str, baselines: Mapping[str, float], sources: Mapping[str, str]
) -> tuple[float | None, str | None]:
    if name in baselines:
        return float(baselines[name]), sources.get(name, "user")
    if "all" in baselines:
        source = sources.get("all", "user")
        return float(baselines["all"]), source if name == "all" else f"{source} (overall)"
    return None, None


def _readable(entry: tuple[float | None, int] | None) -> float | None:
    if entry is None:
        return None
    value, items = entry
    return value if items >= MIN_AGREEMENT_ITEMS else None


def _action(
    row: dict[str, Any], overall_issue_rate: float | None, overall_agreement: float | None
) -> tuple[str, str]:
    """The first rule of the module docstring that applies, and why, in numbers."""
    value, baseline, gap = row["value"], row["baseline"], row["gap"]
    if value is None:
        return "leave it", "no examples in this slice"
    rate, rest, issue_p = (
        row["label_issue_rate"],
        row["label_issue_rate_rest"],
        row["label_issue_p"],
    )
    issues_stand_out = (
        rate is not None
        and rest is not None
        and issue_p is not None
        and rate >= MIN_ISSUE_RATE
        and rate >= ISSUE_RATE_FACTOR * rest
        and issue_p <= ISSUE_ALPHA
    )
    issue_reason = (
        f"{rate:.0%} of its labels are flagged vs {rest:.0%} in the rest of the data "
        f"(Fisher p = {issue_p:.2g}, Bonferroni)"
        if issues_stand_out
        else ""
    )
    if gap is None:
        if issues_stand_out:
            return "fix labels", issue_reason
        return "leave it", "no baseline to compare with, and not significantly below the rest " + (
            "of the data" if row["name"] != "all" else "(add HLP or a user baseline)"
        )
    against_rest = row["baseline_source"] == REST_OF_DATA
    inside = not against_rest and row["low"] is not None and row["low"] <= baseline <= row["high"]
    if gap < -AT_BASELINE:
        return "leave it", f"{value:.3f} is above the baseline {baseline:.3f}"
    if gap <= AT_BASELINE or inside:
        return "leave it", f"{value:.3f} is at the baseline {baseline:.3f}"
    if issues_stand_out:
        return "fix labels", issue_reason
    # A slice's labels stand out against the rest; the whole data's against MIN_ISSUE_RATE.
    factor = 1.0 if row["name"] == "all" else ISSUE_RATE_FACTOR
    if (
        rate is not None
        and overall_issue_rate is not None
        and rate >= MIN_ISSUE_RATE
        and rate >= factor * overall_issue_rate
    ):
        if row["name"] == "all":
            return "fix labels", f"the audit flags {rate:.0%} of all labels as likely wrong"
        return (
            "fix labels",
            f"{rate:.0%} of its labels look wrong vs {overall_issue_rate:.0%} overall",
        )
    agree = row["agreement"]
    if agree is not None and (
        agree < LOW_AGREEMENT
        or (overall_agreement is not None and agree <= overall_agreement - AGREEMENT_DROP)
    ):
        return (
            "clarify the label definition",
            f"labelers agree on {agree:.0%} of its examples"
            + (f" vs {overall_agreement:.0%} overall" if overall_agreement is not None else ""),
        )
    size = "a small slice" if row["share"] <= SMALL_SHARE else f"{row['share']:.0%} of the data"
    what = f"the rest of the data ({baseline:.3f})" if against_rest else "the baseline"
    return (
        "collect or augment more of it",
        f"{gap * 100:.1f} points below {what} with clean, consistent labels; {size}",
    )
