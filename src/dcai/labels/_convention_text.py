"""Text of free-text labels: the conventions, their string normalisers and variant detection.

Pure string functions, with no pandas and no error types, shared by finding conventions
(:mod:`dcai.labels._conventions`) and applying approved rules
(:mod:`dcai.labels._convention_rules`): the Unicode, whitespace, quote, ellipsis, filler,
trailing-punctuation and case normalisers; the grouping key (:func:`_base_key`, the words of a
text case-folded, without fillers); :func:`_variants`, which names the variant of each
convention a text uses; and :func:`_spelling_map`, which maps a rarer short label to a more
frequent one a plural or one edit away. Keeping them apart lets each be read and tested as
plain text in, text out, and keeps the import order one-way (text ← rules ← conventions).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter, defaultdict

__all__ = ["CONVENTIONS", "DEFAULT_FILLERS"]

#: The conventions, in the order :func:`apply_conventions` applies them.
CONVENTIONS = (
    "unicode_form",
    "whitespace",
    "quotes",
    "ellipsis",
    "filler_words",
    "spelling",
    "trailing_punctuation",
    "case",
)
#: English hesitation fillers. "you know" counts only when set off by punctuation or at the
#: start or end of the text ("do you know him" keeps it). Override with ``fillers=``.
DEFAULT_FILLERS = ("um", "umm", "uh", "uhh", "uhm", "er", "erm", "hmm", "hm", "you know")

#: A variant one edit away from a label joins it only if it is at most this share as frequent.
_SPELLING_MAX_SHARE = 0.5
_MIN_EDIT_LENGTH = 4

_MARK = r"\u0300-\u036f"  # combining diacritics, so that decomposed (NFD) words stay whole
_WORD = re.compile(rf"(?:\w|[{_MARK}])+(?:['’](?:\w|[{_MARK}])+)*")
_TO_STRAIGHT = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "ʼ": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
    }
)
_CURLY = frozenset("‘’‚‛“”„‟ʼ´")
_ELLIPSIS = re.compile(r"[.…]*…[.…]*|\.{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=[\w'\"‘’“”‚„‛‟ʼ´)\]]) +(?=[,.!?;:…])")
_TRAILING = re.compile(r"[\s.,;:]+$")
_PUNCT_END = ".!?,;:"


# --------------------------------------------------------------------------- normalisers
def _unicode_fold(text: str) -> str:
    """NFKC (composed, full-width → ASCII, NBSP → space), except that ``…`` is kept."""
    return "…".join(unicodedata.normalize("NFKC", part) for part in text.split("…"))


def _tidy(text: str) -> str:
    """Repair spacing after something was deleted (collapses spaces only, not tabs)."""
    text = re.sub(r" {2,}", " ", text)
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    return re.sub(r"^[\s,;:]+", "", text).rstrip()


def _normalize_whitespace(text: str) -> str:
    return _SPACE_BEFORE_PUNCT.sub("", re.sub(r"\s+", " ", text).strip())


def _curly(text: str) -> str:
    out = []
    for i, char in enumerate(text):
        before = text[i - 1] if i else " "
        opening = before.isspace() or before in "([{-—\"'“‘"
        if char == "'":  # an apostrophe unless it opens a quotation
            char = "‘" if opening and text[i + 1 : i + 2].strip() else "’"
        elif char == '"':
            char = "“" if opening else "”"
        out.append(char)
    return "".join(out)


@functools.lru_cache(maxsize=32)
def _filler_pattern(fillers: tuple[str, ...]) -> re.Pattern[str] | None:
    single = sorted((f for f in fillers if " " not in f), key=len, reverse=True)
    multi = sorted((f for f in fillers if " " in f), key=len, reverse=True)
    parts = []
    if single:
        parts.append(
            rf"(?<![\w'’{_MARK}])(?:" + "|".join(map(re.escape, single)) + rf")(?![\w'’{_MARK}])"
        )
    if multi:
        words = "|".join(r"\s+".join(map(re.escape, f.split())) for f in multi)
        parts.append(
            r"(?:^|(?<=[,.;:!?…])|(?<=[,.;:!?…]\s))(?:" + words + r")(?=\s*(?:[,.;:!?…]|$))"
        )
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


@functools.lru_cache(maxsize=32)
def _filler_with_pause(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The filler with the comma before it and the pause mark after it."""
    return re.compile(rf",?\s*(?:{pattern.pattern})\s*(?:\.{{2,}}|…|,)?\s*", re.IGNORECASE)


