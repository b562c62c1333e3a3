"""`provenance mirror URL --db replica.db`: a verified replica of a served ledger.

The replica is a ledger database like any other (same origin, same verifier key, the
same leaves at the same numbers), so `report`, `check --dry-run`, `chip` and
`ledger verify` run on it unchanged. It holds no checkpoint key: it keeps the log's
own signed checkpoints.

Each run pulls the entries after the replica's last checkpoint, up to the served one,
and, in one transaction:

1. verifies the served checkpoint against the pinned key, and its consistency with
   what this client saw before (`RemoteLedger.checkpoint`);
2. admits every entry as an append would (`admission.admit` with the entries as
   copies): its signatures, its signer's authority as of its number, its payload, the
   projections; each must rebuild exactly the leaf that was sent;
3. checks the tree it built against the checkpoint's root, and that checkpoint's
   consistency with the replica's previous one; then stores the checkpoint.

Anything that does not check out (one altered byte is enough) is `IntegrityError`
(exit 4) and the transaction writes nothing of the run. A mirror must read every
entry: its key must be an operator's, an auditor's or a regulator's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from provenance.errors import AuthorizationError, IntegrityError, ProvenanceError
from provenance.ledger import admission, tree
from provenance.ledger.database import Store, open_store, utcnow
from provenance.ledger.tables import CheckpointRow, LedgerInfo
from provenance.offline.entries import ParsedEntry
from provenance.remote.client import RemoteLedger
from provenance.tlog import merkle

PAGE = 1000


@dataclass(frozen=True)
class Mirrored:
    origin: str
    previous: int
    size: int
    root: bytes

    @property
    def pulled(self) -> int:
        return self.size - self.previous

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "previous_size": self.previous,
            "size": self.size,
            "pulled": self.pulled,
            "root": self.root.hex(),
        }


def open_replica(db: str | None, origin: str, verifier_key: str) -> Store:
    """The replica's database (created, with the source's identity, when new)."""
    store = open_store(db, create=True)
    try:
        with store.write() as conn:
            row = conn.execute(select(LedgerInfo)).first()
            if row is None:
                conn.execute(
                    insert(LedgerInfo),
                    [
                        {
                            "id": 1,
                            "origin": origin,
                            "verifier_key": verifier_key,
                            "created_at": utcnow(),
                            "key_path": None,
                        }
                    ],
                )
            elif row.origin != origin or row.verifier_key != verifier_key:
                raise IntegrityError(
                    f"this database holds ledger {row.origin} ({row.verifier_key}), "
                    f"not a replica of {origin} ({verifier_key})"
                )
    except BaseException:
        store.dispose()
        raise
    return store


def _leaf(item: Any, expected: int) -> ParsedEntry:
    try:
        seq, leaf = item["seq"], base64.b64decode(item["leaf"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise IntegrityError(f"entry {expected}: malformed in the page sent") from exc
    if seq != expected:
        raise IntegrityError(f"the source sent entry {seq} where entry {expected} was due")
    parsed = ParsedEntry.from_leaf(leaf)
    if parsed.seq != seq:
        raise IntegrityError(f"entry {seq} holds the leaf of entry {parsed.seq}")
    return parsed


def mirror(
    remote: RemoteLedger, db: str | None, progress: Callable[[int], None] | None = None
) -> Mirrored:
    """Bring the replica at `db` up to the served checkpoint, verifying everything."""
    checkpoint, text = remote.checkpoint()
    store = open_replica(db, remote.origin, remote.verifier_key)
    try:
        with store.write() as conn:
            head = admission.head(conn, remote.origin)
            start = head.frontier.size
            if checkpoint.size <= start:
                if checkpoint.size == start and head.frontier.root() != checkpoint.root:
                    raise IntegrityError(
                        f"the served checkpoint of size {start} has another root than the "
                        "replica's: the source shows another history"
                    )
                return Mirrored(remote.origin, start, start, head.frontier.root())
            seq = start
            while seq < checkpoint.size:
                page = remote.entries(seq, min(PAGE, checkpoint.size - seq))
                if not page.get("complete"):
                    raise AuthorizationError(
                        "this key may not read every entry: a mirror needs the key of an "
                        "operator, an auditor or a regulator"
                    )
                items = [e for e in page.get("entries", []) if e.get("seq", 0) < checkpoint.size]
                if not items:
                    raise IntegrityError(f"the source sent no entries from {seq}")
                copies = [_leaf(item, seq + i) for i, item in enumerate(items)]
                try:
                    admission.admit(
                        conn,
                        head,
                        [c.envelope for c in copies],
                        labels=[f"entry {c.seq}" for c in copies],
                        copies=copies,
                    )
                except IntegrityError:
                    raise
                except ProvenanceError as exc:
                    raise IntegrityError(
                        f"the source sent an entry that does not verify: {exc.message}"
                    ) from exc
                seq += len(copies)
                if progress:
                    progress(len(copies))
            root = tree.root(conn, checkpoint.size)
            if root != checkpoint.root or root != head.frontier.root():
                raise IntegrityError(
                    f"the entries sent do not give the root of the signed checkpoint of size "
                    f"{checkpoint.size}: the source altered them"
                )
            if head.previous is not None and head.previous.size:
                proof = tree.resolve(
                    conn, merkle.consistency_nodes(head.previous.size, checkpoint.size)
                )
                merkle.verify_consistency(
                    head.previous.size, checkpoint.size, proof, head.previous.root, root
                )
            conn.execute(
                insert(CheckpointRow),
                [{"size": checkpoint.size, "root": root, "note": text, "created_at": utcnow()}],
            )
        return Mirrored(remote.origin, start, checkpoint.size, checkpoint.root)
    finally:
        store.dispose()
