"""Read-side queries over the projections, returned as JSON-ready dicts.

The projections find things fast; what a query reports about an entry (its
signer, its statement) is re-read from the entry itself, whose signature and
inclusion proof are checked before it is shown (`verified_entry`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from provenance.crypto.envelope import verified_keyids
from provenance.crypto.keys import VerifyingKey, load_public
from provenance.errors import IntegrityError, NotFoundError, ProvenanceError
from provenance.ledger.access import Reader, visible
from provenance.ledger.log import Ledger
from provenance.ledger.projections.tables import (
    ChipRow,
    FlagRow,
    InspectionDeviceRow,
    LicenseRow,
    PartyKeyRow,
    PartyRow,
    ProductRow,
    ReceiptRow,
    ReceiptSerialRow,
    ShipmentItemRow,
    ShipmentRow,
    ShipmentSerialRow,
    ShipmentVersionRow,
    ShipmentVersionSerialRow,
    SubjectRow,
)
from provenance.ledger.tables import Entry
from provenance.offline.entries import ParsedEntry, Receipt
from provenance.statements import kinds
from provenance.statements.catalog import did_you_mean


def _party_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "roles": row.roles.split(),
        "country": row.country,
        "headquarters": row.headquarters,
        "address": row.address,
        "registered_seq": row.registered_seq,
        "updated_seq": row.updated_seq,
    }


def party(ledger: Ledger, party_id: str) -> dict[str, Any]:
    """A party and its keys."""
    with ledger.store.read() as conn:
        row = conn.execute(select(PartyRow.__table__).where(PartyRow.id == party_id)).first()
        if row is None:
            raise NotFoundError(f"no party {party_id!r}", hint="provenance party list")
        key_rows = conn.execute(
            select(PartyKeyRow.__table__)
            .where(PartyKeyRow.party_id == party_id)
            .order_by(PartyKeyRow.registered_seq)
        ).all()
    data = _party_dict(row)
    data["keys"] = [
        {
            "keyid": k.keyid,
            "algorithm": k.algorithm,
            "registered_seq": k.registered_seq,
            "revoked_seq": k.revoked_seq,
            "revocation_reason": k.revocation_reason,
        }
        for k in key_rows
    ]
    return data


def parties(ledger: Ledger) -> list[dict[str, Any]]:
    with ledger.store.read() as conn:
        rows = conn.execute(select(PartyRow.__table__).order_by(PartyRow.id)).all()
    return [_party_dict(r) for r in rows]


# --- verified entries ------------------------------------------------------------------


def verified_entry(ledger: Ledger, seq: int, size: int | None = None) -> dict[str, Any]:
    """Entry `seq` with its signature checked against the signer's registered keys and
    its inclusion in the signed checkpoint proved; raises IntegrityError when either fails."""
    receipt: Receipt = ledger.receipt(seq, size)
    parsed = ParsedEntry.from_leaf(receipt.leaf)  # the leaf the receipt just proved
    row = ledger.entry_row(seq)
    keyids = row.signer_keys.split()
    with ledger.store.read() as conn:
        found = conn.execute(
            select(PartyKeyRow.keyid, PartyKeyRow.algorithm, PartyKeyRow.public_key).where(
                PartyKeyRow.keyid.in_(keyids)
            )
        ).all()
    keys = {k.keyid: VerifyingKey.from_der(bytes(k.public_key)) for k in found}
    if not keys or set(verified_keyids(parsed.envelope, keys)) != set(keyids):
        raise IntegrityError(f"entry {seq}: the signature does not verify with its signer's keys")
    predicate = parsed.statement["predicate"]
    kind = kinds.get(parsed.kind)
    field = kind.date_field
    checkpoint = receipt.checkpoint.checkpoint
    return {
        "seq": seq,
        "kind": parsed.kind,
        "signer": row.signer_party,
        "date": predicate.get(field) if field else None,
        "integrated_at": parsed.integrated_at,
        "summary": kind.summarise(predicate),
        "proof": {
            "verified": True,
            "signature": True,
            "tree_size": checkpoint.size,
            "root": checkpoint.root.hex(),
            "hashes": len(receipt.proof),
        },
        "predicate": predicate,
    }


# --- chips -------------------------------------------------------------------------------


def _chip_entries(conn: Any, serial: str) -> tuple[Any, list[str], set[int], list[str]]:
    """A chip's row (None when it was never registered), the shipments that carry it, the
    entries about it (those naming it, the end-use statements of its shipments, the voids
    of the shipments that carried it) and those shipments, former ones included."""
    row = conn.execute(select(ChipRow.__table__).where(ChipRow.serial == serial)).first()
    shipments = list(
        conn.execute(
            select(ShipmentSerialRow.shipment_id).where(ShipmentSerialRow.serial == serial)
        ).scalars()
    )
    seqs = set(
        conn.execute(select(SubjectRow.seq).where(SubjectRow.name == f"chip/{serial}")).scalars()
    )
    if shipments:
        # End-use statements name shipments; they speak of every chip those carried.
        seqs.update(
            conn.execute(
                select(SubjectRow.seq)
                .join(Entry, Entry.c.seq == SubjectRow.seq)
                .where(
                    and_(
                        SubjectRow.name.in_([f"shipment/{s}" for s in shipments]),
                        Entry.c.kind == "end-use",
                    )
                )
            ).scalars()
        )
    # shipments an amendment took the serial out of, and the voids of its shipments
    former = list(
        conn.execute(
            select(ShipmentVersionRow.shipment_id)
            .join(ShipmentVersionSerialRow, ShipmentVersionSerialRow.seq == ShipmentVersionRow.seq)
            .where(ShipmentVersionSerialRow.serial == serial)
        ).scalars()
    )
    carriers = list(dict.fromkeys([*shipments, *former]))
    if carriers:
        seqs.update(
            conn.execute(
                select(SubjectRow.seq)
                .join(Entry, Entry.c.seq == SubjectRow.seq)
                .where(
                    SubjectRow.name.in_([f"shipment/{s}" for s in carriers]),
                    Entry.c.kind == "shipment-void",
                )
            ).scalars()
        )
    if row is None and not seqs:
        raise NotFoundError(
            f"no chip with serial {serial!r} in the ledger",
            hint="serials are registered by `provenance attest manufacture`",
        )
    return row, shipments, seqs, carriers


def chip_entries(ledger: Ledger, serial: str) -> list[int]:
    """The entries of a chip's history (what `chip` shows), in order."""
    with ledger.store.read() as conn:
        return sorted(_chip_entries(conn, serial)[2])


