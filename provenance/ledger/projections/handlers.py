"""Applying accepted statements to the projections: every handler registered, the batch
prefetch, the subjects index, and clearing everything for a replay."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.engine import Connection

from provenance.ledger.projections import (
    corrections,
    custody,
    evidence,
    flags,
    ledger_keys,
    parties,
)
from provenance.ledger.projections.tables import PROJECTION_TABLES, Base
from provenance.ledger.projections.writer import HANDLERS, PREFETCHERS, Accepted, Writer
from provenance.statements.authority import Directory
from provenance.statements.payloads import Statement

__all__ = ["Accepted", "Writer", "clear", "prefetch", "project", "subject_rows"]

HANDLER_MODULES = (parties, custody, corrections, evidence, flags, ledger_keys)
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
