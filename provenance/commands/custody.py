"""Chips and their movements: `product`, `attest`, `shipment`, `license`, `chip`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from provenance import documents
from provenance.commands.appending import (
    append_many_remote,
    append_remote,
    appended_lines,
    load_signers,
    sign_and_append,
    statement_from,
)
from provenance.commands.options import (
    Read,
    Write,
    checkpoint_key_option,
    common,
    counted,
    date_option,
    dry_run_option,
    emit,
    ledger_key_option,
    ledger_url_option,
    limit_option,
    limited,
    listed,
    progress_bar,
    query,
    reads,
    signing_key_option,
    witness_policy_option,
    writes,
)
from provenance.crypto.envelope import Envelope
from provenance.errors import InputError, ProvenanceError
from provenance.ledger import queries
from provenance.ledger.log import Ledger
from provenance.statements import inspection, kinds, payloads, products, shipment_csv
from provenance.statements.signing import sign


@click.group("product")
def product_group() -> None:
    """The product catalog serials are checked against (TPP, die area, PCI ids)."""


@product_group.command("import")
@click.argument("file")
@writes
def product_import(file: str, write: Write) -> None:
    """Add or supersede products from FILE, signed by an operator or regulator key.

    FILE is a catalog in the format of rules/products.yaml, one product document,
    or a list of them (YAML or JSON; `-` for stdin). All or nothing.
    """
    statements = products.read_products(file)
    signers = load_signers(write.key_paths)
    envelopes = [sign(s, signers) for s in statements]
    labels = [f"product {s.id}" for s in statements]
    if write.ledger:
        results, size = append_many_remote(write, envelopes, labels)
    else:
        with write.open() as ledger:
            results = ledger.append_many(envelopes, labels=labels)
            size = ledger.size()
    data: dict[str, Any] = {
        "products": [
            {"id": s.id, "seq": r.seq, "duplicate": r.duplicate}
            for s, r in zip(statements, results, strict=True)
        ],
        "size": size,
    }
    if write.dry_run:
        data["dry_run"] = True

    def human() -> None:
        new = "would be entry" if write.dry_run else "entry"
        for s, r in zip(statements, results, strict=True):
            state = "unchanged, already entry" if r.duplicate else new
            click.echo(f"{s.id}: {state} {r.seq} (TPP {s.tpp})")
        if write.dry_run:
            click.echo(f"dry run: nothing written (the tree would be of size {size})")
        else:
            click.echo(f"tree size {size}")

    emit(write.as_json, data, human)


@product_group.command("list")
@limit_option
@common
def product_list(limit: int | None, db: str | None, as_json: bool) -> None:
    """Every product in the ledger's catalog, with its TPP and performance density."""
    rows, total = limited(query(db, queries.products), limit)

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
        if len(rows) < total:
            click.echo(listed(len(rows), total, "product"))

    emit(as_json, rows, human)


def _short(value: str | None) -> str:
    return "-" if value is None else f"{float(value):.2f}"


@product_group.command("show")
@click.argument("product_id")
@common
def product_show(product_id: str, db: str | None, as_json: bool) -> None:
    """One product: its figures and how many serials are registered to it."""
    data = query(db, lambda ledger: queries.product(ledger, product_id))

    def human() -> None:
        price = data["reference_price"]
        click.echo(f"{data['id']}: {data['vendor']} {data['model']}")
        click.echo(f"  TPP:          {data['tpp']} (performance density {_short(data['pd'])})")
        click.echo(
            f"  die area:     {data['die_area_mm2'] or 'unknown'} mm2, "
            f"{'datacenter' if data['datacenter'] else 'not datacenter'}"
        )
        click.echo(
            f"  bandwidth:    interconnect {data['interconnect_gbps'] or '-'} GB/s, "
            f"memory {data['memory_bandwidth_gbps'] or '-'} GB/s"
        )
        click.echo(f"  names:        {', '.join(data['names'])}")
        click.echo(f"  PCI ids:      {', '.join(data['pci_device_ids']) or '-'}")
        click.echo(f"  HS codes:     {', '.join(data['hs_codes']) or '-'}")
        if price:
            click.echo(f"  price:        {price['amount']} {price['currency']} (reference)")
        click.echo(
            f"  entry:        {data['seq']}; {data['registered_serials']} serials registered"
        )

    emit(as_json, data, human)


@click.group("attest")
def attest_group() -> None:
    """Sign and append what a party attests: manufacture, receipt, end use, inspection, lab
    tests, KYC, location measurements."""


