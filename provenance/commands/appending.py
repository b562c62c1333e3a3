"""The flow of the commands that write: read a statement, sign it, append it, print the
entry and its receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from provenance import documents
from provenance.commands.options import Write, emit, progress_bar
from provenance.crypto import keys
from provenance.crypto.envelope import Envelope
from provenance.errors import InputError
from provenance.offline.entries import Appended, Receipt, SignedCheckpoint
from provenance.offline.receipts import VerifiedEntry
from provenance.statements import kinds, payloads
from provenance.statements.signing import sign
from provenance.tlog.proof import parse_proof


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
    return kinds.from_document(document, documents.display_name(path))


def appended_lines(
    result: Appended, receipt: Receipt, receipt_file: str | None, verbose: bool = False
) -> None:
    """One line for the entry; the receipt to `receipt_file`, and with `verbose` the
    checkpoint and the whole receipt too."""
    state = "already in the ledger as" if result.duplicate else "appended"
    click.echo(f"{state} entry {result.seq}: {result.kind}, signed by {result.signer}")
    if receipt_file:
        Path(receipt_file).write_text(receipt.text(), encoding="utf-8")
        click.echo(f"receipt written to {receipt_file} (check it with: provenance verify)")
    if verbose:
        cp = receipt.checkpoint.checkpoint
        click.echo(f"checkpoint: {cp.origin} size {cp.size}")
        click.echo("receipt (C2SP tlog-proof; check it offline with `provenance verify`):")
        click.echo(receipt.text(), nl=False)


def dry_run_lines(results: list[Appended]) -> None:
    """What a `--dry-run` would have appended (no receipt: nothing was)."""
    for result in results:
        state = "already in the ledger as" if result.duplicate else "would append as"
        click.echo(f"dry run: {state} entry {result.seq}: {result.kind}, signed by {result.signer}")
    click.echo("dry run: nothing written")


def append_and_report(write: Write, envelope: Envelope) -> Appended:
    """Append an envelope and print the entry and its receipt (the receipt to a file with
    `--receipt`): to the database, or (`--ledger URL`) to the served ledger, whose
    receipt is verified before it is shown. With `--dry-run`, what would be appended."""
    if write.ledger:
        result, receipt, _ = append_remote(write, envelope)
    else:
        with write.open() as ledger:
            result, receipt = ledger.append(envelope)
    if write.dry_run:
        if write.as_json:
            emit(True, {"dry_run": True, "entry": result.__dict__}, "")
        else:
            dry_run_lines([result])
        return result
    if write.as_json:
        emit(True, {"entry": result.__dict__, "receipt": receipt.to_json()}, "")
    else:
        appended_lines(result, receipt, write.receipt_file, write.verbose)
    return result


def append_remote(
    write: Write, envelope: Envelope
) -> tuple[Appended, Receipt, dict[str, Any] | None]:
    """Submit an envelope to the served ledger; the entry, its verified receipt, and the
    determination the server recorded (for a shipment)."""
    with write.remote() as remote:
        answer = remote.append(envelope)
    entry = answer["entry"]
    result = Appended(
        entry["seq"], entry["kind"], entry["signer"], entry["envelope_digest"], entry["duplicate"]
    )
    return result, receipt_of(answer["verified"], answer["receipt"]), answer.get("determination")


def append_many_remote(
    write: Write, envelopes: list[Envelope], labels: list[str]
) -> tuple[list[Appended], int]:
    """Submit envelopes to the served ledger (`--ledger`), concurrently, each receipt
    verified: the entries in order, and the tree size after the last."""
    with write.remote() as remote, progress_bar("appending", len(envelopes)) as advance:
        answers = remote.append_many(envelopes, labels=labels, progress=advance)
    results = [
        Appended(a["entry"]["seq"], a["entry"]["kind"], a["entry"]["signer"],
                 a["entry"]["envelope_digest"], a["entry"]["duplicate"])
        for a in answers
    ]  # fmt: skip
    size = max(a["verified"].checkpoint.size for a in answers)
    return results, size


def receipt_of(verified: VerifiedEntry, text: str) -> Receipt:
    """A `Receipt` from a tlog-proof that was verified."""
    parsed = parse_proof(text)
    return Receipt(
        verified.entry.seq,
        verified.entry.leaf,
        tuple(parsed.proof),
        SignedCheckpoint(verified.checkpoint, parsed.note),
    )


def sign_and_append(statement: payloads.Statement, write: Write) -> Appended:
    """Sign a statement with the given keys, append it and print the entry and receipt."""
    return append_and_report(write, sign(statement, load_signers(write.key_paths)))
