"""The `provenance` command line: parse, call the library, render.

Every command takes `--db` (default `$PROVENANCE_DB`, else `./provenance.db`)
and `--json`. Errors print one line, `error: ...`, and a hint where one helps,
and exit with the code of their class: 0 ok, 1 compliance findings that
block, 2 usage or invalid input, 3 signature or authorisation failure,
4 ledger integrity failure, 5 not found, 6 hold (a high red flag awaits a
signed resolution). `--debug` shows the traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from provenance import (
    __version__,
    bundle,
    documents,
    inspection,
    keys,
    payloads,
    products,
    queries,
    shipment_csv,
)
from provenance.audit import audit
from provenance.catalog import load_catalog
from provenance.envelope import Envelope
from provenance.errors import InputError, ProvenanceError
from provenance.ledger import Appended, Ledger, Receipt
from provenance.operator import initialise, open_for_append, sign
from provenance.store import DB_ENV

F = TypeVar("F", bound=Callable[..., Any])
INTERNAL_ERROR = 70


# --- plumbing ---------------------------------------------------------------------------


def _fail(ctx: click.Context, error: ProvenanceError) -> NoReturn:
    if ctx.meta.get("json"):
        click.echo(json.dumps({"error": error.to_dict()}, indent=2))
    click.echo(f"error: {error.message}", err=True)
    if error.hint:
        click.echo(f"hint: {error.hint}", err=True)
    ctx.exit(error.exit_code)


class ProvenanceGroup(click.Group):
    """A group that turns library errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProvenanceError as error:
            if ctx.meta.get("debug"):
                raise
            _fail(ctx, error)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # The reader went away (`provenance ... | head`): stop quietly, as Unix tools do.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(141)
        except Exception as error:
            if ctx.meta.get("debug"):
                raise
            click.echo(f"error: internal error: {type(error).__name__}: {error}", err=True)
            click.echo("hint: run with --debug for the traceback, and report it", err=True)
            ctx.exit(INTERNAL_ERROR)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta["json"] = True
    return value


db_option = click.option(
    "--db",
    envvar=DB_ENV,
    default=None,
    metavar="URL",
    help=f"Ledger database: an SQLite file path or a SQLAlchemy URL "
    f"(default ${DB_ENV}, else ./provenance.db).",
)
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    expose_value=True,
    callback=_set_json,
    is_eager=True,
    help="Print the result as JSON on stdout.",
)
checkpoint_key_option = click.option(
    "--checkpoint-key",
    metavar="PEM",
    default=None,
    help="The ledger's checkpoint signing key (default $PROVENANCE_CHECKPOINT_KEY, "
    "else where `init` wrote it).",
)


def common(func: F) -> F:
    """`--db` and `--json`, which every command has."""
    return db_option(json_option(func))


def emit(as_json: bool, data: Any, human: str | Callable[[], None]) -> None:
    """Print `data` as JSON, or the human form."""
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    elif callable(human):
        human()
    else:
        click.echo(human)


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; silent otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda _n: None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


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
    return payloads.from_document(document)


def appended_lines(result: Appended, receipt: Receipt, receipt_file: str | None) -> None:
    state = "already in the ledger as" if result.duplicate else "appended"
    click.echo(f"{state} entry {result.seq}: {result.kind}, signed by {result.signer}")
    cp = receipt.checkpoint.checkpoint
    click.echo(f"checkpoint: {cp.origin} size {cp.size}")
    if receipt_file:
        Path(receipt_file).write_text(receipt.text(), encoding="utf-8")
        click.echo(f"receipt written to {receipt_file} (check it with: provenance verify)")
    else:
        click.echo("receipt (C2SP tlog-proof; check it offline with `provenance verify`):")
        click.echo(receipt.text(), nl=False)


def append_and_report(
    db: str | None,
    checkpoint_key: str | None,
    envelope: Envelope,
    as_json: bool,
    receipt_file: str | None,
) -> Appended:
    with open_for_append(db, checkpoint_key) as ledger:
        result, receipt = ledger.append(envelope)
    if as_json:
        emit(True, {"entry": result.__dict__, "receipt": receipt.to_json()}, "")
    else:
        appended_lines(result, receipt, receipt_file)
    return result


def signing_options(func: F) -> F:
    func = click.option(
        "--key",
        "key_paths",
        multiple=True,
        required=True,
        metavar="PEM",
        help="Private key to sign with (repeat to add signatures).",
    )(func)
    func = click.option(
        "--receipt", "receipt_file", metavar="FILE", help="Write the receipt to FILE."
    )(func)
    return checkpoint_key_option(func)


# --- the root ---------------------------------------------------------------------------


