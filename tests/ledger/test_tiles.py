"""`ledger publish DIR`: the checkpoint and tiles as static files, served by a plain static
file server, checked by the remote client as it checks `provenance serve`."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from provenance.errors import IntegrityError
from provenance.ledger.tiles import publish
from provenance.remote.client import RemoteLedger, State
from provenance.tlog import merkle, tiles
from tests.conftest import World


@pytest.fixture
def static(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    directory = tmp_path / "static"
    directory.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield directory, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _parties(world: World, ids: range) -> None:
    """Append one party registration per number, in one transaction."""
    world.ledger.append_many(
        [
            world.envelope(
                {
                    "kind": "party",
                    "id": f"s{i}",
                    "name": f"Static {i}",
                    "roles": ["consignee"],
                    "country": "SG",
                    "headquarters": "SG",
                    "keys": [],
                },
                world.operator,
            )
            for i in ids
        ]
    )


def test_published_tiles_serve_a_verifying_client(
    world: World, static: tuple[Path, str], tmp_path: Path
) -> None:
    directory, url = static
    _parties(world, range(300))
    result = CliRunner().invoke(main, ["ledger", "publish", str(directory), "--db", world.db])
    assert result.exit_code == 0, result.stderr
    size = world.ledger.size()
    assert (directory / "checkpoint").read_text() == world.ledger.checkpoint().note
    assert (directory / "tile/0/000").stat().st_size == 8192
    assert not (directory / "tile/entries").exists()  # contents are not published by default
    client = RemoteLedger(url, ledger_key=world.ledger.verifier_key, state=State(tmp_path / "st"))
    checkpoint, _ = client.checkpoint()
    assert checkpoint.size == size
    assert client.root_from_tiles(size) == world.ledger.root(size)
    # the ledger grows; publishing again writes only what changed, and the client follows
    _parties(world, range(300, 320))
    again = publish(world.ledger, directory)
    assert again.previous == size and again.size == world.ledger.size()
    assert again.tiles < len([t for t in tiles.tiles_for(again.size) if not t.entries])
    grown, _ = client.checkpoint()  # consistency with the size seen before, from the tiles
    assert grown.size == world.ledger.size()
    # a tampered tile on the static server is caught against the signed checkpoint
    tile = directory / "tile/0/001.p" / str(grown.size - 256)
    data = bytearray(tile.read_bytes())
    data[0] ^= 1
    tile.write_bytes(bytes(data))
    assert client.root_from_tiles(grown.size) != grown.root
    proof = client.consistency_from_tiles(size, grown.size)
    with pytest.raises(IntegrityError):
        merkle.verify_consistency(size, grown.size, proof, world.ledger.root(size), grown.root)


def test_bundles_are_published_only_when_asked(world: World, tmp_path: Path) -> None:
    _parties(world, range(3))
    done = publish(world.ledger, tmp_path / "private", entries=True)
    bundle = tiles.Tile(0, 0, world.ledger.size(), entries=True)
    data = (tmp_path / "private" / bundle.path()).read_bytes()
    assert tiles.decode_bundle(data, bundle.width) == [
        world.ledger.entry(i).leaf for i in range(bundle.width)
    ]
    assert done.bundles == 1 and not done.skipped_bundles


def test_publishing_over_another_logs_files_is_refused(world: World, tmp_path: Path) -> None:
    from provenance.ledger.setup import initialise

    other = initialise(
        f"sqlite:///{tmp_path / 'other.db'}",
        origin="other.example/log",
        keys_dir=tmp_path / "other-keys",
        with_catalog=False,
    )
    publish(other.ledger, tmp_path / "shared")
    other.ledger.close()
    with pytest.raises(IntegrityError):
        publish(world.ledger, tmp_path / "shared")
