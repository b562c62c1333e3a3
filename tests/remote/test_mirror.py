"""`provenance mirror`: a verified replica equal to its source, and one altered byte that
stops it with nothing written."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cli import main
from provenance.crypto import keys
from provenance.errors import IntegrityError
from provenance.ledger.log import Ledger
from provenance.remote.client import RemoteLedger, State
from provenance.remote.mirror import mirror
from tests.conftest import World
from tests.service.conftest import Parties, Server


def _leaves(db: str) -> list[bytes]:
    with Ledger.open(db) as ledger:
        return [ledger.entry(i).leaf for i in range(ledger.size())]


def test_a_mirror_equals_its_source_and_audits_as_it(
    server: Server,
    parties: Parties,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROVENANCE_STATE_DIR", str(tmp_path / "state"))
    key = tmp_path / "straits.pem"
    keys.save_private(key, parties.keys["straits"])
    world.ledger.append(parties.shipment("SH-M1"))
    replica = f"sqlite:///{tmp_path / 'replica.db'}"
    runner = CliRunner()
    args = ["mirror", server.url, "--db", replica, "--key", str(key), "--json"]
    first = runner.invoke(main, args, catch_exceptions=False)
    assert first.exit_code == 0, first.stderr + first.stdout
    assert "pinned the ledger key" in first.stderr
    assert json.loads(first.stdout)["size"] == world.ledger.size()
    assert _leaves(replica) == _leaves(world.db)
    with Ledger.open(replica) as copy:
        assert copy.verifier_key == world.ledger.verifier_key
        assert copy.checkpoint().checkpoint == world.ledger.checkpoint().checkpoint
    # the replica answers as the source does, with the commands unchanged
    verified = runner.invoke(main, ["ledger", "verify", "--db", replica, "--json"])
    assert verified.exit_code == 0, verified.stderr
    chip = runner.invoke(main, ["chip", "1654923000000", "--db", replica, "--json"])
    assert chip.exit_code == 0 and json.loads(chip.stdout)["state"] == "shipped"
    shipment = runner.invoke(main, ["shipment", "show", "SH-M1", "--db", replica, "--json"])
    assert shipment.exit_code == 0
    # later appends are pulled by the next run, and only they
    world.ledger.append(parties.shipment("SH-M2"))
    again = runner.invoke(main, args, catch_exceptions=False)
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["pulled"] == 1
    assert _leaves(replica) == _leaves(world.db)


def _flipping(server: Server, flip: int) -> httpx.BaseTransport:
    """A transport that alters one byte of the `flip`-th leaf of every entries page."""
    real = httpx.HTTPTransport()

    class Tamper(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = real.handle_request(request)
            if request.url.path != "/v1/entries" or request.method != "GET":
                return response
            response.read()
            page: dict[str, Any] = json.loads(response.content)
            leaf = bytearray(base64.b64decode(page["entries"][flip]["leaf"]))
            at = leaf.index(b'"payload":"') + 20
            leaf[at] ^= 0x01
            page["entries"][flip]["leaf"] = base64.b64encode(bytes(leaf)).decode()
            return httpx.Response(200, json=page)

    return Tamper()


@pytest.mark.parametrize("flip", [0, -1])
def test_one_altered_byte_stops_the_mirror_and_writes_nothing(
    server: Server, parties: Parties, world: World, tmp_path: Path, flip: int
) -> None:
    replica = f"sqlite:///{tmp_path / 'replica.db'}"
    state = State(tmp_path / "state")
    with RemoteLedger(server.url, key=parties.keys["bis"], state=state) as honest:
        mirror(honest, replica)
    before = _leaves(replica)
    world.ledger.append(parties.shipment("SH-T1"))
    world.ledger.append(parties.shipment("SH-T2"))
    with (
        RemoteLedger(
            server.url, key=parties.keys["bis"], state=state, transport=_flipping(server, flip)
        ) as lying,
        pytest.raises(IntegrityError),
    ):
        mirror(lying, replica)
    assert _leaves(replica) == before
    with RemoteLedger(server.url, key=parties.keys["bis"], state=state) as honest:
        assert mirror(honest, replica).pulled == 2
