"""RFC 6962 / 9162 Merkle tree: public vectors and property tests."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import IntegrityError
from provenance.tlog import merkle

# transparency-dev/merkle testonly/constants.go (also certificate-transparency).
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (0, 1): [],
}
CONSISTENCY = {
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (1, 1): [],
}

HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def leaves_of(size: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_match_the_published_vector(size: int) -> None:
    assert merkle.root(HASHES[:size]).hex() == ROOTS[size]


def test_empty_root_is_hash_of_nothing() -> None:
    assert merkle.root([]) == merkle.EMPTY_ROOT == hashlib.sha256(b"").digest()


@pytest.mark.parametrize(("index", "size"), list(INCLUSION))
def test_inclusion_proofs_match_the_published_vector(index: int, size: int) -> None:
    proof = merkle.inclusion_proof(index, HASHES[:size])
    assert [p.hex() for p in proof] == INCLUSION[index, size]
    merkle.verify_inclusion(HASHES[index], index, size, proof, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new"), list(CONSISTENCY))
def test_consistency_proofs_match_the_published_vector(old: int, new: int) -> None:
    proof = merkle.consistency_proof(old, HASHES[:new])
    assert [p.hex() for p in proof] == CONSISTENCY[old, new]
    merkle.verify_consistency(old, new, proof, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]))


def test_every_proof_of_every_size_up_to_64_verifies() -> None:
    """Exhaustive for small trees: every index and every old size."""
    for size in range(1, 65):
        leaves = leaves_of(size)
        tree_root = merkle.root(leaves)
        for index in range(size):
            proof = merkle.inclusion_proof(index, leaves)
            merkle.verify_inclusion(leaves[index], index, size, proof, tree_root)
        for old in range(size + 1):
            proof = merkle.consistency_proof(old, leaves)
            merkle.verify_consistency(old, size, proof, merkle.root(leaves[:old]), tree_root)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    size = draw(st.integers(1, 200))
    return leaves_of(size), draw(st.integers(0, size - 1))


@given(tree_and_index(), st.data())
def test_inclusion_verifies_and_any_altered_byte_fails(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, index = case
    size = len(leaves)
    tree_root = merkle.root(leaves)
    proof = merkle.inclusion_proof(index, leaves)
    merkle.verify_inclusion(leaves[index], index, size, proof, tree_root)

    # stored-node path gives the same proof
    nodes = merkle.inclusion_nodes(index, size)
    assert [merkle.root(_span(leaves, group)) for group in nodes] == proof

    target = data.draw(st.sampled_from(["leaf", "root", *(["proof"] if proof else [])]))
    byte = data.draw(st.integers(0, 31))
    bit = 1 << data.draw(st.integers(0, 7))
    leaf, root_hash, bad_proof = leaves[index], tree_root, list(proof)
    if target == "leaf":
        leaf = _flip(leaf, byte, bit)
    elif target == "root":
        root_hash = _flip(root_hash, byte, bit)
    else:
        which = data.draw(st.integers(0, len(proof) - 1))
        bad_proof[which] = _flip(bad_proof[which], byte, bit)
    with pytest.raises(IntegrityError):
        merkle.verify_inclusion(leaf, index, size, bad_proof, root_hash)


@given(st.integers(1, 200), st.data())
def test_consistency_verifies_and_any_altered_byte_fails(size: int, data: st.DataObject) -> None:
    old = data.draw(st.integers(1, size))
    leaves = leaves_of(size)
    old_root, new_root = merkle.root(leaves[:old]), merkle.root(leaves)
    proof = merkle.consistency_proof(old, leaves)
    merkle.verify_consistency(old, size, proof, old_root, new_root)

    nodes = merkle.consistency_nodes(old, size)
    assert [merkle.root(_span(leaves, group)) for group in nodes] == proof

    if old == size:
        with pytest.raises(IntegrityError):
            merkle.verify_consistency(old, size, [], old_root, _flip(new_root, 0, 1))
        return
    target = data.draw(st.sampled_from(["old", "new", "proof"]))
    byte, bit = data.draw(st.integers(0, 31)), 1 << data.draw(st.integers(0, 7))
    bad_proof = list(proof)
    if target == "old":
        old_root = _flip(old_root, byte, bit)
    elif target == "new":
        new_root = _flip(new_root, byte, bit)
    else:
        which = data.draw(st.integers(0, len(proof) - 1))
        bad_proof[which] = _flip(bad_proof[which], byte, bit)
    with pytest.raises(IntegrityError):
        merkle.verify_consistency(old, size, bad_proof, old_root, new_root)


@given(st.integers(2, 200), st.data())
def test_proof_for_another_index_or_size_fails(size: int, data: st.DataObject) -> None:
    leaves = leaves_of(size)
    index = data.draw(st.integers(0, size - 1))
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    proof = merkle.inclusion_proof(index, leaves)
    with pytest.raises(IntegrityError):
        merkle.verify_inclusion(leaves[index], other, size, proof, merkle.root(leaves))
    with pytest.raises(IntegrityError):
        merkle.verify_inclusion(
            leaves[index], index, size, [*proof, proof[0] if proof else b""], b""
        )


@given(st.lists(st.binary(max_size=40), max_size=300))
def test_compact_range_tracks_the_root_and_stores_every_complete_node(
    data: list[bytes],
) -> None:
    compact = merkle.CompactRange()
    stored: dict[merkle.NodeId, bytes] = {}
    hashes = [merkle.leaf_hash(d) for d in data]
    for h in hashes:
        stored.update(compact.append(h))
    assert compact.root() == merkle.root(hashes)
    for node, value in stored.items():
        assert value == merkle.root(_span(hashes, [node]))
    if hashes:
        edge = merkle.CompactRange.edge_nodes(len(hashes))
        again = merkle.CompactRange(len(hashes), [stored[n] for n in edge])
        assert again.root() == compact.root()


def test_compact_range_refuses_a_wrong_edge() -> None:
    with pytest.raises(IntegrityError):
        merkle.CompactRange(3, [b"\x00" * 32])


def test_verifiers_refuse_malformed_input() -> None:
    leaves = leaves_of(5)
    proof = merkle.inclusion_proof(1, leaves)
    tree_root = merkle.root(leaves)
    for index, size in [(5, 5), (-1, 5), (0, 0)]:
        with pytest.raises(IntegrityError):
            merkle.verify_inclusion(leaves[1], index, size, proof, tree_root)
    with pytest.raises(IntegrityError):
        merkle.verify_inclusion(leaves[1], 1, 5, [*proof[:-1], b"short"], tree_root)
    with pytest.raises(IntegrityError):
        merkle.verify_consistency(6, 5, [], tree_root, tree_root)
    with pytest.raises(IntegrityError):
        merkle.verify_consistency(0, 5, [b"x" * 32], merkle.EMPTY_ROOT, tree_root)


def _flip(value: bytes, byte: int, bit: int) -> bytes:
    out = bytearray(value)
    out[byte % len(out)] ^= bit
    return bytes(out)


def _span(leaves: list[bytes], group: list[merkle.NodeId]) -> list[bytes]:
    """The leaves a run of adjacent complete subtrees covers."""
    lo = group[0].idx << group[0].level
    hi = (group[-1].idx + 1) << group[-1].level
    return leaves[lo:hi]
