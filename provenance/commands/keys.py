"""`provenance keys`: generate keys; list the key files and whose they are; register,
rotate and revoke parties' keys. `provenance key` is the same group, hidden and
deprecated."""

from __future__ import annotations

from pathlib import Path

import click

from provenance.commands.appending import append_and_report, load_signers, sign_and_append
from provenance.commands.options import (
    Write,
    common,
    emit,
    json_option,
    key_dirs_option,
    pem_option,
    query,
    writes,
)
from provenance.crypto import keys
from provenance.statements import payloads
from provenance.statements.signing import sign

# --- keys --------------------------------------------------------------------------------


@click.group("keys")
def key_group() -> None:
    """Generate keys; list the key files and whose they are; register, rotate and revoke
    parties' keys."""


@key_group.command("generate")
@click.argument("name")
@click.option(
    "--algorithm", type=click.Choice(["ed25519", "p256"]), default="ed25519", show_default=True
)
@click.option(
    "--dir",
    "directory",
    default=".",
    type=click.Path(),
    show_default=True,
    help="Where to write NAME.pem and NAME.pub.",
)
@json_option
def key_generate(name: str, algorithm: str, directory: str, as_json: bool) -> None:
    """Write a new key pair NAME.pem (private, mode 0600) and NAME.pub.

    The private key is encrypted when PROVENANCE_KEY_PASSPHRASE is set.
    Prints the key id (SHA-256 of the public key's DER SubjectPublicKeyInfo).
    """
    key = keys.generate(algorithm)
    private = Path(directory) / f"{name}.pem"
    keys.save_private(private, key)
    keys.save_public(private.with_suffix(".pub"), key.verifying)
    data = {
        "keyid": key.keyid,
        "algorithm": algorithm,
        "private_key": str(private),
        "public_key": str(private.with_suffix(".pub")),
    }
    emit(as_json, data, f"wrote {private} and {private.with_suffix('.pub')}\nkey id {key.keyid}")


@key_group.command("add")
@click.argument("party")
@pem_option("--public-key", "public_key", help="The new key's public half (PEM).")
@writes
def key_add(party: str, public_key: str, write: Write) -> None:
    """Register one more key for PARTY (signed by the operator)."""
    verifying = keys.load_public(Path(public_key))
    statement = payloads.KeyStatement(party=party, public_key=verifying.pem())
    sign_and_append(statement, write)


@key_group.command("rotate")
@click.argument("party")
@click.option(
    "--old",
    "old_key",
    required=True,
    help="The key being replaced: its key id, or its public key file (PEM).",
)
@pem_option("--new-public-key", help="The replacement key's public half (PEM).")
@click.option(
    "--new-key",
    "new_private",
    type=click.Path(),
    help="The replacement's private key: adds its signature as proof of possession.",
)
@click.option("--reason", default=None)
@writes
def key_rotate(
    party: str,
    old_key: str,
    new_public_key: str,
    new_private: str | None,
    reason: str | None,
    write: Write,
) -> None:
    """Replace PARTY's key OLD by a new one; OLD is revoked at this entry.

    Sign with the old key itself (--key OLD.pem) or the operator's key.
    """
    verifying = keys.load_public(Path(new_public_key))
    statement = payloads.KeyRotationStatement(
        party=party, old_key=key_id(old_key), public_key=verifying.pem(), reason=reason
    )
    signers = load_signers(write.key_paths)
    if new_private:
        signers.append(keys.load_private(Path(new_private)))
    append_and_report(write, sign(statement, signers))


@key_group.command("revoke")
@click.argument("keyid")
@click.option("--reason", required=True, help="Why (kept in the ledger).")
@writes
def key_revoke(keyid: str, reason: str, write: Write) -> None:
    """Revoke key KEYID: nothing it signs after this entry is accepted.

    KEYID is a key id, or the key's public key file (PEM). Sign with the operator's
    key, or with the key being revoked.
    """
    statement = payloads.KeyRevocationStatement(key=key_id(keyid), reason=reason)
    sign_and_append(statement, write)


@key_group.command("list")
@key_dirs_option
@common
def key_list(directories: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """The key files found (*.pem, *.pub), and which registered party each key belongs to.

    A key is a party's (valid, or revoked at an entry), the ledger's checkpoint key, or
    not registered in this ledger. An encrypted private key is read through the .pub
    beside it (or with PROVENANCE_KEY_PASSPHRASE).
    """
    from provenance.ledger import queries

    rows = query(
        db, lambda ledger: queries.key_files(ledger, queries.key_folders(ledger, directories))
    )

    def human() -> None:
        for row in rows:
            click.echo(f"{', '.join(row['files'])}")
            click.echo(f"  {describe_key(row)}")
        owned = sum(1 for r in rows if r["party"] is not None)
        click.echo(f"{len(rows)} keys found, {owned} of registered parties")

    emit(as_json, rows, human)


def describe_key(row: dict[str, object]) -> str:
    """One line: a key found in a file, and whose it is."""
    if row["state"] == "unreadable":
        return f"unreadable: {row['problem']}"
    keyid = str(row["keyid"])
    half = "private and public" if row["private"] else "public only"
    what = {
        "valid": f"party {row['party']}, registered at entry {row['registered_seq']}",
        "revoked": f"party {row['party']}, revoked at entry {row['revoked_seq']}",
        "checkpoint": "the ledger's checkpoint key",
        "unregistered": "not registered in this ledger",
    }[str(row["state"])]
    return f"{row['algorithm']} {keyid[:16]} ({half}): {what}"


key_alias = click.Group(
    "key",
    commands=key_group.commands,
    help=key_group.help,
    hidden=True,
    deprecated="Use `provenance keys` instead.",
)
"""`provenance key`: the old name of `provenance keys`, kept for scripts (not in the help)."""


def key_id(value: str) -> str:
    """A key id as given, or the id of the public key in the file `value` names."""
    import re

    from provenance.errors import InputError

    path = Path(value)
    if path.is_file():
        return keys.load_public(path).keyid
    if not re.fullmatch("[0-9a-f]{64}", value):
        raise InputError(
            f"{value!r} is neither a key id (64 hex digits) nor a public key file",
            hint="`provenance party show PARTY` lists its keys' ids",
        )
    return value