def _attest_command(kind: str, attest: kinds.Attest) -> None:
    @attest_group.command(kind)
    @click.argument("file")
    @writes
    def command(file: str, write: Write) -> None:
        statement = statement_from(file, kind)
        sign_and_append(statement, write)

    command.help = (
        f"Append a {kind} statement from FILE (YAML/JSON, `-` for stdin), signed by "
        f"{attest.who}.\n\nFields: {attest.fields}. `provenance schema {kind}` prints the "
        "JSON Schema."
    )


for _kind in kinds.KINDS.values():
    if _kind.attest is not None:
        _attest_command(_kind.name, _kind.attest)


@attest_group.command("inspection")
@click.argument("file")
@click.option(
    "--nvidia-smi",
    "smi_files",
    multiple=True,
    metavar="XML",
    help="`nvidia-smi -q -x` output collected on site (repeat for several hosts).",
)
@writes
def attest_inspection(file: str, smi_files: tuple[str, ...], write: Write) -> None:
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
    statement = kinds.from_document(document, documents.display_name(file))
    if not isinstance(statement, payloads.InspectionStatement):
        raise InputError(f"{documents.display_name(file)} is a {statement.kind}, not an inspection")
    sign_and_append(statement, write)


def _evidence_documents(kind: str, file: str, smi_files: tuple[str, ...] = ()) -> list[object]:
    """The statement documents of FILE: a CSV file (one or more statements) or a YAML/JSON
    document (a lab test completed from its nvidia-smi files)."""
    from provenance.statements import evidence_input

    if file.lower().endswith(".csv"):
        if smi_files:
            raise InputError("--nvidia-smi goes with a YAML/JSON lab test, not with a CSV file")
        try:
            text = documents.read_bytes(file).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{documents.display_name(file)} is not UTF-8 text: {exc}") from None
        return list(evidence_input.parse_csv(kind, text, source=documents.display_name(file)))
    document = documents.read_mapping(file)
    declared = document.setdefault("kind", kind)
    if declared != kind:
        raise InputError(f"{documents.display_name(file)} is a {declared!r}, not a {kind!r}")
    if kind == "lab-test":
        reports = [(Path(p).name, inspection.read_nvidia_smi(p)) for p in smi_files]
        document = evidence_input.lab_test_document(document, reports)
    return [document]


def _append_evidence(kind: str, docs: list[object], write: Write) -> None:
    statements = [kinds.from_document(d) for d in docs]
    if len(statements) == 1:
        sign_and_append(statements[0], write)
        return
    signers = load_signers(write.key_paths)
    envelopes = [sign(s, signers) for s in statements]
    labels = [f"{kind} {i + 1}" for i in range(len(statements))]
    if write.ledger:
        results, size = append_many_remote(write, envelopes, labels)
    else:
        with write.open() as ledger:
            results = ledger.append_many(envelopes, labels=labels)
            size = ledger.size()
    data = {"entries": [r.__dict__ for r in results], "size": size}

    def human() -> None:
        for label, r in zip(labels, results, strict=True):
            state = "already in the ledger as entry" if r.duplicate else "appended entry"
            click.echo(f"{label}: {state} {r.seq}, signed by {r.signer}")
        click.echo(f"tree size {size}")

    emit(write.as_json, data, human)


@attest_group.command("lab-test")
@click.argument("file")
@click.option(
    "--nvidia-smi",
    "smi_files",
    multiple=True,
    metavar="XML",
    help="`nvidia-smi -q -x` output the lab recorded (repeat for several hosts): each GPU "
    "it lists, by serial, is a tested chip with the identity its driver reported.",
)
@writes
def attest_lab_test(file: str, smi_files: tuple[str, ...], write: Write) -> None:
    """Append a lab test from FILE, signed by the testing lab (role lab).

    FILE is YAML/JSON: product (the catalog id the chips were declared as), date, country
    (where tested), facility, and either results [{serial, identity {product_name,
    pci_device_id, uuid}, performance [{dtype, bits, tops}], memory_bandwidth_gbps}] or,
    with --nvidia-smi, measured {performance, memory_bandwidth_gbps} for every GPU the
    files list. Or a CSV file (.csv): product, date, country, facility, serial,
    product_name, pci_device_id, uuid, dtype, bits, tops, memory_bandwidth_gbps.
    `provenance schema lab-test` prints the JSON Schema.
    """
    _append_evidence("lab-test", _evidence_documents("lab-test", file, smi_files), write)


