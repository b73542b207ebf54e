"""A tiny progress seam: library code reports steps, interfaces decide how to show them."""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(description, done, total)``; called before each step and once at the end.
ProgressCallback = Callable[[str, int, int], None]


class Steps:
    """Report named steps of a known total to an optional callback.

    >>> seen = []
    >>> steps = Steps(lambda d, i, n: seen.append((d, i, n)), total=2)
    >>> steps("read"); steps("write"); steps.done()
    >>> seen
    [('read', 0, 2), ('write', 1, 2), ('done', 2, 2)]
    """

    def __init__(self, callback: ProgressCallback | None, *, total: int) -> None:
        self.callback = callback
        self.total = total
        self.index = 0

    def __call__(self, description: str) -> None:
        if self.callback is not None:
            self.callback(description, self.index, self.total)
        self.index += 1

    def done(self) -> None:
        if self.callback is not None:
            self.callback("done", self.total, self.total)