def shipment_entries(ledger: Ledger, shipment_id: str) -> list[int]:
    """The entries about a shipment, in order: its declaration, its amendments and void, the
    receipts, end-use statements, determinations and flag resolutions that name it."""
    seqs = ledger.entries_about(f"shipment/{shipment_id}")
    if not seqs:
        raise NotFoundError(f"no shipment {shipment_id!r}", hint="provenance shipment list")
    return seqs


def chip(ledger: Ledger, serial: str, size: int | None = None) -> dict[str, Any]:
    """A chip's custody state and whole history, every entry verified (against the
    checkpoint at `size`, default the latest, counting only entries below it)."""
    with ledger.store.read() as conn:
        row, shipments, seqs, carriers = _chip_entries(conn, serial)
        corrected = _corrections(conn, carriers)
    size = size if size is not None else ledger.checkpoint().checkpoint.size
    history = [verified_entry(ledger, seq, size) for seq in sorted(seqs) if seq < size]
    history.sort(key=lambda h: (h["date"] or "", h["seq"]))
    _mark_corrected(history, corrected, size)
    return {
        "serial": serial,
        "product": row.product_id if row else None,
        "registered": row is not None,
        "state": row.state if row else "unregistered",
        "state_seq": row.state_seq if row else None,
        "manufacturer": row.manufacturer if row else None,
        "country": row.country if row else None,
        "shipment": row.shipment_id if row else (shipments[-1] if shipments else None),
        "shipments": shipments,
        "tree_size": size,
        "history": history,
    }


# --- shipments ---------------------------------------------------------------------------

SHIPMENT_KINDS = ("shipment", "shipment-amendment", "shipment-void")
"""The entries that make a shipment's versions."""


