"""Simulated production traffic for monitoring tests: the demo's own simulator (real answers of
a deployed model written with the server's log writer, at chosen times)."""

from __future__ import annotations

from dcai._demo_monitor import log_traffic as send

__all__ = ["send"]
