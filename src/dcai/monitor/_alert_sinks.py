"""Delivery of alert events (:class:`AlertSinks`): console, a JSON Lines file, a webhook.

Split from :mod:`dcai.monitor.alerts` (rules and their evaluation), which re-exports it.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from dcai.errors import InvalidInputError, StorageError
from dcai.monitor._alert_rules import Alert, _is_int, _is_number

__all__ = ["AlertSinks"]

logger = logging.getLogger("dcai.monitor.alerts")


class AlertSinks:
    """Deliver alert events to the console, a JSON Lines file and a webhook.

    The console and the file are written before :meth:`deliver` returns (the file is flushed
    and fsync'd, so an alert survives a crash right after). The webhook gets one POST per call,
    ``{"deployment": ..., "alerts": [...]}``, from a daemon thread: connection errors,
    timeouts and 5xx answers are retried ``retries`` times, waiting ``backoff`` seconds then
    doubling; a 4xx answer is not retried. Failures are logged on the ``dcai`` logger and
    counted in ``webhook_failures``; monitoring never waits on the webhook. Call
    :meth:`close` before exiting to let pending deliveries finish.

    Examples
    --------
    >>> lines = []
    >>> sinks = AlertSinks(console=lines.append)
    >>> alert = Alert("errors", "error_rate", ">", 0.05, 0.01, "t1", "t2", "firing", "t1")
    >>> sinks.deliver([alert], deployment="digits")
    >>> lines
    ['[digits] FIRING errors: error_rate = 0.05 > 0.01 in window t1 (since t1)']
    """

    def __init__(
        self,
        jsonl_path: Path | None = None,
        webhook: str | None = None,
        console: Callable[[str], None] | None = None,
        *,
        timeout: float = 5.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        if webhook is not None:
            parts = urllib.parse.urlsplit(webhook)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise InvalidInputError(
                    f"webhook {webhook!r} is not an http:// or https:// URL",
                    path="dcai.toml [monitor]",
                    hint='Write webhook = "https://hooks.example.com/..." or leave it out.',
                )
        if not (_is_number(timeout) and timeout > 0):
            raise InvalidInputError(
                f"timeout must be a positive number of seconds, got {timeout!r}"
            )
        if not (_is_int(retries) and retries >= 0):
            raise InvalidInputError(f"retries must be a whole number >= 0, got {retries!r}")
        if not (_is_number(backoff) and backoff >= 0):
            raise InvalidInputError(f"backoff must be a number of seconds >= 0, got {backoff!r}")
        self.jsonl_path = Path(jsonl_path) if jsonl_path is not None else None
        self.webhook = webhook
        self.console = console
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.webhook_attempts = 0
        self.webhook_deliveries = 0
        self.webhook_failures = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> AlertSinks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def deliver(self, events: Sequence[Alert], *, deployment: str) -> None:
        """Send ``events`` of ``deployment`` to every sink; does nothing when there are none.

        Raises
        ------
        StorageError
            The alerts file cannot be written.
        """
        if not events:
            return
        if self.console is not None:
            for alert in events:
                self.console(f"[{deployment}] {alert.describe()}")
        if self.jsonl_path is not None:
            self._append(events, deployment)
        if self.webhook is not None:
            body = json.dumps(
                {"deployment": deployment, "alerts": [a.to_dict() for a in events]},
                allow_nan=False,
            ).encode()
            thread = threading.Thread(
                target=self._post, args=(body,), daemon=True, name=f"dcai-webhook-{deployment}"
            )
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _append(self, events: Sequence[Alert], deployment: str) -> None:
        assert self.jsonl_path is not None
        now = datetime.now(UTC).isoformat(timespec="seconds")
        lines = "".join(
            json.dumps({**a.to_dict(), "deployment": deployment, "time": now}, allow_nan=False)
            + "\n"
            for a in events
        )
        try:
            self.jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            with self.jsonl_path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as err:
            raise StorageError(
                f"cannot append alerts ({err.strerror or err})",
                path=str(self.jsonl_path),
                hint="Free space or fix permissions, or change alerts_file.",
            ) from err

    def _post(self, body: bytes) -> None:
        assert self.webhook is not None
        problem = ""
        for attempt in range(self.retries + 1):
            with self._lock:
                self.webhook_attempts += 1
            request = urllib.request.Request(
                self.webhook,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "dcai-monitor"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
            except urllib.error.HTTPError as err:
                if err.code < 500:
                    self._failed(f"answered {err.code} {err.reason}; not retried")
                    return
                problem = f"answered {err.code} {err.reason}"
            except (OSError, http.client.HTTPException) as err:
                # URLError (refused, DNS), timeouts, resets, and malformed or dropped answers
                problem = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            else:
                with self._lock:
                    self.webhook_deliveries += 1
                return
            if attempt < self.retries:
                logger.info("alert webhook %s: %s; retrying", self._safe_url(), problem)
                time.sleep(self.backoff * 2**attempt)
        self._failed(f"{problem}; gave up after {self.retries + 1} attempts")

    def _failed(self, problem: str) -> None:
        with self._lock:
            self.webhook_failures += 1
        logger.warning("alert webhook %s: %s", self._safe_url(), problem)

    def _safe_url(self) -> str:
        # Webhook URLs often embed a token in the path or query: log only where it goes.
        parts = urllib.parse.urlsplit(self.webhook or "")
        return f"{parts.scheme}://{parts.hostname or ''}"

    def close(self, timeout: float | None = None) -> bool:
        """Wait for pending webhook deliveries; True when none is left running.

        ``timeout`` bounds the whole wait (None waits as long as the retries take).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return not self._threads