def _corrections(conn: Any, shipment_ids: Sequence[str]) -> dict[int, tuple[str, int]]:
    """Entry seq -> ("superseded", amendment seq) or ("voided", void seq): every version
    of these shipments that is no longer in force."""
    if not shipment_ids:
        return {}
    found: dict[int, tuple[str, int]] = {
        r.seq: ("superseded", r.superseded_seq)
        for r in conn.execute(
            select(ShipmentVersionRow.seq, ShipmentVersionRow.superseded_seq).where(
                ShipmentVersionRow.shipment_id.in_(shipment_ids)
            )
        )
    }
    for r in conn.execute(
        select(ShipmentRow.seq, ShipmentRow.version_seq, ShipmentRow.voided_seq).where(
            ShipmentRow.id.in_(shipment_ids), ShipmentRow.voided_seq.is_not(None)
        )
    ):
        found[r.version_seq if r.version_seq is not None else r.seq] = ("voided", r.voided_seq)
    return found


def _mark_corrected(
    history: list[dict[str, Any]], corrected: dict[int, tuple[str, int]], size: int
) -> None:
    """Each shipment version in a history that a later entry (below `size`) superseded or
    voided says so: `superseded_by` or `voided_by`, the entry's seq."""
    for entry in history:
        how = corrected.get(entry["seq"])
        if entry["kind"] in SHIPMENT_KINDS[:2] and how is not None and how[1] < size:
            entry[f"{how[0]}_by"] = how[1]


def _status(row: Any) -> str:
    if row.voided_seq is not None:
        return "void"
    return "amended" if row.version_seq not in (None, row.seq) else "registered"


def _shipment_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "status": _status(row),
        "version_seq": row.version_seq if row.version_seq is not None else row.seq,
        "voided_seq": row.voided_seq,
        "exporter": row.exporter,
        "consignee": row.consignee,
        "end_user": row.end_user,
        "forwarder": row.forwarder,
        "ship_date": row.ship_date.isoformat(),
        "destination": row.destination,
        "route": row.route.split(),
        "license": row.license,
        "units": row.units,
    }


def shipment(ledger: Ledger, shipment_id: str) -> dict[str, Any]:
    """A shipment: its declaration, its items, receipts, and where each serial is now."""
    with ledger.store.read() as conn:
        row = conn.execute(
            select(ShipmentRow.__table__).where(ShipmentRow.id == shipment_id)
        ).first()
        if row is None:
            raise NotFoundError(f"no shipment {shipment_id!r}", hint="provenance shipment list")
        items = conn.execute(
            select(ShipmentItemRow.__table__)
            .where(ShipmentItemRow.shipment_id == shipment_id)
            .order_by(ShipmentItemRow.line)
        ).all()
        serials = conn.execute(
            select(
                ShipmentSerialRow.serial,
                ShipmentSerialRow.line,
                ChipRow.product_id,
                ChipRow.state,
                ChipRow.country,
            )
            .outerjoin(ChipRow, ChipRow.serial == ShipmentSerialRow.serial)
            .where(ShipmentSerialRow.shipment_id == shipment_id)
        ).all()
        receipts = conn.execute(
            select(ReceiptRow.__table__)
            .where(ReceiptRow.shipment_id == shipment_id)
            .order_by(ReceiptRow.seq)
        ).all()
        received = conn.execute(
            select(ReceiptSerialRow.seq, ReceiptSerialRow.serial, ReceiptSerialRow.carried)
            .join(ReceiptRow, ReceiptRow.seq == ReceiptSerialRow.seq)
            .where(ReceiptRow.shipment_id == shipment_id)
        ).all()
        end_uses = list(
            conn.execute(
                select(SubjectRow.seq)
                .join(Entry, Entry.c.seq == SubjectRow.seq)
                .where(SubjectRow.name == f"shipment/{shipment_id}", Entry.c.kind == "end-use")
                .order_by(SubjectRow.seq)
            ).scalars()
        )
        versions = list(
            conn.execute(
                select(SubjectRow.seq)
                .join(Entry, Entry.c.seq == SubjectRow.seq)
                .where(
                    SubjectRow.name == f"shipment/{shipment_id}",
                    Entry.c.kind.in_(SHIPMENT_KINDS),
                )
                .order_by(SubjectRow.seq)
            ).scalars()
        )
        corrected = _corrections(conn, [shipment_id])
    by_line: dict[int, list[dict[str, Any]]] = {}
    for s in serials:
        by_line.setdefault(s.line, []).append(
            {
                "serial": s.serial,
                "registered_product": s.product_id,
                "state": s.state or "unregistered",
                "country": s.country,
            }
        )
    data = _shipment_dict(row)
    data["items"] = [
        {
            "line": item.line,
            "product": item.product,
            "description": item.description,
            "hs_code": item.hs_code,
            "quantity": item.quantity,
            "unit_value": {"amount": item.unit_value, "currency": item.currency},
            "serials": sorted(by_line.get(item.line, []), key=lambda s: s["serial"]),
        }
        for item in items
    ]
    data["receipts"] = [
        {
            "seq": r.seq,
            "party": r.party,
            "date": r.date.isoformat(),
            "country": r.country,
            "site": r.site,
            "serials": sorted(x.serial for x in received if x.seq == r.seq),
            "not_in_shipment": sorted(
                x.serial for x in received if x.seq == r.seq and not x.carried
            ),
        }
        for r in receipts
    ]
    got = {x.serial for x in received if x.carried}
    data["not_received"] = sorted(s.serial for s in serials if s.serial not in got)
    data["end_use_statements"] = end_uses
    # every version (the registration, amendments, a void), verified, each superseded
    # one saying by which entry
    size = ledger.checkpoint().checkpoint.size
    history = [verified_entry(ledger, seq, size) for seq in versions]
    _mark_corrected(history, corrected, size)
    data["history"] = [
        {k: h[k] for k in ("seq", "kind", "signer", "date", "summary")}
        | {k: h[k] for k in ("superseded_by", "voided_by") if k in h}
        | ({"reason": h["predicate"]["reason"]} if "reason" in h["predicate"] else {})
        for h in history
    ]
    return data


