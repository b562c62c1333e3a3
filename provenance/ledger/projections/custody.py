"""Projections of products and the movements of chips: the serial registry, shipments,
receipts, end use, inspections and licenses, and each chip's custody state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from provenance.errors import AuthorizationError
from provenance.ledger.database import in_chunks
from provenance.ledger.projections.tables import (
    ChipRow,
    EndUseRow,
    EndUseScopeRow,
    InspectionDeviceRow,
    InspectionRow,
    InspectionSerialRow,
    LicenseRow,
    ProductRow,
    ProductVersionRow,
    ReceiptRow,
    ReceiptSerialRow,
    ShipmentItemRow,
    ShipmentRow,
    ShipmentSerialRow,
)
from provenance.ledger.projections.writer import (
    Accepted,
    Writer,
    handles,
    prefetches,
    refused,
    require_party,
    set_custody,
    shipment_row,
)
from provenance.statements.authority import Directory
from provenance.statements.catalog import did_you_mean
from provenance.statements.payloads import (
    EndUseStatement,
    InspectionStatement,
    LicenseStatement,
    ManufactureStatement,
    ProductStatement,
    ReceiptStatement,
    ShipmentStatement,
    Statement,
)

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
        "us_available_from": statement.us_available_from,
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
        guess = did_you_mean(statement.product, writer.execute(select(ProductRow.id)).scalars())
        raise refused(
            kind,
            "product",
            f"{statement.product!r} is not in the catalog",
            hint=(f"{guess}; " if guess else "") + "`provenance product list` shows the known ids; "
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
            raise refused(
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
        require_party(kind, field, getattr(statement, field), directory)
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
            raise refused(kind, "id", f"shipment {statement.id!r} is already entry {known.seq}")
    writer.insert(
        ShipmentRow,
        {
            "id": statement.id,
            "seq": accepted.seq,
            "exporter": statement.exporter,
            **shipment_columns(statement),
            "version_seq": accepted.seq,
        },
    )
    write_lines(writer, statement)
    set_custody(
        writer, statement.serials(), accepted.seq, "shipped", shipment_id=statement.id, country=None
    )


def shipment_columns(statement: ShipmentStatement) -> dict[str, Any]:
    """The `shipments` columns a shipment's facts give (all but its id, entry and
    exporter): what a registration writes and an amendment replaces."""
    return {
        "consignee": statement.consignee,
        "end_user": statement.end_user,
        "forwarder": statement.forwarder,
        "ship_date": statement.ship_date,
        "destination": statement.destination,
        "route": " ".join(statement.route),
        "license": statement.license,
        "units": sum(item.quantity for item in statement.items),
        "payer": statement.payer,
        "delivery_address": statement.delivery_address,
    }


def write_lines(writer: Writer, statement: ShipmentStatement) -> None:
    """The shipment's items and serials (its registration, or an amendment's)."""
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


@handles("receipt")
def _receipt(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ReceiptStatement)
    kind = accepted.kind
    shipment = shipment_row(writer, kind, "shipment", statement.shipment)
    if accepted.signer.party not in (shipment.consignee, shipment.end_user):
        raise AuthorizationError(
            f"receipt: shipment: {accepted.signer.party!r} is neither the consignee "
            f"({shipment.consignee}) nor the end user ({shipment.end_user}) of shipment "
            f"{shipment.id!r}"
        )
    if statement.date < shipment.ship_date:
        raise refused(
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
    set_custody(writer, received, accepted.seq, "received", country=statement.country)


# --- end use, inspections, licenses -------------------------------------------------------


@handles("end-use")
def _end_use(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, EndUseStatement)
    kind = accepted.kind
    for i, shipment_id in enumerate(statement.shipments):
        shipment = shipment_row(writer, kind, f"shipments[{i}]", shipment_id)
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
            "latitude": _text(site.location and site.location.latitude),
            "longitude": _text(site.location and site.location.longitude),
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
    set_custody(writer, seen, accepted.seq, "inspected", country=site.country)
    set_custody(writer, statement.serials_missing, accepted.seq, "missing")


@handles("license")
def _license(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, LicenseStatement)
    kind = accepted.kind
    for field in ("exporter", "consignee", "end_user"):
        require_party(kind, field, getattr(statement, field), directory)
    known = writer.execute(select(LicenseRow.seq).where(LicenseRow.id == statement.id)).first()
    if known is not None:
        raise refused(kind, "id", f"license {statement.id!r} is already entry {known.seq}")
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


@prefetches("shipment")
def _known_shipments(writer: Writer, batch: Sequence[Statement]) -> None:
    """Which shipment ids of the batch already exist (duplicates are refused)."""
    writer.prefetch(ShipmentRow, [s.id for s in batch if isinstance(s, ShipmentStatement)])
