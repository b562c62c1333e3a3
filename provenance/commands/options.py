"""Options every command shares, and how commands print: JSON or a person's lines,
progress on a terminal. Light on purpose: every command module imports it."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from provenance.ledger import DB_ENV

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


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
    envvar="PROVENANCE_CHECKPOINT_KEY",  # the variable wins over a configuration file
    metavar="PEM",
    default=None,
    help="The ledger's checkpoint signing key (default $PROVENANCE_CHECKPOINT_KEY, "
    "else where `init` wrote it).",
)


def common(func: F) -> F:
    """`--db` and `--json`, which every command has."""
    return db_option(json_option(func))


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 entry`, `2 entries`: a count with its noun (the plural: noun + s, unless given)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


limit_option = click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="At most N rows (the first, in the order listed); the last line says how many "
    "there are in all.",
)


def limited(rows: list[Any], limit: int | None) -> tuple[list[Any], int]:
    """The first `limit` rows, and how many there were."""
    return (rows if limit is None else rows[:limit]), len(rows)


def listed(shown: int, total: int, noun: str, plural: str | None = None) -> str:
    """The last line of a listing: `15 flags`, or `2 of 15 flags shown (--limit 2)`."""
    if shown == total:
        return counted(total, noun, plural)
    return f"{shown:,} of {counted(total, noun, plural)} shown (--limit {shown})"


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


LEDGER_ENV = "PROVENANCE_LEDGER"
LEDGER_KEY_ENV = "PROVENANCE_LEDGER_KEY"

ledger_url_option = click.option(
    "--ledger",
    "ledger_url",
    envvar=LEDGER_ENV,
    default=None,
    metavar="URL",
    help=f"A ledger served by `provenance serve` (default ${LEDGER_ENV}); instead of --db.",
)
ledger_key_option = click.option(
    "--ledger-key",
    envvar=LEDGER_KEY_ENV,
    default=None,
    metavar="VKEY",
    help="The served ledger's verifier key, or a file whose last line holds it "
    "(default: the one pinned at first contact).",
)

WITNESS_POLICY_ENV = "PROVENANCE_WITNESS_POLICY"
witness_policy_option = click.option(
    "--witness-policy",
    envvar=WITNESS_POLICY_ENV,
    default=None,
    metavar="FILE",
    help="With --ledger: a C2SP tlog-policy file; a checkpoint is accepted only when its "
    f"witnesses' cosignatures meet the quorum (default ${WITNESS_POLICY_ENV}).",
)


@dataclass(frozen=True)
class Write:
    """What a command that signs and appends is given: the keys to sign with, where to
    write the receipt, the checkpoint key, the ledger (a database, or a served ledger's
    URL and its verifier key) and the output form."""

    key_paths: tuple[str, ...]
    receipt_file: str | None
    checkpoint_key: str | None
    db: str | None
    as_json: bool
    ledger: str | None = None
    ledger_key: str | None = None
    witness_policy: str | None = None
    dry_run: bool = False
    """`--dry-run`: validate, authorise and judge as the write would, write nothing."""
    verbose: bool = False
    """`--verbose`: print the checkpoint and the whole receipt after the entry's line."""

    def __post_init__(self) -> None:
        if self.dry_run and self.ledger:
            from provenance.errors import InputError

            raise InputError(
                "--dry-run works on a database (--db), not on a served ledger",
                hint="the service validates what it is sent; try the write on a copy",
            )

    def remote(self) -> Any:
        """The served ledger (`RemoteLedger`), requests signed with the first --key."""
        return remote_ledger(self.ledger, self.ledger_key, self.key_paths[:1], self.witness_policy)

    def open(self) -> Any:
        """The ledger to append to (`Ledger`): with --dry-run, one whose appends are
        rolled back when it is closed."""
        from provenance.ledger.setup import open_for_append

        return open_for_append(self.db, self.checkpoint_key, dry_run=self.dry_run)

    def local_only(self, what: str) -> None:
        """Refuse `--ledger` for what only a database can do."""
        if self.ledger:
            from provenance.errors import InputError

            raise InputError(f"{what} works on a database (--db), not on a served ledger")


def remote_ledger(
    url: str | None,
    ledger_key: str | None,
    key_paths: tuple[str, ...],
    witness_policy: str | None = None,
) -> Any:
    """A `RemoteLedger` for `--ledger URL`, signing requests with the key given (if any);
    tells the user on stderr when it pinned the ledger's key at first contact."""
    from pathlib import Path

    from provenance.crypto import keys
    from provenance.remote.client import RemoteLedger

    assert url is not None
    key = keys.load_private(Path(key_paths[0])) if key_paths else None
    policy = None
    if witness_policy:
        from provenance.tlog.policy import load

        policy = load(witness_policy)
    client = RemoteLedger(url, key=key, ledger_key=ledger_key, witness_policy=policy)
    if client.verifier_key and client.pinned_now:
        click.echo(f"pinned the ledger key of {client.origin}: {client.verifier_key}", err=True)
    return client


