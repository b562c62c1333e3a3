"""Correcting a shipment: `shipment-amendment` (the facts in full, as they should have
been) and `shipment-void` (withdrawn), each signed by the shipment's exporter and naming
the entry in force. The ledger never changes an entry: the `shipments` row (and its
items and serials) holds the facts in force, `shipment_versions` the versions they
superseded, each with its facts, items and serials (a report at an earlier tree size
counts the version in force then); the entries hold every version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.engine import Row

from provenance.errors import AuthorizationError
from provenance.ledger.projections.custody import shipment_columns, write_lines
from provenance.ledger.projections.tables import (
    SHIPMENT_FACTS,
    ChipRow,
    ReceiptRow,
    ShipmentItemRow,
    ShipmentRow,
    ShipmentSerialRow,
    ShipmentVersionItemRow,
    ShipmentVersionRow,
    ShipmentVersionSerialRow,
)
from provenance.ledger.projections.writer import (
    Accepted,
    Writer,
    handles,
    refused,
    require_party,
    set_custody,
    shipment_row,
)
from provenance.ledger.tables import BigInt
from provenance.statements.authority import Directory
from provenance.statements.payloads import ShipmentAmendmentStatement, ShipmentVoidStatement


def in_force(row: Row[Any]) -> int:
    """The entry whose facts are in force (a row written before 0012 has none: its own)."""
    return int(row.version_seq if row.version_seq is not None else row.seq)


def _correctable(accepted: Accepted, row: Row[Any], corrects: int, field: str) -> None:
    """The checks an amendment and a void share: by the exporter, of a shipment in force,
    naming the entry in force."""
    kind = accepted.kind
    if accepted.signer.party != row.exporter:
        raise AuthorizationError(
            f"{kind}: {field}: shipment {row.id!r} was registered by {row.exporter!r}, "
            f"not by the signer {accepted.signer.party!r}",
            hint="only the exporter who registered a shipment corrects it",
        )
    if row.voided_seq is not None:
        raise refused(
            kind,
            field,
            f"shipment {row.id!r} was voided by entry {row.voided_seq}; a voided shipment is "
            "not corrected",
            hint="register the shipment again under a new id",
        )
    current = in_force(row)
    if corrects != current:
        raise refused(
            kind,
            "corrects",
            f"entry {corrects} is not the version of shipment {row.id!r} in force "
            f"(entry {current})",
            hint=f"`provenance shipment show {row.id}` shows its history",
        )


def _received(writer: Writer, shipment_id: str) -> int | None:
    """The first receipt of the shipment (None: none yet)."""
    first = writer.execute(
        select(ReceiptRow.seq)
        .where(ReceiptRow.shipment_id == shipment_id)
        .order_by(ReceiptRow.seq)
        .limit(1)
    ).scalar()
    return None if first is None else int(first)


def _release(writer: Writer, shipment_id: str, serials: set[str], seq: int) -> None:
    """Serials no longer in the shipment, still shipped under it: back to manufactured,
    in the country they were made in."""
    if serials:
        writer.execute(
            update(ChipRow)
            .where(
                ChipRow.serial.in_(sorted(serials)),
                ChipRow.shipment_id == shipment_id,
                ChipRow.state == "shipped",
            )
            .values(state="manufactured", state_seq=seq, shipment_id=None, country=ChipRow.made_in)
        )


def _keep_version(writer: Writer, row: Row[Any], superseded_by: int) -> None:
    """The facts in force, items and serials, kept as the version `superseded_by`
    replaces (before the amendment's facts overwrite them)."""
    superseded = in_force(row)
    writer.insert(
        ShipmentVersionRow,
        {
            "seq": superseded,
            "shipment_id": row.id,
            "superseded_seq": superseded_by,
            **{name: getattr(row, name) for name in SHIPMENT_FACTS},
        },
    )
    kept = literal(superseded, BigInt)
    items = ShipmentItemRow.__table__.c
    item_columns = [c.name for c in ShipmentVersionItemRow.__table__.c if c.name != "seq"]
    writer.execute(
        insert(ShipmentVersionItemRow).from_select(
            ["seq", *item_columns],
            select(kept, *(items[name] for name in item_columns)).where(
                items.shipment_id == row.id
            ),
        )
    )
    writer.execute(
        insert(ShipmentVersionSerialRow).from_select(
            ["seq", "serial", "line"],
            select(kept, ShipmentSerialRow.serial, ShipmentSerialRow.line).where(
                ShipmentSerialRow.shipment_id == row.id
            ),
        )
    )


@handles("shipment-amendment")
def _amendment(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ShipmentAmendmentStatement)
    kind, corrected = accepted.kind, statement.shipment
    row = shipment_row(writer, kind, "shipment.id", corrected.id)
    _correctable(accepted, row, statement.corrects, "shipment.id")
    if corrected.exporter != row.exporter:
        raise refused(
            kind,
            "shipment.exporter",
            f"the exporter of shipment {row.id!r} is {row.exporter!r}; an amendment does not "
            "change it",
            hint="void the shipment, and the right exporter registers it",
        )
    for field in ("consignee", "end_user", "forwarder"):
        require_party(kind, f"shipment.{field}", getattr(corrected, field), directory)
    old = set(
        writer.execute(
            select(ShipmentSerialRow.serial).where(ShipmentSerialRow.shipment_id == row.id)
        ).scalars()
    )
    new = set(corrected.serials())
    first_receipt = _received(writer, row.id)
    if first_receipt is not None and old != new:
        changed = sorted(old ^ new)
        shown = ", ".join(changed[:5]) + (f" (and {len(changed) - 5} more)" if changed[5:] else "")
        raise refused(
            kind,
            "shipment.items",
            f"shipment {row.id!r} was received (entry {first_receipt}): its serials are not "
            f"amended ({shown})",
            hint="an amendment after receipt may correct every field but the serials",
        )
    _keep_version(writer, row, accepted.seq)
    writer.execute(delete(ShipmentSerialRow).where(ShipmentSerialRow.shipment_id == row.id))
    writer.execute(delete(ShipmentItemRow).where(ShipmentItemRow.shipment_id == row.id))
    writer.execute(
        update(ShipmentRow)
        .where(ShipmentRow.id == row.id)
        .values(**shipment_columns(corrected), version_seq=accepted.seq)
    )
    write_lines(writer, corrected)
    _release(writer, row.id, old - new, accepted.seq)
    added = [s for s in corrected.serials() if s not in old]
    set_custody(writer, added, accepted.seq, "shipped", shipment_id=row.id, country=None)


@handles("shipment-void")
def _void(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ShipmentVoidStatement)
    kind = accepted.kind
    row = shipment_row(writer, kind, "shipment", statement.shipment)
    _correctable(accepted, row, statement.corrects, "shipment")
    first_receipt = _received(writer, row.id)
    if first_receipt is not None:
        raise refused(
            kind,
            "shipment",
            f"shipment {row.id!r} was received (entry {first_receipt}): a shipment that "
            "arrived is not voided",
            hint="amend it instead (`provenance shipment amend`)",
        )
    writer.execute(
        update(ShipmentRow).where(ShipmentRow.id == row.id).values(voided_seq=accepted.seq)
    )
    serials = set(
        writer.execute(
            select(ShipmentSerialRow.serial).where(ShipmentSerialRow.shipment_id == row.id)
        ).scalars()
    )
    _release(writer, row.id, serials, accepted.seq)
    writer.cache.get("shipment_seqs", {}).pop(row.id, None)
