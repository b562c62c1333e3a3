"""The `provenance` command line: the root group, its global options, and the mapping
from the library's errors to exit codes.

The command groups live in `provenance/commands/`, one module each, imported only
when one of their commands runs (`provenance --help` imports none of them).

Every command takes `--db` (default `$PROVENANCE_DB`, else `./provenance.db`)
and `--json`. Errors print one line, `error: ...`, and a hint where one helps,
and exit with the code of their class: 0 ok, 1 compliance findings that
block, 2 usage or invalid input, 3 signature or authorisation failure,
4 ledger integrity failure, 5 not found, 6 hold (a high red flag awaits a signed
resolution), 70 an internal error. `--debug` shows the traceback.

Option defaults come from configuration files (`provenance/commands/configuration.py`:
`./provenance.toml`, the XDG one, or `--config FILE`), as click's `default_map`. On a
terminal, an encrypted key with no passphrase in the environment is asked for.

An installed wheel carries this file as `provenance/__main__.py`, so that
`python -m provenance` runs it and no top-level `cli` module is installed.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from provenance import __version__, commands
from provenance.errors import ProvenanceError

INTERNAL_ERROR = 70


def _fail(ctx: click.Context, error: ProvenanceError) -> NoReturn:
    if ctx.meta.get("json") and not ctx.meta.get("emitted"):
        click.echo(json.dumps({"error": error.to_dict()}, indent=2))
    click.echo(f"error: {error.message}", err=True)
    if error.hint:
        click.echo(f"hint: {error.hint}", err=True)
    ctx.exit(error.exit_code)


class ProvenanceGroup(click.Group):
    """The root group: loads each command group when it is used, and turns library
    errors into one line and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *commands.COMMANDS} - commands.HIDDEN)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in commands.COMMANDS:
            command = commands.load(cmd_name)
            assert isinstance(command, click.Command)
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from the help summaries: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (name, click.Command(name, help=commands.SUMMARIES[name]).get_short_help_str(limit))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProvenanceError as error:
            if ctx.meta.get("debug"):
                raise
            _fail(ctx, error)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # The reader went away (`provenance ... | head`): stop quietly, as Unix tools do.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(141)
        except Exception as error:
            if ctx.meta.get("debug"):
                raise
            click.echo(f"error: internal error: {type(error).__name__}: {error}", err=True)
            click.echo("hint: run with --debug for the traceback, and report it", err=True)
            ctx.exit(INTERNAL_ERROR)


@click.group(cls=ProvenanceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provenance")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    default=None,
    help="Read option defaults from FILE (TOML) instead of ./provenance.toml and "
    "$XDG_CONFIG_HOME/provenance/config.toml.",
)
@click.pass_context
def main(ctx: click.Context, debug: bool, config_file: str | None) -> None:
    """Compute provenance and export compliance for advanced AI chips.

    A tamper-evident ledger of signed statements (DSSE envelopes carrying in-toto
    Statements, in an RFC 6962 Merkle tree with C2SP signed checkpoints) about
    chips, shipments, receipts, end use, inspections and licenses, and the tools
    to verify it offline.

    Start with `provenance demo`, or `provenance init`.
    """
    ctx.meta["debug"] = debug
    if ctx.resilient_parsing:  # shell completion: no files read, nothing asked
        return
    from provenance.commands import configuration

    ctx.meta["config_files"] = files = configuration.files(config_file)
    if files:
        settings = configuration.read(files)
        assert isinstance(ctx.command, click.Group)
        ctx.default_map = configuration.default_map(ctx.command, settings, ctx.invoked_subcommand)
    if _interactive():
        from provenance.crypto import keys

        ctx.with_resource(keys.prompting(_ask_passphrase))


def _interactive() -> bool:
    """Whether a person can be asked (stdin is a terminal)."""
    return sys.stdin.isatty()


def _ask_passphrase(path: Any) -> str:
    answer: str = click.prompt(f"passphrase for {path}", hide_input=True, err=True)
    return answer


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