def _remove_fillers(text: str, pattern: re.Pattern[str]) -> str:
    full = _filler_with_pause(pattern)
    for _ in range(5):  # removing one filler can set off another ("you, um, know")
        match = pattern.search(text)
        if match is None:
            break
        capital = _first_cased(text)
        starts = not text[: match.start()].strip(" \t,.…")
        text = _tidy(full.sub(" ", text))
        if starts and capital is not None and capital.isupper():
            text = _capitalize_first(text)
    return text


def _first_cased(text: str) -> str | None:
    return next((c for c in text if c.isupper() or c.islower()), None)


def _capitalize_first(text: str) -> str:
    for i, char in enumerate(text):
        if char.isupper() or char.islower():
            upper = char.upper()
            return text[:i] + upper + text[i + 1 :] if len(upper) == 1 else text
    return text


def _ellipsis(text: str, rule: str) -> str:
    if rule == "remove":
        return _tidy(re.sub(rf"\s*(?:{_ELLIPSIS.pattern})\s*", " ", text).strip())
    return _ELLIPSIS.sub(rule, text)


def _trailing(text: str, rule: str) -> str:
    if re.search(r"(?:\.{2,}|…)\s*$", text):
        return text  # an ending ellipsis belongs to the ellipsis convention
    text = _TRAILING.sub("", text)
    if rule == "period" and text and text[-1] not in "!?…":
        text += "."
    return text


