"""Projections: the query tables derived from the entries, one handler per kind.

A handler receives an accepted statement (already verified and authorised) and
writes the rows that make it queryable. It may also refuse it, with an
`InputError` naming the field, when the statement contradicts what the ledger
already holds (an unknown party, a serial registered twice); the append's
transaction then writes nothing.

Every projection is rebuilt from the entries by `replay`, and a test checks
the result equals what the appends wrote.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, bindparam, delete, insert, inspect, select, update
from sqlalchemy.engine import Connection, CursorResult, Row

from provenance.errors import AuthorizationError, InputError
from provenance.ledger.database import in_chunks
from provenance.ledger.projections.tables import (
    ChipRow,
    DeterminationItemRow,
    DeterminationRow,
    EndUseRow,
    EndUseScopeRow,
    FlagRow,
    InspectionDeviceRow,
    InspectionRow,
    InspectionSerialRow,
    LicenseRow,
    PartyKeyRow,
    PartyRow,
    ProductRow,
    ProductVersionRow,
    ReceiptRow,
    ReceiptSerialRow,
    ResolutionRow,
    ScreeningHitRow,
    ScreeningSnapshotRow,
    ShipmentItemRow,
    ShipmentRow,
    ShipmentSerialRow,
)
from provenance.ledger.tables import Base
from provenance.statements.authority import Directory, KeyRecord, Signer
from provenance.statements.payloads import (
    DeterminationStatement,
    EndUseStatement,
    InspectionStatement,
    LicenseStatement,
    ManufactureStatement,
    PartyStatement,
    ProductStatement,
    ReceiptStatement,
    ResolutionStatement,
    ScreeningListStatement,
    ShipmentStatement,
    Statement,
)


@dataclass(frozen=True)
class Accepted:
    """A statement the ledger accepted as entry `seq`."""

    seq: int
    kind: str
    statement: Statement
    signer: Signer
    integrated_at: dt.datetime


class Writer:
    """The append's connection, with inserts and row updates batched.

    Handlers add rows with `insert` and queue per-row updates with `update_rows`;
    both are written in bulk by `flush`, which runs before any other statement
    (`execute`), so reads always see every change made before them. Pending
    inserts are written before pending updates; an insert into a table that has
    updates pending flushes first, so the order handlers asked for is kept.

    `known` answers "does this key exist?" for primary keys prefetched in bulk
    with `prefetch` (and for rows inserted since), so that a handler's check for
    a duplicate id needs no query, and no flush, per statement.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pending: dict[type[Base], list[dict[str, Any]]] = {}
        self._updates: list[tuple[type[Base], Executable, list[dict[str, Any]]]] = []
        self._keys: dict[type[Base], set[str]] = {}
        self._asked: dict[type[Base], set[str]] = {}
        self.cache: dict[str, Any] = {}
        """What `prefetch` loaded for the handlers of this batch."""

    def insert(self, model: type[Base], row: dict[str, Any]) -> None:
        if any(m is model for m, _, _ in self._updates):
            self.flush()
        self._pending.setdefault(model, []).append(row)
        keys = self._keys.get(model)
        if keys is not None:
            keys.add(row[_key_column(model)])

    def update_rows(
        self, model: type[Base], statement: Executable, params: list[dict[str, Any]]
    ) -> None:
        """Queue an UPDATE with bound parameters, run once per params dict (executemany)."""
        if not params:
            return
        last = self._updates[-1] if self._updates else None
        if last is not None and last[1] is statement:
            last[2].extend(params)
        else:
            self._updates.append((model, statement, list(params)))

    def execute(self, statement: Executable) -> CursorResult[Any]:
        self.flush()
        return self.conn.execute(statement)

    def flush(self) -> None:
        """Write pending rows, tables in the order they were first used (parents first),
        then the pending updates in the order they were queued."""
        pending, self._pending = self._pending, {}
        for model, rows in pending.items():
            self.conn.execute(insert(model), rows)
        updates, self._updates = self._updates, []
        for _, statement, params in updates:
            self.conn.execute(statement, params)

    def prefetch(self, model: type[Base], keys: Iterable[str]) -> None:
        """Learn which of these primary keys exist (one query per IN_CHUNK keys)."""
        known = self._keys.setdefault(model, set())
        wanted = [k for k in dict.fromkeys(keys) if k not in known]
        column = getattr(model, _key_column(model))
        self.flush()
        for chunk in in_chunks(wanted):
            known.update(self.conn.execute(select(column).where(column.in_(chunk))).scalars())
        self._asked.setdefault(model, set()).update(wanted)

    def known(self, model: type[Base], key: str) -> bool | None:
        """True/False when `prefetch` covered this key; None when it did not."""
        if key in self._keys.get(model, ()):
            return True
        return False if key in self._asked.get(model, ()) else None


