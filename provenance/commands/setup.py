"""`provenance init`: create a ledger, its operator party and keys."""

from __future__ import annotations

from pathlib import Path

import click

from provenance.commands.options import common, emit
from provenance.errors import InputError
from provenance.ledger.setup import initialise
from provenance.statements.catalog import load_catalog


@click.command()
@common
@click.option(
    "--origin",
    default="provenance.local/ledger",
    show_default=True,
    help="The ledger's name in its checkpoints (C2SP origin).",
)
@click.option(
    "--keys",
    "keys_dir",
    default="keys",
    show_default=True,
    type=click.Path(),
    help="Folder for operator.pem and ledger.pem (reused if present).",
)
@click.option("--operator-id", default="operator", show_default=True)
@click.option("--operator-name", default="Ledger operator", show_default=True)
@click.option("--country", default="US", show_default=True, help="The operator's country.")
@click.option(
    "--catalog",
    "catalog_path",
    default=None,
    metavar="YAML",
    help="Product catalog to sign into the ledger (default: the packaged rules/products.yaml).",
)
@click.option(
    "--no-catalog", is_flag=True, help="Start with no products (add them with `product import`)."
)
def init(
    db: str | None,
    as_json: bool,
    origin: str,
    keys_dir: str,
    operator_id: str,
    operator_name: str,
    country: str,
    catalog_path: str | None,
    no_catalog: bool,
) -> None:
    """Create a ledger, its operator party and keys, and sign the product catalog into it.

    Writes KEYS/operator.pem (the operator's signing key), KEYS/ledger.pem (the
    checkpoint key) and KEYS/ledger.vkey (its verifier key), registers the operator as
    entry 0, appends one `product` entry per catalog product (signed by the operator)
    and prints the ledger's verifier key: give it (or ledger.vkey) to anyone who checks
    receipts offline.
    """
    if catalog_path and no_catalog:
        raise InputError("--catalog and --no-catalog exclude each other")
    done = initialise(
        db,
        origin=origin,
        keys_dir=Path(keys_dir),
        operator_id=operator_id,
        operator_name=operator_name,
        country=country,
        catalog=load_catalog(catalog_path) if catalog_path else None,
        with_catalog=not no_catalog,
    )
    with done.ledger:
        pass

    def human() -> None:
        click.echo(f"created ledger {done.ledger.origin}")
        for path in done.created_keys:
            click.echo(f"wrote key {path} (mode 0600) and {path.with_suffix('.pub')}")
        click.echo(f"operator party {operator_id!r} registered as entry {done.genesis.seq}")
        if done.products:
            click.echo(
                f"product catalog signed in: {len(done.products)} products, entries "
                f"{done.products[0].seq}-{done.products[-1].seq}"
            )
        if done.verifier_key_file:
            click.echo(f"wrote the verifier key to {done.verifier_key_file}")
        click.echo("ledger verifier key (for `provenance verify --ledger-key`, key or file):")
        click.echo(done.ledger.verifier_key)

    emit(as_json, done.to_json(), human)
