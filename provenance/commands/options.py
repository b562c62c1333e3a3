"""Options every command shares, and the flow they drive: read a statement, sign it,
append it, print the entry and its receipt."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from provenance import documents
from provenance.crypto import keys
from provenance.crypto.envelope import Envelope
from provenance.errors import InputError
from provenance.ledger.database import DB_ENV
from provenance.ledger.log import Appended
from provenance.ledger.setup import open_for_append
from provenance.offline.entries import Receipt
from provenance.statements import kinds, payloads
from provenance.statements.signing import sign

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
    """Print `data` as JSON, or the human form."""
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


def load_signers(paths: tuple[str, ...]) -> list[keys.SigningKey]:
    if not paths:
        raise InputError("a signing key is needed", hint="pass --key KEY.pem")
    return [keys.load_private(Path(p)) for p in paths]


def statement_from(path: str, kind: str | None = None) -> payloads.Statement:
    """Read a YAML/JSON statement document; `kind` fills in (or must match) its kind."""
    document = documents.read_document(path)
    if kind is not None and isinstance(document, dict):
        declared = document.setdefault("kind", kind)
        if declared != kind:
            raise InputError(f"{documents.display_name(path)} is a {declared!r}, not a {kind!r}")
    return kinds.from_document(document)


def appended_lines(result: Appended, receipt: Receipt, receipt_file: str | None) -> None:
    state = "already in the ledger as" if result.duplicate else "appended"
    click.echo(f"{state} entry {result.seq}: {result.kind}, signed by {result.signer}")
    cp = receipt.checkpoint.checkpoint
    click.echo(f"checkpoint: {cp.origin} size {cp.size}")
    if receipt_file:
        Path(receipt_file).write_text(receipt.text(), encoding="utf-8")
        click.echo(f"receipt written to {receipt_file} (check it with: provenance verify)")
    else:
        click.echo("receipt (C2SP tlog-proof; check it offline with `provenance verify`):")
        click.echo(receipt.text(), nl=False)


def append_and_report(
    db: str | None,
    checkpoint_key: str | None,
    envelope: Envelope,
    as_json: bool,
    receipt_file: str | None,
) -> Appended:
    with open_for_append(db, checkpoint_key) as ledger:
        result, receipt = ledger.append(envelope)
    if as_json:
        emit(True, {"entry": result.__dict__, "receipt": receipt.to_json()}, "")
    else:
        appended_lines(result, receipt, receipt_file)
    return result


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


def sign_and_append(
    statement: payloads.Statement,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> Appended:
    """Sign a statement with the given keys, append it and print the entry and receipt."""
    envelope = sign(statement, load_signers(key_paths))
    return append_and_report(db, checkpoint_key, envelope, as_json, receipt_file)
