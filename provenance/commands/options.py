"""Options every command shares, and how commands print: JSON or a person's lines,
progress on a terminal. Light on purpose: every command module imports it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from provenance.ledger import DB_ENV

F = TypeVar("F", bound=Callable[..., Any])


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta["json"] = True
    return value


db_option = click.option(
    "--db",
    envvar=DB_ENV,
    default=None,
    metavar="URL",
    help=f"Ledger database: an SQLite file path or a SQLAlchemy URL "
    f"(default ${DB_ENV}, else ./provenance.db).",
)
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    expose_value=True,
    callback=_set_json,
    is_eager=True,
    help="Print the result as JSON on stdout.",
)
checkpoint_key_option = click.option(
    "--checkpoint-key",
    metavar="PEM",
    default=None,
    help="The ledger's checkpoint signing key (default $PROVENANCE_CHECKPOINT_KEY, "
    "else where `init` wrote it).",
)


def common(func: F) -> F:
    """`--db` and `--json`, which every command has."""
    return db_option(json_option(func))


def emit(as_json: bool, data: Any, human: str | Callable[[], None]) -> None:
    """Print `data` as JSON, or the human form. Stdout carries one JSON document: an error
    raised after this (a report that does not verify) goes to stderr only."""
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta["emitted"] = True
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    elif callable(human):
        human()
    else:
        click.echo(human)


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; silent otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda _n: None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def signing_options(func: F) -> F:
    func = click.option(
        "--key",
        "key_paths",
        multiple=True,
        required=True,
        metavar="PEM",
        help="Private key to sign with (repeat to add signatures).",
    )(func)
    func = click.option(
        "--receipt", "receipt_file", metavar="FILE", help="Write the receipt to FILE."
    )(func)
    return checkpoint_key_option(func)


FINDINGS = 1
"""The exit code of a result that holds findings: a shipment not clear, a name on a list,
a rule case that failed. A finding is a result, printed in full (`--json` too), not an
error: no `error:` line, and the library raises nothing for it."""


def exit_on_findings(found: bool) -> None:
    """Exit with FINDINGS when the result just printed holds any."""
    if found:
        raise click.exceptions.Exit(FINDINGS)
