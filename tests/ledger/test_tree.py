"""The stored tree's proof path: upper tiles cached in memory, lower nodes read by id."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, insert

from provenance.errors import IntegrityError
from provenance.ledger import tree
from provenance.ledger.database import database_url, make_engine
from provenance.ledger.tables import TreeNode
from provenance.tlog import merkle


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url(db_url))
    TreeNode.create(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def grow(engine: Engine, frontier: merkle.CompactRange, leaves: list[bytes], count: int) -> None:
    """Append `count` leaves, writing the nodes the ledger writes at append time."""
    rows = []
    for _ in range(count):
        leaf = merkle.leaf_hash(b"leaf %d" % frontier.size)
        leaves.append(leaf)
        rows.extend({"level": n.level, "idx": n.idx, "hash": h} for n, h in frontier.append(leaf))
    with engine.begin() as conn:
        conn.execute(insert(TreeNode), rows)


@pytest.mark.parametrize("height", [2, 3])
def test_cached_proofs_equal_the_reference(engine: Engine, height: int) -> None:
    frontier, leaves = merkle.CompactRange(), []
    grow(engine, frontier, leaves, 300)
    cache = tree.TileCache(height=height)
    rng = random.Random(height)
    for size in (1, 2, 5, 64, 255, 256, 257, 299, 300):
        for seq in {0, size - 1, rng.randrange(size)}:
            proof = cache.resolve(engine, merkle.inclusion_nodes(seq, size))
            assert proof == merkle.inclusion_proof(seq, leaves[:size])
        for old in {1, size, rng.randrange(1, size + 1)}:
            proof = cache.resolve(engine, merkle.consistency_nodes(old, size))
            assert proof == merkle.consistency_proof(old, leaves[:size])
    cache.resolve(engine, merkle.inclusion_nodes(100, 256))
    loads = cache.loads
    assert loads > 0
    cache.resolve(engine, merkle.inclusion_nodes(100, 256))
    assert cache.loads == loads, "a full tile is read once"


def test_a_partial_tile_is_read_again_when_the_tree_grows(engine: Engine) -> None:
    frontier, leaves = merkle.CompactRange(), []
    grow(engine, frontier, leaves, 20)
    cache = tree.TileCache(height=2)
    assert cache.resolve(engine, [merkle.CompactRange.edge_nodes(20)]) == [merkle.root(leaves)]
    with pytest.raises(IntegrityError, match="missing"):
        cache.resolve(engine, merkle.inclusion_nodes(3, 40))
    grow(engine, frontier, leaves, 20)
    for seq in (0, 3, 17, 39):
        proof = cache.resolve(engine, merkle.inclusion_nodes(seq, 40))
        assert proof == merkle.inclusion_proof(seq, leaves)
    assert cache.resolve(engine, merkle.consistency_nodes(20, 40)) == merkle.consistency_proof(
        20, leaves
    )


def test_the_cache_keeps_at_most_its_limit(engine: Engine) -> None:
    frontier, leaves = merkle.CompactRange(), []
    grow(engine, frontier, leaves, 200)
    cache = tree.TileCache(limit=3, height=2)
    for seq in range(0, 200, 7):
        proof = cache.resolve(engine, merkle.inclusion_nodes(seq, 200))
        assert proof == merkle.inclusion_proof(seq, leaves)
        assert len(cache) <= 3


def test_the_lower_nodes_are_read_by_primary_key(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite")
    frontier, leaves = merkle.CompactRange(), []
    grow(engine, frontier, leaves, 50)
    ids = {n for group in merkle.inclusion_nodes(33, 50) for n in group}
    query = tree._query(ids, "qmark")
    assert query is not None
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + query[0], query[1]).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "SCAN tree_nodes" not in details, details
    assert "SEARCH tree_nodes" in details, details