def writes(func: Callable[..., None]) -> Callable[..., None]:
    """`--key`, `--receipt`, `--checkpoint-key`, `--db`, `--ledger`, `--ledger-key` and
    `--json`, given to the command as one `write: Write` argument (the innermost decorator
    of a command)."""

    @functools.wraps(func)
    def command(
        *args: Any,
        key_paths: tuple[str, ...],
        receipt_file: str | None,
        checkpoint_key: str | None,
        db: str | None,
        as_json: bool,
        ledger_url: str | None,
        ledger_key: str | None,
        witness_policy: str | None,
        dry_run: bool,
        verbose: bool,
        **kwargs: Any,
    ) -> None:
        write = Write(
            key_paths,
            receipt_file,
            checkpoint_key,
            db,
            as_json,
            ledger_url,
            ledger_key,
            witness_policy=witness_policy,
            dry_run=dry_run,
            verbose=verbose,
        )
        func(*args, write=write, **kwargs)

    return dry_run_option(
        witness_policy_option(
            ledger_key_option(ledger_url_option(signing_options(common(command))))
        )
    )


dry_run_option = click.option(
    "--dry-run",
    is_flag=True,
    help="Validate, authorise and judge exactly as the write would, in a transaction that "
    "is rolled back: nothing is written.",
)


@dataclass(frozen=True)
class Read:
    """Where a reading command reads: a database, or a served ledger (its URL, its
    verifier key, and the key that signs the requests)."""

    db: str | None
    ledger: str | None
    ledger_key: str | None
    key_paths: tuple[str, ...]
    witness_policy: str | None = None

    def remote(self) -> Any:
        return remote_ledger(self.ledger, self.ledger_key, self.key_paths[:1], self.witness_policy)


def reads(func: Callable[..., None]) -> Callable[..., None]:
    """`--db` and `--json`, and `--ledger URL`, `--ledger-key`, `--key` for a served
    ledger, given to the command as `read: Read` and `as_json`."""

    @functools.wraps(func)
    def command(
        *args: Any,
        db: str | None,
        ledger_url: str | None,
        ledger_key: str | None,
        key_paths: tuple[str, ...],
        witness_policy: str | None,
        **kwargs: Any,
    ) -> None:
        read = Read(db, ledger_url, ledger_key, key_paths, witness_policy)
        func(*args, read=read, **kwargs)

    keyed = click.option(
        "--key",
        "key_paths",
        multiple=True,
        metavar="PEM",
        help="With --ledger: the registered key that signs the requests.",
    )(command)
    return witness_policy_option(ledger_key_option(ledger_url_option(common(keyed))))


def date_option(*names: str, help: str) -> Callable[[F], F]:
    """An option holding a date, written YYYY-MM-DD (None when not given)."""
    return click.option(*names, type=click.DateTime(["%Y-%m-%d"]), default=None, help=help)


def signing_key_option(help: str) -> Callable[[F], F]:
    """`--key PEM`, repeatable: the private keys a statement is signed with."""
    return click.option(
        "--key", "key_paths", multiple=True, required=True, metavar="PEM", help=help
    )


def pem_option(*names: str, help: str, multiple: bool = False) -> Callable[[F], F]:
    """An option naming a PEM file (a public or private key)."""
    return click.option(
        *names, required=not multiple, multiple=multiple, type=click.Path(), help=help
    )


def query(db: str | None, read: Callable[[Any], T]) -> T:
    """What `read` returns from the ledger at `db`, opened for reading and closed again."""
    from provenance.ledger.log import Ledger

    with Ledger.open(db) as ledger:
        return read(ledger)


def signing_options(func: F) -> F:
    func = signing_key_option("Private key to sign with (repeat to add signatures).")(func)
    func = receipt_options(func)
    return checkpoint_key_option(func)


def receipt_options(func: F) -> F:
    """`--receipt FILE` and `--verbose`: an append prints one line (the entry, its kind and
    signer); the receipt goes to FILE, or with --verbose is printed after the checkpoint."""
    func = click.option(
        "--verbose",
        is_flag=True,
        help="Also print the checkpoint and the whole receipt (a C2SP tlog-proof).",
    )(func)
    return click.option(
        "--receipt", "receipt_file", metavar="FILE", help="Write the receipt to FILE."
    )(func)


FINDINGS = 1
"""The exit code of a result that holds findings: a shipment not clear, a name on a list,
a rule case that failed. A finding is a result, printed in full (`--json` too), not an
error: no `error:` line, and the library raises nothing for it."""


HOLD = 6
"""The exit code of a determination on hold: a high red flag is neither cleared nor
confirmed by a signed resolution (inquire, resolve it, check again)."""


def exit_on_findings(found: bool, code: int = FINDINGS) -> None:
    """Exit with `code` (FINDINGS unless told) when the result just printed holds any."""
    if found:
        raise click.exceptions.Exit(code)


key_dirs_option = click.option(
    "--dir",
    "directories",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="A folder of key files (repeat for several; default: the folder `init` wrote the "
    "ledger's keys to, and the current folder).",
)
"""`--dir DIR`: where `keys list` and `status` look for key files."""
