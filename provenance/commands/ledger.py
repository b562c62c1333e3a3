"""`provenance ledger`: append to, prove, export, audit and replay the ledger.

The commands that write or audit import what they need when they run, so that the
reading ones (`checkpoint`, `proof`, `key`) start without the statement models.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from provenance import documents
from provenance.commands.options import (
    Read,
    Write,
    checkpoint_key_option,
    common,
    counted,
    dry_run_option,
    emit,
    ledger_key_option,
    ledger_url_option,
    progress_bar,
    query,
    reads,
    receipt_options,
    witness_policy_option,
    writes,
)
from provenance.crypto.envelope import Envelope
from provenance.errors import InputError, ProvenanceError
from provenance.ledger.log import Ledger


@click.group("ledger")
def ledger_group() -> None:
    """Append to, prove, export and audit the ledger."""


@ledger_group.command("key")
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Also write the verifier key to FILE (for `--ledger-key FILE`).",
)
@common
def ledger_key(output: str | None, db: str | None, as_json: bool) -> None:
    """Print the ledger's verifier key (C2SP note verifier key, last line), and the file
    that holds it.

    `--ledger-key` takes the key or that file: KEYS/ledger.vkey, which `init` wrote
    beside the checkpoint key, or the FILE of --output.
    """
    from provenance.ledger.setup import verifier_key_file, write_verifier_key

    def read(ledger: Ledger) -> dict[str, Any]:
        path = write_verifier_key(ledger, Path(output)) if output else verifier_key_file(ledger)
        return {
            "origin": ledger.origin,
            "verifier_key": ledger.verifier_key,
            "file": str(path) if path else None,
        }

    data = query(db, read)
    if data["file"]:
        where = f"held in {data['file']} (for --ledger-key {data['file']})"
    else:
        where = "held in no file beside the checkpoint key: `provenance ledger key -o FILE`"
    emit(as_json, data, f"origin {data['origin']}\n{where}\n{data['verifier_key']}")


@ledger_group.command("append")
@click.argument("envelope_file", metavar="ENVELOPE")
@checkpoint_key_option
@receipt_options
@ledger_url_option
@ledger_key_option
@witness_policy_option
@dry_run_option
@common
def ledger_append(
    envelope_file: str,
    checkpoint_key: str | None,
    receipt_file: str | None,
    verbose: bool,
    ledger_url: str | None,
    ledger_key: str | None,
    witness_policy: str | None,
    dry_run: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """Submit a pre-signed DSSE envelope (JSON; `-` for stdin).

    With --ledger URL it goes to the served ledger, and its receipt is verified against
    the ledger's pinned key before it is shown.
    """
    from provenance.commands.appending import append_and_report

    envelope = Envelope.from_bytes(documents.read_bytes(envelope_file))
    write = Write(
        (),
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
    append_and_report(write, envelope)


@ledger_group.command("import")
@click.argument("file")
@checkpoint_key_option
@ledger_url_option
@ledger_key_option
@witness_policy_option
@dry_run_option
@common
def ledger_import(
    file: str,
    checkpoint_key: str | None,
    ledger_url: str | None,
    ledger_key: str | None,
    witness_policy: str | None,
    dry_run: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """Append a JSON Lines file of envelopes (one a line), all or nothing.

    Signatures are verified on every core; a bad line stops the import with
    its line number and nothing is appended. With --ledger URL the envelopes are
    submitted concurrently, each receipt verified: not all or nothing, but an import
    run again appends only what is missing.
    """
    labels: list[str] = []

    def envelopes() -> Iterator[Envelope]:
        # read as the import goes (it takes the file a round at a time): the file is
        # never held in memory whole
        for number, line in documents.json_lines(file):
            try:
                envelope = Envelope.from_bytes(line)
            except ProvenanceError as exc:
                raise type(exc)(f"line {number}: {exc.message}", hint=exc.hint) from exc
            labels.append(f"line {number}")
            yield envelope

    stream = envelopes()
    first = next(stream, None)
    if first is None:
        raise InputError(f"{documents.display_name(file)} holds no envelopes")
    write = Write(
        (),
        None,
        checkpoint_key,
        db,
        as_json,
        ledger_url,
        ledger_key,
        witness_policy=witness_policy,
        dry_run=dry_run,
    )
    if ledger_url:
        from provenance.commands.appending import append_many_remote

        results, size = append_many_remote(write, [first, *stream], labels)
    else:
        with write.open() as ledger, progress_bar("appending", None) as advance:
            results = ledger.import_envelopes(
                itertools.chain([first], stream), labels=labels, progress=advance
            )
            size = ledger.size()
    added = sum(1 for r in results if not r.duplicate)
    data: dict[str, object] = {
        "appended": added,
        "duplicates": len(results) - added,
        "size": size,
        "first": results[0].seq,
        "last": results[-1].seq,
    }
    if dry_run:
        data["dry_run"] = True
        text = (
            f"dry run: {counted(added, 'entry', 'entries')} would be appended "
            f"({data['duplicates']} already present); nothing written"
        )
    else:
        text = (
            f"appended {counted(added, 'entry', 'entries')} ({data['duplicates']} already "
            f"present); tree size {size}"
        )
    emit(as_json, data, text)


@ledger_group.command("show")
@click.argument("seq", type=int)
@reads
def ledger_show(seq: int, read: Read, as_json: bool) -> None:
    """Show entry SEQ: kind, signer, subjects and the signed statement.

    With --ledger URL (and --key, a registered key that may read it) the entry comes
    with its receipt, verified against the ledger's pinned key.
    """
    if read.ledger:
        with read.remote() as remote:
            verified = remote.entry(seq)
        parsed = verified.entry
        signer = None
        signer_keys = [s.keyid for s in parsed.envelope.signatures]
        digest = parsed.envelope.digest()
    else:
        with Ledger.open(read.db) as ledger:
            parsed = ledger.entry(seq)
            row = ledger.entry_row(seq)
        signer, signer_keys, digest = row.signer_party, row.signer_keys.split(), row.envelope_digest
    data = {
        "seq": seq,
        "kind": parsed.kind,
        "integrated_at": parsed.integrated_at,
        "signer": signer,
        "signer_keys": signer_keys,
        "envelope_digest": digest,
        "statement": parsed.statement,
    }

    def human() -> None:
        click.echo(f"entry {seq}: {parsed.kind}, integrated {parsed.integrated_at}")
        who = f"{signer} " if signer else ""
        click.echo(f"signed by {who}(keys {', '.join(k[:16] for k in signer_keys)})")
        click.echo("subjects: " + ", ".join(s["name"] for s in parsed.statement["subject"]))
        click.echo(json.dumps(parsed.statement["predicate"], indent=2, ensure_ascii=False))

    emit(as_json, data, human)


@ledger_group.command("checkpoint")
@reads
def ledger_checkpoint(read: Read, as_json: bool) -> None:
    """Print the latest signed checkpoint (a C2SP signed note).

    With --ledger URL it is verified against the ledger's pinned key and against the
    last checkpoint seen of it (a split view is exit 4, printing both).
    """
    if read.ledger:
        from provenance.offline.entries import SignedCheckpoint

        with read.remote() as remote:
            checkpoint, text = remote.checkpoint()
        signed = SignedCheckpoint(checkpoint, text)
    else:
        signed = query(read.db, lambda ledger: ledger.checkpoint())
    emit(as_json, signed.to_json(), lambda: click.echo(signed.note, nl=False))


@ledger_group.command("proof")
@click.argument("seq", type=int)
@click.option("--size", type=int, default=None, help="Prove against the checkpoint at SIZE.")
@reads
def ledger_proof(seq: int, size: int | None, read: Read, as_json: bool) -> None:
    """Print a C2SP tlog-proof (receipt) of entry SEQ."""
    if read.ledger:
        from provenance.commands.appending import receipt_of

        if size is not None:
            raise InputError("--size is not available with --ledger (the latest checkpoint)")
        with read.remote() as remote:
            text = remote.receipt(seq)
            receipt = receipt_of(remote.verified_receipt(text), text)
    else:
        receipt = query(read.db, lambda ledger: ledger.receipt(seq, size))
    emit(as_json, receipt.to_json(), lambda: click.echo(receipt.text(), nl=False))


@ledger_group.command("consistency")
@click.argument("old", type=int)
@click.argument("new", type=int)
@reads
def ledger_consistency(old: int, new: int, read: Read, as_json: bool) -> None:
    """Prove that the tree of size OLD is a prefix of the tree of size NEW.

    With --ledger URL the proof and both roots are computed from the public tiles, NEW
    being at most the size of the served checkpoint (verified).
    """
    from provenance.tlog.merkle import verify_consistency

    if read.ledger:
        with read.remote() as remote:
            checkpoint, _ = remote.checkpoint()
            if not 0 <= old <= new <= checkpoint.size:
                raise InputError(f"sizes must be within 0..{checkpoint.size}")
            proof = remote.consistency_from_tiles(old, new)
            old_root = remote.root_from_tiles(old) if old else None
            new_root = remote.root_from_tiles(new)
            if remote.root_from_tiles(checkpoint.size) != checkpoint.root:
                from provenance.errors import IntegrityError

                raise IntegrityError("the served tiles do not give the signed checkpoint's root")
    else:
        with Ledger.open(read.db) as ledger:
            proof = ledger.consistency_proof(old, new)
            old_root, new_root = ledger.root(old) if old else None, ledger.root(new)
    if old_root is not None:
        verify_consistency(old, new, proof, old_root, new_root)
    data = {
        "old_size": old,
        "new_size": new,
        "old_root": old_root.hex() if old_root else None,
        "new_root": new_root.hex(),
        "proof": [p.hex() for p in proof],
        "verified": True,
    }

    def human() -> None:
        import base64

        click.echo(f"consistency proof {old} -> {new} ({len(proof)} hashes, verified)")
        for p in proof:
            click.echo(base64.b64encode(p).decode())

    emit(as_json, data, human)


@ledger_group.command("export")
@click.option(
    "--seq", "seqs", type=int, multiple=True, help="Entry to export (repeat); default: every entry."
)
@click.option(
    "--chip", "serial", default=None, metavar="SERIAL", help="The entries of a chip's history."
)
@click.option(
    "--shipment", "shipment_id", default=None, metavar="ID", help="The entries about a shipment."
)
@click.option("-o", "--output", required=True, metavar="BUNDLE", help="Where to write the bundle.")
@reads
def ledger_export(
    seqs: tuple[int, ...],
    serial: str | None,
    shipment_id: str | None,
    output: str,
    read: Read,
    as_json: bool,
) -> None:
    """Write an offline bundle: the entries, their receipts and their signers' keys.

    The entries are those of --seq, or of a chip's history (--chip SERIAL: what
    `provenance chip` lists), or about a shipment (--shipment ID: its declaration,
    receipts, end-use statements, determinations, resolutions); default every entry.
    Check it anywhere with `provenance verify BUNDLE --ledger-key KEY`. With --ledger
    URL the served bundle (of entries the --key may read) is verified before it is
    written.
    """
    if sum(map(bool, (seqs, serial, shipment_id))) > 1:
        raise InputError("--seq, --chip and --shipment exclude each other")
    if read.ledger:
        with read.remote() as remote:
            wanted = list(seqs)
            if serial is not None:
                wanted = [h["seq"] for h in remote.chip(serial)["history"]]
            elif shipment_id is not None:
                shown = remote.shipment(shipment_id)
                wanted = sorted(
                    {
                        shown["seq"],
                        *(r["seq"] for r in shown["receipts"]),
                        *shown["end_use_statements"],
                    }
                )
            data: dict[str, Any] = remote.bundle(wanted or None)
    else:
        from provenance.ledger import queries

        def export(ledger: Ledger) -> dict[str, Any]:
            wanted = list(seqs)
            if serial is not None:
                wanted = queries.chip_entries(ledger, serial)
            elif shipment_id is not None:
                wanted = queries.shipment_entries(ledger, shipment_id)
            return ledger.export(wanted or None)

        data = query(read.db, export)
    Path(output).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    summary = {"bundle": output, "requested": data["requested"], "entries": len(data["receipts"])}
    emit(
        as_json,
        summary,
        f"wrote {output}: {len(data['requested'])} entries asked for, "
        f"{len(data['receipts'])} with their signers' key history",
    )


@ledger_group.command("verify")
@click.option("--workers", type=int, default=None, help="Worker processes (default: one a core).")
@click.option(
    "--ledger-key",
    "pinned_key",
    metavar="VKEY",
    default=None,
    help="The ledger's checkpoint verifier key, or a file whose last line holds it "
    "(default: the one remembered in the audit state, else the database's, trusted on "
    "first use).",
)
@click.option(
    "--state",
    "state_file",
    metavar="FILE",
    default=None,
    help="The auditor's state file (default $PROVENANCE_STATE_DIR/audits.json, else "
    "$XDG_STATE_HOME/provenance/audits.json).",
)
@click.option("--full", is_flag=True, help="Re-audit every entry, not only those appended since.")
@common
def ledger_verify(
    workers: int | None,
    pinned_key: str | None,
    state_file: str | None,
    full: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """Audit the ledger: every leaf, node, checkpoint, signature and signer.

    The checkpoint key is the one pinned (--ledger-key) or remembered from the last
    audit; the ledger must have grown from what was verified then, consistently, with
    no checkpoint removed. Only the entries appended since are audited, unless --full.
    The state is updated when the audit passes.

    Exit 0 when all is well, 4 naming the first bad entry.
    """
    from provenance.ledger.audit import audit
    from provenance.ledger.audit_state import AuditState
    from provenance.offline.bundles import verifier_keys

    pinned = verifier_keys(pinned_key)[0] if pinned_key else None
    state = AuditState(Path(state_file) if state_file else None)
    with Ledger.open(db) as ledger:
        seen = state.get(ledger.store.url)
        with progress_bar("verifying", None) as advance:
            report = audit(
                ledger, progress=advance, workers=workers, pinned=pinned, seen=seen, full=full
            )
        assert report.seen is not None
        state.put(ledger.store.url, report.seen)
    if report.trusted_on_first_use:
        click.echo(
            f"pinned the checkpoint key of {report.origin}: {report.seen.pinned} "
            f"(trusted on first use; remembered in {state.path})",
            err=True,
        )
    since = (
        f"{report.audited} appended since size {report.since} audited"
        if report.since is not None
        else "all audited"
    )
    emit(
        as_json,
        report.to_json(),
        f"ledger {report.origin} verified: {report.entries} entries ({since}), "
        f"{report.checkpoints} checkpoints, {report.keys} keys; root {report.root.hex()}",
    )


@ledger_group.command("rotate-key")
@click.argument("new_key", metavar="NEW_KEY")
@click.option(
    "--overlap-until",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last day (YYYY-MM-DD) on which the old key still signs beside the new one.",
)
@click.option("--reason", default=None, help="Why (kept in the ledger).")
@writes
def ledger_rotate_key(new_key: str, overlap_until: Any, reason: str | None, write: Write) -> None:
    """Announce NEW_KEY (an Ed25519 PEM) as the ledger's next checkpoint key.

    Signed by the operator (--key). From this entry on, checkpoints are signed by the
    old and the new key until --overlap-until, then by the new key only: restart the
    service with both keys (--checkpoint-key twice) for the overlap, then with the new
    one. Clients pinned to the old key learn the new one from this entry.
    """
    from provenance.commands.appending import sign_and_append
    from provenance.crypto import keys
    from provenance.statements.payloads import CheckpointKeyStatement
    from provenance.tlog.note import Verifier

    public = keys.load_public(Path(new_key))
    if public.algorithm != "ed25519":
        raise InputError("a checkpoint key must be Ed25519")
    if write.ledger:
        with write.remote() as remote:
            info = (remote.origin, remote.verifier_keys[-1])
    else:
        info = query(write.db, lambda ledger: (ledger.origin, ledger.verifier_keys[-1]))
    verifier = Verifier.from_public_key(info[0], public.public_key)  # type: ignore[arg-type]
    statement = CheckpointKeyStatement(
        verifier_key=str(verifier),
        replaces=info[1],
        overlap_until=overlap_until.date(),
        reason=reason,
    )
    sign_and_append(statement, write)


@ledger_group.command("publish")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--entries",
    is_flag=True,
    help="Write the entry bundles too: they hold the entries' contents, so only for a "
    "directory that only auditors and regulators can read.",
)
@common
def ledger_publish(directory: str, entries: bool, db: str | None, as_json: bool) -> None:
    """Write the checkpoint and the tiles (C2SP tlog-tiles) as static files in DIRECTORY.

    Incremental: only the tiles that changed since the checkpoint already there are
    written, the checkpoint last. Serve DIRECTORY with any web server, CDN or object
    store (tiles are immutable; the checkpoint changes).
    """
    from provenance.ledger.tiles import publish

    result = query(db, lambda ledger: publish(ledger, Path(directory), entries=entries))
    emit(
        as_json,
        result.to_json(),
        f"published tree size {result.size} to {directory} (was {result.previous}): "
        f"{result.tiles} tiles, {result.bundles} entry bundles written",
    )


@ledger_group.command("replay")
@common
def ledger_replay(db: str | None, as_json: bool) -> None:
    """Rebuild every projection (query table) from the entries."""
    with Ledger.open(db) as ledger, progress_bar("replaying", ledger.size()) as advance:
        count = ledger.replay(progress=advance)
    emit(as_json, {"replayed": count}, f"rebuilt the projections from {count} entries")
