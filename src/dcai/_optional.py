"""Import optional packages at the point of use, naming the extra that provides them."""

from __future__ import annotations

import importlib
from types import ModuleType

from dcai.errors import MissingDependencyError


def import_optional(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    >>> import_optional("json", extra="dev", purpose="reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the Python package {module!r}, which is not installed",
            hint=f"Install it with: pip install 'dcai[{extra}]'",
        ) from exc
