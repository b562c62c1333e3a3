"""C2SP tlog-tiles (https://c2sp.org/tlog-tiles): paths, widths, entry bundles, and the
tree's hashes read back from tiles. Pure: no database, no network.

    <prefix>/checkpoint                   the signed note (text/plain; charset=utf-8)
    <prefix>/tile/<L>/<N>[.p/<W>]         hashes (application/octet-stream)
    <prefix>/tile/entries/<N>[.p/<W>]     entry bundles

A tile at level L holds the hashes of the complete subtrees of height 8L, from index
256N: a full tile 256 of them (8,192 bytes), a partial one W in 1..255. In the ledger's
node ids (`merkle.NodeId`) hash i of tile L/N is node (8L, 256N + i). The partial tile
at level L of a tree of size s holds floor(s / 256**L) mod 256 hashes; no empty tile
exists. N is written in 3-digit groups, all but the last prefixed with `x`
(1234067 -> x001/x234/067). Every number is ASCII decimal with no leading zeros.

An entry bundle is the tile's entries, each as a big-endian uint16 length and the
entry's bytes, so one entry is at most 65,535 bytes (`MAX_BUNDLE_ENTRY`).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from provenance.errors import InputError, IntegrityError
from provenance.tlog import merkle

HEIGHT = 8
WIDTH = 1 << HEIGHT
MAX_LEVEL = 63
MAX_BUNDLE_ENTRY = 0xFFFF
"""The largest entry an entry bundle can carry (its length is a uint16)."""
MAX_INDEX = (1 << 64) - 1
"""Tile indexes beyond this are refused before any arithmetic (tree sizes are uint64)."""

_LEVEL = re.compile(r"(0|[1-9][0-9]?)")
_GROUP = re.compile(r"[0-9]{3}")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


@dataclass(frozen=True)
class Tile:
    """A tile (or, with `entries`, an entry bundle): level, index, width (256 when full)."""

    level: int
    index: int
    width: int = WIDTH
    entries: bool = False

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    def path(self) -> str:
        """The tile's path under the log's prefix (no leading slash)."""
        head = "tile/entries" if self.entries else f"tile/{self.level}"
        suffix = "" if self.full else f".p/{self.width}"
        return f"{head}/{encode_index(self.index)}{suffix}"

    def nodes(self) -> list[merkle.NodeId]:
        """The stored node ids whose hashes this tile holds, in order."""
        if self.entries:
            raise ValueError("an entry bundle holds entries, not hashes")
        start = self.index * WIDTH
        return [merkle.NodeId(self.level * HEIGHT, start + i) for i in range(self.width)]

    def first_entry(self) -> int:
        """The index of the first entry a bundle holds."""
        return self.index * WIDTH


def encode_index(index: int) -> str:
    """N as tlog-tiles writes it: 3-digit groups, all but the last prefixed with `x`."""
    if index < 0:
        raise ValueError(f"negative tile index {index}")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_path(path: str) -> Tile:
    """A tile or bundle path (`tile/...`, no leading slash), strictly as the spec writes it.

    Raises `InputError` for anything else: a level outside 0..63, leading zeros, a
    width outside 1..255, `..`, non-ASCII digits, an index beyond 2**64 - 1.
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise InputError(f"not a tile path: {path!r}")
    entries = parts[1] == "entries"
    level = 0
    if not entries:
        if not _LEVEL.fullmatch(parts[1]) or int(parts[1]) > MAX_LEVEL:
            raise InputError(f"tile level must be 0..{MAX_LEVEL}: {path!r}")
        level = int(parts[1])
    groups = parts[2:]
    width = WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _WIDTH.fullmatch(groups[-1]) or int(groups[-1]) >= WIDTH:
            raise InputError(f"partial tile width must be 1..255: {path!r}")
        width = int(groups[-1])
        groups = [*groups[:-2], groups[-2][:-2]]
    index = 0
    for position, group in enumerate(groups):
        last = position == len(groups) - 1
        digits = group if last else group[1:]
        if (not last and not group.startswith("x")) or not _GROUP.fullmatch(digits):
            raise InputError(f"malformed tile index in {path!r}")
        index = index * 1000 + int(digits)
        if index > MAX_INDEX:
            raise InputError(f"tile index out of range in {path!r}")
    if len(groups) > 1 and groups[0] == "x000":
        raise InputError(f"tile index has a leading zero group: {path!r}")
    return Tile(level, index, width, entries)


def level_count(size: int, level: int) -> int:
    """How many hashes level `level` of the tiles holds for a tree of `size`."""
    return size >> (level * HEIGHT)


def width_at(size: int, level: int, index: int) -> int:
    """The width of tile `index` at `level` in a tree of `size`: 256 when full, the
    partial width when it is the rightmost, 0 when it does not exist."""
    count = level_count(size, level) - index * WIDTH
    if count <= 0:
        return 0
    return min(count, WIDTH)