def _key_column(model: type[Base]) -> str:
    (column,) = inspect(model).primary_key
    return str(column.key)


Handler = Callable[[Writer, Accepted, Directory], None]
HANDLERS: dict[str, Handler] = {}


def handles(*kinds: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for kind in kinds:
            HANDLERS[kind] = handler
        return handler

    return register


def prefetch(writer: Writer, statements: Iterable[Statement | None]) -> None:
    """Before a batch: learn in bulk what its handlers would otherwise query one by one
    (which ids already exist; the shipments determinations speak of, and their flags)."""
    batch = list(statements)
    shipment_ids = [s.id for s in batch if isinstance(s, ShipmentStatement)]
    if shipment_ids:
        writer.prefetch(ShipmentRow, shipment_ids)
    judged = sorted({s.shipment for s in batch if isinstance(s, DeterminationStatement)})
    if judged:
        seqs: dict[str, int] = {}
        raised: dict[str, set[tuple[str, int | None]]] = {f"shipment/{s}": set() for s in judged}
        writer.flush()
        for chunk in in_chunks(judged):
            rows = writer.conn.execute(
                select(ShipmentRow.id, ShipmentRow.seq).where(ShipmentRow.id.in_(chunk))
            )
            seqs.update((r.id, r.seq) for r in rows)
            subjects = [f"shipment/{s}" for s in chunk]
            for r in writer.conn.execute(
                select(FlagRow.subject, FlagRow.rule, FlagRow.line).where(
                    FlagRow.subject.in_(subjects)
                )
            ):
                raised[r.subject].add((r.rule, r.line))
        writer.cache["shipment_seqs"] = seqs
        writer.cache["raised_flags"] = raised


def project(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    """Apply one accepted statement to the projections (and to `directory`)."""
    handler = HANDLERS.get(accepted.kind)
    if handler is not None:
        handler(writer, accepted, directory)


PROJECTION_TABLES: list[str] = [
    "subjects",
    "resolutions",
    "product_versions",
    "determination_items",
    "determinations",
    "flags",
    "screening_hits",
    "screening_snapshots",
    "licenses",
    "inspection_devices",
    "inspection_serials",
    "inspections",
    "end_use_scope",
    "end_uses",
    "receipt_serials",
    "receipts",
    "shipment_serials",
    "shipment_items",
    "shipments",
    "chips",
    "products",
    "party_keys",
    "parties",
]
"""Every projection table, children before parents (the order replay clears them in)."""


def subject_rows(seq: int, statement: Statement) -> list[dict[str, object]]:
    """Rows of the `subjects` index for one entry (written with the entry, in bulk)."""
    return [
        {"name": name, "seq": seq} for name in dict.fromkeys(n for n, _ in statement.subjects())
    ]


def clear(conn: Connection) -> None:
    """Delete every projection row (replay rebuilds them)."""
    for name in PROJECTION_TABLES:
        conn.execute(delete(Base.metadata.tables[name]))


# --- parties and keys ----------------------------------------------------------------


@handles("party", "key", "key-rotation", "key-revocation")
def _keys(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    statement = accepted.statement
    if isinstance(statement, PartyStatement):
        _write_party(writer, statement, accepted.seq, directory)
    for record in directory.apply(statement, accepted.seq):
        _write_key(writer, record)


def _write_party(writer: Writer, statement: PartyStatement, seq: int, directory: Directory) -> None:
    values = {
        "name": statement.name,
        "roles": " ".join(sorted(statement.roles)),
        "country": statement.country,
        "headquarters": statement.headquarters,
        "address": statement.address,
        "updated_seq": seq,
    }
    if directory.party(statement.id) is None:
        writer.insert(PartyRow, {"id": statement.id, "registered_seq": seq, **values})
    else:
        writer.execute(update(PartyRow).where(PartyRow.id == statement.id).values(values))


def _write_key(writer: Writer, record: KeyRecord) -> None:
    values = {
        "party_id": record.party,
        "algorithm": str(record.verifying.algorithm),
        "public_key": record.verifying.der(),
        "registered_seq": record.registered_seq,
        "revoked_seq": record.revoked_seq,
        "revocation_reason": record.reason,
    }
    if record.revoked_seq is None:
        writer.insert(PartyKeyRow, {"keyid": record.keyid, **values})
    else:
        writer.execute(update(PartyKeyRow).where(PartyKeyRow.keyid == record.keyid).values(values))


# --- helpers for the trade statements -------------------------------------------------


def _refused(kind: str, field: str, message: str, hint: str | None = None) -> InputError:
    return InputError(f"{kind}: {field}: {message}", hint=hint)


def _require_party(kind: str, field: str, party_id: str | None, directory: Directory) -> None:
    if party_id is not None and directory.party(party_id) is None:
        raise _refused(
            kind, field, f"unknown party {party_id!r}", hint="register it with `party register`"
        )


_CUSTODY: dict[tuple[str, ...], Executable] = {
    fields: update(ChipRow)
    .where(ChipRow.serial == bindparam("b_serial"))
    .values({f: bindparam(f"b_{f}") for f in fields})
    for fields in (
        ("state", "state_seq"),
        ("state", "state_seq", "country"),
        ("state", "state_seq", "country", "shipment_id"),
    )
}
"""The custody updates, one prepared statement per set of columns (run as executemany)."""


def _set_custody(
    writer: Writer, serials: Sequence[str], seq: int, state: str, **values: object
) -> None:
    """Move registered serials to a custody state (unregistered ones are left to the rules)."""
    fields = ("state", "state_seq", *sorted(values))
    statement = _CUSTODY[fields]
    common = {f"b_{k}": v for k, v in {"state": state, "state_seq": seq, **values}.items()}
    writer.update_rows(ChipRow, statement, [{"b_serial": s, **common} for s in serials])


def _shipment(writer: Writer, kind: str, field: str, shipment_id: str) -> Row[Any]:
    """The shipment's row (its columns by name)."""
    row = writer.execute(select(ShipmentRow.__table__).where(ShipmentRow.id == shipment_id)).first()
    if row is None:
        raise _refused(kind, field, f"unknown shipment {shipment_id!r}")
    return row


# --- products and the serial registry ---------------------------------------------------


@handles("product")
def _product(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ProductStatement)
    values = {
        "vendor": statement.vendor,
        "model": statement.model,
        "tpp": format(statement.tpp, "f"),
        "performance_density": _text(statement.performance_density),
        "die_area_mm2": _text(statement.die_area_mm2),
        "datacenter": statement.datacenter,
        "interconnect_gbps": statement.interconnect_gbps,
        "memory_bandwidth_gbps": statement.memory_bandwidth_gbps,
        "names": json.dumps(statement.names, ensure_ascii=False),
        "pci_device_ids": " ".join(statement.pci_device_ids),
        "hs_codes": " ".join(statement.hs_codes),
        "reference_price": _text(statement.reference_price and statement.reference_price.amount),
        "reference_currency": statement.reference_price and statement.reference_price.currency,
        "updated_seq": accepted.seq,
    }
    writer.insert(
        ProductVersionRow, {"id": statement.id, "seq": accepted.seq, "tpp": values["tpp"]}
    )
    known = writer.execute(select(ProductRow.id).where(ProductRow.id == statement.id)).first()
    if known is None:
        writer.insert(ProductRow, {"id": statement.id, "registered_seq": accepted.seq, **values})
    else:
        writer.execute(update(ProductRow).where(ProductRow.id == statement.id).values(values))


def _text(value: object) -> str | None:
    return None if value is None else format(value, "f")


@handles("manufacture")
def _manufacture(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ManufactureStatement)
    kind = accepted.kind
    product = writer.execute(select(ProductRow.id).where(ProductRow.id == statement.product))
    if product.first() is None:
        raise _refused(
            kind,
            "product",
            f"{statement.product!r} is not in the catalog",
            hint="`provenance product list` shows the known ids; "
            "`provenance product import` adds one",
        )
    position = {serial: i for i, serial in enumerate(statement.serials)}
    for chunk in in_chunks(statement.serials):
        taken = writer.execute(
            select(ChipRow.serial, ChipRow.product_id, ChipRow.manufactured_seq).where(
                ChipRow.serial.in_(chunk)
            )
        ).first()
        if taken is not None:
            raise _refused(
                kind,
                f"serials[{position[taken.serial]}]",
                f"serial {taken.serial!r} is already registered to {taken.product_id} "
                f"(entry {taken.manufactured_seq}); a serial belongs to one product for life",
            )
    for serial in statement.serials:
        writer.insert(
            ChipRow,
            {
                "serial": serial,
                "product_id": statement.product,
                "manufacturer": accepted.signer.party,
                "manufactured_seq": accepted.seq,
                "manufacture_date": statement.date,
                "made_in": statement.site,
                "state": "manufactured",
                "state_seq": accepted.seq,
                "shipment_id": None,
                "country": statement.site,
            },
        )


# --- shipments and receipts ---------------------------------------------------------------


@handles("shipment")
def _shipment_statement(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ShipmentStatement)
    kind = accepted.kind
    for field in ("exporter", "consignee", "end_user", "forwarder"):
        _require_party(kind, field, getattr(statement, field), directory)
    if accepted.signer.party != statement.exporter:
        raise AuthorizationError(
            f"shipment: exporter: the shipment names {statement.exporter!r} as exporter "
            f"but is signed by {accepted.signer.party!r}",
            hint="an exporter signs its own shipments",
        )
    if writer.known(ShipmentRow, statement.id) is not False:
        known = writer.execute(
            select(ShipmentRow.seq).where(ShipmentRow.id == statement.id)
        ).first()
        if known is not None:
            raise _refused(kind, "id", f"shipment {statement.id!r} is already entry {known.seq}")
    writer.insert(
        ShipmentRow,
        {
            "id": statement.id,
            "seq": accepted.seq,
            "exporter": statement.exporter,
            "consignee": statement.consignee,
            "end_user": statement.end_user,
            "forwarder": statement.forwarder,
            "ship_date": statement.ship_date,
            "destination": statement.destination,
            "route": " ".join(statement.route),
            "license": statement.license,
            "units": sum(item.quantity for item in statement.items),
        },
    )
    for line, item in enumerate(statement.items):
        writer.insert(
            ShipmentItemRow,
            {
                "shipment_id": statement.id,
                "line": line,
                "product": item.product,
                "description": item.description,
                "hs_code": item.hs_code,
                "quantity": item.quantity,
                "unit_value": format(item.unit_value.amount, "f"),
                "currency": item.unit_value.currency,
            },
        )
        for serial in item.serials:
            writer.insert(
                ShipmentSerialRow, {"shipment_id": statement.id, "serial": serial, "line": line}
            )
    _set_custody(
        writer, statement.serials(), accepted.seq, "shipped", shipment_id=statement.id, country=None
    )


@handles("receipt")
def _receipt(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ReceiptStatement)
    kind = accepted.kind
    shipment = _shipment(writer, kind, "shipment", statement.shipment)
    if accepted.signer.party not in (shipment.consignee, shipment.end_user):
        raise AuthorizationError(
            f"receipt: shipment: {accepted.signer.party!r} is neither the consignee "
            f"({shipment.consignee}) nor the end user ({shipment.end_user}) of shipment "
            f"{shipment.id!r}"
        )
    if statement.date < shipment.ship_date:
        raise _refused(
            kind,
            "date",
            f"received {statement.date}, before the shipment's ship_date {shipment.ship_date}",
        )
    carried = set(
        writer.execute(
            select(ShipmentSerialRow.serial).where(ShipmentSerialRow.shipment_id == shipment.id)
        ).scalars()
    )
    writer.insert(
        ReceiptRow,
        {
            "seq": accepted.seq,
            "shipment_id": shipment.id,
            "party": accepted.signer.party,
            "date": statement.date,
            "country": statement.country,
            "site": statement.site,
        },
    )
    for serial in statement.serials:
        writer.insert(
            ReceiptSerialRow,
            {"seq": accepted.seq, "serial": serial, "carried": serial in carried},
        )
    received = [s for s in statement.serials if s in carried]
    _set_custody(writer, received, accepted.seq, "received", country=statement.country)


# --- end use, inspections, licenses -------------------------------------------------------


@handles("end-use")
def _end_use(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, EndUseStatement)
    kind = accepted.kind
    for i, shipment_id in enumerate(statement.shipments):
        shipment = _shipment(writer, kind, f"shipments[{i}]", shipment_id)
        if accepted.signer.party != shipment.end_user:
            raise AuthorizationError(
                f"end-use: shipments[{i}]: the end user of shipment {shipment_id!r} is "
                f"{shipment.end_user!r}, not the signer {accepted.signer.party!r}"
            )
    site, certs = statement.site, statement.certifications
    writer.insert(
        EndUseRow,
        {
            "seq": accepted.seq,
            "party": accepted.signer.party,
            "date": statement.date,
            "end_use": statement.end_use,
            "sector": statement.sector,
            "country": site.country,
            "facility": site.facility,
            "address": site.address,
            "facility_power_mw": format(statement.facility_power_mw, "f"),
            "no_military": certs.no_military,
            "no_wmd": certs.no_wmd,
            "no_reexport": certs.no_reexport,
            "no_restricted_hq_access": certs.no_restricted_hq_access,
            "valid_until": statement.valid_until,
        },
    )
    for scope, refs in (("shipment", statement.shipments), ("serial", statement.serials)):
        for ref in refs:
            writer.insert(EndUseScopeRow, {"seq": accepted.seq, "kind": scope, "ref": ref})


@handles("inspection")
def _inspection(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, InspectionStatement)
    site = statement.site
    writer.insert(
        InspectionRow,
        {
            "seq": accepted.seq,
            "auditor": accepted.signer.party,
            "date": statement.date,
            "country": site.country,
            "facility": site.facility,
            "address": site.address,
            "findings": json.dumps(statement.findings, ensure_ascii=False),
            "evidence_files": len(statement.evidence),
        },
    )
    seen = statement.seen()
    for status, serials in (("seen", seen), ("missing", statement.serials_missing)):
        for serial in serials:
            writer.insert(
                InspectionSerialRow, {"seq": accepted.seq, "serial": serial, "status": status}
            )
    position = 0
    for evidence in statement.evidence:
        for device in evidence.devices:
            writer.insert(
                InspectionDeviceRow,
                {
                    "seq": accepted.seq,
                    "position": position,
                    "file_sha256": evidence.sha256,
                    "serial": device.serial,
                    "product_name": device.product_name,
                    "pci_device_id": device.pci_device_id,
                    "board_part_number": device.board_part_number,
                    "uuid": device.uuid,
                },
            )
            position += 1
    _set_custody(writer, seen, accepted.seq, "inspected", country=site.country)
    _set_custody(writer, statement.serials_missing, accepted.seq, "missing")


@handles("license")
def _license(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, LicenseStatement)
    kind = accepted.kind
    for field in ("exporter", "consignee", "end_user"):
        _require_party(kind, field, getattr(statement, field), directory)
    known = writer.execute(select(LicenseRow.seq).where(LicenseRow.id == statement.id)).first()
    if known is not None:
        raise _refused(kind, "id", f"license {statement.id!r} is already entry {known.seq}")
    writer.insert(
        LicenseRow,
        {
            "id": statement.id,
            "seq": accepted.seq,
            "regulator": accepted.signer.party,
            "exporter": statement.exporter,
            "consignee": statement.consignee,
            "end_user": statement.end_user,
            "destination": statement.destination,
            "eccns": " ".join(statement.eccns),
            "products": " ".join(statement.products),
            "max_quantity": statement.max_quantity,
            "max_value": _text(statement.max_value and statement.max_value.amount),
            "max_value_currency": statement.max_value and statement.max_value.currency,
            "max_tpp": _text(statement.max_tpp),
            "valid_from": statement.valid_from,
            "valid_until": statement.valid_until,
            "conditions": json.dumps(statement.conditions, ensure_ascii=False),
        },
    )


# --- screening snapshots and the flags they raise ----------------------------------------


def flag_id(seq: int, position: int) -> str:
    """A flag's id: the entry that raised it and its place there, e.g. `F-1042-3`."""
    return f"F-{seq}-{position}"


@handles("screening-list")
def _screening_list(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ScreeningListStatement)
    known = writer.execute(
        select(ScreeningSnapshotRow.seq).where(ScreeningSnapshotRow.digest == statement.digest)
    ).first()
    if known is not None:
        raise _refused(accepted.kind, "digest", f"this list is already snapshot entry {known.seq}")
    writer.insert(
        ScreeningSnapshotRow,
        {
            "seq": accepted.seq,
            "digest": statement.digest,
            "file": statement.file,
            "format": statement.format,
            "date": statement.date,
            "total": statement.total,
            "counts": json.dumps(statement.counts, sort_keys=True),
            "policy": json.dumps({k: format(v, "f") for k, v in statement.policy.items()}),
            "parties_screened": statement.parties_screened,
        },
    )
    for position, hit in enumerate(statement.hits):
        writer.insert(
            ScreeningHitRow,
            {
                "seq": accepted.seq,
                "position": position,
                "party": hit.party,
                "score": format(hit.score, "f"),
                "source": hit.source,
                "entity_number": hit.entity_number,
                "matched_name": hit.matched_name,
                "new": hit.new,
            },
        )
        if not hit.new:
            continue
        number = f" {hit.entity_number}" if hit.entity_number else ""
        writer.insert(
            FlagRow,
            _flag_row(
                flag_id(accepted.seq, position),
                rule=f"screening.{hit.source.lower()}",
                severity=hit.severity,
                subject=f"party/{hit.party}",
                line=None,
                message=(
                    f"party {hit.party} ({hit.name}) matches {hit.list_name} entry{number}: "
                    f"{hit.matched_name!r}, score {hit.score}"
                ),
                facts=hit.model_dump(mode="json"),
                seq=accepted.seq,
                on=statement.date,
            ),
        )


def _flag_row(
    flag: str,
    *,
    rule: str,
    severity: str,
    subject: str,
    line: int | None,
    message: str,
    facts: dict[str, Any],
    seq: int,
    on: dt.date,
) -> dict[str, Any]:
    return {
        "id": flag,
        "rule": rule,
        "severity": severity,
        "subject": subject,
        "line": line,
        "message": message,
        "facts": json.dumps(facts, sort_keys=True, ensure_ascii=False),
        "raised_seq": seq,
        "raised_on": on,
        "status": "open",
        "resolved_seq": None,
        "resolved_by": None,
        "resolution": None,
    }


@handles("determination")
def _determination(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, DeterminationStatement)
    known = writer.cache.get("shipment_seqs", {})
    if statement.shipment in known:
        shipment_seq = known[statement.shipment]
    else:
        shipment_seq = _shipment(writer, accepted.kind, "shipment", statement.shipment).seq
    if shipment_seq != statement.shipment_seq:
        raise _refused(
            accepted.kind,
            "shipment_seq",
            f"shipment {statement.shipment!r} is entry {shipment_seq}, "
            f"not {statement.shipment_seq}",
        )
    writer.insert(
        DeterminationRow,
        {
            "seq": accepted.seq,
            "shipment_id": statement.shipment,
            "pack_id": statement.pack.id,
            "pack_digest": statement.pack.digest,
            "screening_list": statement.screening_list,
            "evaluated_on": statement.evaluated_on,
            "verdict": statement.verdict,
            "items": json.dumps(statement.items, sort_keys=True, ensure_ascii=False),
            "flags": len(statement.flags),
        },
    )
    for item in statement.items:
        writer.insert(
            DeterminationItemRow,
            {
                "seq": accepted.seq,
                "line": item.get("line", 0),
                "shipment_id": statement.shipment,
                "product": str(item.get("product", "")),
                "eccn": str(item.get("eccn", "")),
                "quantity": int(item.get("quantity", 0)),
                "tpp": str(item.get("tpp", "0")),
                "license_required": bool(item.get("license_required")),
                "policy": item.get("policy"),
            },
        )
    subject_name = f"shipment/{statement.shipment}"
    cached = writer.cache.get("raised_flags", {})
    if subject_name in cached:
        raised: set[tuple[str, int | None]] = cached[subject_name]
    else:
        raised = {
            (row.rule, row.line)
            for row in writer.execute(
                select(FlagRow.rule, FlagRow.line).where(FlagRow.subject == subject_name)
            )
        }
    for position, flag in enumerate(statement.flags):
        key = (flag.rule, flag.line)
        if key in raised:
            continue  # raised by an earlier determination: one flag, one resolution
        raised.add(key)
        writer.insert(
            FlagRow,
            _flag_row(
                flag_id(accepted.seq, position),
                rule=flag.rule,
                severity=flag.severity,
                subject=subject_name,
                line=flag.line,
                message=flag.message,
                facts=flag.facts,
                seq=accepted.seq,
                on=statement.evaluated_on,
            ),
        )


@handles("resolution")
def _resolution(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ResolutionStatement)
    found = writer.execute(
        select(FlagRow.subject, FlagRow.status).where(FlagRow.id == statement.flag)
    ).first()
    if found is None:
        raise _refused(
            accepted.kind, "flag", f"unknown flag {statement.flag!r}", hint="provenance flag list"
        )
    signer = directory.party(accepted.signer.party)
    if signer is None or "regulator" not in signer.roles:
        owner = None
        if found.subject.startswith("shipment/"):
            owner = writer.execute(
                select(ShipmentRow.exporter).where(
                    ShipmentRow.id == found.subject.removeprefix("shipment/")
                )
            ).scalar()
        if owner != accepted.signer.party:
            raise AuthorizationError(
                f"resolution: flag: {statement.flag} is about {found.subject}; only a regulator "
                f"or that shipment's exporter may resolve it, not {accepted.signer.party!r}"
            )
    writer.insert(
        ResolutionRow,
        {
            "seq": accepted.seq,
            "flag_id": statement.flag,
            "status": statement.status,
            "party": accepted.signer.party,
            "reason": statement.reason,
        },
    )
    writer.execute(
        update(FlagRow)
        .where(FlagRow.id == statement.flag)
        .values(
            status=statement.status,
            resolved_seq=accepted.seq,
            resolved_by=accepted.signer.party,
            resolution=statement.reason,
        )
    )
