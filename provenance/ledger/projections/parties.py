"""Projections of parties and their keys: who is registered, with which roles and keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from provenance.errors import IntegrityError
from provenance.ledger.projections.tables import PartyKeyRow, PartyOwnerRow, PartyRow
from provenance.ledger.projections.writer import Accepted, Writer, handles, require_party
from provenance.ledger.tables import Entry
from provenance.offline.entries import ParsedEntry
from provenance.statements.authority import (
    Directory,
    KeyRecord,
    PartyRecord,
    keys_registered_by,
)
from provenance.statements.payloads import PartyStatement, Statement


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


# --- the append path's view of parties and keys, re-checked against the entries ----------


def _statement_at(conn: Connection, seq: object, what: str) -> Statement:
    """The statement of entry `seq`, which a projection row says it came from."""
    leaf = (
        conn.execute(select(Entry.c.leaf).where(Entry.c.seq == seq)).scalar()
        if isinstance(seq, int)
        else None
    )
    if leaf is None:
        raise IntegrityError(
            f"{what} names entry {seq}, which does not exist: the projection was altered",
            hint="run: provenance ledger verify, then provenance ledger replay",
        )
    parsed = ParsedEntry.from_leaf(bytes(leaf))
    if parsed.seq != seq:
        raise IntegrityError(f"entry {seq} holds a leaf for entry {parsed.seq}")
    return parsed.model()


def checked_key(conn: Connection, row: Any) -> KeyRecord:
    """A `party_keys` row as a key record, once the entry it names (`registered_seq`) is
    seen to register exactly that key for that party: a key inserted by hand is refused."""
    what = f"party_keys row {str(row.keyid)[:16]}"
    statement = _statement_at(conn, row.registered_seq, what)
    owner = (
        statement.id if isinstance(statement, PartyStatement) else getattr(statement, "party", None)
    )
    brought = {k.keyid: k for k in keys_registered_by(statement)}
    key = brought.get(row.keyid)
    if key is None or owner != row.party_id or key.der() != bytes(row.public_key):
        raise IntegrityError(
            f"{what} is not the key entry {row.registered_seq} registered: the projection was "
            "altered (a key inserted by hand?)",
            hint="authority comes from the entries: run provenance ledger replay",
        )
    return KeyRecord(
        row.keyid, row.party_id, key, row.registered_seq, row.revoked_seq, row.revocation_reason
    )


def checked_party(conn: Connection, row: Any) -> PartyRecord:
    """A `parties` row as a party record, once the entry it names (`updated_seq`, the latest
    statement of the party; the triggers keep it growing) is seen to say the same."""
    what = f"parties row {row.id}"
    statement = _statement_at(conn, row.updated_seq, what)
    roles = frozenset(str(row.roles).split())
    if (
        not isinstance(statement, PartyStatement)
        or statement.id != row.id
        or frozenset(statement.roles) != roles
        or statement.country != row.country
        or statement.headquarters != row.headquarters
    ):
        raise IntegrityError(
            f"{what} does not say what entry {row.updated_seq} says: the projection was altered",
            hint="authority comes from the entries: run provenance ledger replay",
        )
    return PartyRecord(row.id, row.name, roles, row.country, row.headquarters)
