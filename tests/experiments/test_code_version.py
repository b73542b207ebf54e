"""Code version and environment of a run, checked against real temporary git repositories."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dcai.errors import InvalidInputError
from dcai.experiments import (
    CodeVersion,
    capture_code_version,
    capture_environment,
    package_versions,
)

needs_git = pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True, check=False).returncode != 0,
    reason="git is not installed",
)


@pytest.fixture(autouse=True)
def _hermetic_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer config, no GIT_DIR from a hook, no repository above tmp_path."""
    for key in list(os.environ):
        if key.startswith("GIT_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True).stdout


def make_repo(root: Path, *, commit: bool = True) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "symbolic-ref", "HEAD", "refs/heads/main")
    git(repo, "config", "user.name", "Tester")
    git(repo, "config", "user.email", "tester@example.com")
    git(repo, "config", "commit.gpgsign", "false")
    (repo / "train.py").write_text("print('train')\n")
    (repo / ".gitignore").write_text("*.log\n")
    if commit:
        git(repo, "add", "train.py", ".gitignore")
        git(repo, "commit", "-q", "-m", "first")
    return repo


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").decode().strip()


@needs_git
def test_clean_repo(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    cv = capture_code_version(repo)
    assert cv.kind == "git"
    assert cv.commit == head(repo) and len(cv.commit) == 40
    assert cv.branch == "main"
    assert cv.dirty is False and cv.diff is None and cv.diff_sha256 is None
    assert cv.untracked == () and cv.untracked_truncated is False
    assert cv.root is not None and Path(cv.root).resolve() == repo.resolve()
    assert cv.note is None


@needs_git
def test_modified_tracked_file_is_dirty_with_the_diff_and_its_hash(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "train.py").write_text("print('train harder')\n")
    (repo / "weights.bin").write_bytes(bytes(range(256)))
    git(repo, "add", "weights.bin")
    cv = capture_code_version(repo)
    expected = git(repo, "diff", "HEAD", "--binary")
    assert cv.dirty is True
    assert cv.diff == expected
    assert cv.diff_sha256 == hashlib.sha256(expected).hexdigest()
    assert b"train harder" in expected and b"GIT binary patch" in expected
    # The stored diff rebuilds the working tree from HEAD.
    (tmp_path / "patch.diff").write_bytes(cv.diff)
    git(repo, "stash", "-q")
    git(repo, "apply", "--index", str(tmp_path / "patch.diff"))
    assert (repo / "train.py").read_text() == "print('train harder')\n"


@needs_git
def test_staged_only_change_counts(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "train.py").write_text("print('staged')\n")
    git(repo, "add", "train.py")
    assert git(repo, "diff") == b""  # nothing unstaged
    cv = capture_code_version(repo)
    assert cv.dirty is True
    assert cv.diff is not None and b"staged" in cv.diff
    assert cv.diff_sha256 == hashlib.sha256(git(repo, "diff", "HEAD", "--binary")).hexdigest()


@needs_git
def test_untracked_files_are_listed_and_ignored_ones_are_not(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "notes.txt").write_text("x")
    (repo / "run.log").write_text("ignored")
    (repo / "data").mkdir()
    (repo / "data" / "é.csv").write_text("a\n")
    # From a subdirectory the paths are still relative to the repository root.
    cv = capture_code_version(repo / "data")
    assert cv.dirty is False  # untracked files alone do not make the tree dirty
    assert sorted(cv.untracked) == ["data/é.csv", "notes.txt"]
    capped = capture_code_version(repo, max_untracked=1)
    assert len(capped.untracked) == 1 and capped.untracked_truncated is True


@needs_git
def test_detached_head_has_no_branch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "--detach")
    cv = capture_code_version(repo / "train.py")  # a file inside the tree works too
    assert cv.kind == "git" and cv.branch is None and cv.commit == head(repo)


@needs_git
def test_repository_without_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, commit=False)
    empty = capture_code_version(repo)
    assert empty.kind == "git" and empty.commit is None and empty.branch == "main"
    assert empty.dirty is False and empty.diff is None
    assert sorted(empty.untracked) == [".gitignore", "train.py"]

    git(repo, "add", "train.py")
    staged = capture_code_version(repo)
    assert staged.commit is None and staged.dirty is True
    assert staged.diff == git(repo, "diff", "--cached", "--binary")
    assert staged.diff is not None and b"new file mode" in staged.diff
    assert staged.untracked == (".gitignore",)