@attest_group.command("kyc")
@click.argument("file")
@writes
def attest_kyc(file: str, write: Write) -> None:
    """Append a KYC attestation from FILE, signed by the consignee or end user it speaks for.

    Fields: party (the signer), date, valid_from, valid_until, authorised_users (who may
    use the chips), remote_access (how it is authenticated), controls {users_identified,
    remote_access_authenticated, access_logged, no_d5_hq_training}. A CSV file (.csv)
    holds one attestation a row, the controls as columns (true/false).
    """
    _append_evidence("kyc", _evidence_documents("kyc", file), write)


@attest_group.command("location")
@click.argument("file")
@writes
def attest_location(file: str, write: Write) -> None:
    """Append location measurements from FILE, signed by the landmark that made them.

    Fields: landmark (the signer, whose coordinates the ledger holds), serial, nonce
    (hex), rtt_ms (the round trip, milliseconds), measured_at (with its offset), answer
    {product_name, serial, pci_device_id, uuid} (the chip's identity from its driver).
    A CSV file (.csv) holds one measurement a row: landmark, serial, nonce, rtt_ms,
    measured_at, product_name, pci_device_id, uuid. All or nothing.
    """
    _append_evidence("location", _evidence_documents("location", file), write)


@click.group("shipment")
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
@writes
def shipment_register(file: str, operator_key: str | None, no_check: bool, write: Write) -> None:
    """Append the shipment in FILE (YAML/JSON, `-` for stdin), signed by its exporter,
    then check it against the rule pack in force and show the determination.

    Fields: id, exporter, consignee, end_user, forwarder (optional), ship_date,
    destination, route (countries, origin first), license (id or exception code,
    optional), items [{product, description, hs_code, quantity, serials,
    unit_value {amount, currency}}]. `provenance schema shipment` prints the schema.
    Exits as `check` does when the determination is not clear (1 blocked or license
    required, 6 hold); the shipment stays registered.
    """
    statement = statement_from(file, "shipment")
    if not write.ledger:
        _note_unknown_products(statement, write.db)
    _append_and_check(statement, write, operator_key, no_check)


def _append_and_check(
    statement: payloads.Statement, write: Write, operator_key: str | None, no_check: bool
) -> None:
    """Sign and append a shipment or an amendment, check the shipment, show both."""
    from provenance.commands.compliance import show_determination, verdict_exit
    from provenance.compliance import checks

    envelope = sign(statement, load_signers(write.key_paths))
    if write.ledger:
        # the service checks each shipment it appends, with the operator key it holds
        result, receipt, determination = append_remote(write, envelope)
    else:
        registered = checks.register_shipment(
            write.db,
            envelope,
            check=not no_check,
            operator_key=operator_key,
            checkpoint_key=write.checkpoint_key,
            dry_run=write.dry_run,
        )
        result, receipt, determination = (
            registered.appended,
            registered.receipt,
            registered.determination,
        )
    if write.receipt_file and not write.dry_run:
        Path(write.receipt_file).write_text(receipt.text(), encoding="utf-8")
    if write.as_json:
        data: dict[str, Any] = {"entry": result.__dict__}
        if write.dry_run:
            data["dry_run"] = True
        else:
            data["receipt"] = receipt.to_json()
        if determination is not None:
            data["determination"] = determination
        emit(True, data, "")
    else:
        if write.dry_run:
            state = "already in the ledger as" if result.duplicate else "would append as"
            click.echo(
                f"dry run: {state} entry {result.seq}: {result.kind}, signed by {result.signer}"
            )
        else:
            appended_lines(result, receipt, write.receipt_file, write.verbose)
        if determination is not None:
            show_determination(determination, False)
            if "seq" in determination:
                would = "would be appended" if write.dry_run else "appended"
                click.echo(f"determination {would} as entry {determination['seq']}")
            else:
                click.echo("(no operator key here: the determination was not appended)")
        if write.dry_run:
            click.echo("dry run: nothing written")
    if determination is not None:
        verdict_exit([determination])


def _note_unknown_products(statement: payloads.Statement, db: str | None) -> None:
    """On stderr: each declared product the catalog does not know, with a "did you mean"
    (the shipment is not refused: the rules judge unknown products)."""
    from provenance.statements.catalog import did_you_mean

    assert isinstance(statement, payloads.ShipmentStatement)
    known = {p["id"] for p in query(db, queries.products)}
    for i, item in enumerate(statement.items):
        if item.product not in known:
            guess = did_you_mean(item.product, known)
            click.echo(
                f"note: items[{i}].product {item.product!r} is not in the catalog"
                + (f" ({guess})" if guess else "")
                + "; the rules judge it as an unknown product",
                err=True,
            )


