"""The stored Merkle tree: complete-subtree hashes read by id, in one query.

Appends store the hash of every complete subtree (`tree_nodes`, `(level, idx)`), so
a root, an inclusion proof or a consistency proof is a handful of node ids
(`tlog.merkle` computes which) read here by primary key: O(log n), never a scan.

Proofs served by the library (`Ledger.inclusion_proof`, `consistency_proof`) go
through a `TileCache`: the upper levels of the tree (levels 8 and above) are kept in
memory as whole tiles, the way a tlog-tiles client keeps them, so a proof reads from
the database only the few nodes below level 8 (one query on a raw driver connection,
a few tens of microseconds).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from provenance.errors import IntegrityError
from provenance.tlog import merkle

TILE_HEIGHT = 8
"""Tree levels per tile, as in C2SP tlog-tiles: a tile holds 256 hashes of one level."""

CACHE_TILES = 1024
"""Upper tiles a `TileCache` keeps: each holds at most 511 hashes (16 KiB), so the
cache holds at most 16 MiB of hashes. That is every tile above level 0 of a tree of
2^26 (67 million) entries; a larger tree keeps the tiles used most recently."""


@functools.lru_cache(maxsize=256)
def _nodes_sql(shape: tuple[int, ...], paramstyle: str) -> str:
    """`SELECT` of stored nodes, one `level = ? AND idx IN (?, ...)` term per level:
    `shape` is the number of indexes asked for at each level, in order.

    SQLite plans a row-value `(level, idx) IN (VALUES ...)` as a full scan, which
    would make every proof O(n); this form is an index lookup per node on both
    databases. The text is built once per shape (the drivers then reuse their
    prepared statements)."""
    mark = "?" if paramstyle == "qmark" else "%s"
    terms = [f"(level = {mark} AND idx IN ({', '.join([mark] * count)}))" for count in shape]
    # only placeholders are interpolated; every value is a bound parameter
    return "SELECT level, idx, hash FROM tree_nodes WHERE " + " OR ".join(terms)  # noqa: S608


def _query(ids: Iterable[merkle.NodeId], paramstyle: str) -> tuple[str, tuple[int, ...]] | None:
    by_level: dict[int, set[int]] = {}
    for node in ids:
        by_level.setdefault(node.level, set()).add(node.idx)
    if not by_level:
        return None
    shape: list[int] = []
    params: list[int] = []
    for level in sorted(by_level):
        idxs = sorted(by_level[level])
        shape.append(len(idxs))
        params.append(level)
        params.extend(idxs)
    return _nodes_sql(tuple(shape), paramstyle), tuple(params)


def nodes(conn: Connection, ids: Iterable[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
    """Fetch stored nodes by id in one query that uses the primary key."""
    query = _query(ids, conn.dialect.paramstyle)
    if query is None:
        return {}
    rows = conn.exec_driver_sql(*query)
    return {merkle.NodeId(level, idx): bytes(value) for level, idx, value in rows}


def resolve(conn: Connection, groups: Sequence[Sequence[merkle.NodeId]]) -> list[bytes]:
    """Each group of node ids folded into one hash (`merkle.resolve`), nodes read at once."""
    return merkle.resolve(groups, lambda ids: nodes(conn, ids))


def root(conn: Connection, size: int) -> bytes:
    """The root of the tree of `size` leaves, from its right-edge nodes."""
    return resolve(conn, [merkle.CompactRange.edge_nodes(size)])[0]


# --- the proof path: upper tiles in memory ---------------------------------------------


class _Tile:
    """The complete nodes of one tile: `rows[j]` holds its hashes at level 8t + j."""

    __slots__ = ("rows", "width")

    def __init__(self, base: list[bytes], height: int) -> None:
        rows = [base]
        for _ in range(1, height):
            below = rows[-1]
            rows.append(
                [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )
        self.rows = rows
        self.width = 1 << height

    @property
    def full(self) -> bool:
        return len(self.rows[0]) == self.width

    def get(self, level_in_tile: int, position: int) -> bytes | None:
        row = self.rows[level_in_tile]
        return row[position] if position < len(row) else None


class TileCache:
    """The upper levels of a ledger's stored tree, kept in memory as whole tiles.

    A tile `(t, k)` with t >= 1 is what C2SP tlog-tiles calls the tile at level t:
    the 256 stored hashes at tree level 8t with indexes [256k, 256k + 256), read in one
    primary-key range query; the complete nodes above them inside the tile (levels
    8t+1 .. 8t+7) are hashed here from those, as a tiles client does. Stored nodes never
    change, so a tile is kept as read; a partial tile (the tree's right edge) is read
    again when a node it lacked is asked for. At most `limit` tiles are kept, the least
    recently used dropped first (`CACHE_TILES`, 16 MiB at most).

    Nodes below level 8 (tile level 0: the leaves' own tile) are read from the
    database for each proof: one query of at most a few dozen primary-key lookups.
    """

    def __init__(self, limit: int = CACHE_TILES, *, height: int = TILE_HEIGHT) -> None:
        self.limit = limit
        self.height = height
        """Levels per tile (8, as tlog-tiles; tests use smaller tiles)."""
        self._tiles: OrderedDict[tuple[int, int], _Tile] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0
        """Tiles read from the database so far (for tests and benches)."""

    def __len__(self) -> int:
        return len(self._tiles)

    def resolve(self, engine: Engine, groups: Sequence[Sequence[merkle.NodeId]]) -> list[bytes]:
        """Each group of node ids folded into one hash; a node that is not stored is
        `IntegrityError` (as `tree.resolve`). Uses a raw driver connection from the
        engine's pool: the lower nodes are one query, the tiles not cached one each."""
        return merkle.resolve(groups, lambda ids: self.nodes(engine, ids))

    def nodes(self, engine: Engine, ids: Iterable[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
        found: dict[merkle.NodeId, bytes] = {}
        lower: list[merkle.NodeId] = []
        upper: list[merkle.NodeId] = []
        for node in ids:
            (lower if node.level < self.height else upper).append(node)
        raw = engine.raw_connection()
        driver: Any = raw.driver_connection
        # one round trip per query on PostgreSQL: no BEGIN before it, no ROLLBACK when
        # the connection goes back to the pool (each costs a wake-up of the server
        # process, which on a loaded machine is most of a proof's time)
        autocommit = getattr(driver, "autocommit", None)
        if autocommit is False:
            driver.autocommit = True
        try:
            cursor = raw.cursor()
            try:
                query = _query(lower, engine.dialect.paramstyle)
                if query is not None:
                    cursor.execute(*query)
                    found.update(
                        (merkle.NodeId(level, idx), bytes(value))
                        for level, idx, value in cursor.fetchall()
                    )
                for node in upper:
                    value = self._upper(cursor, engine.dialect.paramstyle, node)
                    if value is not None:
                        found[node] = value
            finally:
                cursor.close()
        finally:
            if autocommit is False:
                driver.autocommit = False
            raw.close()
        return found

    def _upper(self, cursor: Any, paramstyle: str, node: merkle.NodeId) -> bytes | None:
        tile_level, level_in_tile = divmod(node.level, self.height)
        shift = self.height - level_in_tile
        key = (tile_level, node.idx >> shift)
        position = node.idx - (key[1] << shift)
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
        if tile is not None:
            value = tile.get(level_in_tile, position)
            if value is not None or tile.full:
                return value
        tile = self._load(cursor, paramstyle, key)
        with self._lock:
            self._tiles[key] = tile
            self._tiles.move_to_end(key)
            while len(self._tiles) > self.limit:
                self._tiles.popitem(last=False)
        return tile.get(level_in_tile, position)

    def _load(self, cursor: Any, paramstyle: str, key: tuple[int, int]) -> _Tile:
        tile_level, index = key
        mark = "?" if paramstyle == "qmark" else "%s"
        width = 1 << self.height
        first = index * width
        cursor.execute(  # only placeholders are interpolated
            f"SELECT idx, hash FROM tree_nodes WHERE level = {mark} AND idx >= {mark} "  # noqa: S608
            f"AND idx < {mark} ORDER BY idx",
            (tile_level * self.height, first, first + width),
        )
        base: list[bytes] = []
        for idx, value in cursor.fetchall():
            if idx != first + len(base):
                break  # a gap: keep the prefix (the audit names what is missing)
            if len(value) != merkle.HASH_SIZE:
                raise IntegrityError(
                    f"tree node (level {tile_level * self.height}, index {idx}) is not a "
                    f"{merkle.HASH_SIZE}-byte hash"
                )
            base.append(bytes(value))
        self.loads += 1
        return _Tile(base, self.height)
