"""Helpers shared by the benchmark scripts: memory, versions, and their section of BENCHMARKS.md.

Each script measures in fresh child processes and rewrites only its own ``## ...`` section of
BENCHMARKS.md, so the scripts can run in any order.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

HEADER = """\
# Benchmarks

Figures measured on the reference machine: 2 cores (Linux). Each section says which
issue asked for it and what its targets are.

Reproduce with `make bench` (it creates `.venv-bench`, where peer tools such as cleanlab are
installed beside dcai, and runs every script in `benchmarks/`); each script rewrites its own
section of this file and leaves the others alone.
"""

MB = 1024 * 1024


def peak_rss_bytes() -> int:
    """This process's peak resident set size, in bytes."""
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Python's and each package's installed version."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for package in packages:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def mb(n: int | float) -> str:
    return f"{n / MB:,.0f} MB"


def write_section(out: Path, heading: str, section: str) -> None:
    """Replace the section that starts with ``heading`` in ``out`` (append it if missing).

    The section runs to the next level-2 heading; ``###`` subsections belong to it.
    """
    text = out.read_text(encoding="utf-8") if out.exists() else HEADER
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text, encoding="utf-8")


def run_child(
    script: str | Path, *args: str, timeout: float | None = None
) -> dict[str, Any] | None:
    """Run ``script --child ARGS`` in a fresh process and return its JSON result.

    A fresh process per measured step means its peak RSS belongs to that step alone. The
    child's progress goes to stderr (shown live); its last stdout line is its JSON result.
    Returns ``None`` when the step outlived ``timeout`` (it is stopped, with any workers it
    started); a failed step ends the benchmark with its output.
    """
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent)
    src = str(Path(here).parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, here, env.get("PYTHONPATH")) if p)
    command = [sys.executable, str(Path(script).resolve()), "--child", *args]
    # Its own process group, so a timed-out step is stopped with any workers it started.
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    ) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return None
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    if proc.returncode != 0:
        sys.stderr.write(out)
        raise SystemExit(f"benchmark step {args[0]!r} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_step(script: str | Path, *args: str) -> dict[str, Any]:
    """:func:`run_child` without a time limit."""
    result = run_child(script, *args)
    assert result is not None  # invariant: no timeout, so the step finished or exited
    return result


def machine() -> str:
    """ "N cores (OS arch; CPU model, RAM)" for the "Measured … on …" line of a section."""
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if match:
            cpu = match.group(1).strip()
        memory = Path("/proc/meminfo").read_text(encoding="ascii")
        total = re.search(r"^MemTotal:\s+(\d+) kB", memory, re.M)
        if total:
            cpu += f", {int(total.group(1)) / 1024**2:.0f} GB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({platform.system()} {platform.machine()}; {cpu})"


def dispatch_child(parser: Any, child: list[str] | None, children: dict[str, Any]) -> bool:
    """Run the hidden ``--child KIND ARGS…`` step a benchmark starts in a fresh process.

    Prints the step's JSON result and returns True when ``child`` was given (the caller then
    exits), False otherwise.
    """
    if not child:
        return False
    kind, *rest = child
    if kind not in children:
        parser.error(f"unknown child step {kind!r}")
    print(json.dumps(children[kind](rest)))
    return True


def command_shown(script: str, argv: list[str] | None) -> str:
    """The command as run, without where its output went (``--out``, ``--json`` and values)."""
    shown, skip = [], False
    for arg in argv if argv is not None else sys.argv[1:]:
        if not skip and not arg.startswith(("--out", "--json")):
            shown.append(arg)
        skip = arg in ("--out", "--json")
    return " ".join([f"python benchmarks/{script}", *shown])


def target_lines(targets: list[tuple[str, str, bool]], heading: str) -> list[str]:
    """The targets as a BENCHMARKS.md section lists them: ``heading``, then one
    ``- met: TARGET (MEASURED)`` or ``- **missed**: ...`` line each."""
    return [
        heading,
        "",
        *(f"- {'met' if met else '**missed**'}: {t} ({m})" for t, m, met in targets),
    ]


def report_targets(targets: list[tuple[str, str, bool]], *, check: bool) -> int:
    """Print each target as met or MISSED; exit status 1 with ``check`` when one is missed."""
    for target, measured, met in targets:
        print(f"{'met   ' if met else 'MISSED'}  {target}: {measured}")
    return 1 if check and any(not met for _, _, met in targets) else 0