def _spans(text: str, pattern: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """Word spans that are not part of a filler."""
    skip = [m.span() for m in pattern.finditer(text)] if pattern is not None else []
    return [m.span() for m in _WORD.finditer(text) if not any(a <= m.start() < b for a, b in skip)]


def _base_key(text: str, pattern: re.Pattern[str] | None) -> str:
    folded = _unicode_fold(text).translate(_TO_STRAIGHT)
    return " ".join(folded[a:b].casefold() for a, b in _spans(folded, pattern))


def _token_case(token: str) -> str:
    cased = [c for c in token if c.isupper() or c.islower()]
    if not cased:
        return "none"
    if not any(c.isupper() for c in cased):
        return "lower"
    if cased[0].isupper() and not any(c.isupper() for c in cased[1:]):
        return "capitalized"
    if not any(c.islower() for c in cased):
        return "upper"
    return "mixed"


def _case_pattern(text: str, pattern: re.Pattern[str] | None) -> tuple[str, ...]:
    """Case of each word once fillers are gone ("Um, today" reads as "Today")."""
    if pattern is not None:
        text = _remove_fillers(text, pattern)
    return tuple(_token_case(text[a:b]) for a, b in _spans(text, pattern))


def _copy_case(token: str, model: tuple[bool, ...]) -> str:
    positions = [i for i, c in enumerate(token) if c.isupper() or c.islower()]
    if len(positions) != len(model):
        return token
    chars = list(token)
    for i, upper in zip(positions, model, strict=True):
        new = chars[i].upper() if upper else chars[i].lower()
        if len(new) == 1:
            chars[i] = new
    return "".join(chars)


# --------------------------------------------------------------------------- variants
def _variants(text: str, pattern: re.Pattern[str] | None) -> dict[str, str]:
    if any("\uff01" <= c <= "\uff5e" or c == "\u3000" for c in text):
        form = "full_width"
    elif unicodedata.normalize("NFC", text) != text:
        form = "nfd"
    elif _unicode_fold(text) != text:
        form = "compatibility"
    else:
        form = "nfc"
    straight, curly = any(c in "'\"" for c in text), any(c in _CURLY for c in text)
    quotes = (
        "mixed" if straight and curly else "straight" if straight else "curly" if curly else "none"
    )
    has_char, has_dots = "…" in text, re.search(r"\.{2,}", text) is not None
    ellipsis = (
        "mixed"
        if has_char and has_dots
        else "…"
        if has_char
        else "..."
        if has_dots
        else ","
        if "," in text
        else "none"
    )
    end = text.rstrip()
    trailing = "none"
    if end and end[-1] in _PUNCT_END and not re.search(r"(?:\.{2,}|…)$", end):
        trailing = end[-1]
    cases = [c for c in _case_pattern(text, pattern) if c != "none"]
    if not cases:
        case = "none"
    elif all(c == "upper" for c in cases):
        case = "upper"
    elif len(cases) > 1 and all(c == "capitalized" for c in cases):
        case = "title"
    else:  # how the text starts: "Today's weather" is sentence case, "today's weather" lower
        case = {"capitalized": "sentence", "upper": "sentence", "lower": "lower"}.get(
            cases[0], "mixed"
        )
    return {
        "unicode_form": form,
        "whitespace": "regular" if _normalize_whitespace(text) == text else "irregular",
        "quotes": quotes,
        "ellipsis": ellipsis,
        "filler_words": "fillers" if pattern is not None and pattern.search(text) else "none",
        "trailing_punctuation": trailing,
        "case": case,
    }


def _similar_words(a: str, b: str) -> str | None:
    """``"plural"``, ``"edit"`` or None: is ``b`` a spelling variant of ``a``?"""
    for x, y in ((a, b), (b, a)):
        if len(x) >= 3 and (y in (x + "s", x + "es") or (x.endswith("y") and y == x[:-1] + "ies")):
            return "plural"
    if min(len(a), len(b)) < _MIN_EDIT_LENGTH or not (a.isalpha() and b.isalpha()):
        return None
    return "edit" if _within_one_edit(a, b) else None


def _within_one_edit(a: str, b: str) -> bool:
    """Optimal-string-alignment distance ≤ 1 (one insertion, deletion, substitution or swap)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) <= 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long[k]), len(short))
    return short[i:] == long[i + 1 :]


def _spelling_map(counts: Counter[str], max_words: int) -> dict[str, str]:
    """Map rarer short labels to a more frequent label one spelling step away (no chains)."""
    short = [k for k in counts if k and len(k.split(" ")) <= max_words]
    short.sort(key=lambda k: (-counts[k], len(k), k))
    index: dict[tuple[str, ...], list[str]] = defaultdict(list)
    mapping: dict[str, str] = {}
    for key in short:
        words = key.split(" ")
        signatures = set()
        for pos, word in enumerate(words):
            forms = {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}
            forms |= {word[:-1], word[:-2], word[:-3] + "y"} if word.endswith("s") else set()
            forms |= {word + "s", word + "es", word[:-1] + "ies"}
            signatures |= {(str(pos), *words[:pos], form, *words[pos + 1 :]) for form in forms}
        best = None
        for signature in signatures:
            for label in index.get(signature, []):
                other = label.split(" ")
                if len(other) != len(words):
                    continue
                diff = [p for p in range(len(words)) if words[p] != other[p]]
                kind = _similar_words(other[diff[0]], words[diff[0]]) if len(diff) == 1 else None
                rare_enough = counts[key] <= _SPELLING_MAX_SHARE * counts[label]
                better = best is None or (-counts[label], label) < (-counts[best], best)
                if (kind == "plural" or (kind == "edit" and rare_enough)) and better:
                    best = label
        if best is not None:
            mapping[key] = best
        else:
            for signature in signatures:
                index[signature].append(key)
    return mapping
