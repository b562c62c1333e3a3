"""The ledger's checkpoint keys over time: the key `init` made, then each one announced by
a `checkpoint-key` entry, with the overlap during which the old and the new key both sign.

A key is in use from its announcement on; the key it replaces stays in use until the
end of the announced overlap (`overlap_until`, inclusive), then no longer signs.
Verifiers accept a checkpoint signed by any of the ledger's keys: a client pinned to
the old key learns the new one from the announcement entry, proved under a checkpoint
the old key signed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from provenance.ledger.tables import Entry
from provenance.offline.entries import ParsedEntry


@dataclass(frozen=True)
class Rotation:
    seq: int
    verifier_key: str
    replaces: str
    overlap_until: dt.date


def rotations(conn: Connection) -> list[Rotation]:
    """Every `checkpoint-key` announcement, in order."""
    rows = conn.execute(
        select(Entry.c.seq, Entry.c.leaf)
        .where(Entry.c.kind == "checkpoint-key")
        .order_by(Entry.c.seq)
    ).all()
    found = []
    for row in rows:
        predicate = ParsedEntry.from_leaf(bytes(row.leaf)).statement["predicate"]
        found.append(
            Rotation(
                int(row.seq),
                str(predicate["verifier_key"]),
                str(predicate["replaces"]),
                dt.date.fromisoformat(str(predicate["overlap_until"])),
            )
        )
    return found


def all_keys(genesis_key: str, announced: list[Rotation]) -> list[str]:
    """Every checkpoint verifier key the ledger has had, the first first."""
    return [genesis_key, *(r.verifier_key for r in announced)]


def signing_keys(genesis_key: str, announced: list[Rotation], today: dt.date) -> list[str]:
    """The keys that sign checkpoints today: every key not replaced, and those replaced
    whose overlap has not ended."""
    retired = {r.replaces for r in announced if today > r.overlap_until}
    return [k for k in all_keys(genesis_key, announced) if k not in retired]