@needs_git
def test_outside_git_the_script_hash_identifies_the_code(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_bytes(b"print('no git here')\n")
    cv = capture_code_version(tmp_path, script=script)
    assert cv.kind == "script"
    assert cv.script == str(script.absolute())
    assert cv.script_sha256 == hashlib.sha256(script.read_bytes()).hexdigest()
    assert cv.commit is None and cv.root is None and cv.dirty is False
    assert cv.note is not None and "not inside a git work tree" in cv.note


def test_entry_script_is_detected_from_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "main.py"
    script.write_text("pass\n")
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(script), raising=False)
    cv = capture_code_version(tmp_path)
    assert cv.script == str(script) and cv.script_sha256 is not None


def test_without_git_and_script_the_kind_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)
    monkeypatch.setattr(sys, "argv", [""])
    cv = capture_code_version(tmp_path)
    assert cv.kind == "unknown" and cv.script is None
    assert cv.note is not None and "no entry script" in cv.note


def test_missing_git_falls_back_without_raising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "train.py"
    script.write_text("pass\n")
    monkeypatch.setenv("PATH", "")
    cv = capture_code_version(tmp_path, script=script)
    assert cv.kind == "script"
    assert cv.note == "git executable not found on PATH"


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for git")
def test_git_timeout_falls_back_without_raising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    sleep = shutil.which("sleep")
    if sleep is None:
        pytest.skip("no sleep executable")
    # exec: the process killed on timeout is the one holding git's output pipes.
    fake.write_text(f"#!/bin/sh\nexec {sleep} 5\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    script = tmp_path / "train.py"
    script.write_text("pass\n")
    cv = capture_code_version(tmp_path, script=script, timeout=0.2)
    assert cv.kind == "script"
    assert cv.note is not None and "timed out" in cv.note


def test_missing_directory_and_unreadable_script_are_notes(tmp_path: Path) -> None:
    cv = capture_code_version(tmp_path / "nowhere", script=tmp_path / "gone.py")
    assert cv.kind == "unknown"
    assert cv.note is not None and "not an existing directory" in cv.note and "gone.py" in cv.note


@needs_git
def test_to_dict_is_json_ready_without_the_diff(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "train.py").write_text("changed\n")
    cv = capture_code_version(repo)
    data = json.loads(json.dumps(cv.to_dict()))
    assert "diff" not in data and data["dirty"] is True and data["commit"] == cv.commit
    assert CodeVersion.from_dict(data, diff=cv.diff) == cv
    assert "bytes>" in repr(cv) and "changed" not in repr(cv)


def test_environment_describes_python_and_packages() -> None:
    env = capture_environment()
    assert env["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert env["python"]["executable"] == sys.executable
    assert set(env["platform"]) == {"system", "release", "machine"}
    assert env["pid"] == os.getpid() and env["hostname"]
    packages = env["packages"]
    assert packages["numpy"] == np.__version__
    assert "scikit-learn" in packages  # normalized names
    assert list(packages) == sorted(packages)
    json.dumps(env)
    # Cached, but every call gets its own copy.
    packages["numpy"] = "tampered"
    assert capture_environment()["packages"]["numpy"] == np.__version__


def test_package_versions() -> None:
    versions = package_versions(["numpy", "Scikit_Learn", "no-such-dist-dcai-test"])
    assert versions == {
        "numpy": np.__version__,
        "Scikit_Learn": capture_environment()["packages"]["scikit-learn"],
        "no-such-dist-dcai-test": None,
    }
    with pytest.raises(InvalidInputError, match="list"):
        package_versions("numpy")
    with pytest.raises(InvalidInputError, match="non-empty"):
        package_versions([""])


@needs_git
@pytest.mark.skipif(sys.platform == "win32", reason="a shell script wraps git")
def test_failing_untracked_listing_keeps_the_git_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)
    real_git = shutil.which("git")
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    # Arguments arrive as: -c core.quotepath=off <command> ...
    wrapper.write_text(
        f'#!/bin/sh\nif [ "$3" = ls-files ]; then echo "fatal: boom" >&2; exit 128; fi\n'
        f'exec "{real_git}" "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", str(wrapper.parent))
    cv = capture_code_version(repo)
    assert cv.kind == "git" and cv.commit == head(repo)
    assert cv.untracked == () and cv.untracked_truncated is True
    assert cv.note == "untracked files not listed: git ls-files failed: fatal: boom"