def available(tile: Tile, size: int) -> bool:
    """Whether a tree of `size` has every hash (or entry) `tile` holds."""
    return 0 < tile.width <= level_count(size, tile.level) - tile.index * WIDTH


def tiles_for(size: int, since: int = 0) -> Iterator[Tile]:
    """Every tile and entry bundle of a tree of `size` that a tree of `since` lacked:
    what `ledger publish` writes when the tree grew from `since` to `size`."""
    if not 0 <= since <= size:
        raise ValueError(f"since {since} is outside 0..{size}")
    level = 0
    while level_count(size, level):
        count = level_count(size, level)
        before = level_count(since, level)
        first = before // WIDTH  # the first tile that changed (or was partial before)
        for index in range(first, (count + WIDTH - 1) // WIDTH):
            width = width_at(size, level, index)
            if width == width_at(since, level, index):
                continue
            yield Tile(level, index, width)
            if level == 0:
                yield Tile(0, index, width, entries=True)
        level += 1


def tile_for_node(node: merkle.NodeId, size: int) -> tuple[Tile, int, int]:
    """The tile that holds node `node` of a tree of `size` (or the hashes it is made of),
    with the first and one-past-last position of those hashes in it."""
    level, rest = divmod(node.level, HEIGHT)
    span = 1 << rest
    first = node.idx * span
    index, offset = divmod(first, WIDTH)
    width = width_at(size, level, index)
    if offset + span > width:
        raise IntegrityError(f"node ({node.level}, {node.idx}) is not in a tree of size {size}")
    return Tile(level, index, width), offset, offset + span


def hashes_of(data: bytes, tile: Tile) -> list[bytes]:
    """A tile's bytes as hashes; `IntegrityError` unless it is exactly `width` of them."""
    if len(data) != tile.width * merkle.HASH_SIZE:
        raise IntegrityError(
            f"{tile.path()} is {len(data)} bytes, not {tile.width} hashes "
            f"({tile.width * merkle.HASH_SIZE} bytes)"
        )
    return [data[i : i + merkle.HASH_SIZE] for i in range(0, len(data), merkle.HASH_SIZE)]


def node_from_tiles(
    node: merkle.NodeId, size: int, fetch: Callable[[Tile], Sequence[bytes]]
) -> bytes:
    """The hash of a complete subtree, read from the tiles of a tree of `size`."""
    tile, first, last = tile_for_node(node, size)
    return merkle.root(list(fetch(tile)[first:last]))


def nodes_from_tiles(
    size: int, fetch: Callable[[Tile], Sequence[bytes]]
) -> Callable[[Iterable[merkle.NodeId]], dict[merkle.NodeId, bytes]]:
    """A node fetcher for `merkle.resolve` that reads tiles (each tile fetched once)."""
    cache: dict[Tile, Sequence[bytes]] = {}

    def cached(tile: Tile) -> Sequence[bytes]:
        if tile not in cache:
            cache[tile] = fetch(tile)
        return cache[tile]

    def nodes(ids: Iterable[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
        return {node: node_from_tiles(node, size, cached) for node in ids}

    return nodes


def root_from_tiles(size: int, fetch: Callable[[Tile], Sequence[bytes]]) -> bytes:
    """The root of a tree of `size`, from its tiles alone."""
    if size == 0:
        return merkle.EMPTY_ROOT
    fetcher = nodes_from_tiles(size, fetch)
    return merkle.resolve([merkle.CompactRange.edge_nodes(size)], lambda ids: fetcher(list(ids)))[0]


# --- entry bundles -------------------------------------------------------------------


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a bundle: each a big-endian uint16 length, then its bytes."""
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_BUNDLE_ENTRY:
            raise InputError(
                f"entry {i} of the bundle is {len(entry)} bytes, over the "
                f"{MAX_BUNDLE_ENTRY} bytes an entry bundle can hold"
            )
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def decode_bundle(data: bytes, count: int | None = None) -> list[bytes]:
    """A bundle's entries; `IntegrityError` when it is truncated or holds extra bytes,
    or (with `count`) holds another number of entries."""
    entries = []
    position = 0
    while position < len(data):
        if position + 2 > len(data):
            raise IntegrityError("entry bundle is truncated in a length prefix")
        (length,) = struct.unpack_from(">H", data, position)
        position += 2
        if position + length > len(data):
            raise IntegrityError("entry bundle is truncated in an entry")
        entries.append(data[position : position + length])
        position += length
        if len(entries) > WIDTH:
            raise IntegrityError(f"entry bundle holds more than {WIDTH} entries")
    if count is not None and len(entries) != count:
        raise IntegrityError(f"entry bundle holds {len(entries)} entries, not {count}")
    return entries
