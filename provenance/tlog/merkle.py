"""RFC 6962 / RFC 9162 Merkle trees: hashing, proofs and their verification.

    leaf hash  = SHA-256(0x00 || data)
    node hash  = SHA-256(0x01 || left || right)
    empty tree = SHA-256("")
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Two sets of functions:

* over a list of leaf hashes (`root`, `inclusion_proof`, `consistency_proof`):
  the RFC 6962 section 2.1 recursions written as they read, for small trees
  and as the reference the stored-tree code is tested against;
* over *node ids* (`NodeId`: level, index) of complete subtrees, which is how
  the ledger stores its tree: `range_nodes`, `inclusion_nodes`,
  `consistency_nodes` name the O(log n) stored nodes a root or proof needs,
  and `fold` combines them. `CompactRange` keeps the right edge of a growing
  tree so appends cost O(1) amortised node hashes.

The verifiers are the RFC 9162 section 2.1.3.2 and 2.1.4.2 algorithms, which
handle the ragged right edge of a tree; they raise `IntegrityError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from provenance.errors import IntegrityError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- over a list of leaf hashes -------------------------------------------------


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a tree whose leaves have these hashes."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(root(leaf_hashes[:k]), root(leaf_hashes[k:]))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]): from the leaf's sibling up to the root's child."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise IndexError(f"leaf index {index} is outside a tree of size {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(index, leaf_hashes[:k]), root(leaf_hashes[k:])]
    return [*inclusion_proof(index - k, leaf_hashes[k:]), root(leaf_hashes[:k])]


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 PROOF(m, D[n]) that the first `old_size` leaves are a prefix."""
    n = len(leaf_hashes)
    if not 0 <= old_size <= n:
        raise IndexError(f"old size {old_size} is outside 0..{n}")
    if old_size in (0, n):
        return []
    return _subproof(old_size, leaf_hashes, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


# --- verification (RFC 9162) ------------------------------------------------------


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise IntegrityError(f"{what} is not a {HASH_SIZE}-byte hash")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Check an inclusion proof of `leaf` (a leaf hash) at `index` in a tree of `size`."""
    _check_hash(leaf, "leaf hash")
    _check_hash(root_hash, "root hash")
    if not 0 <= index < size:
        raise IntegrityError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, bytes(leaf)
    for i, p in enumerate(proof):
        _check_hash(p, f"inclusion proof hash {i}")
        if sn == 0:
            raise IntegrityError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise IntegrityError("inclusion proof is too short")
    if r != root_hash:
        raise IntegrityError(f"inclusion proof of leaf {index} does not match the root")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of `old_size` with `old_root` is a prefix of the new one."""
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    if not 0 <= old_size <= new_size:
        raise IntegrityError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        if proof:
            raise IntegrityError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise IntegrityError(f"two different roots for tree size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise IntegrityError("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise IntegrityError("consistency proof is empty")
    for i, p in enumerate(proof):
        _check_hash(p, f"consistency proof hash {i}")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise IntegrityError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise IntegrityError("consistency proof is too short")
    if fr != old_root:
        raise IntegrityError(f"consistency proof does not match the old root (size {old_size})")
    if sr != new_root:
        raise IntegrityError(f"consistency proof does not match the new root (size {new_size})")


# --- over stored complete subtrees -------------------------------------------------


class NodeId(NamedTuple):
    """A complete subtree: leaves [index * 2**level, (index + 1) * 2**level)."""

    level: int
    idx: int


def range_nodes(lo: int, hi: int) -> list[NodeId]:
    """The complete subtrees that make up the RFC 6962 range D[lo:hi], left to right.

    Every range the RFC recursions visit starts at a multiple of a power of two
    at least its length, so it splits into aligned complete subtrees by the
    binary digits of its length; its hash is `fold` of their hashes.
    """
    if not 0 <= lo < hi:
        raise ValueError(f"empty or negative range [{lo}, {hi})")
    nodes = []
    size = hi - lo
    offset = lo
    while size:  # one step per binary digit set, largest first
        level = size.bit_length() - 1
        width = 1 << level
        if offset & (width - 1):
            raise ValueError(f"range [{lo}, {hi}) is not RFC 6962 aligned")
        nodes.append(NodeId(level, offset >> level))
        offset += width
        size -= width
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a range from the hashes of its complete subtrees (left to right)."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_nodes(index: int, size: int) -> list[list[NodeId]]:
    """For each hash of PATH(index, D[size]): the stored nodes it folds from."""
    if not 0 <= index < size:
        raise IndexError(f"leaf index {index} is outside a tree of size {size}")
    lo, hi, m = 0, size, index
    stack: list[list[NodeId]] = []
    while hi - lo > 1:
        level = (hi - lo - 1).bit_length() - 1
        k = 1 << level  # _split(hi - lo)
        if m < k:
            stack.append(range_nodes(lo + k, hi))
            hi = lo + k
        else:
            stack.append([NodeId(level, lo >> level)])  # range_nodes(lo, lo + k)
            lo, m = lo + k, m - k
    stack.reverse()
    return stack


def consistency_nodes(old_size: int, new_size: int) -> list[list[NodeId]]:
    """For each hash of PROOF(old_size, D[new_size]): the stored nodes it folds from."""
    if not 0 <= old_size <= new_size:
        raise IndexError(f"old size {old_size} is outside 0..{new_size}")
    if old_size in (0, new_size):
        return []
    stack: list[list[NodeId]] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            stack.append(range_nodes(lo + k, hi))
            hi = lo + k
        else:
            stack.append(range_nodes(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        stack.append(range_nodes(lo, hi))
    return list(reversed(stack))


def resolve(
    groups: Sequence[Sequence[NodeId]], fetch: Callable[[Iterable[NodeId]], dict[NodeId, bytes]]
) -> list[bytes]:
    """Turn node groups into hashes, fetching every node once in one call."""
    wanted = {node for group in groups for node in group}
    found = fetch(wanted)
    missing = wanted - found.keys()
    if missing:
        first = min(missing)
        raise IntegrityError(f"tree node (level {first.level}, index {first.idx}) is missing")
    return [fold([found[node] for node in group]) for group in groups]


class CompactRange:
    """The right edge of a tree: hashes of the complete subtrees covering [0, size).

    Appending a leaf merges equal-sized subtrees, which yields exactly the new
    complete nodes a store must keep; `root()` folds the edge.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        expected = self.edge_nodes(size)
        if len(hashes) != len(expected):
            raise IntegrityError(
                f"a tree of size {size} has {len(expected)} edge nodes, got {len(hashes)}"
            )
        self.size = size
        self._edge: list[tuple[NodeId, bytes]] = list(zip(expected, hashes, strict=True))

    @staticmethod
    def edge_nodes(size: int) -> list[NodeId]:
        """The complete subtrees covering [0, size), largest first."""
        return range_nodes(0, size) if size else []

    def append(self, leaf: bytes) -> list[tuple[NodeId, bytes]]:
        """Add a leaf hash; return the complete nodes it creates, the leaf first."""
        node = NodeId(0, self.size)
        created = [(node, leaf)]
        current = leaf
        while self._edge and self._edge[-1][0].level == node.level:
            left_id, left = self._edge.pop()
            node = NodeId(node.level + 1, left_id.idx >> 1)
            current = node_hash(left, current)
            created.append((node, current))
        self._edge.append((node, current))
        self.size += 1
        return created

    def root(self) -> bytes:
        return fold([h for _, h in self._edge])
