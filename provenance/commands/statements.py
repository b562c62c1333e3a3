"""`provenance sign` and `provenance schema`: statements signed offline, and their schemas."""

from __future__ import annotations

import json
from pathlib import Path

import click

from provenance.commands.appending import load_signers, statement_from
from provenance.commands.options import emit, json_option, signing_key_option
from provenance.errors import InputError
from provenance.statements import kinds, payloads
from provenance.statements.signing import sign

# --- signing and appending ---------------------------------------------------------------


@click.command("sign")
@click.argument("file")
@click.option(
    "--kind",
    type=click.Choice(sorted(kinds.KINDS)),
    default=None,
    help="The statement's kind, for a document without `kind` (as the command that "
    "appends it would take it: `shipment register`, `attest receipt` ...).",
)
@signing_key_option("Private key to sign with (repeat for several signatures).")
@click.option(
    "--out",
    "out",
    default="-",
    show_default=True,
    metavar="ENVELOPE",
    help="Where to write the DSSE envelope (JSON; JSON Lines for several).",
)
@json_option
def sign_command(
    file: str, kind: str | None, key_paths: tuple[str, ...], out: str, as_json: bool
) -> None:
    """Sign a statement offline: FILE (YAML/JSON, `-` for stdin) -> a DSSE envelope.

    FILE is a document the command that appends it takes (`party register`, `shipment
    register`, `license issue`, `attest KIND`, `product import`), its kind given by
    --kind or by its `kind` field. A product catalog or a list of products (--kind
    product) gives one envelope a line (JSON Lines). Submit the envelope later with
    `provenance ledger append` (JSON Lines: `provenance ledger import`).
    """
    if kind == "product":
        from provenance.statements.products import read_products

        statements: list[payloads.Statement] = list(read_products(file))
    else:
        try:
            statements = [statement_from(file, kind)]
        except InputError as exc:
            if kind is None and "kind" in exc.message:
                raise InputError(
                    exc.message, hint="pass --kind KIND, or add `kind:` to the file"
                ) from exc
            raise
    signers = load_signers(key_paths)
    envelopes = [sign(statement, signers) for statement in statements]
    if len(envelopes) == 1:
        text = json.dumps(envelopes[0].to_json(), indent=2) + "\n"
    else:
        text = "".join(json.dumps(e.to_json()) + "\n" for e in envelopes)
    if out == "-":
        click.echo(text, nl=False)
        return
    Path(out).write_text(text, encoding="utf-8")
    kinds_signed = sorted({s.kind for s in statements})
    if len(envelopes) == 1:
        data: dict[str, object] = {
            "envelope": out,
            "kind": statements[0].kind,
            "digest": envelopes[0].digest(),
        }
        human = f"wrote {statements[0].kind} envelope to {out}"
    else:
        data = {
            "envelopes": out,
            "kind": kinds_signed[0],
            "count": len(envelopes),
            "digests": [e.digest() for e in envelopes],
        }
        human = (
            f"wrote {len(envelopes)} {kinds_signed[0]} envelopes to {out} (JSON Lines: "
            "provenance ledger import)"
        )
    emit(as_json, data, human)


@click.command("schema")
@click.argument("kind", type=click.Choice(sorted(kinds.KINDS)))
def schema(kind: str) -> None:
    """Print the JSON Schema of a statement KIND (for generating files)."""
    click.echo(json.dumps(kinds.json_schema(kind), indent=2))