def _in_force(write: Write, shipment_id: str) -> dict[str, Any]:
    """The shipment as the ledger holds it (served or local), to name the entry in force."""
    found: dict[str, Any]
    if write.ledger:
        with write.remote() as remote:
            found = remote.shipment(shipment_id)
        return found
    found = query(write.db, lambda ledger: queries.shipment(ledger, shipment_id))
    return found


def _correction(model: type[payloads.Statement], **fields: Any) -> payloads.Statement:
    """The correction statement, a bad field (an empty --reason) exit 2, naming it."""
    from pydantic import ValidationError

    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise InputError(kinds.describe_validation_error(model.kind, exc)) from exc


_reason_option = click.option(
    "--reason", required=True, help="Why: what was wrong (signed with the statement)."
)
_corrects_option = click.option(
    "--corrects",
    type=click.IntRange(min=0),
    default=None,
    metavar="SEQ",
    help="The entry corrected (default: the shipment's version in force, as the ledger shows "
    "it); a correction naming another is refused.",
)


@shipment_group.command("amend")
@click.argument("shipment_id")
@click.argument("file")
@_reason_option
@_corrects_option
@click.option(
    "--operator-key",
    default=None,
    metavar="PEM",
    help="Operator key that signs the determination (as `shipment register`).",
)
@click.option("--no-check", is_flag=True, help="Amend only; do not run the rules.")
@writes
def shipment_amend(
    shipment_id: str,
    file: str,
    reason: str,
    corrects: int | None,
    operator_key: str | None,
    no_check: bool,
    write: Write,
) -> None:
    """Correct shipment SHIPMENT_ID: FILE holds the shipment in full, as it should have
    been (the fields of `shipment register`, the same id and exporter), signed by the
    exporter who registered it, as a `shipment-amendment` entry naming the entry it
    corrects and --reason. The ledger keeps every version; from this entry on the rules
    judge the amended facts (checked at once, exits as `shipment register` does), and
    `shipment show` and `chip` show the corrected entry as superseded. Refused (nothing
    written) for a voided shipment, a stale --corrects, a changed exporter, or
    changed serials after a receipt (exit 2; an unknown shipment, exit 5); by anyone but
    that exporter, exit 3.
    """
    shipment = statement_from(file, "shipment")
    assert isinstance(shipment, payloads.ShipmentStatement)
    if shipment.id != shipment_id:
        raise InputError(
            f"{documents.display_name(file)}: id: the file is shipment {shipment.id!r}, "
            f"not {shipment_id!r}",
            hint="an amendment keeps the shipment's id",
        )
    if corrects is None:
        corrects = int(_in_force(write, shipment_id)["version_seq"])
    if not write.ledger:
        _note_unknown_products(shipment, write.db)
    statement = _correction(
        payloads.ShipmentAmendmentStatement,
        corrects=corrects,
        date=dt.datetime.now(dt.UTC).date(),
        reason=reason,
        shipment=shipment,
    )
    _append_and_check(statement, write, operator_key, no_check)


@shipment_group.command("void")
@click.argument("shipment_id")
@_reason_option
@_corrects_option
@writes
def shipment_void(shipment_id: str, reason: str, corrects: int | None, write: Write) -> None:
    """Withdraw shipment SHIPMENT_ID (registered by mistake, never shipped): a
    `shipment-void` entry signed by the exporter who registered it, naming the entry in
    force and --reason. A voided shipment is not judged (`check` exits 5) nor counted as
    an export in reports; its entries and flags stay. Refused (exit 2, nothing written)
    once a receipt is recorded, when already void or for a stale --corrects (an unknown
    shipment, exit 5); by anyone but that exporter, exit 3.
    """
    if corrects is None:
        corrects = int(_in_force(write, shipment_id)["version_seq"])
    statement = _correction(
        payloads.ShipmentVoidStatement,
        shipment=shipment_id,
        corrects=corrects,
        date=dt.datetime.now(dt.UTC).date(),
        reason=reason,
    )
    sign_and_append(statement, write)


