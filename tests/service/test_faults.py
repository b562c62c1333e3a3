"""The server killed during a batch: no partial batch is left, and the clients' retries
end with every entry appended exactly once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from provenance.errors import ProvenanceError
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger
from provenance.remote.client import RemoteLedger, State
from tests.conftest import World
from tests.service.conftest import Parties, Server


@pytest.mark.slow
def test_a_server_killed_during_batches_loses_nothing_and_doubles_nothing(
    world: World, parties: Parties, tmp_path: Path
) -> None:
    envelopes = [
        world.envelope(
            {
                "kind": "party",
                "id": f"w{i}",
                "name": f"Writer {i}",
                "roles": ["consignee"],
                "country": "SG",
                "headquarters": "SG",
                "keys": [],
            },
            world.operator,
        )
        for i in range(160)
    ]
    server = Server(world.db, tmp_path / "keys" / "ledger.pem", tmp_path).start()
    errors: list[BaseException] = []
    done: list[int] = []

    def writer(n: int) -> None:
        state = State(tmp_path / "state" / str(n))
        with RemoteLedger(server.url, state=state, retries=30, timeout=10) as client:
            for envelope in envelopes[n::8]:
                try:
                    answer = client.append(envelope)
                    done.append(answer["entry"]["seq"])
                except (ProvenanceError, OSError) as exc:
                    errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(2):  # kill it twice, mid-stream, and bring it back on the same port
            time.sleep(1.0)
            server.kill()
            with Ledger.open(world.db) as after:  # no partial batch: tree and entries agree
                audit(after)
            server.start()
        for thread in threads:
            thread.join(120)
    finally:
        server.stop()
    assert not errors, errors[:3]
    assert len(done) == len(envelopes)
    with Ledger.open(world.db) as ledger:
        digests = {e.digest() for e in envelopes}
        appended = [s for s in range(ledger.size()) if ledger.entry(s).envelope.digest() in digests]
        assert len(appended) == len(envelopes)  # each once
        assert sorted(appended) == sorted(set(done))
        audit(ledger)


def test_sigterm_finishes_the_batch_in_flight(
    world: World, parties: Parties, tmp_path: Path
) -> None:
    import concurrent.futures
    import json

    import httpx

    envelopes = [
        world.envelope(
            {
                "kind": "party",
                "id": f"t{i}",
                "name": f"Term {i}",
                "roles": ["consignee"],
                "country": "SG",
                "headquarters": "SG",
                "keys": [],
            },
            world.operator,
        )
        for i in range(60)
    ]
    server = Server(world.db, tmp_path / "keys" / "ledger.pem", tmp_path).start()
    size = world.ledger.size()

    def post(envelope: object) -> int | None:
        try:
            body = json.dumps(envelope.to_json()).encode()  # type: ignore[attr-defined]
            return httpx.post(server.url + "/v1/entries", content=body, timeout=30).status_code
        except httpx.TransportError:
            return None  # refused once the server stopped accepting

    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        futures = [pool.submit(post, e) for e in envelopes]
        time.sleep(0.3)
        assert server.process is not None
        server.process.terminate()
        codes = [f.result() for f in futures]
    assert server.process.wait(30) in (0, -15)  # uvicorn re-raises SIGTERM once it is done
    assert set(codes) <= {201, None}, codes  # answered in full, or not taken at all
    with Ledger.open(world.db) as ledger:
        assert ledger.size() - size == codes.count(201)
        audit(ledger)
