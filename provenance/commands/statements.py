"""`provenance sign` and `provenance schema`: statements signed offline, and their schemas."""

from __future__ import annotations

import json
from pathlib import Path

import click

from provenance.commands.appending import load_signers, statement_from
from provenance.commands.options import emit, json_option, signing_key_option
from provenance.statements import kinds
from provenance.statements.signing import sign

# --- signing and appending ---------------------------------------------------------------


@click.command("sign")
@click.argument("file")
@signing_key_option("Private key to sign with (repeat for several signatures).")
@click.option(
    "--out",
    "out",
    default="-",
    show_default=True,
    metavar="ENVELOPE",
    help="Where to write the DSSE envelope (JSON).",
)
@json_option
def sign_command(file: str, key_paths: tuple[str, ...], out: str, as_json: bool) -> None:
    """Sign a statement offline: FILE (YAML/JSON with `kind`) -> a DSSE envelope.

    Submit the envelope later with `provenance ledger append`.
    """
    statement = statement_from(file)
    envelope = sign(statement, load_signers(key_paths))
    text = json.dumps(envelope.to_json(), indent=2) + "\n"
    if out == "-":
        click.echo(text, nl=False)
    else:
        Path(out).write_text(text, encoding="utf-8")
        emit(
            as_json,
            {"envelope": out, "kind": statement.kind, "digest": envelope.digest()},
            f"wrote {statement.kind} envelope to {out}",
        )


@click.command("schema")
@click.argument("kind", type=click.Choice(sorted(kinds.KINDS)))
def schema(kind: str) -> None:
    """Print the JSON Schema of a statement KIND (for generating files)."""
    click.echo(json.dumps(kinds.json_schema(kind), indent=2))
