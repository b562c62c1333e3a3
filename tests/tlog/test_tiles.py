"""C2SP tlog-tiles layout: paths, widths, bundles, and trees rebuilt from tiles alone."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import InputError, IntegrityError, ProvenanceError
from provenance.tlog import merkle, tiles
from provenance.tlog.tiles import Tile


def test_index_encoding_is_the_specs() -> None:
    assert tiles.encode_index(1234067) == "x001/x234/067"
    assert tiles.encode_index(0) == "000"
    assert tiles.encode_index(999) == "999"
    assert tiles.encode_index(1000) == "x001/000"
    assert Tile(0, 1234067).path() == "tile/0/x001/x234/067"
    assert Tile(2, 5, 17).path() == "tile/2/005.p/17"
    assert Tile(0, 3, 8, entries=True).path() == "tile/entries/003.p/8"


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/../x",
        "tile/0/000/../001",
        "tile/64/000",
        "tile/01/000",
        "tile/0/00",
        "tile/0/0000",
        "tile/0/x001",
        "tile/0/001/002",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/08",
        "tile/0/000.p",
        "tile/0/x000/001",
        "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
        "tile/0/\u0661\u0662\u0663",
        "tile/entries/x1/000",
        "tiles/0/000",
    ],
)
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(InputError):
        tiles.parse_path(path)


@given(st.integers(0, 2**63), st.integers(0, 63), st.integers(1, 256), st.booleans())
def test_paths_round_trip(index: int, level: int, width: int, entries: bool) -> None:
    tile = Tile(0 if entries else level, index, width, entries)
    assert tiles.parse_path(tile.path()) == tile


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused(text: str) -> None:
    with contextlib.suppress(InputError):
        tiles.parse_path("tile/" + text)


def test_widths_follow_the_spec_example() -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
    # level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of
    # width 17, and one partial level 2 tile of width 1"
    found = list(tiles.tiles_for(70_000))
    hashes = [t for t in found if not t.entries]
    assert len([t for t in hashes if t.level == 0 and t.full]) == 273
    assert [t.width for t in hashes if t.level == 0 and not t.full] == [112]
    assert [t.width for t in hashes if t.level == 1] == [256, 17]
    assert [t.width for t in hashes if t.level == 2] == [1]
    assert len([t for t in found if t.entries]) == 274
    # size 256: a full level 0 tile and a partial level 1 tile of width 1
    assert [(t.level, t.width) for t in tiles.tiles_for(256) if not t.entries] == [(0, 256), (1, 1)]


def test_incremental_tiles_are_only_what_changed() -> None:
    assert list(tiles.tiles_for(10, 10)) == []
    grown = [t for t in tiles.tiles_for(300, 255) if not t.entries]
    assert grown == [Tile(0, 0, 256), Tile(0, 1, 44), Tile(1, 0, 1)]


def _tree(size: int) -> tuple[list[bytes], dict[merkle.NodeId, bytes]]:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    frontier = merkle.CompactRange()
    stored: dict[merkle.NodeId, bytes] = {}
    for leaf in leaves:
        stored.update(frontier.append(leaf))
    return leaves, stored


def _fetcher(stored: dict[merkle.NodeId, bytes]):  # type: ignore[no-untyped-def]
    def fetch(tile: Tile) -> list[bytes]:
        return [stored[n] for n in tile.nodes()]

    return fetch


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 1000, 65_536 + 300])
def test_the_root_rebuilt_from_tiles_alone(size: int) -> None:
    leaves, stored = _tree(size)
    fetch = _fetcher(stored)
    assert tiles.root_from_tiles(size, fetch) == merkle.root(leaves)
    for old in {1, size // 2, size - 1} - {0}:
        nodes = tiles.nodes_from_tiles(size, fetch)
        proof = merkle.resolve(merkle.consistency_nodes(old, size), nodes)
        merkle.verify_consistency(old, size, proof, merkle.root(leaves[:old]), merkle.root(leaves))


def test_a_node_outside_the_tree_is_not_read() -> None:
    with pytest.raises(IntegrityError):
        tiles.tile_for_node(merkle.NodeId(8, 1), 300)


@given(st.lists(st.binary(max_size=300), max_size=256))
def test_bundles_round_trip(entries: list[bytes]) -> None:
    assert tiles.decode_bundle(tiles.encode_bundle(entries), len(entries)) == entries


@given(st.binary(max_size=600))
def test_any_bundle_bytes_decode_or_are_refused(data: bytes) -> None:
    try:
        tiles.decode_bundle(data)
    except ProvenanceError as exc:
        assert isinstance(exc, IntegrityError)


def test_an_entry_over_64_kib_cannot_be_bundled() -> None:
    assert tiles.decode_bundle(tiles.encode_bundle([b"x" * 65_535])) == [b"x" * 65_535]
    with pytest.raises(InputError, match="65535"):
        tiles.encode_bundle([b"x" * 65_536])
    with pytest.raises(IntegrityError, match="truncated"):
        tiles.decode_bundle(b"\x00\x05abc")
