"""`provenance status`: where things stand, for a person arriving at a ledger."""

from __future__ import annotations

from typing import Any

import click

from provenance.commands.options import Read, emit, key_dirs_option, query, reads


@click.command("status")
@key_dirs_option
@reads
def status(directories: tuple[str, ...], read: Read, as_json: bool) -> None:
    """Where things stand: the ledger, its size, its last checkpoint, keys, open flags.

    On a database (--db): the database, the ledger's origin and size, the last signed
    checkpoint, the key files found here and which registered party each belongs to,
    and the open red flags by severity. On a served ledger (--ledger URL): its origin,
    the pinned verifier key and the latest checkpoint, verified; with --key, whose that
    key is and the open flags it may read (the parties and every key's owner are in the
    database the service holds: `provenance mirror` copies it).
    """
    if read.ledger:
        with read.remote() as remote:
            checkpoint, _ = remote.checkpoint()
            reader = remote.status() if read.key_paths else None
            data: dict[str, Any] = {
                "database": None,
                "ledger": remote.url,
                "origin": remote.origin,
                "verifier_key": remote.verifier_keys[-1],
                "size": checkpoint.size,
                "checkpoint": checkpoint.to_json(),
                "checkpoint_key": None,
                "parties": None,
                "shipments": None,
                "keys": None,
                "reader": None,
                "open_flags": None,
            }
            if reader is not None:
                data["reader"] = {k: reader[k] for k in ("party", "roles", "keyid")}
                data["open_flags"] = reader["open_flags"]
    else:
        from pathlib import Path

        from provenance.ledger import queries

        data = query(
            read.db,
            lambda ledger: queries.status(
                ledger, queries.key_folders(ledger, [Path(d) for d in directories])
            ),
        )
    emit(as_json, data, lambda: _human(data))


def _human(data: dict[str, Any]) -> None:
    from provenance.commands.keys import describe_key

    where = f"database {data['database']}" if data["database"] else f"served at {data['ledger']}"
    click.echo(f"ledger {data['origin']} ({where})")
    click.echo(f"  verifier key:   {data['verifier_key']}")
    cp = data["checkpoint"]
    if cp:
        click.echo(
            f"  checkpoint:     tree size {cp['size']}, root {cp['root'][:16]}... (verified)"
        )
    else:
        click.echo("  checkpoint:     none yet")
    if data["checkpoint_key"]:
        click.echo(f"  checkpoint key: {data['checkpoint_key']}")
    if data["parties"] is not None:
        click.echo(f"  registered:     {data['parties']} parties, {data['shipments']} shipments")
    if data["keys"] is not None:
        owned = sum(1 for k in data["keys"] if k["party"] is not None)
        click.echo(f"keys found: {len(data['keys'])}, {owned} of registered parties")
        for key in data["keys"]:
            click.echo(f"  {', '.join(key['files'])}: {describe_key(key)}")
    reader = data.get("reader")
    if reader is not None:
        click.echo(f"reading as: {reader['party']} ({', '.join(reader['roles'])})")
    flags = data["open_flags"]
    if flags is not None:
        counts = ", ".join(f"{n} {s}" for s, n in flags["by_severity"].items() if n)
        mine = " that this key may read" if reader is not None else ""
        click.echo(f"open flags{mine}: {flags['total']}" + (f" ({counts})" if counts else ""))
        if flags["total"] and reader is None:
            click.echo("  provenance flag list --open")
    else:
        click.echo(
            "open flags: not shown for a served ledger without --key (or mirror it: "
            "provenance mirror)"
        )
