"""`provenance party`: register and show the parties that sign statements."""

from __future__ import annotations

from pathlib import Path

import click

from provenance import documents
from provenance.commands.appending import sign_and_append
from provenance.commands.options import (
    Write,
    common,
    emit,
    limit_option,
    limited,
    listed,
    pem_option,
    query,
    writes,
)
from provenance.crypto import keys
from provenance.statements import kinds

# --- parties -----------------------------------------------------------------------------


@click.group("party")
def party_group() -> None:
    """Register and show the parties that sign statements."""


@party_group.command("register")
@click.argument("file")
@pem_option(
    "--public-key",
    "public_keys",
    multiple=True,
    help="The party's public key (PEM); repeat for several.",
)
@writes
def party_register(file: str, public_keys: tuple[str, ...], write: Write) -> None:
    """Register (or update) the party described in FILE, signed by the operator.

    FILE is YAML or JSON (`-` for stdin) with id, name, roles (operator,
    manufacturer, exporter, consignee, end_user, forwarder, auditor, regulator),
    country and headquarters (ISO 3166-1 alpha-2) and an optional address.
    """
    document = documents.read_mapping(file)
    document.setdefault("kind", "party")
    document.setdefault("keys", [])
    document["keys"] = [*document["keys"], *(keys.load_public(Path(p)).pem() for p in public_keys)]
    statement = kinds.from_document(document, documents.display_name(file))
    sign_and_append(statement, write)


@party_group.command("show")
@click.argument("party_id")
@common
def party_show(party_id: str, db: str | None, as_json: bool) -> None:
    """A party: its roles, countries and keys, with when each was registered or revoked."""
    from provenance.ledger.queries import party as find_party

    data = query(db, lambda ledger: find_party(ledger, party_id))

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
@limit_option
@common
def party_list(limit: int | None, db: str | None, as_json: bool) -> None:
    """Every registered party, by id."""
    from provenance.ledger.queries import parties

    rows, total = limited(query(db, parties), limit)

    def human() -> None:
        for row in rows:
            click.echo(
                f"{row['id']:<24} {row['country']}  {','.join(row['roles']):<28} {row['name']}"
            )
        if len(rows) < total:
            click.echo(listed(len(rows), total, "party", "parties"))

    emit(as_json, rows, human)
