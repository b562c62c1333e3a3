"""Projections: the query tables derived from the entries, one handler per kind.

A handler receives an accepted statement (already verified and authorised) and
writes the rows that make it queryable. It may also refuse it, with an
`InputError` naming the field, when the statement contradicts what the ledger
already holds (an unknown party, a serial registered twice); the append's
transaction then writes nothing.

* `writer`: the batched writer, the handler registry, shared checks;
* `parties`, `custody`, `flags`: the handlers, by domain;
* `tables`: the projection tables.

Every projection is rebuilt from the entries by `replay`, and a test checks
the result equals what the appends wrote.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.engine import Connection

from provenance.ledger.projections import custody, flags, parties
from provenance.ledger.projections.tables import PROJECTION_TABLES
from provenance.ledger.projections.writer import HANDLERS, PREFETCHERS, Accepted, Writer
from provenance.ledger.tables import Base
from provenance.statements.authority import Directory
from provenance.statements.payloads import Statement

__all__ = ["Accepted", "Writer", "clear", "prefetch", "project", "subject_rows"]

HANDLER_MODULES = (parties, custody, flags)
"""Importing them registers their handlers."""


def prefetch(writer: Writer, statements: Iterable[Statement | None]) -> None:
    """Before a batch: learn in bulk what its handlers would otherwise query one by one
    (which ids already exist; the shipments determinations speak of, and their flags)."""
    batch = [s for s in statements if s is not None]
    for kind in dict.fromkeys(s.kind for s in batch):
        prefetcher = PREFETCHERS.get(kind)
        if prefetcher is not None:
            prefetcher(writer, batch)


def project(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    """Apply one accepted statement to the projections (and to `directory`)."""
    handler = HANDLERS.get(accepted.kind)
    if handler is not None:
        handler(writer, accepted, directory)


def subject_rows(seq: int, statement: Statement) -> list[dict[str, object]]:
    """Rows of the `subjects` index for one entry (written with the entry, in bulk)."""
    return [
        {"name": name, "seq": seq} for name in dict.fromkeys(n for n, _ in statement.subjects())
    ]


def clear(conn: Connection) -> None:
    """Delete every projection row (replay rebuilds them)."""
    for name in PROJECTION_TABLES:
        conn.execute(delete(Base.metadata.tables[name]))
