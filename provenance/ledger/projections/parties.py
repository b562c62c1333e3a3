"""Projections of parties and their keys: who is registered, with which roles and keys."""

from __future__ import annotations

from sqlalchemy import delete, update

from provenance.ledger.projections.tables import PartyKeyRow, PartyOwnerRow, PartyRow
from provenance.ledger.projections.writer import Accepted, Writer, handles, require_party
from provenance.statements.authority import Directory, KeyRecord
from provenance.statements.payloads import PartyStatement


@handles("party", "key", "key-rotation", "key-revocation")
def _keys(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    statement = accepted.statement
    if isinstance(statement, PartyStatement):
        _write_party(writer, statement, accepted.seq, directory)
    for record in directory.apply(statement, accepted.seq):
        _write_key(writer, record)


def _write_party(writer: Writer, statement: PartyStatement, seq: int, directory: Directory) -> None:
    for i, owner in enumerate(statement.owners or []):
        require_party("party", f"owners[{i}].party", owner.party, directory)
    values = {
        "name": statement.name,
        "roles": " ".join(sorted(statement.roles)),
        "country": statement.country,
        "headquarters": statement.headquarters,
        "address": statement.address,
        "updated_seq": seq,
        "latitude": None
        if statement.location is None
        else format(statement.location.latitude, "f"),
        "longitude": (
            None if statement.location is None else format(statement.location.longitude, "f")
        ),
    }
    if directory.party(statement.id) is None:
        writer.insert(PartyRow, {"id": statement.id, "registered_seq": seq, **values})
    else:
        writer.execute(update(PartyRow).where(PartyRow.id == statement.id).values(values))
        writer.execute(delete(PartyOwnerRow).where(PartyOwnerRow.party_id == statement.id))
    for owner in statement.owners or []:
        writer.insert(
            PartyOwnerRow,
            {
                "party_id": statement.id,
                "owner_id": owner.party,
                "share": format(owner.share, "f"),
                "seq": seq,
            },
        )


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