@shipment_group.command("import")
@click.argument("file")
@signing_key_option("The exporter's private key (repeat to add signatures).")
@checkpoint_key_option
@ledger_url_option
@ledger_key_option
@witness_policy_option
@dry_run_option
@common
def shipment_import(
    file: str,
    key_paths: tuple[str, ...],
    checkpoint_key: str | None,
    ledger_url: str | None,
    ledger_key: str | None,
    witness_policy: str | None,
    dry_run: bool,
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
                statement = kinds.from_document(p.document)
            except ProvenanceError as exc:
                raise type(exc)(f"{label}: {exc.message}", hint=exc.hint) from exc
            envelopes.append(sign(statement, signers))
            advance(1)
    write = Write(
        key_paths,
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
        results, size = append_many_remote(write, envelopes, labels)
    else:
        with write.open() as ledger, progress_bar("appending", len(envelopes)) as advance:
            results = ledger.import_envelopes(envelopes, labels=labels, progress=advance)
            size = ledger.size()
    added = [r for r in results if not r.duplicate]
    data: dict[str, Any] = {
        "shipments": len(results),
        "appended": len(added),
        "duplicates": len(results) - len(added),
        "first": results[0].seq,
        "last": results[-1].seq,
        "size": size,
    }
    if dry_run:
        data["dry_run"] = True
    would = "would be appended" if dry_run else "appended"
    first, last = results[0].seq, results[-1].seq
    where = f"entry {first}" if first == last else f"entries {first}-{last}"
    emit(
        as_json,
        data,
        f"{'dry run: ' if dry_run else ''}imported {counted(len(results), 'shipment')} "
        f"from {source}: "
        f"{len(added)} {would} ({where}), {data['duplicates']} already present; "
        + ("nothing written" if dry_run else f"tree size {size}"),
    )


@shipment_group.command("show")
@click.argument("shipment_id")
@reads
def shipment_show(shipment_id: str, read: Read, as_json: bool) -> None:
    """A shipment: declaration, items, serials and where each is now, receipts, end use.

    With --ledger URL (and --key of one of its parties, an auditor or a regulator) the
    shipment's entry is verified against the ledger's pinned key.
    """
    if read.ledger:
        with read.remote() as remote:
            data = remote.shipment(shipment_id)
    else:
        data = query(read.db, lambda ledger: queries.shipment(ledger, shipment_id))

    def human() -> None:
        status = data.get("status", "registered")
        version = data.get("version_seq", data["seq"])
        click.echo(
            f"shipment {data['id']} (entry {data['seq']}), shipped {data['ship_date']} by "
            f"{data['exporter']}"
            + {
                "registered": "",
                "amended": f", amended: facts of entry {version}",
                "void": f", VOID (entry {data.get('voided_seq')}): not judged, not an export",
            }[status]
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
        history = data.get("history", [])
        if len(history) > 1:
            click.echo("  history:")
            for h in history:
                if "superseded_by" in h:
                    mark = f"superseded by entry {h['superseded_by']}"
                elif "voided_by" in h:
                    mark = f"voided by entry {h['voided_by']}"
                else:
                    mark = "in force" if h["kind"] != "shipment-void" else "void"
                click.echo(f"    entry {h['seq']} {h['kind']} by {h['signer']} ({mark})")
                if "reason" in h:
                    click.echo(f"      reason: {h['reason']}")

    emit(as_json, data, human)


@shipment_group.command("list")
@click.option("--exporter", default=None, help="Only this exporter's shipments.")
@click.option("--destination", default=None, metavar="CC", help="Only to this country.")
@date_option("--from", "since", help="Shipped on or after this date (YYYY-MM-DD).")
@date_option("--to", "until", help="Shipped on or before this date (YYYY-MM-DD).")
@limit_option
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
    filters: dict[str, Any] = {
        "exporter": exporter,
        "destination": destination,
        "since": since.date() if since else None,
        "until": until.date() if until else None,
    }
    with Ledger.open(db) as ledger:
        rows = queries.shipments(ledger, **filters, limit=limit)
        total = len(rows) if limit is None else queries.shipment_count(ledger, **filters)

    def human() -> None:
        for s in rows:
            click.echo(
                f"{s['ship_date']}  {s['id']:<20} {s['exporter']:<18} -> {s['destination']} "
                f"{s['consignee']:<18} {s['units']:>4} units  license {s['license'] or '-'}"
                + ("  (void)" if s.get("status") == "void" else "")
            )
        click.echo(listed(len(rows), total, "shipment"))

    emit(as_json, rows, human)


@click.group("license")
def license_group() -> None:
    """Export licenses, issued by a regulator."""


@license_group.command("issue")
@click.argument("file")
@writes
def license_issue(file: str, write: Write) -> None:
    """Append the license in FILE (YAML/JSON), signed by the regulator.

    Fields: id, exporter, consignee and/or end_user (optional), destination, eccns,
    products (optional), max_quantity, max_value {amount, currency}, max_tpp
    (each optional), valid_from, valid_until, conditions.
    """
    statement = statement_from(file, "license")
    sign_and_append(statement, write)


@license_group.command("list")
@click.option("--exporter", default=None, help="Only this exporter's licenses.")
@click.option("--destination", default=None, metavar="CC", help="Only to this country.")
@date_option("--valid-on", "valid_on", help="Only licenses valid on this date (YYYY-MM-DD).")
@limit_option
@common
def license_list(
    exporter: str | None,
    destination: str | None,
    valid_on: dt.datetime | None,
    limit: int | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Licenses, in the order issued: exporter, destination, ECCNs, validity and how many
    shipments cite each (`license show ID` for one, with its caps and conditions)."""
    day = valid_on.date() if valid_on else None
    every = query(
        db,
        lambda ledger: queries.licenses(
            ledger, exporter=exporter, destination=destination, valid_on=day
        ),
    )
    rows, total = limited(every, limit)

    def human() -> None:
        for r in rows:
            click.echo(
                f"{r['id']:<20} {r['exporter']:<18} -> {r['destination']}  "
                f"{' '.join(r['eccns']):<18} {r['valid_from']} to {r['valid_until']}  "
                f"cited by {counted(r['cited_by'], 'shipment')}"
            )
        click.echo(listed(len(rows), total, "license"))

    emit(as_json, rows, human)


@license_group.command("show")
@click.argument("license_id")
@common
def license_show(license_id: str, db: str | None, as_json: bool) -> None:
    """A license and the shipments that cite it."""
    data = query(db, lambda ledger: queries.license_record(ledger, license_id))

    def human() -> None:
        caps = [
            f"{data['max_quantity']} units" if data["max_quantity"] else None,
            f"{data['max_value']['amount']} {data['max_value']['currency']}"
            if data["max_value"]
            else None,
            f"TPP {data['max_tpp']}" if data["max_tpp"] else None,
        ]
        click.echo(f"{data['id']}: issued by {data['regulator']} at entry {data['seq']}")
        click.echo(f"  exporter:     {data['exporter']} -> {data['destination']}")
        click.echo(
            f"  parties:      consignee {data['consignee'] or 'any'}, "
            f"end user {data['end_user'] or 'any'}"
        )
        click.echo(f"  covers:       {', '.join(data['eccns'])} {', '.join(data['products'])}")
        click.echo(f"  caps:         {', '.join(c for c in caps if c) or 'none'}")
        click.echo(f"  valid:        {data['valid_from']} to {data['valid_until']}")
        for condition in data["conditions"]:
            click.echo(f"  condition:    {condition}")
        click.echo(f"  cited by:     {', '.join(data['shipments']) or 'no shipment yet'}")

    emit(as_json, data, human)


@click.command("chip")
@click.argument("serial")
@reads
def chip(serial: str, read: Read, as_json: bool) -> None:
    """A chip's custody state and whole history, every entry verified.

    Lists the manufacture, each shipment, receipt, end-use statement and
    inspection that names SERIAL, in date order, each with its entry number and
    signer; every entry's signature is checked against its signer's registered
    key and its inclusion proved against the latest signed checkpoint. With --ledger URL
    (and --key) the history holds the entries that key may read, each receipt verified
    here against the ledger's pinned key.
    """
    if read.ledger:
        with read.remote() as remote:
            data = remote.chip(serial)
    else:
        with Ledger.open(read.db) as ledger:
            data = queries.chip(ledger, serial)
            data["observed"] = queries.devices_seen(ledger, serial)
            data["flags"] = [
                f for s in data["shipments"] for f in queries.flags(ledger, shipment=s)
            ]

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
            if "superseded_by" in h:
                click.echo(f"{'':<14}superseded by entry {h['superseded_by']}")
            elif "voided_by" in h:
                click.echo(f"{'':<14}voided by entry {h['voided_by']}")
        flags = data.get("flags", [])
        if flags:
            click.echo(f"red flags on its shipments ({len(flags)}):")
        for f in flags:
            click.echo(
                f"  {f['severity'].upper():<8} {f['rule']} [{f['id']}] {f['status']}, "
                f"{f['subject'].removeprefix('shipment/')}: {f['message']}"
            )

    emit(as_json, data, human)
