"""The machinery every projection handler uses: the accepted statement, the batched
writer, the handler registry, and the checks handlers share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, bindparam, inspect, select, update
from sqlalchemy.engine import Connection, CursorResult, Row

from provenance.errors import InputError
from provenance.ledger.database import in_chunks, insert_rows
from provenance.ledger.projections.tables import Base, ChipRow, ShipmentRow
from provenance.statements.authority import Directory, Signer
from provenance.statements.payloads import Statement


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
            insert_rows(self.conn, model.__table__, rows)
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
Prefetcher = Callable[[Writer, Sequence[Statement]], None]
HANDLERS: dict[str, Handler] = {}
PREFETCHERS: dict[str, Prefetcher] = {}


def handles(*kinds: str) -> Callable[[Handler], Handler]:
    """Register the handler that projects statements of these kinds."""

    def register(handler: Handler) -> Handler:
        for kind in kinds:
            HANDLERS[kind] = handler
        return handler

    return register


def prefetches(kind: str) -> Callable[[Prefetcher], Prefetcher]:
    """Register what to load in bulk before a batch holding statements of this kind."""

    def register(prefetcher: Prefetcher) -> Prefetcher:
        PREFETCHERS[kind] = prefetcher
        return prefetcher

    return register


# --- helpers for the trade statements -------------------------------------------------


def refused(kind: str, field: str, message: str, hint: str | None = None) -> InputError:
    return InputError(f"{kind}: {field}: {message}", hint=hint)


def require_party(kind: str, field: str, party_id: str | None, directory: Directory) -> None:
    if party_id is not None and directory.party(party_id) is None:
        raise refused(
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


def set_custody(
    writer: Writer, serials: Sequence[str], seq: int, state: str, **values: object
) -> None:
    """Move registered serials to a custody state (unregistered ones are left to the rules)."""
    fields = ("state", "state_seq", *sorted(values))
    statement = _CUSTODY[fields]
    common = {f"b_{k}": v for k, v in {"state": state, "state_seq": seq, **values}.items()}
    writer.update_rows(ChipRow, statement, [{"b_serial": s, **common} for s in serials])


def shipment_row(writer: Writer, kind: str, field: str, shipment_id: str) -> Row[Any]:
    """The shipment's row (its columns by name)."""
    row = writer.execute(select(ShipmentRow.__table__).where(ShipmentRow.id == shipment_id)).first()
    if row is None:
        raise refused(kind, field, f"unknown shipment {shipment_id!r}")
    return row
