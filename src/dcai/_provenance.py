"""Who and when: the author and the UTC time every recorded operation carries.

Kept in a module of its own (no pandas, no SQLAlchemy) so that light paths — starting a run,
listing datasets — can stamp what they write without loading the data stack.

>>> import os; os.environ["DCAI_AUTHOR"] = "ana"
>>> current_author(), current_author("bo")
('ana', 'bo')
>>> now_iso()[:2], now_iso().endswith("+00:00")
('20', True)
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime

__all__ = ["current_author", "now_iso"]


def now_iso() -> str:
    """The current UTC time as ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def current_author(author: str | None = None) -> str:
    """Explicit author, else ``$DCAI_AUTHOR``, else the login name."""
    if author:
        return author
    env = os.environ.get("DCAI_AUTHOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