@click.group(cls=ProvenanceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provenance")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Compute provenance and export compliance for advanced AI chips.

    A tamper-evident ledger of signed statements (DSSE envelopes carrying in-toto
    Statements, in an RFC 6962 Merkle tree with C2SP signed checkpoints) about
    chips, shipments, receipts, end use, inspections and licenses, and the tools
    to verify it offline.

    Start with `provenance demo`, or `provenance init`.
    """
    ctx.meta["debug"] = debug


@main.command()
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

    Writes KEYS/operator.pem (the operator's signing key) and KEYS/ledger.pem
    (the checkpoint key), registers the operator as entry 0, appends one
    `product` entry per catalog product (signed by the operator) and prints the
    ledger's verifier key: give it to anyone who checks receipts offline.
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
        click.echo("ledger verifier key (for `provenance verify --ledger-key`):")
        click.echo(done.ledger.verifier_key)

    emit(as_json, done.to_json(), human)


# --- keys --------------------------------------------------------------------------------


@main.group("key")
def key_group() -> None:
    """Generate keys; register, rotate and revoke parties' keys."""


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
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.Path(),
    help="The new key's public half (PEM).",
)
@signing_options
@common
def key_add(
    party: str,
    public_key: str,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Register one more key for PARTY (signed by the operator)."""
    verifying = keys.load_public(Path(public_key))
    statement = payloads.KeyStatement(party=party, public_key=verifying.pem())
    append_and_report(
        db, checkpoint_key, sign(statement, load_signers(key_paths)), as_json, receipt_file
    )


@key_group.command("rotate")
@click.argument("party")
@click.option("--old", "old_key", required=True, help="Key id of the key being replaced.")
@click.option(
    "--new-public-key",
    required=True,
    type=click.Path(),
    help="The replacement key's public half (PEM).",
)
@click.option(
    "--new-key",
    "new_private",
    type=click.Path(),
    help="The replacement's private key: adds its signature as proof of possession.",
)
@click.option("--reason", default=None)
@signing_options
@common
def key_rotate(
    party: str,
    old_key: str,
    new_public_key: str,
    new_private: str | None,
    reason: str | None,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Replace PARTY's key OLD by a new one; OLD is revoked at this entry.

    Sign with the old key itself (--key OLD.pem) or the operator's key.
    """
    verifying = keys.load_public(Path(new_public_key))
    statement = payloads.KeyRotationStatement(
        party=party, old_key=old_key, public_key=verifying.pem(), reason=reason
    )
    signers = load_signers(key_paths)
    if new_private:
        signers.append(keys.load_private(Path(new_private)))
    append_and_report(db, checkpoint_key, sign(statement, signers), as_json, receipt_file)


@key_group.command("revoke")
@click.argument("keyid")
@click.option("--reason", required=True, help="Why (kept in the ledger).")
@signing_options
@common
def key_revoke(
    keyid: str,
    reason: str,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Revoke key KEYID: nothing it signs after this entry is accepted.

    Sign with the operator's key, or with the key being revoked.
    """
    statement = payloads.KeyRevocationStatement(key=keyid, reason=reason)
    append_and_report(
        db, checkpoint_key, sign(statement, load_signers(key_paths)), as_json, receipt_file
    )


main.add_command(key_group, "keys")


# --- parties -----------------------------------------------------------------------------


@main.group("party")
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
    statement = payloads.from_document(document)
    append_and_report(
        db, checkpoint_key, sign(statement, load_signers(key_paths)), as_json, receipt_file
    )


@party_group.command("show")
@click.argument("party_id")
@common
def party_show(party_id: str, db: str | None, as_json: bool) -> None:
    """A party: its roles, countries and keys, with when each was registered or revoked."""
    from provenance.queries import party as find_party

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
    from provenance.queries import parties

    with Ledger.open(db) as ledger:
        rows = parties(ledger)

    def human() -> None:
        for row in rows:
            click.echo(
                f"{row['id']:<24} {row['country']}  {','.join(row['roles']):<28} {row['name']}"
            )

    emit(as_json, rows, human)


# --- signing and appending ---------------------------------------------------------------


@main.command("sign")
@click.argument("file")
@click.option(
    "--key",
    "key_paths",
    multiple=True,
    required=True,
    metavar="PEM",
    help="Private key to sign with (repeat for several signatures).",
)
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


@main.command("schema")
@click.argument("kind", type=click.Choice(sorted(payloads.KINDS)))
def schema(kind: str) -> None:
    """Print the JSON Schema of a statement KIND (for generating files)."""
    click.echo(json.dumps(payloads.json_schema(kind), indent=2))


@main.group("ledger")
def ledger_group() -> None:
    """Append to, prove, export and audit the ledger."""


@ledger_group.command("key")
@common
def ledger_key(db: str | None, as_json: bool) -> None:
    """Print the ledger's verifier key (C2SP note verifier key, last line)."""
    with Ledger.open(db) as ledger:
        data = {"origin": ledger.origin, "verifier_key": ledger.verifier_key}
    emit(as_json, data, f"origin {data['origin']}\n{data['verifier_key']}")


@ledger_group.command("append")
@click.argument("envelope_file", metavar="ENVELOPE")
@checkpoint_key_option
@click.option("--receipt", "receipt_file", metavar="FILE", help="Write the receipt to FILE.")
@common
def ledger_append(
    envelope_file: str,
    checkpoint_key: str | None,
    receipt_file: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Submit a pre-signed DSSE envelope (JSON; `-` for stdin)."""
    envelope = Envelope.from_bytes(documents.read_bytes(envelope_file))
    append_and_report(db, checkpoint_key, envelope, as_json, receipt_file)


@ledger_group.command("import")
@click.argument("file")
@checkpoint_key_option
@common
def ledger_import(file: str, checkpoint_key: str | None, db: str | None, as_json: bool) -> None:
    """Append a JSON Lines file of envelopes (one a line), all or nothing.

    Signatures are verified on every core; a bad line stops the import with
    its line number and nothing is appended.
    """
    envelopes: list[Envelope] = []
    labels: list[str] = []
    for number, line in documents.json_lines(file):
        try:
            envelopes.append(Envelope.from_bytes(line))
        except ProvenanceError as exc:
            raise type(exc)(f"line {number}: {exc.message}", hint=exc.hint) from exc
        labels.append(f"line {number}")
    if not envelopes:
        raise InputError(f"{documents.display_name(file)} holds no envelopes")
    with (
        open_for_append(db, checkpoint_key) as ledger,
        progress_bar("appending", len(envelopes)) as advance,
    ):
        results = ledger.import_envelopes(envelopes, labels=labels, progress=advance)
        size = ledger.size()
    added = sum(1 for r in results if not r.duplicate)
    data = {
        "appended": added,
        "duplicates": len(results) - added,
        "size": size,
        "first": results[0].seq,
        "last": results[-1].seq,
    }
    emit(
        as_json,
        data,
        f"appended {added} entries ({data['duplicates']} already present); tree size {size}",
    )


@ledger_group.command("show")
@click.argument("seq", type=int)
@common
def ledger_show(seq: int, db: str | None, as_json: bool) -> None:
    """Show entry SEQ: kind, signer, subjects and the signed statement."""
    with Ledger.open(db) as ledger:
        parsed = ledger.entry(seq)
        row = ledger.entry_row(seq)
    signer_keys = row.signer_keys.split()
    data = {
        "seq": seq,
        "kind": parsed.kind,
        "integrated_at": parsed.integrated_at,
        "signer": row.signer_party,
        "signer_keys": signer_keys,
        "envelope_digest": row.envelope_digest,
        "statement": parsed.statement,
    }

    def human() -> None:
        click.echo(f"entry {seq}: {parsed.kind}, integrated {parsed.integrated_at}")
        click.echo(f"signed by {row.signer_party} (keys {', '.join(k[:16] for k in signer_keys)})")
        click.echo("subjects: " + ", ".join(s["name"] for s in parsed.statement["subject"]))
        click.echo(json.dumps(parsed.statement["predicate"], indent=2, ensure_ascii=False))

    emit(as_json, data, human)


@ledger_group.command("checkpoint")
@common
def ledger_checkpoint(db: str | None, as_json: bool) -> None:
    """Print the latest signed checkpoint (a C2SP signed note)."""
    with Ledger.open(db) as ledger:
        signed = ledger.checkpoint()
    emit(as_json, signed.to_json(), lambda: click.echo(signed.note, nl=False))


@ledger_group.command("proof")
@click.argument("seq", type=int)
@click.option("--size", type=int, default=None, help="Prove against the checkpoint at SIZE.")
@common
def ledger_proof(seq: int, size: int | None, db: str | None, as_json: bool) -> None:
    """Print a C2SP tlog-proof (receipt) of entry SEQ."""
    with Ledger.open(db) as ledger:
        receipt = ledger.receipt(seq, size)
    emit(as_json, receipt.to_json(), lambda: click.echo(receipt.text(), nl=False))


@ledger_group.command("consistency")
@click.argument("old", type=int)
@click.argument("new", type=int)
@common
def ledger_consistency(old: int, new: int, db: str | None, as_json: bool) -> None:
    """Prove that the tree of size OLD is a prefix of the tree of size NEW."""
    from provenance.merkle import verify_consistency

    with Ledger.open(db) as ledger:
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
@click.option("-o", "--output", required=True, metavar="BUNDLE", help="Where to write the bundle.")
@common
def ledger_export(seqs: tuple[int, ...], output: str, db: str | None, as_json: bool) -> None:
    """Write an offline bundle: the entries, their receipts and their signers' keys.

    Check it anywhere with `provenance verify BUNDLE --ledger-key KEY`.
    """
    with Ledger.open(db) as ledger:
        data: dict[str, Any] = ledger.export(seqs or None)
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
@common
def ledger_verify(workers: int | None, db: str | None, as_json: bool) -> None:
    """Audit the whole ledger: every leaf, node, checkpoint, signature and signer.

    Exit 0 when all is well, 4 naming the first bad entry.
    """
    with Ledger.open(db) as ledger, progress_bar("verifying", ledger.size()) as advance:
        report = audit(ledger, progress=advance, workers=workers)
    emit(
        as_json,
        report.to_json(),
        f"ledger {report.origin} verified: {report.entries} entries, "
        f"{report.checkpoints} checkpoints, {report.keys} keys; root {report.root.hex()}",
    )


@ledger_group.command("replay")
@common
def ledger_replay(db: str | None, as_json: bool) -> None:
    """Rebuild every projection (query table) from the entries."""
    with Ledger.open(db) as ledger, progress_bar("replaying", ledger.size()) as advance:
        count = ledger.replay(progress=advance)
    emit(as_json, {"replayed": count}, f"rebuilt the projections from {count} entries")


# --- statements: products, chips, shipments, licenses ------------------------------------


def sign_and_append(
    statement: payloads.Statement,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> Appended:
    """Sign a statement with the given keys, append it and print the entry and receipt."""
    envelope = sign(statement, load_signers(key_paths))
    return append_and_report(db, checkpoint_key, envelope, as_json, receipt_file)


@main.group("product")
def product_group() -> None:
    """The product catalog serials are checked against (TPP, die area, PCI ids)."""


@product_group.command("import")
@click.argument("file")
@signing_options
@common
def product_import(
    file: str,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Add or supersede products from FILE, signed by an operator or regulator key.

    FILE is a catalog in the format of rules/products.yaml, one product document,
    or a list of them (YAML or JSON; `-` for stdin). All or nothing.
    """
    statements = products.read_products(file)
    signers = load_signers(key_paths)
    envelopes = [sign(s, signers) for s in statements]
    with open_for_append(db, checkpoint_key) as ledger:
        results = ledger.append_many(envelopes, labels=[f"product {s.id}" for s in statements])
        size = ledger.size()
    data = {
        "products": [
            {"id": s.id, "seq": r.seq, "duplicate": r.duplicate}
            for s, r in zip(statements, results, strict=True)
        ],
        "size": size,
    }

    def human() -> None:
        for s, r in zip(statements, results, strict=True):
            state = "unchanged, already entry" if r.duplicate else "entry"
            click.echo(f"{s.id}: {state} {r.seq} (TPP {s.tpp})")
        click.echo(f"tree size {size}")

    emit(as_json, data, human)


@product_group.command("list")
@common
def product_list(db: str | None, as_json: bool) -> None:
    """Every product in the ledger's catalog, with its TPP and performance density."""
    with Ledger.open(db) as ledger:
        rows = queries.products(ledger)

    def human() -> None:
        click.echo(
            f"{'id':<24} {'vendor':<10} {'model':<26} {'TPP':>9} {'PD':>9} {'die mm2':>8} DC"
        )
        for p in rows:
            click.echo(
                f"{p['id']:<24} {p['vendor'][:10]:<10} {p['model'][:26]:<26} {p['tpp']:>9} "
                f"{_short(p['performance_density']):>9} {p['die_area_mm2'] or '-':>8} "
                f"{'yes' if p['datacenter'] else 'no'}"
            )

    emit(as_json, rows, human)


def _short(value: str | None) -> str:
    return "-" if value is None else f"{float(value):.2f}"


@product_group.command("show")
@click.argument("product_id")
@common
def product_show(product_id: str, db: str | None, as_json: bool) -> None:
    """One product: its figures and how many serials are registered to it."""
    with Ledger.open(db) as ledger:
        data = queries.product(ledger, product_id)
    emit(as_json, data, lambda: click.echo(documents.dumps(data)))


@main.group("attest")
def attest_group() -> None:
    """Sign and append what a party attests: manufacture, receipt, end use, inspection."""


def _attest_command(kind: str, who: str, fields: str) -> None:
    @attest_group.command(kind)
    @click.argument("file")
    @signing_options
    @common
    def command(
        file: str,
        key_paths: tuple[str, ...],
        receipt_file: str | None,
        checkpoint_key: str | None,
        db: str | None,
        as_json: bool,
    ) -> None:
        statement = statement_from(file, kind)
        sign_and_append(statement, key_paths, receipt_file, checkpoint_key, db, as_json)

    command.help = (
        f"Append a {kind} statement from FILE (YAML/JSON, `-` for stdin), signed by "
        f"{who}.\n\nFields: {fields}. `provenance schema {kind}` prints the JSON Schema."
    )


_attest_command(
    "manufacture",
    "the manufacturer",
    "product (catalog id), serials, date, site (country). A serial is registered once, for life",
)
_attest_command(
    "receipt",
    "the shipment's consignee or end user",
    "shipment, serials received, date, country, site",
)
_attest_command(
    "end-use",
    "the shipments' end user",
    "shipments and/or serials, date, end_use, sector, site {country, facility, address}, "
    "facility_power_mw, certifications {no_military, no_wmd, no_reexport, "
    "no_restricted_hq_access}, valid_until",
)


@attest_group.command("inspection")
@click.argument("file")
@click.option(
    "--nvidia-smi",
    "smi_files",
    multiple=True,
    metavar="XML",
    help="`nvidia-smi -q -x` output collected on site (repeat for several hosts).",
)
@signing_options
@common
def attest_inspection(
    file: str,
    smi_files: tuple[str, ...],
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Append an inspection from FILE, signed by the auditor, with nvidia-smi evidence.

    Fields: site {country, facility, address}, date, serials_seen, serials_missing,
    findings. Each --nvidia-smi file is parsed (safely: it comes from the field) and
    recorded by its SHA-256 with every GPU it lists (product name, serial, UUID, PCI
    device id, board part number), so the hardware's own report is in the ledger.
    """
    document = documents.read_mapping(file)
    document.setdefault("kind", "inspection")
    if smi_files:
        found = [
            inspection.evidence(inspection.read_nvidia_smi(path), Path(path).name)
            for path in smi_files
        ]
        document["evidence"] = [*document.get("evidence", []), *found]
    statement = payloads.from_document(document)
    if not isinstance(statement, payloads.InspectionStatement):
        raise InputError(f"{documents.display_name(file)} is a {statement.kind}, not an inspection")
    sign_and_append(statement, key_paths, receipt_file, checkpoint_key, db, as_json)


@main.group("shipment")
def shipment_group() -> None:
    """Register, import and look up shipments."""


@shipment_group.command("register")
@click.argument("file")
@click.option(
    "--operator-key",
    default=None,
    metavar="PEM",
    help="Operator key that signs the determination (default $PROVENANCE_OPERATOR_KEY, else "
    "operator.pem beside the checkpoint key; without one the check is a dry run).",
)
@click.option("--no-check", is_flag=True, help="Register only; do not run the rules.")
@signing_options
@common
def shipment_register(
    file: str,
    operator_key: str | None,
    no_check: bool,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Append the shipment in FILE (YAML/JSON, `-` for stdin), signed by its exporter,
    then check it against the rule pack in force and show the determination.

    Fields: id, exporter, consignee, end_user, forwarder (optional), ship_date,
    destination, route (countries, origin first), license (id or exception code,
    optional), items [{product, description, hs_code, quantity, serials,
    unit_value {amount, currency}}]. `provenance schema shipment` prints the schema.
    Exits as `check` does when the determination is not clear (1 blocked or license
    required, 6 hold); the shipment stays registered.
    """
    from provenance.operator import operator_key_path

    statement = statement_from(file, "shipment")
    assert isinstance(statement, payloads.ShipmentStatement)
    envelope = sign(statement, load_signers(key_paths))
    with open_for_append(db, checkpoint_key) as ledger:
        result, receipt = ledger.append(envelope)
        signer = operator_key_path(ledger, operator_key) if not no_check else None
    if receipt_file:
        Path(receipt_file).write_text(receipt.text(), encoding="utf-8")
    determination = None
    if not no_check:
        determination = run_check(
            db,
            [statement.id],
            pack_id=None,
            explain=False,
            dry_run=signer is None or not signer.exists(),
            as_of=None,
            key_path=str(signer) if signer else None,
            checkpoint_key=checkpoint_key,
        )[0]
    if as_json:
        data = {"entry": result.__dict__, "receipt": receipt.to_json()}
        if determination is not None:
            data["determination"] = determination
        emit(True, data, "")
    else:
        appended_lines(result, receipt, receipt_file)
        if determination is not None:
            _show_determination(determination, False)
            if "seq" in determination:
                click.echo(f"determination appended as entry {determination['seq']}")
            else:
                click.echo("(no operator key here: the determination was not appended)")
    if determination is not None:
        _verdict_exit([determination])


@shipment_group.command("import")
@click.argument("file")
@click.option(
    "--key",
    "key_paths",
    multiple=True,
    required=True,
    metavar="PEM",
    help="The exporter's private key (repeat to add signatures).",
)
@checkpoint_key_option
@common
def shipment_import(
    file: str,
    key_paths: tuple[str, ...],
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Import shipments from an ERP CSV export, all or nothing.

    One line per item; the shipment's fields repeat on each of its lines. Columns:
    shipment_id, exporter, consignee, end_user, forwarder (may be empty),
    ship_date, destination, route (countries separated by `;`), license (may be
    empty), product, description, hs_code, quantity, serials (separated by `;`),
    unit_value, currency. Each shipment is signed with --key; an error names its
    line and column, and nothing is appended.
    """
    source = documents.display_name(file)
    parsed = shipment_csv.read_shipments_csv(file)
    signers = load_signers(key_paths)
    labels = [shipment_csv.label(p, source) for p in parsed]
    envelopes: list[Envelope] = []
    with progress_bar("signing", len(parsed)) as advance:
        for p, label in zip(parsed, labels, strict=True):
            try:
                statement = payloads.from_document(p.document)
            except ProvenanceError as exc:
                raise type(exc)(f"{label}: {exc.message}", hint=exc.hint) from exc
            envelopes.append(sign(statement, signers))
            advance(1)
    with (
        open_for_append(db, checkpoint_key) as ledger,
        progress_bar("appending", len(envelopes)) as advance,
    ):
        results = ledger.import_envelopes(envelopes, labels=labels, progress=advance)
        size = ledger.size()
    added = [r for r in results if not r.duplicate]
    data = {
        "shipments": len(results),
        "appended": len(added),
        "duplicates": len(results) - len(added),
        "first": results[0].seq,
        "last": results[-1].seq,
        "size": size,
    }
    emit(
        as_json,
        data,
        f"imported {len(results)} shipments from {source}: {len(added)} appended "
        f"(entries {results[0].seq}-{results[-1].seq}), {data['duplicates']} already present; "
        f"tree size {size}",
    )


@shipment_group.command("show")
@click.argument("shipment_id")
@common
def shipment_show(shipment_id: str, db: str | None, as_json: bool) -> None:
    """A shipment: declaration, items, serials and where each is now, receipts, end use."""
    with Ledger.open(db) as ledger:
        data = queries.shipment(ledger, shipment_id)

    def human() -> None:
        click.echo(
            f"shipment {data['id']} (entry {data['seq']}), shipped {data['ship_date']} by "
            f"{data['exporter']}"
        )
        click.echo(
            f"  to {data['consignee']} for end user {data['end_user']} in {data['destination']}"
            f", route {' > '.join(data['route'])}, license {data['license'] or 'none cited'}"
        )
        if data["forwarder"]:
            click.echo(f"  forwarder {data['forwarder']}")
        for item in data["items"]:
            value = item["unit_value"]
            click.echo(
                f"  item {item['line']}: {item['quantity']} x {item['product']} "
                f"({item['description']}), HS {item['hs_code']}, "
                f"{value['amount']} {value['currency']} each"
            )
            for s in item["serials"]:
                registered = s["registered_product"] or "not registered"
                click.echo(f"    {s['serial']}: {s['state']} ({registered})")
        for r in data["receipts"]:
            click.echo(
                f"  received {r['date']} by {r['party']} at {r['site']}, {r['country']}: "
                f"{len(r['serials'])} serials (entry {r['seq']})"
            )
            if r["not_in_shipment"]:
                click.echo(f"    not in this shipment: {', '.join(r['not_in_shipment'])}")
        if data["not_received"]:
            click.echo(f"  not received: {', '.join(data['not_received'])}")
        entries = ", ".join(map(str, data["end_use_statements"])) or "none"
        click.echo(f"  end-use statements: {entries}")

    emit(as_json, data, human)


@shipment_group.command("list")
@click.option("--exporter", default=None, help="Only this exporter's shipments.")
@click.option("--destination", default=None, metavar="CC", help="Only to this country.")
@click.option(
    "--from",
    "since",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Shipped on or after this date (YYYY-MM-DD).",
)
@click.option(
    "--to",
    "until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Shipped on or before this date (YYYY-MM-DD).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N shipments.")
@common
def shipment_list(
    exporter: str | None,
    destination: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    limit: int | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Shipments, newest first."""
    with Ledger.open(db) as ledger:
        rows = queries.shipments(
            ledger,
            exporter=exporter,
            destination=destination,
            since=since.date() if since else None,
            until=until.date() if until else None,
            limit=limit,
        )

    def human() -> None:
        for s in rows:
            click.echo(
                f"{s['ship_date']}  {s['id']:<20} {s['exporter']:<18} -> {s['destination']} "
                f"{s['consignee']:<18} {s['units']:>4} units  license {s['license'] or '-'}"
            )
        click.echo(f"{len(rows)} shipments")

    emit(as_json, rows, human)


@main.group("license")
def license_group() -> None:
    """Export licenses, issued by a regulator."""


@license_group.command("issue")
@click.argument("file")
@signing_options
@common
def license_issue(
    file: str,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Append the license in FILE (YAML/JSON), signed by the regulator.

    Fields: id, exporter, consignee and/or end_user (optional), destination, eccns,
    products (optional), max_quantity, max_value {amount, currency}, max_tpp
    (each optional), valid_from, valid_until, conditions.
    """
    statement = statement_from(file, "license")
    sign_and_append(statement, key_paths, receipt_file, checkpoint_key, db, as_json)


@license_group.command("show")
@click.argument("license_id")
@common
def license_show(license_id: str, db: str | None, as_json: bool) -> None:
    """A license and the shipments that cite it."""
    with Ledger.open(db) as ledger:
        data = queries.license_record(ledger, license_id)
    emit(as_json, data, lambda: click.echo(documents.dumps(data)))


@main.command("chip")
@click.argument("serial")
@common
def chip(serial: str, db: str | None, as_json: bool) -> None:
    """A chip's custody state and whole history, every entry verified.

    Lists the manufacture, each shipment, receipt, end-use statement and
    inspection that names SERIAL, in date order, each with its entry number and
    signer; every entry's signature is checked against its signer's registered
    key and its inclusion proved against the latest signed checkpoint.
    """
    with Ledger.open(db) as ledger:
        data = queries.chip(ledger, serial)
        data["observed"] = queries.devices_seen(ledger, serial)

    def human() -> None:
        where = f", in {data['country']}" if data["country"] else ""
        click.echo(
            f"chip {serial}: {data['product'] or 'not registered'}, state {data['state']}{where}"
        )
        for seen in data["observed"]:
            click.echo(
                f"  hardware report (entry {seen['seq']}): {seen['product_name']}, "
                f"PCI {seen['pci_device_id'] or '?'}"
            )
        click.echo(
            f"history ({len(data['history'])} entries; signatures and inclusion in the "
            f"checkpoint of size {data['tree_size']} verified):"
        )
        for h in data["history"]:
            click.echo(
                f"  {h['date'] or '':<10}  entry {h['seq']:<6} {h['kind']:<11} "
                f"{h['signer']:<18} {h['summary']}"
            )

    emit(as_json, data, human)


# --- restricted-party screening ------------------------------------------------------------


@main.group("screening")
def screening_group() -> None:
    """Restricted-party lists (the US Consolidated Screening List): import, list, show."""


@screening_group.command("import")
@click.argument("file")
@click.option(
    "--format",
    "list_format",
    type=click.Choice(["csv", "json"]),
    default=None,
    help="The download's form (default: sniffed from the file).",
)
@click.option(
    "--date",
    "list_date",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="When the list was downloaded (default: today).",
)
@click.option(
    "--policy",
    "policy_file",
    default=None,
    metavar="YAML",
    help="Screening policy (default: the packaged rules/screening.yaml).",
)
@signing_options
@common
def screening_import(
    file: str,
    list_format: str | None,
    list_date: dt.datetime | None,
    policy_file: str | None,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Import a CSL download as a new snapshot and re-screen every trade party against it.

    FILE is the CSV or JSON form as published (header `_id,source,entity_number,
    type,programs,name,...`). The file is kept by its SHA-256; the operator's key
    (--key) signs an entry with the digest, the row counts per list and every
    party that matches an entry at or above the threshold. Parties that newly
    match raise red flags. A malformed file is refused with its line number and
    nothing is imported; a list imported before is a no-op. Earlier snapshots
    are kept.
    """
    from provenance.screening import snapshots

    data = documents.read_bytes(file, limit=snapshots.MAX_LIST_BYTES)
    screening = snapshots.load_screening(policy_file)
    signers = load_signers(key_paths)
    with open_for_append(db, checkpoint_key) as ledger:
        done = snapshots.import_list(
            ledger,
            data,
            name=documents.display_name(file),
            signers=signers,
            format=list_format,
            date=list_date.date() if list_date else None,
            screening=screening,
        )
        receipt = ledger.receipt(done.seq) if done.appended else None
    if receipt and receipt_file:
        Path(receipt_file).write_text(receipt.text(), encoding="utf-8")
    data_out = done.to_json()

    def human() -> None:
        if done.duplicate:
            click.echo(
                f"this list ({done.digest[:16]}) is already snapshot entry {done.seq}; "
                "nothing imported"
            )
            return
        counts = ", ".join(f"{k} {v}" for k, v in done.counts.items())
        click.echo(f"snapshot {done.digest[:16]}: {done.total} entries ({counts})")
        click.echo(f"entry {done.seq}: screening-list, signed by the operator")
        new = [h for h in done.hits if h.new]
        click.echo(
            f"re-screened {done.parties_screened} parties: {len(done.hits)} matches, "
            f"{len(new)} new (flagged)"
        )
        for h in done.hits:
            mark = "NEW " if h.new else "    "
            click.echo(
                f"  {mark}{h.party}: {h.source} {h.entity_number or ''} {h.matched_name!r} "
                f"score {h.score} ({h.severity})"
            )

    emit(as_json, data_out, human)


@screening_group.command("list")
@common
def screening_list(db: str | None, as_json: bool) -> None:
    """Every snapshot imported, newest first."""
    from provenance.screening import snapshots

    with Ledger.open(db) as ledger:
        rows = snapshots.snapshots(ledger)

    def human() -> None:
        for r in rows:
            counts = ", ".join(f"{k} {v}" for k, v in r["counts"].items())
            click.echo(
                f"entry {r['seq']:<6} {r['date']}  {r['digest'][:16]}  {r['total']:>6} entries "
                f"({counts}); {r['matches']} matches, {r['new_flags']} new"
            )
        if not rows:
            click.echo("no screening list imported yet (provenance screening import FILE)")

    emit(as_json, rows, human)


@screening_group.command("show")
@click.argument("digest", required=False)
@common
def screening_show(digest: str | None, db: str | None, as_json: bool) -> None:
    """A snapshot (the latest, or DIGEST or its first characters) and its matches."""
    from provenance.screening import snapshots

    with Ledger.open(db) as ledger:
        data = snapshots.snapshot(ledger, digest)
    emit(as_json, data, lambda: click.echo(documents.dumps(data)))


@main.command("screen")
@click.argument("name")
@click.option("--country", default=None, metavar="CC", help="The party's country (ISO-2 or name).")
@click.option("--all", "show_all", is_flag=True, help="Every candidate, also below the threshold.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--list",
    "list_file",
    default=None,
    metavar="FILE",
    help="Screen against this CSL file instead of the ledger's latest snapshot.",
)
@common
def screen(
    name: str,
    country: str | None,
    show_all: bool,
    limit: int,
    list_file: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Screen NAME against the restricted-party lists; exit 1 when a match is found.

    Ranked matches at or above the threshold (every candidate with --all), each with
    its score (0-100), list, entity number, the name or alias it matched,
    addresses, and the list's license requirement and policy. Exits 1 when any
    match reaches the threshold, 0 when none does, so scripts can gate on it.
    """
    from provenance.screening import ScreeningIndex, read_list, snapshots

    if not name.strip():
        raise InputError("the name to screen is empty")
    if list_file:
        index = ScreeningIndex.build(
            read_list(list_file).entries, snapshots.load_screening().policy
        )
        where = documents.display_name(list_file)
    else:
        with Ledger.open(db) as ledger:
            index, info = snapshots.load_index(ledger)
        where = f"snapshot {info['digest'][:16]} (entry {info['seq']}, {info['date']})"
    matches = index.screen(name, country, limit=limit, include_below_threshold=show_all)
    threshold = index.policy.threshold
    data = {
        "query": name,
        "country": country,
        "threshold": threshold,
        "list": where,
        "matches": [
            {
                "score": round(m.score, 2),
                "list": m.source,
                "list_name": m.list_name,
                "entity_number": m.entity_number,
                "name": m.name,
                "matched_name": m.matched_name,
                "addresses": list(m.addresses),
                "license_requirement": m.license_requirement,
                "license_policy": m.license_policy,
                "above_threshold": m.above_threshold,
            }
            for m in matches
        ],
    }

    def human() -> None:
        above = [m for m in matches if m.above_threshold]
        click.echo(f"screened {name!r} against {where}: {len(above)} match(es) >= {threshold:g}")
        for m in matches:
            mark = "MATCH" if m.above_threshold else "     "
            click.echo(
                f"{mark} {m.score:6.2f}  {m.source:<4} {m.entity_number or '-':<12} {m.name}"
                + (f"  (as {m.matched_name!r})" if m.matched_name != m.name else "")
            )
            for address in m.addresses[:2]:
                click.echo(f"               {address}")
            if m.license_requirement:
                click.echo(f"               license requirement: {m.license_requirement}")
            if m.license_policy:
                click.echo(f"               license policy: {m.license_policy}")

    emit(as_json, data, human)
    if any(m.above_threshold for m in matches):
        raise click.exceptions.Exit(1)


# --- the rules engine ----------------------------------------------------------------------

VERDICT_STYLE = {
    "clear": "CLEAR",
    "hold": "HOLD",
    "license_required": "LICENSE REQUIRED",
    "blocked": "BLOCKED",
}
HOLD_EXIT = 6
"""`check` exits 6 on `hold` (no verdict worse than hold): a high red flag is neither cleared
nor confirmed; resolve it (`provenance flag resolve`) and check again."""


def _show_determination(data: dict[str, Any], explain: bool) -> None:
    pack = data["pack"]
    click.echo(
        f"shipment {data['shipment']} under {pack['id']} (digest {pack['digest'][:16]}), "
        f"evaluated {data['evaluated_on']}: {VERDICT_STYLE[data['verdict']]}"
    )
    for item in data["items"]:
        declared = (
            f" (declared {item['declared_product']})"
            if item["declared_product"] != item["product"]
            else ""
        )
        if item["license_required"]:
            cover = f"covered by {item['covered_by']}" if item["covered_by"] else "NOT COVERED"
            need = f"license required ({item['policy']} under {item.get('governing_rule')}; "
            need += f"exceptions: {', '.join(item['exceptions']) or 'none'}), {cover}"
        else:
            need = "no license required"
        click.echo(
            f"  item {item['line']}: {item['quantity']} x {item['product']}{declared} -> "
            f"{item['eccn']} by {item['classified_by']}, TPP {item['tpp']}, PD {item['pd']}; "
            f"{need}"
        )
        if item["license_required"] and item.get("governing"):
            click.echo(f"      governs: {item['governing']}")
    if data["flags"]:
        click.echo(f"red flags ({len(data['flags'])}):")
    for flag in data["flags"]:
        ident = f" [{flag['id']}]" if flag.get("id") else ""
        where = f" item {flag['line']}" if flag["line"] is not None else ""
        resolved = f" ({flag['resolution']})" if flag.get("resolution") else ""
        click.echo(
            f"  {flag['severity'].upper():<8} {flag['rule']}{ident}{where}{resolved}: "
            f"{flag['message']}"
        )
    if explain and data.get("explain"):
        click.echo("rules that held, the expression and the facts it read:")
        for fired in data["explain"]:
            click.echo(f"  {fired['rule']}: {fired['expression']}")
            for name, value in fired["facts"].items():
                click.echo(f"      {name} = {json.dumps(value)}")


def run_check(
    db: str | None,
    shipment_ids: list[str],
    *,
    pack_id: str | None,
    explain: bool,
    dry_run: bool,
    as_of: dt.date | None,
    key_path: str | None,
    checkpoint_key: str | None,
    rules_dir: str | None = None,
) -> list[dict[str, Any]]:
    """Evaluate, append unless `dry_run`, and return the determinations as JSON."""
    from provenance.compliance.checks import Checker
    from provenance.operator import operator_key_path

    opener = Ledger.open if dry_run else (lambda d: open_for_append(d, checkpoint_key))
    with opener(db) as ledger:
        checker = Checker.open(ledger, rules_dir, as_of)
        with progress_bar("checking", len(shipment_ids)) as advance:
            determinations = checker.determine(
                shipment_ids, pack_id=pack_id, explain=explain, progress=advance
            )
        if dry_run:
            return [d.to_json() for d in determinations]
        signer = keys.load_private(operator_key_path(ledger, key_path))
        return checker.described(determinations, checker.record(determinations, [signer]))


def _verdict_exit(results: list[dict[str, Any]]) -> None:
    """Exit 1 when a determination is blocked or needs a license nothing covers; else 6
    when one is on hold; else 0."""
    verdicts = {r["verdict"] for r in results}
    if verdicts & {"blocked", "license_required"}:
        raise click.exceptions.Exit(1)
    if "hold" in verdicts:
        raise click.exceptions.Exit(HOLD_EXIT)


@main.command("check")
@click.argument("shipment_ids", nargs=-1)
@click.option("--all", "check_all", is_flag=True, help="Check every shipment in the ledger.")
@click.option("--pack", "pack_id", default=None, help="Use this rule pack, not the one in force.")
@click.option("--explain", is_flag=True, help="Show each rule that held, its expression and facts.")
@click.option("--dry-run", is_flag=True, help="Evaluate only; append nothing.")
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Evaluate as on this date (default today): receipt deadlines count from it.",
)
@click.option(
    "--key",
    "key_path",
    default=None,
    metavar="PEM",
    help="Operator key that signs the determination (default $PROVENANCE_OPERATOR_KEY, "
    "else operator.pem beside the checkpoint key).",
)
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@checkpoint_key_option
@common
def check(
    shipment_ids: tuple[str, ...],
    check_all: bool,
    pack_id: str | None,
    explain: bool,
    dry_run: bool,
    as_of: dt.datetime | None,
    key_path: str | None,
    rules_dir: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Evaluate SHIPMENT_ID against the rule pack in force on its ship date.

    Prints, per item, the TPP, performance density and ECCN (and the rule that chose
    it), whether a license is required under which policy, the exceptions that
    could apply and whether the shipment's license covers it; then the red flags,
    each with its rule, severity, message and the facts it saw. Appends the
    determination, signed by the operator key, unless --dry-run. Exits 1 when a
    blocking flag or an uncovered license requirement stands (blocked,
    license_required), 6 when the verdict is hold (a high red flag neither cleared
    nor confirmed by a signed resolution: inquire, resolve it, check again), 0 when
    clear.
    """
    ids = list(shipment_ids)
    if check_all:
        with Ledger.open(db) as ledger:
            ids = [s["id"] for s in reversed(queries.shipments(ledger))]
    if not ids:
        raise InputError("name a shipment to check", hint="provenance check SHIPMENT_ID, or --all")
    results = run_check(
        db,
        ids,
        pack_id=pack_id,
        explain=explain,
        dry_run=dry_run,
        as_of=as_of.date() if as_of else None,
        key_path=key_path,
        checkpoint_key=checkpoint_key,
        rules_dir=rules_dir,
    )

    def human() -> None:
        for data in results:
            _show_determination(data, explain)
            if data.get("duplicate"):
                click.echo(
                    f"the same determination is already entry {data['seq']} "
                    "(same pack, facts and date): nothing appended"
                )
            elif "seq" in data:
                click.echo(f"determination appended as entry {data['seq']}")
            elif dry_run:
                click.echo("dry run: nothing appended")

    emit(as_json, results[0] if len(results) == 1 else results, human)
    _verdict_exit(results)


@main.command("classify")
@click.option("--product", "product_id", default=None, help="A catalog product id.")
@click.option("--tpp", type=str, default=None, help="Total processing performance.")
@click.option("--die-area", type=str, default=None, metavar="MM2", help="Applicable die area.")
@click.option(
    "--datacenter/--no-datacenter",
    default=True,
    show_default=True,
    help="Designed or marketed for datacenters.",
)
@click.option("--interconnect", type=int, default=0, metavar="GBPS", help="Chip-to-chip GB/s.")
@click.option("--memory-bandwidth", type=int, default=0, metavar="GBPS", help="Memory GB/s.")
@click.option(
    "--date",
    "on",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Classify under the pack in force on this date (default today).",
)
@click.option("--pack", "pack_id", default=None, help="Classify under this pack.")
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@common
def classify(
    product_id: str | None,
    tpp: str | None,
    die_area: str | None,
    datacenter: bool,
    interconnect: int,
    memory_bandwidth: int,
    on: dt.datetime | None,
    pack_id: str | None,
    rules_dir: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """The ECCN of a chip, and why: from its catalog figures (--product) or given ones.

    TPP = 2 x MacTOPS x bit length (the highest over data types), PD = TPP / die area.
    """
    from decimal import Decimal, InvalidOperation

    from provenance.compliance import checks
    from provenance.compliance.packs import Library

    library = Library.load(rules_dir)
    pack = (
        library.get(pack_id)
        if pack_id
        else library.in_force(on.date() if on else dt.datetime.now(dt.UTC).date())
    )
    if product_id:
        if tpp or die_area:
            raise InputError("give --product, or --tpp and --die-area, not both")
        product = load_catalog().require(product_id)
        result = checks.classify(
            pack,
            tpp=product.tpp,
            die_area=product.die_area_mm2,
            datacenter=product.datacenter,
            interconnect=product.interconnect_gbps or 0,
            memory_bandwidth=product.memory_bandwidth_gbps or 0,
            product=product.id,
        )
    else:
        if tpp is None:
            raise InputError("give --product ID, or --tpp N (with --die-area MM2)")
        try:
            tpp_value = Decimal(tpp)
            area = Decimal(die_area) if die_area else None
        except InvalidOperation:
            raise InputError("--tpp and --die-area must be numbers") from None
        if tpp_value < 0 or (area is not None and area <= 0):
            raise InputError("--tpp must be >= 0 and --die-area > 0")
        result = checks.classify(
            pack,
            tpp=tpp_value,
            die_area=area,
            datacenter=datacenter,
            interconnect=interconnect,
            memory_bandwidth=memory_bandwidth,
        )
    data = result.to_json()

    def human() -> None:
        what = product_id or f"TPP {tpp}, die area {die_area or '?'} mm2"
        click.echo(f"{what}: {data['eccn']} under {pack.id} (TPP {data['tpp']}, PD {data['pd']})")
        if data["rule"]:
            click.echo(f"  rule {data['rule']}: {data['why']}")
            for name, value in data["facts"].items():
                click.echo(
                    f"      item.{name} = {json.dumps(value)}"
                    if "." not in name
                    else f"      {name} = {json.dumps(value)}"
                )
        if data["note"]:
            click.echo(f"  note: {data['note']}")
        click.echo(f"  sources: {', '.join(data['sources'])}")

    emit(as_json, data, human)


@main.group("rules")
def rules_group() -> None:
    """The rule packs: list, show, the fact vocabulary, and the example cases."""


@rules_group.command("list")
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@json_option
def rules_list(rules_dir: str | None, as_json: bool) -> None:
    """Every pack, oldest first, with its digest and rule counts; the one in force today."""
    from provenance.compliance.packs import Library

    library = Library.load(rules_dir)
    packs = [p.summary() for p in library.all()]
    today = library.in_force(dt.datetime.now(dt.UTC).date()).id
    for p in packs:
        p["in_force"] = p["id"] == today

    def human() -> None:
        for p in packs:
            mark = "*" if p["in_force"] else "x" if p["never_bound"] else " "
            r = p["rules"]
            click.echo(
                f"{mark} {p['id']:<12} from {p['effective_from']}  {p['digest'][:16]}  "
                f"{r['classification']} classification, {r['licensing']} licensing, "
                f"{r['flags']} flag rules  {p['title']}"
            )
        click.echo("* in force today; x never bound (rescinded before compliance was due)")

    emit(as_json, packs, human)


@rules_group.command("show")
@click.argument("pack_id")
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@json_option
def rules_show(pack_id: str, rules_dir: str | None, as_json: bool) -> None:
    """A pack resolved (its parents merged): every rule, parameter and source."""
    from provenance.compliance.packs import Library

    pack = Library.load(rules_dir).get(pack_id)
    document = {k: v for k, v in pack.document.items() if k != "reference"}
    document["digest"] = pack.digest
    document["reference"] = sorted(pack.reference)
    document["superseded_by"] = pack.superseded_by()

    def human() -> None:
        click.echo(f"{pack.id}: {pack.title}")
        click.echo(
            f"effective from {pack.effective_from}; extends {' > '.join(pack.chain[1:]) or '-'}"
        )
        click.echo(f"digest {pack.digest}")
        click.echo(f"parameters: {json.dumps(pack.parameters)}")
        if pack.never_bound:
            click.echo(
                f"NEVER BOUND: rescinded {document['rescinded_on']}, before compliance was due "
                f"({document['compliance_from']}); no shipment is judged under it"
            )
        by = pack.superseded_by()
        for section in ("classification", "licensing", "flags"):
            click.echo(f"{section}:")
            if section == "licensing":
                click.echo(f"  which policy governs: {document['governing']}")
            for rule in document[section]:
                extra = rule.get("eccn") or rule.get("policy") or rule.get("severity")
                if section == "licensing" and rule.get("suspends_exceptions"):
                    extra = "suspends exceptions"
                click.echo(f"  {rule['id']} [{extra}]: {rule['when']}")
                if section != "licensing":
                    continue
                codes = [
                    e if isinstance(e, str) else f"{e['code']} ({e['reference']})"
                    for e in rule.get("exceptions", [])
                ]
                if codes:
                    click.echo(f"      exceptions: {', '.join(codes)}")
                if rule.get("supersedes"):
                    click.echo(f"      supersedes: {', '.join(rule['supersedes'])}")
                if by.get(rule["id"]):
                    click.echo(f"      superseded by: {', '.join(by[rule['id']])}")
        click.echo("sources:")
        for source in document["sources"]:
            click.echo(f"  {source['id']}: {source['title']} <{source['url']}>")

    emit(as_json, document, human)


@rules_group.command("facts")
@json_option
def rules_facts(as_json: bool) -> None:
    """The fact vocabulary: every name a rule's condition may use, its type and meaning."""
    from provenance.compliance.vocabulary import describe

    rows = describe()

    def human() -> None:
        for row in rows:
            click.echo(f"{row['name']:<34} {row['type']:<13} {row['meaning']}")

    emit(as_json, rows, human)


@rules_group.command("test")
@click.argument("directory", required=False)
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@json_option
def rules_test(directory: str | None, rules_dir: str | None, as_json: bool) -> None:
    """Run the example cases (rules/tests/*.yaml, or DIR): a shipment and the determination
    expected. Shows each case that passes or what differs; exits 1 when any fails."""
    from provenance.compliance import cases

    results = cases.run_all(directory, rules_dir)
    data = [r.to_json() for r in results]

    def human() -> None:
        for r in results:
            click.echo(f"{'ok  ' if r.passed else 'FAIL'} {r.name} ({r.pack})")
            for problem in r.problems:
                click.echo(f"       {problem}")
        failed = sum(1 for r in results if not r.passed)
        click.echo(f"{len(results) - failed} passed, {failed} failed")

    emit(as_json, data, human)
    if any(not r.passed for r in results):
        raise click.exceptions.Exit(1)


@main.group("flag")
def flag_group() -> None:
    """Red flags: list them, and resolve one (cleared, confirmed, escalated)."""


@flag_group.command("list")
@click.option("--open", "only_open", is_flag=True, help="Only flags not yet resolved.")
@click.option(
    "--severity",
    type=click.Choice(["info", "warning", "high", "blocking"]),
    default=None,
    help="Only this severity and above.",
)
@click.option("--shipment", "shipment_id", default=None, help="Only this shipment's flags.")
@common
def flag_list(
    only_open: bool, severity: str | None, shipment_id: str | None, db: str | None, as_json: bool
) -> None:
    """Red flags, most severe first."""
    with Ledger.open(db) as ledger:
        rows = queries.flags(ledger, only_open=only_open, severity=severity, shipment=shipment_id)

    def human() -> None:
        for f in rows:
            where = f" item {f['line']}" if f["line"] is not None else ""
            click.echo(
                f"{f['id']:<10} {f['severity'].upper():<8} {f['status']:<9} {f['subject']}{where}  "
                f"{f['rule']}: {f['message']}"
            )
        click.echo(f"{len(rows)} flags")

    emit(as_json, rows, human)


@flag_group.command("resolve")
@click.argument("flag")
@click.option("--status", required=True, type=click.Choice(["cleared", "confirmed", "escalated"]))
@click.option("--reason", required=True, help="Why (kept in the ledger).")
@signing_options
@common
def flag_resolve(
    flag: str,
    status: str,
    reason: str,
    key_paths: tuple[str, ...],
    receipt_file: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Resolve FLAG, signed by a regulator or by the exporter whose shipment it is about."""
    statement = payloads.from_document(
        {"kind": "resolution", "flag": flag, "status": status, "reason": reason}
    )
    sign_and_append(statement, key_paths, receipt_file, checkpoint_key, db, as_json)


# --- reports -------------------------------------------------------------------------------


def _report_options(func: F) -> F:
    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["md", "html", "json", "csv"]),
            default="md",
            show_default=True,
            help="Markdown, a self-contained HTML page with plots, JSON, or CSV.",
        ),
        click.option("-o", "--output", default=None, metavar="FILE", help="Write to FILE."),
        click.option(
            "--size",
            type=int,
            default=None,
            help="Compute at the checkpoint of this tree size (default: the latest).",
        ),
        click.option(
            "--sign",
            "sign_key",
            default=None,
            metavar="PEM",
            help="Sign the JSON report as a DSSE envelope with this key (implies --format json).",
        ),
        click.option("--append", is_flag=True, help="Also append the signed report to the ledger."),
        click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder."),
        checkpoint_key_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _period_options(func: F) -> F:
    func = click.option(
        "--to", "until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day."
    )(func)
    func = click.option(
        "--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day."
    )(func)
    return click.option(
        "--period", default=None, help="A quarter (2026-Q3), a month (2026-07) or a year."
    )(func)


def _deliver(
    report: dict[str, Any],
    *,
    fmt: str,
    as_json: bool,
    output: str | None,
    sign_key: str | None,
    append: bool,
    db: str | None,
    checkpoint_key: str | None,
) -> None:
    from provenance.reports import render, verify

    if append and not sign_key:
        raise InputError("--append needs --sign KEY (the ledger holds signed statements)")
    if sign_key:
        envelope = verify.sign_report(report, [keys.load_private(Path(sign_key))])
        text = json.dumps(envelope.to_json(), indent=2) + "\n"
        if append:
            with open_for_append(db, checkpoint_key) as ledger:
                result, _ = ledger.append(envelope)
            click.echo(f"signed report appended as entry {result.seq}", err=True)
    else:
        text = render.render(report, "json" if as_json else fmt)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        cp = report["checkpoint"]
        click.echo(f"wrote {output} (checkpoint {cp['origin']} size {cp['size']})", err=True)
    else:
        click.echo(text, nl=False)


@contextmanager
def report_progress() -> Iterator[Callable[[str], None]]:
    """One line per step on a terminal (a long report says what it is computing)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda _step: None
        return
    with console.status("report") as status:
        yield lambda step: status.update(f"report: {step} ...")


@main.group("report")
def report_group() -> None:
    """Compliance reports: for regulators, exporters and auditors; signed and verifiable."""


@report_group.command("regulator")
@_period_options
@click.option("--no-verify", is_flag=True, help="Skip the full ledger verification.")
@_report_options
@common
def report_regulator(
    period: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    no_verify: bool,
    fmt: str,
    output: str | None,
    size: int | None,
    sign_key: str | None,
    append: bool,
    rules_dir: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """The periodic report for regulators, computed at a signed checkpoint.

    Shipments and units by destination and ECCN; compute exported (TPP and
    H100-equivalents) per destination and end user, with the cumulative total;
    licenses and what was drawn against them; red flags by rule and severity, open
    and resolved, the oldest open listed; chips not received, end-use statements
    missing or expired, serials missing at inspection; the rule packs and screening
    list in force; and a full verification of the ledger.
    """
    from provenance.reports import build
    from provenance.reports.periods import period_from

    chosen = period_from(period, since.date() if since else None, until.date() if until else None)
    with Ledger.open(db) as ledger, report_progress() as say:
        report = build.regulator(
            ledger, chosen, size=size, rules_dir=rules_dir, verify=not no_verify, progress=say
        )
    _deliver(
        report,
        fmt=fmt,
        as_json=as_json,
        output=output,
        sign_key=sign_key,
        append=append,
        db=db,
        checkpoint_key=checkpoint_key,
    )


@report_group.command("exporter")
@click.option("--party", required=True, help="The exporter's party id.")
@_period_options
@_report_options
@common
def report_exporter(
    party: str,
    period: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    fmt: str,
    output: str | None,
    size: int | None,
    sign_key: str | None,
    append: bool,
    rules_dir: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """An exporter's own shipments, determinations, red flags and licenses for a period."""
    from provenance.reports import build
    from provenance.reports.periods import period_from

    chosen = period_from(period, since.date() if since else None, until.date() if until else None)
    with Ledger.open(db) as ledger, report_progress() as say:
        report = build.exporter(ledger, party, chosen, size=size, rules_dir=rules_dir, progress=say)
    _deliver(
        report,
        fmt=fmt,
        as_json=as_json,
        output=output,
        sign_key=sign_key,
        append=append,
        db=db,
        checkpoint_key=checkpoint_key,
    )


def _dossier_command(kind: str, argument: str) -> None:
    @report_group.command(kind)
    @click.argument("subject", metavar=argument)
    @_report_options
    @common
    def command(
        subject: str,
        fmt: str,
        output: str | None,
        size: int | None,
        sign_key: str | None,
        append: bool,
        rules_dir: str | None,
        checkpoint_key: str | None,
        db: str | None,
        as_json: bool,
    ) -> None:
        from provenance.reports import build

        with Ledger.open(db) as ledger:
            report = build.dossier(ledger, kind, subject, size=size)
        _deliver(
            report,
            fmt=fmt,
            as_json=as_json,
            output=output,
            sign_key=sign_key,
            append=append,
            db=db,
            checkpoint_key=checkpoint_key,
        )

    command.help = (
        f"An auditor's dossier of {kind} {argument}: every entry about it, with its signer "
        "and a verified inclusion proof, pinned to a signed checkpoint."
    )


_dossier_command("chip", "SERIAL")
_dossier_command("shipment", "SHIPMENT_ID")


@report_group.command("verify")
@click.argument("file", metavar="REPORT")
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder.")
@common
def report_verify(file: str, rules_dir: str | None, db: str | None, as_json: bool) -> None:
    """Check a report (JSON, or the DSSE envelope --sign wrote) against the ledger.

    Verifies the signature against the signer's registered key, that the report's
    checkpoint is one the ledger signed and that the current tree is consistent with
    it, and recomputes every figure at that tree size. Each difference is listed,
    field by field; exit 4 when there is any.
    """
    from provenance.reports import verify

    report, envelope = verify.load(file)
    with Ledger.open(db) as ledger:
        result = verify.verify_report(ledger, report, envelope, rules_dir)

    def human() -> None:
        cp = report.get("checkpoint", {})
        if result.signed_by:
            click.echo(f"signature: valid, signed by {result.signed_by}")
        else:
            click.echo("signature: none (an unsigned report)")
        click.echo(
            f"checkpoint: size {cp.get('size')} "
            + ("signed by this ledger" if result.checkpoint_signed else "NOT signed by this ledger")
            + (
                f", consistent with the current size {result.consistent_with}"
                if result.consistent_with is not None
                else ""
            )
        )
        if result.differences:
            click.echo(f"{len(result.differences)} differences from the ledger:")
            for line in result.differences:
                click.echo(f"  {line}")
        elif result.ok:
            click.echo("every figure recomputed from the ledger matches")

    emit(as_json, result.to_json(), human)
    if not result.ok:
        click.echo(
            f"error: the report does not match the ledger ({len(result.differences)} differences)",
            err=True,
        )
        raise click.exceptions.Exit(4)


@report_group.command("schema")
def report_schema() -> None:
    """Print the JSON Schema of report JSON (regulator, exporter, dossiers)."""
    from provenance.reports.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


# --- the demo ----------------------------------------------------------------------------


@main.command("demo")
@click.option(
    "--dir",
    "directory",
    default="demo-run",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the demo's ledger, keys and signed statements.",
)
@click.option("--fresh", is_flag=True, help="Wipe DIR first if it holds an earlier run.")
@json_option
def demo(directory: str, fresh: bool, as_json: bool) -> None:
    """Run the whole story on an embedded SQLite ledger, narrating each step.

    Creates DIR/ledger.db with the product catalog, registers parties and keys,
    then follows eight H100s from NVIDIA to a cloud in Singapore: manufacture,
    shipment, receipt, end-use statement, an inspection with nvidia-smi evidence,
    and the chip's verified history. Shows what the ledger refuses, verifies
    everything and prints a receipt. Each step shows the command that does the
    same by hand.
    """
    from rich.console import Console

    from provenance import demo as story

    console = Console(highlight=False, soft_wrap=True)
    styles = {"step": "bold", "cmd": "cyan", "info": "", "warn": "yellow"}
    prefixes = {"step": "\n", "cmd": "  $ ", "info": "    ", "warn": "    ! "}

    def narrate(kind: str, text: str) -> None:
        if not as_json:
            console.print(prefixes[kind] + text, style=styles[kind], markup=False)

    result = story.run(Path(directory), narrate, fresh=fresh)

    def human() -> None:
        click.echo("")
        click.echo(f"ledger {result.db}: {result.size} entries, root {result.root}")
        click.echo(f"the ledger refused {len(result.caught)} bad statements, and wrote nothing")
        receipt = result.directory / "receipt-shipment.txt"
        header = result.receipts["shipment"].splitlines()[0]
        click.echo(f"the shipment's receipt ({header}): {receipt}")
        if result.reports:
            click.echo(f"the regulator's report: {result.reports['regulator']}")
        if result.chip:
            click.echo(f"explore it: provenance chip {result.chip['serial']} --db {result.db}")
        click.echo(f"            provenance shipment list --db {result.db}")

    emit(as_json, result.to_json(), human)


# --- offline verification --------------------------------------------------------------------


@main.command("verify")
@click.argument("file", metavar="RECEIPT_OR_BUNDLE")
@click.option(
    "--ledger-key",
    "ledger_key",
    required=True,
    metavar="VERIFIER_KEY",
    help="The ledger's verifier key (the string `provenance ledger key` prints, "
    "or a file holding it).",
)
@json_option
def verify(file: str, ledger_key: str, as_json: bool) -> None:
    """Verify a receipt or a bundle offline, with no database.

    A receipt proves its entry is in the ledger under a signed checkpoint; a
    bundle also checks every signature against its signers' key history.
    """
    key_text = ledger_key
    candidate = Path(ledger_key)
    if "+" not in ledger_key or candidate.is_file():
        if not candidate.is_file():
            raise InputError(f"--ledger-key {ledger_key!r} is neither a verifier key nor a file")
        key_text = candidate.read_text(encoding="utf-8").strip().splitlines()[-1]
    verifiers = bundle.verifier_for(key_text)
    form, value = bundle.load(documents.read_bytes(file).decode("utf-8", errors="replace"))
    if form == "receipt":
        entry = bundle.verify_receipt(value, verifiers)
        data = {
            "form": "receipt",
            "checkpoint": entry.checkpoint.to_json(),
            "entry": entry.to_json(),
            "signatures_checked": False,
        }
        emit(
            as_json,
            data,
            f"receipt verified: entry {entry.entry.seq} ({entry.entry.kind}) is in "
            f"{entry.checkpoint.origin} at tree size {entry.checkpoint.size}\n"
            "signatures were checked by the ledger when it appended the entry; "
            "to check them yourself, verify a bundle (provenance ledger export)",
        )
    else:
        report = bundle.verify_bundle(value, verifiers)
        data = {"form": "bundle", **report.to_json()}

        def human() -> None:
            cp = report.checkpoint
            click.echo(f"bundle verified against {cp.origin} at tree size {cp.size}")
            for item in report.entries:
                mark = "*" if item["seq"] in report.requested else " "
                click.echo(
                    f" {mark} entry {item['seq']:>6}  {item['kind']:<15} signed by {item['signer']}"
                )

        emit(as_json, data, human)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