def shipments(
    ledger: Ledger,
    *,
    exporter: str | None = None,
    destination: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Shipments, newest ship date first, filtered by exporter, destination and dates."""
    query = (
        select(ShipmentRow.__table__)
        .where(*_shipment_filters(exporter, destination, since, until))
        .order_by(ShipmentRow.ship_date.desc(), ShipmentRow.seq.desc())
    )
    if limit:
        query = query.limit(limit)
    with ledger.store.read() as conn:
        return [_shipment_dict(r) for r in conn.execute(query)]


def shipment_count(
    ledger: Ledger,
    *,
    exporter: str | None = None,
    destination: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> int:
    """How many shipments `shipments` lists with these filters and no limit."""
    from sqlalchemy import func

    query = select(func.count()).select_from(ShipmentRow)
    query = query.where(*_shipment_filters(exporter, destination, since, until))
    with ledger.store.read() as conn:
        return int(conn.execute(query).scalar_one())


def _shipment_filters(
    exporter: str | None, destination: str | None, since: dt.date | None, until: dt.date | None
) -> list[Any]:
    where: list[Any] = []
    if exporter:
        where.append(ShipmentRow.exporter == exporter)
    if destination:
        where.append(ShipmentRow.destination == destination.upper())
    if since:
        where.append(ShipmentRow.ship_date >= since)
    if until:
        where.append(ShipmentRow.ship_date <= until)
    return where


# --- products and licenses -------------------------------------------------------------------


def _product_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "vendor": row.vendor,
        "model": row.model,
        "tpp": row.tpp,
        "performance_density": row.performance_density,
        "pd": row.performance_density,
        "die_area_mm2": row.die_area_mm2,
        "datacenter": row.datacenter,
        "interconnect_gbps": row.interconnect_gbps,
        "memory_bandwidth_gbps": row.memory_bandwidth_gbps,
        "names": json.loads(row.names),
        "pci_device_ids": row.pci_device_ids.split(),
        "hs_codes": row.hs_codes.split(),
        "reference_price": (
            {"amount": row.reference_price, "currency": row.reference_currency}
            if row.reference_price is not None
            else None
        ),
        "seq": row.updated_seq,
    }


def products(ledger: Ledger) -> list[dict[str, Any]]:
    """The catalog as the ledger holds it."""
    with ledger.store.read() as conn:
        rows = conn.execute(select(ProductRow.__table__).order_by(ProductRow.id)).all()
    return [_product_dict(r) for r in rows]


def product(ledger: Ledger, product_id: str) -> dict[str, Any]:
    with ledger.store.read() as conn:
        row = conn.execute(select(ProductRow.__table__).where(ProductRow.id == product_id)).first()
        units = (
            conn.execute(select(ChipRow.state).where(ChipRow.product_id == product_id))
            .scalars()
            .all()
        )
    if row is None:
        with ledger.store.read() as conn:
            guess = did_you_mean(product_id, conn.execute(select(ProductRow.id)).scalars())
        raise NotFoundError(
            f"no product {product_id!r}",
            hint=f"{guess} (provenance product list)" if guess else "provenance product list",
        )
    data = _product_dict(row)
    data["registered_serials"] = len(units)
    return data


def license_record(ledger: Ledger, license_id: str) -> dict[str, Any]:
    """A license and the shipments that cite it."""
    with ledger.store.read() as conn:
        row = conn.execute(select(LicenseRow.__table__).where(LicenseRow.id == license_id)).first()
        if row is None:
            known = conn.execute(select(LicenseRow.id)).scalars()
            guess = did_you_mean(license_id, known)
            raise NotFoundError(
                f"no license {license_id!r}",
                hint=f"{guess} (provenance license list)" if guess else "provenance license list",
            )
        cited = list(
            conn.execute(
                select(ShipmentRow.id)
                .where(ShipmentRow.license == license_id)
                .order_by(ShipmentRow.seq)
            ).scalars()
        )
    return {**_license_dict(row), "shipments": cited}


def licenses(
    ledger: Ledger,
    *,
    exporter: str | None = None,
    destination: str | None = None,
    valid_on: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Licenses in the order issued, filtered by exporter, destination and a day they
    are valid on, each with how many shipments (not voided) cite it."""
    from sqlalchemy import func

    cited = (
        select(ShipmentRow.license.label("id"), func.count().label("n"))
        .where(ShipmentRow.license.is_not(None), ShipmentRow.voided_seq.is_(None))
        .group_by(ShipmentRow.license)
        .subquery("cited")
    )
    query = select(LicenseRow.__table__, cited.c.n).outerjoin(cited, cited.c.id == LicenseRow.id)
    if exporter:
        query = query.where(LicenseRow.exporter == exporter)
    if destination:
        query = query.where(LicenseRow.destination == destination.upper())
    if valid_on:
        query = query.where(LicenseRow.valid_from <= valid_on, LicenseRow.valid_until >= valid_on)
    with ledger.store.read() as conn:
        rows = conn.execute(query.order_by(LicenseRow.seq)).all()
    return [{**_license_dict(r), "cited_by": int(r.n or 0)} for r in rows]


def _license_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "regulator": row.regulator,
        "exporter": row.exporter,
        "consignee": row.consignee,
        "end_user": row.end_user,
        "destination": row.destination,
        "eccns": row.eccns.split(),
        "products": row.products.split(),
        "max_quantity": row.max_quantity,
        "max_value": (
            {"amount": row.max_value, "currency": row.max_value_currency}
            if row.max_value is not None
            else None
        ),
        "max_tpp": row.max_tpp,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat(),
        "conditions": json.loads(row.conditions),
    }


