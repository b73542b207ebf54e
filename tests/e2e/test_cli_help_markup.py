"""Help text with square brackets survives Rich markup (issue 21: ``pip install 'dcai'``).

Typer renders help in Rich markup mode, where ``[embeddings]`` is a style tag and vanishes.
Every help text (command docstrings and parameter help) is checked for a bracket that Rich
would read as a tag, and each command whose help has brackets is rendered through the real
CLI to check the bracketed text appears literally.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer.main

from dcai.cli.main import app
from tests.conftest import run_dcai

# Rich's own tag pattern (rich.markup.RE_TAGS): an opening bracket not escaped with "\".
RICH_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])", re.I)


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def _texts(command: Any) -> Iterator[str]:
    for text in (command.help, command.short_help, command.epilog):
        if text:
            yield text
    for param in command.params:
        if getattr(param, "help", None):
            yield param.help


def _bracketed() -> dict[tuple[str, ...], list[str]]:
    """Per command path: the text Rich shows for each escaped ``\\[...]`` in its help."""
    found: dict[tuple[str, ...], list[str]] = {}
    for path, command in _commands(typer.main.get_command(app)):
        for text in _texts(command):
            for match in RICH_TAG.finditer(text):
                found.setdefault(path, []).append(match.group(0))
    return found


def test_no_help_text_has_a_bracket_rich_would_swallow() -> None:
    unescaped = {
        " ".join(path): tags
        for path, tags in _bracketed().items()
        if any(len(tag.split("[")[0]) % 2 == 0 for tag in tags)  # an even number of "\"
    }
    assert unescaped == {}, "escape these as \\[ in help text: " + repr(unescaped)


def test_bracketed_help_is_shown_literally() -> None:
    found = _bracketed()
    assert ("audit",) in found  # pip install 'dcai[embeddings]'
    for path, tags in found.items():
        result = run_dcai(*path, "--help", env={"COLUMNS": "400"})
        assert result.returncode == 0, result
        for tag in tags:
            literal = tag.replace("\\[", "[")
            assert literal in result.stdout, (path, literal, result.stdout)
    audit = run_dcai("audit", "--help", env={"COLUMNS": "400"})
    assert "pip install 'dcai[embeddings]'" in audit.stdout
