"""`provenance verify` and `provenance show`: a receipt or a bundle checked offline, with
no database; a bundle's statements decoded."""

from __future__ import annotations

import json

import click

from provenance import documents
from provenance.commands.options import emit, json_option
from provenance.offline import bundles as bundle
from provenance.offline import receipts

# --- offline verification --------------------------------------------------------------------


@click.command("verify")
@click.argument("file", metavar="RECEIPT_OR_BUNDLE")
@click.option(
    "--ledger-key",
    "ledger_key",
    required=True,
    metavar="VERIFIER_KEY",
    help="The ledger's verifier key (the string `provenance ledger key` prints, "
    "or a file holding it).",
)
@click.option(
    "--witness-policy",
    default=None,
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="A C2SP tlog-policy file: the checkpoint's cosignatures must meet its quorum.",
)
@json_option
def verify(file: str, ledger_key: str, witness_policy: str | None, as_json: bool) -> None:
    """Verify a receipt or a bundle offline, with no database.

    A receipt proves its entry is in the ledger under a signed checkpoint; a
    bundle also checks every signature against its signers' key history. With
    --witness-policy the checkpoint must also carry its witnesses' quorum of
    cosignatures (exit 4 otherwise).
    """
    verifiers = bundle.verifier_keys(ledger_key)
    form, value = bundle.load(documents.read_bytes(file).decode("utf-8", errors="replace"))
    policy = None
    if witness_policy is not None:
        from provenance.tlog.policy import load

        policy = load(witness_policy)
    if form == "receipt":
        entry = receipts.verify_receipt(value, verifiers)
        witnessed = sorted(policy.check(value.partition("\n\n")[2])) if policy else None
        data = {
            "form": "receipt",
            "checkpoint": entry.checkpoint.to_json(),
            "entry": entry.to_json(),
            "signatures_checked": False,
            "witnessed_by": witnessed,
        }
        by = f"\ncosigned by the witness quorum: {', '.join(witnessed)}" if witnessed else ""
        emit(
            as_json,
            data,
            f"receipt verified: entry {entry.entry.seq} ({entry.entry.kind}) is in "
            f"{entry.checkpoint.origin} at tree size {entry.checkpoint.size}{by}\n"
            "signatures were checked by the ledger when it appended the entry; "
            "to check them yourself, verify a bundle (provenance ledger export)",
        )
    else:
        report = bundle.verify_bundle(value, verifiers)
        data = {"form": "bundle", **report.to_json()}
        if policy is not None:
            notes = {str(r).partition("\n\n")[2] for r in value.get("receipts", [])}
            data["witnessed_by"] = sorted(set().union(*(policy.check(n) for n in notes)))

        def human() -> None:
            cp = report.checkpoint
            click.echo(f"bundle verified against {cp.origin} at tree size {cp.size}")
            for item in report.entries:
                mark = "*" if item["seq"] in report.requested else " "
                click.echo(
                    f" {mark} entry {item['seq']:>6}  {item['kind']:<15} signed by {item['signer']}"
                )

        emit(as_json, data, human)


@click.command("show")
@click.argument("file", metavar="BUNDLE")
@json_option
def show(file: str, as_json: bool) -> None:
    """Decode the statements in BUNDLE: each entry's number, kind, signer, subjects, fields.

    Nothing is verified (`provenance verify BUNDLE --ledger-key KEY` does that): the
    signer is the party the bundle's own key entries give the signing key to. Entries
    marked * are those the bundle was exported for; the others register their signers.
    """
    decoded = bundle.describe_bundle(
        bundle.load_bundle(documents.read_bytes(file).decode("utf-8", errors="replace"))
    )

    def human() -> None:
        cp = decoded["checkpoint"]
        at = f" at tree size {cp['size']}" if cp else ""
        click.echo(f"bundle of {decoded['origin']}{at}: {len(decoded['entries'])} entries")
        click.echo("(decoded, not verified: check it with `provenance verify`)")
        for item in decoded["entries"]:
            mark = "*" if item["requested"] else " "
            click.echo(
                f" {mark} entry {item['seq']:>6}  {item['kind']:<15} "
                f"signed by {item['signer'] or 'a key the bundle does not register'}"
            )
            if item["summary"] != item["kind"]:
                click.echo(f"      {item['summary']}")
            click.echo(f"      subjects: {', '.join(item['subjects'])}")
            for name, value in item["predicate"].items():
                click.echo(f"      {name}: {_field(value)}")

    emit(as_json, decoded, human)


def _field(value: object) -> str:
    """A statement's field on one line: PEM keys named, long values cut."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ", ".join(_field(v) for v in value)
    if isinstance(value, str):
        text = "(a PEM public key)" if "-----BEGIN" in value else value
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 100 else text[:97] + "..."
