"""The stored tree as C2SP tlog-tiles: tiles and entry bundles read from the database, and
`publish`, which writes them (and the checkpoint) as static files.

A tile at level L is a range of stored complete-subtree hashes at tree level 8L (one
primary-key range query); an entry bundle is a range of leaves. `tlog.tiles` has the
layout; this module only reads the ledger.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from provenance.errors import InputError, IntegrityError, NotFoundError
from provenance.ledger.log import Ledger
from provenance.ledger.tables import CheckpointRow, Entry, TreeNode
from provenance.tlog import merkle, note, tiles
from provenance.tlog.tiles import Tile


def latest_size(conn: Connection) -> int:
    return int(conn.execute(select(func.max(CheckpointRow.c.size))).scalar() or 0)


def tile_bytes(conn: Connection, tile: Tile, size: int | None = None) -> bytes:
    """The bytes of a tile or entry bundle, for the tree at `size` (default the latest
    checkpoint). A tile the tree does not have yet is `NotFoundError`."""
    size = latest_size(conn) if size is None else size
    if not tiles.available(tile, size):
        raise NotFoundError(f"{tile.path()} is not in the tree of size {size}")
    if tile.entries:
        return bundle_bytes(conn, tile)
    level = tile.level * tiles.HEIGHT
    first = tile.index * tiles.WIDTH
    rows = conn.execute(
        select(TreeNode.c.idx, TreeNode.c.hash)
        .where(
            TreeNode.c.level == level,
            TreeNode.c.idx >= first,
            TreeNode.c.idx < first + tile.width,
        )
        .order_by(TreeNode.c.idx)
    ).all()
    if [r.idx for r in rows] != list(range(first, first + tile.width)):
        raise IntegrityError(f"tree nodes of {tile.path()} are missing: the database was altered")
    data = b"".join(bytes(r.hash) for r in rows)
    if len(data) != tile.width * merkle.HASH_SIZE:
        raise IntegrityError(f"a tree node of {tile.path()} is not a 32-byte hash")
    return data


def bundle_bytes(conn: Connection, tile: Tile) -> bytes:
    """An entry bundle: the leaves of the tile's entries, uint16 length-prefixed.

    An entry longer than 65,535 bytes cannot be put in a bundle: such a bundle is not
    served (`InputError` naming the entry); the entry is read at /v1/entries/<n>.
    """
    first = tile.first_entry()
    rows = conn.execute(
        select(Entry.c.seq, Entry.c.leaf)
        .where(Entry.c.seq >= first, Entry.c.seq < first + tile.width)
        .order_by(Entry.c.seq)
    ).all()
    if [r.seq for r in rows] != list(range(first, first + tile.width)):
        raise IntegrityError(f"entries of {tile.path()} are missing: the database was altered")
    for r in rows:
        if len(r.leaf) > tiles.MAX_BUNDLE_ENTRY:
            raise InputError(
                f"entry {r.seq} is {len(r.leaf)} bytes, over the {tiles.MAX_BUNDLE_ENTRY} "
                "bytes an entry bundle can hold: it is served only at /v1/entries/"
                f"{r.seq}"
            )
    return tiles.encode_bundle([bytes(r.leaf) for r in rows])


# --- static publication -----------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    directory: Path
    size: int
    previous: int
    tiles: int
    bundles: int
    skipped_bundles: list[str]

    def to_json(self) -> dict[str, object]:
        return {
            "directory": str(self.directory),
            "size": self.size,
            "previous_size": self.previous,
            "tiles_written": self.tiles,
            "bundles_written": self.bundles,
            "bundles_not_written": self.skipped_bundles,
        }


def _write(path: Path, data: bytes) -> None:
    """Write a file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def published_size(directory: Path, ledger: Ledger) -> int:
    """The tree size of the checkpoint already in `directory` (0 when there is none).

    It must be this ledger's, signed by its key, and consistent with the ledger now:
    publishing over another log's files is refused."""
    path = directory / "checkpoint"
    if not path.exists():
        return 0
    checkpoint = note.open_checkpoint(path.read_text(encoding="utf-8"), ledger.verifier_keys)
    if checkpoint.origin != ledger.origin:
        raise InputError(f"{directory} holds the tiles of another log ({checkpoint.origin})")
    if checkpoint.size and ledger.root(checkpoint.size) != checkpoint.root:
        raise IntegrityError(
            f"{directory}/checkpoint (size {checkpoint.size}) is not a checkpoint of this "
            "ledger's tree: refusing to publish over it"
        )
    return checkpoint.size


def publish(ledger: Ledger, directory: Path, *, entries: bool = False) -> Published:
    """Write the latest checkpoint, and every tile and entry bundle it needs that the
    directory does not have yet, as static files laid out as tlog-tiles (incremental:
    only what changed since the checkpoint already there). The checkpoint is written
    last, so a reader never sees a checkpoint whose tiles are not there.

    Entry bundles hold the entries' contents, which are confidential: they are written
    only with `entries` (for a directory that only auditors and regulators can read)."""
    previous = published_size(directory, ledger)
    signed = ledger.checkpoint()
    size = signed.checkpoint.size
    if size < previous:
        raise IntegrityError(f"{directory} holds a larger tree ({previous}) than the ledger")
    written = bundles = 0
    skipped: list[str] = []
    with ledger.store.read() as conn:
        for tile in tiles.tiles_for(size, previous):
            if tile.entries and not entries:
                continue
            try:
                data = tile_bytes(conn, tile, size)
            except InputError:
                skipped.append(tile.path())
                continue
            _write(directory / tile.path(), data)
            if tile.entries:
                bundles += 1
            else:
                written += 1
    _write(directory / "checkpoint", signed.note.encode("utf-8"))
    return Published(directory, size, previous, written, bundles, skipped)


def leaves(conn: Connection, start: int, end: int) -> list[tuple[int, bytes]]:
    """The stored leaves of entries [start, end), in order."""
    rows = conn.execute(
        select(Entry.c.seq, Entry.c.leaf)
        .where(Entry.c.seq >= start, Entry.c.seq < end)
        .order_by(Entry.c.seq)
    ).all()
    return [(int(r.seq), bytes(r.leaf)) for r in rows]


def leaves_of(conn: Connection, seqs: list[int]) -> dict[int, bytes]:
    """The stored leaves of these entries."""
    found: dict[int, bytes] = {}
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        rows = conn.execute(select(Entry.c.seq, Entry.c.leaf).where(Entry.c.seq.in_(chunk)))
        found.update((int(r.seq), bytes(r.leaf)) for r in rows)
    return found
