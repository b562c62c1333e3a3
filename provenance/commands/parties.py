"""`provenance party`: register and show the parties that sign statements."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from provenance import documents
from provenance.commands.appending import append_and_report, load_signers
from provenance.commands.options import common, emit, signing_options
from provenance.crypto import keys
from provenance.ledger.log import Ledger
from provenance.statements import kinds
from provenance.statements.signing import sign

F = TypeVar("F", bound=Callable[..., Any])

# --- parties -----------------------------------------------------------------------------


@click.group("party")
def party_group() -> None:
    """Register and show the parties that sign statements."""


@party_group.command("register")
@click.argument("file")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(),
    help="The party's public key (PEM); repeat for several.",
)
@signing_options
@common
def party_register(
    file: str,
    public_keys: tuple[str, ...],
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Register (or update) the party described in FILE, signed by the operator.

    FILE is YAML or JSON (`-` for stdin) with id, name, roles (operator,
    manufacturer, exporter, consignee, end_user, forwarder, auditor, regulator),
    country and headquarters (ISO 3166-1 alpha-2) and an optional address.
    """
    document = documents.read_mapping(file)
    document.setdefault("kind", "party")
    document.setdefault("keys", [])
    document["keys"] = [*document["keys"], *(keys.load_public(Path(p)).pem() for p in public_keys)]
    statement = kinds.from_document(document)
    append_and_report(
        db, checkpoint_key, sign(statement, load_signers(key_paths)), as_json, receipt_file
    )


@party_group.command("show")
@click.argument("party_id")
@common
def party_show(party_id: str, db: str | None, as_json: bool) -> None:
    """A party: its roles, countries and keys, with when each was registered or revoked."""
    from provenance.ledger.queries import party as find_party

    with Ledger.open(db) as ledger:
        data = find_party(ledger, party_id)

    def human() -> None:
        click.echo(f"{data['id']}: {data['name']}")
        click.echo(f"  roles:        {', '.join(data['roles'])}")
        click.echo(f"  country:      {data['country']} (headquarters {data['headquarters']})")
        if data.get("address"):
            click.echo(f"  address:      {data['address']}")
        click.echo(f"  registered:   entry {data['registered_seq']}")
        for k in data["keys"]:
            state = (
                f"revoked at entry {k['revoked_seq']} ({k['revocation_reason']})"
                if k["revoked_seq"] is not None
                else "valid"
            )
            click.echo(
                f"  key {k['keyid'][:16]}  {k['algorithm']}  from entry "
                f"{k['registered_seq']}  {state}"
            )

    emit(as_json, data, human)


@party_group.command("list")
@common
def party_list(db: str | None, as_json: bool) -> None:
    """Every registered party."""
    from provenance.ledger.queries import parties

    with Ledger.open(db) as ledger:
        rows = parties(ledger)

    def human() -> None:
        for row in rows:
            click.echo(
                f"{row['id']:<24} {row['country']}  {','.join(row['roles']):<28} {row['name']}"
            )

    emit(as_json, rows, human)