def devices_seen(ledger: Ledger, serial: str) -> list[dict[str, Any]]:
    """What inspection evidence showed for this serial (the hardware's own report)."""
    with ledger.store.read() as conn:
        rows = conn.execute(
            select(InspectionDeviceRow.__table__).where(InspectionDeviceRow.serial == serial)
        ).all()
    return [
        {
            "seq": r.seq,
            "product_name": r.product_name,
            "pci_device_id": r.pci_device_id,
            "board_part_number": r.board_part_number,
            "uuid": r.uuid,
            "file_sha256": r.file_sha256,
        }
        for r in rows
    ]


# --- flags --------------------------------------------------------------------------------

SEVERITIES = ("info", "warning", "high", "blocking")


def _today() -> dt.date:
    """The day a flag's allow-list clearance is judged against (UTC)."""
    return dt.datetime.now(dt.UTC).date()


def still_open(on: dt.date | None = None) -> Any:
    """The flags open on `on` (default today, UTC): open, disputed (it awaits a
    regulator's decision), or cleared by an allow-list clearance that expired before it
    (the checks treat it as open again)."""
    from sqlalchemy import or_

    today = on or _today()
    return or_(
        FlagRow.status.in_(("open", "disputed")),
        and_(FlagRow.status == "cleared", FlagRow.expires < today),
    )


