"""The generated files are current: `docs/cli.md` (every command's help), the catalogue
table of `docs/rules.md`, and the help summaries `provenance --help` lists without
importing the command modules."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from cogapp import Cog

from cli import main
from provenance import commands

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path", ["docs/cli.md", "docs/rules.md", "provenance/commands/__init__.py"]
)
def test_generated_file_is_current(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = Cog().main(["cog", "--check", str(ROOT / path)])
    assert status == 0, f"{path} is stale: run `cog -r {path}`\n{capsys.readouterr().out}"


def test_every_summary_is_the_first_paragraph_of_the_commands_help() -> None:
    for name in commands.COMMANDS:
        command = commands.load(name)
        assert isinstance(command, click.Command)
        first = " ".join((command.help or "").partition("\n\n")[0].split())
        assert commands.SUMMARIES[name] == first, name


def test_the_command_list_is_the_same_loaded_or_not() -> None:
    lazy = CliRunner().invoke(main, ["--help"], terminal_width=100).output
    for name in commands.COMMANDS:
        main.get_command(click.Context(main), name)  # load every group
    eager = click.Group.format_commands
    loaded = CliRunner().invoke(main, ["--help"], terminal_width=100).output
    assert lazy == loaded
    ctx = click.Context(main, terminal_width=100)
    formatter = ctx.make_formatter()
    eager(main, ctx, formatter)
    assert formatter.getvalue() in lazy
