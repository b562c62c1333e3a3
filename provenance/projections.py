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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, delete, insert, update
from sqlalchemy.engine import Connection, CursorResult

from provenance.authority import Directory, KeyRecord, Signer
from provenance.payloads import PartyStatement, Statement
from provenance.store import Base, PartyKeyRow, PartyRow


@dataclass(frozen=True)
class Accepted:
    """A statement the ledger accepted as entry `seq`."""

    seq: int
    kind: str
    statement: Statement
    signer: Signer
    integrated_at: dt.datetime


class Writer:
    """The append's connection, with inserts batched per table.

    Handlers add rows with `insert`; they are written in bulk by `flush`, which
    runs before any other statement (`execute`), so reads and updates always see
    every row added before them.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pending: dict[type[Base], list[dict[str, Any]]] = {}

    def insert(self, model: type[Base], row: dict[str, Any]) -> None:
        self._pending.setdefault(model, []).append(row)

    def execute(self, statement: Executable) -> CursorResult[Any]:
        self.flush()
        return self.conn.execute(statement)

    def flush(self) -> None:
        """Write pending rows, tables in the order they were first used (parents first)."""
        pending, self._pending = self._pending, {}
        for model, rows in pending.items():
            self.conn.execute(insert(model), rows)


Handler = Callable[[Writer, Accepted, Directory], None]
HANDLERS: dict[str, Handler] = {}


def handles(*kinds: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for kind in kinds:
            HANDLERS[kind] = handler
        return handler

    return register


def project(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    """Apply one accepted statement to the projections (and to `directory`)."""
    handler = HANDLERS.get(accepted.kind)
    if handler is not None:
        handler(writer, accepted, directory)


PROJECTION_TABLES: list[str] = ["subjects", "party_keys", "parties"]
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