def flags(
    ledger: Ledger,
    *,
    only_open: bool = False,
    severity: str | None = None,
    shipment: str | None = None,
    on: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Red flags, most severe first, then oldest first; an allow-list clearance that
    expired before `on` (default today) shows as open again (`expired` true, `expires`
    the day it lapsed)."""
    today = on or _today()
    query = select(FlagRow.__table__)
    if only_open:
        query = query.where(still_open(today))
    if severity:
        query = query.where(FlagRow.severity.in_(SEVERITIES[SEVERITIES.index(severity) :]))
    if shipment:
        query = query.where(FlagRow.subject == f"shipment/{shipment}")
    with ledger.store.read() as conn:
        rows = conn.execute(query.order_by(FlagRow.raised_seq, FlagRow.id)).all()
    out = [_flag_dict(r, today) for r in rows]
    out.sort(key=lambda f: -SEVERITIES.index(f["severity"]))
    return out


def _flag_dict(r: Any, today: dt.date) -> dict[str, Any]:
    expired = r.status == "cleared" and r.expires is not None and r.expires < today
    return {
        "id": r.id,
        "rule": r.rule,
        "severity": r.severity,
        "subject": r.subject,
        "line": r.line,
        "message": r.message,
        "facts": json.loads(r.facts),
        "raised_seq": r.raised_seq,
        "raised_on": r.raised_on.isoformat(),
        "status": "open" if expired else r.status,
        "resolved_seq": r.resolved_seq,
        "resolved_by": r.resolved_by,
        "resolution": r.resolution,
        "expires": r.expires.isoformat() if r.expires else None,
        "expired": expired,
    }


def flag(ledger: Ledger, flag_id: str) -> dict[str, Any]:
    """One red flag, with its history: every resolution, closure and reopening, in order
    (the entry, the party that signed it, the status and why)."""
    from provenance.ledger.projections.tables import ResolutionRow

    with ledger.store.read() as conn:
        row = conn.execute(select(FlagRow.__table__).where(FlagRow.id == flag_id)).first()
        if row is None:
            raise NotFoundError(f"no flag {flag_id!r}", hint="provenance flag list")
        history = conn.execute(
            select(ResolutionRow.__table__)
            .where(ResolutionRow.flag_id == flag_id)
            .order_by(ResolutionRow.seq)
        ).all()
    found = _flag_dict(row, _today())
    found["history"] = [
        {"seq": h.seq, "status": h.status, "party": h.party, "reason": h.reason} for h in history
    ]
    return found


# --- orientation: key files, the ledger's state -------------------------------------------


def key_folders(ledger: Ledger, given: Sequence[str | Path] = ()) -> list[Path]:
    """Where to look for key files: those given, else the folder `init` wrote the ledger's
    keys to (when it is known) and the current folder (where `keys generate` writes)."""
    if given:
        return [Path(g) for g in given]
    folders = []
    if ledger.key_path:
        folder = Path(ledger.key_path).parent
        if folder.is_relative_to(Path.cwd()):  # shown as the user would write it
            folder = folder.relative_to(Path.cwd())
        folders.append(folder)
    return [*folders, Path(".")]


def _read_key(path: Path) -> tuple[VerifyingKey | None, bool, str | None]:
    """The public key a file holds, whether it holds the private half, and why it could
    not be read (an encrypted key without its passphrase, a file that is no key)."""
    try:
        private = b"PRIVATE KEY" in path.read_bytes()
        return load_public(path), private, None
    except OSError as exc:
        return None, False, f"cannot read it: {exc.strerror}"
    except ProvenanceError as exc:
        if b"PRIVATE KEY" in path.read_bytes():
            return None, True, exc.message  # encrypted, most often: the message says so
        return None, False, "not a PEM key"


def key_files(ledger: Ledger, folders: Sequence[Path]) -> list[dict[str, Any]]:
    """The key files (`*.pem`, `*.pub`) in `folders`, one row per key, and what each key is
    in this ledger: a registered party's (valid or revoked), the ledger's checkpoint key, or
    unknown to it. A file that cannot be read (an encrypted private key whose `.pub` is not
    beside it, without the passphrase) is a row of its own, with the reason."""
    from provenance.tlog.note import Verifier

    rows: dict[str, dict[str, Any]] = {}
    unreadable: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.pem"), *folder.glob("*.pub")]):
            if path.resolve() in seen or not path.is_file():
                continue
            seen.add(path.resolve())
            verifying, private, problem = _read_key(path)
            if verifying is None:
                unreadable.append({"files": [str(path)], "private": private, "problem": problem})
                continue
            row = rows.setdefault(
                verifying.keyid,
                {
                    "keyid": verifying.keyid,
                    "algorithm": str(verifying.algorithm),
                    "files": [],
                    "private": False,
                    "_key": verifying,
                },
            )
            row["files"].append(str(path))
            row["private"] = row["private"] or private
    # An unreadable private key whose public half is beside it belongs to that key's row.
    for item in list(unreadable):
        pub = str(Path(item["files"][0]).with_suffix(".pub"))
        owner = next((r for r in rows.values() if pub in r["files"]), None)
        if owner is not None:
            owner["files"].append(item["files"][0])
            owner["private"] = owner["private"] or item["private"]
            unreadable.remove(item)
    with ledger.store.read() as conn:
        registered = {
            r.keyid: r
            for r in conn.execute(
                select(
                    PartyKeyRow.keyid,
                    PartyKeyRow.party_id,
                    PartyKeyRow.registered_seq,
                    PartyKeyRow.revoked_seq,
                ).where(PartyKeyRow.keyid.in_(list(rows)))
            )
        }
    checkpoint_keys = set(ledger.verifier_keys)
    out: list[dict[str, Any]] = []
    for keyid, row in rows.items():
        verifying = row.pop("_key")
        found = registered.get(keyid)
        row["files"].sort()
        row.update(party=None, registered_seq=None, revoked_seq=None)
        if found is not None:
            row.update(
                party=found.party_id,
                registered_seq=found.registered_seq,
                revoked_seq=found.revoked_seq,
                state="revoked" if found.revoked_seq is not None else "valid",
            )
        elif (
            verifying.algorithm == "ed25519"
            and str(Verifier.from_public_key(ledger.origin, verifying.public_key))
            in checkpoint_keys
        ):
            row["state"] = "checkpoint"
        else:
            row["state"] = "unregistered"
        out.append(row)
    out.sort(key=lambda r: r["files"][0])
    empty = {"keyid": None, "algorithm": None, "party": None}
    out.extend(
        {**empty, **item, "registered_seq": None, "revoked_seq": None, "state": "unreadable"}
        for item in unreadable
    )
    return out


def status(ledger: Ledger, folders: Sequence[Path]) -> dict[str, Any]:
    """Where things stand: the database, the ledger's origin and size, its last checkpoint,
    the key files found and whose they are, the parties, and the open flags by severity."""
    from sqlalchemy import func

    from provenance.ledger.database import display_url

    with ledger.store.read() as conn:
        flags = open_flags(conn)
        party_count = conn.execute(select(func.count()).select_from(PartyRow)).scalar_one()
        shipment_count = conn.execute(select(func.count()).select_from(ShipmentRow)).scalar_one()
    try:
        checkpoint: dict[str, Any] | None = ledger.checkpoint().checkpoint.to_json()
    except NotFoundError:
        checkpoint = None
    return {
        "database": display_url(ledger.store.url),
        "ledger": None,
        "origin": ledger.origin,
        "verifier_key": ledger.verifier_keys[-1],
        "size": ledger.size(),
        "checkpoint": checkpoint,
        "checkpoint_key": ledger.key_path,
        "parties": int(party_count),
        "shipments": int(shipment_count),
        "keys": key_files(ledger, folders),
        "reader": None,
        "open_flags": flags,
    }


def open_flags(conn: Connection, who: Reader | None = None) -> dict[str, Any]:
    """The flags open today (`still_open`) by severity, every one or, for `who`, those
    whose raising entry it may read (`access.visible`)."""
    from sqlalchemy import func

    if who is None or who.reads_all:
        counts = dict(
            conn.execute(
                select(FlagRow.severity, func.count())
                .where(still_open())
                .group_by(FlagRow.severity)
            ).all()
        )
    else:
        raised = conn.execute(
            select(FlagRow.raised_seq, FlagRow.severity).where(still_open())
        ).all()
        readable = visible(conn, who, [seq for seq, _ in raised])
        counts = {}
        for seq, severity in raised:
            if seq in readable:
                counts[severity] = counts.get(severity, 0) + 1
    by_severity = {s: int(counts.get(s, 0)) for s in reversed(SEVERITIES)}
    return {"total": sum(by_severity.values()), "by_severity": by_severity}
