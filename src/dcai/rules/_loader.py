"""Read a rules file: a Python module of the user's whose ``@rule`` functions are the rules.

The file is the user's own code, named on the command line as code (``--rules FILE.py``), so it
runs the way ``pytest`` runs a test file: imported once, in this process. Data and artifacts are
never run (see docs/security.md); a rules file is a program, like the training script a user
runs. Rules are the module's top-level :class:`~dcai.rules.Rule` objects, in the order the
file defines them (helpers' results assigned to names count too, as do lists of rules).

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "my_rules.py"
>>> _ = path.write_text(
...     "from dcai.rules import rule, keywords\\n"
...     "@rule\\n"
...     "def short(row):\\n"
...     "    return 'ham' if len(row.text) < 10 else None\\n"
...     "offers = keywords('text', ['free'], label='spam')\\n"
... )
>>> [r.name for r in load_rules(path)]
['short', 'keywords_text_free']
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from dcai.errors import InvalidInputError
from dcai.rules._rule import Rule

__all__ = ["load_rules"]


def load_rules(path: str | Path) -> list[Rule]:
    """The rules a Python file defines, in order; one clear error for a file that cannot be used."""
    file = Path(path)
    shown = str(path)
    if file.suffix != ".py":
        raise InvalidInputError(
            "a rules file is a Python file (.py)", path=shown, hint="Name it e.g. rules.py."
        )
    if not file.is_file():
        raise InvalidInputError("no such file", path=shown, hint="Check the path given to --rules.")
    name = f"_dcai_rules_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have one
        raise InvalidInputError("cannot be loaded as a Python module", path=shown)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise InvalidInputError(
            f"line {exc.lineno}: {exc.msg}", path=shown, hint="Fix the syntax error."
        ) from None
    except Exception as exc:  # the user's module failed while loading: say where
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
        where = f"line {frames[-1].lineno}: " if frames else ""
        raise InvalidInputError(
            f"{where}{type(exc).__name__} while loading: {exc}",
            path=shown,
            hint="Fix the error; the file runs once when the rules are read.",
        ) from None
    finally:
        sys.modules.pop(name, None)
    found: dict[int, Rule] = {}  # by identity: one rule listed twice counts once
    for value in vars(module).values():
        candidates = value if isinstance(value, list | tuple) else [value]
        for item in candidates:
            if isinstance(item, Rule):
                found.setdefault(id(item), item)
    if not found:
        raise InvalidInputError(
            "the file defines no rules",
            path=shown,
            hint="Decorate functions with @rule (from dcai.rules import rule).",
        )
    return list(found.values())
