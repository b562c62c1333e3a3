"""The stored Merkle tree: complete-subtree hashes read by id, in one query.

Appends store the hash of every complete subtree (`tree_nodes`, `(level, idx)`), so
a root, an inclusion proof or a consistency proof is a handful of node ids
(`tlog.merkle` computes which) read here by primary key: O(log n), never a scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from provenance.ledger.tables import TreeNode
from provenance.tlog import merkle


def nodes(conn: Connection, ids: Iterable[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
    """Fetch stored nodes by id in one query that uses the primary key.

    One `level = L AND idx IN (...)` term per level: SQLite plans a row-value
    `(level, idx) IN (VALUES ...)` as a full scan, which would make every proof
    O(n); this form is an index lookup per node on both databases.
    """
    by_level: dict[int, list[int]] = {}
    for node in ids:
        by_level.setdefault(node.level, []).append(node.idx)
    if not by_level:
        return {}
    condition = or_(
        *(
            and_(TreeNode.c.level == level, TreeNode.c.idx.in_(sorted(set(idxs))))
            for level, idxs in by_level.items()
        )
    )
    rows = conn.execute(select(TreeNode.c.level, TreeNode.c.idx, TreeNode.c.hash).where(condition))
    return {merkle.NodeId(r.level, r.idx): bytes(r.hash) for r in rows}


def resolve(conn: Connection, groups: Sequence[Sequence[merkle.NodeId]]) -> list[bytes]:
    """Each group of node ids folded into one hash (`merkle.resolve`), nodes read at once."""
    return merkle.resolve(groups, lambda ids: nodes(conn, ids))


def root(conn: Connection, size: int) -> bytes:
    """The root of the tree of `size` leaves, from its right-edge nodes."""
    return resolve(conn, [merkle.CompactRange.edge_nodes(size)])[0]
