"""Several processes appending at once never fork or gap the tree."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from sqlalchemy import text

from provenance.crypto import keys
from provenance.crypto.envelope import Envelope
from provenance.ledger.audit import audit
from provenance.ledger.setup import open_for_append
from tests.conftest import World

WRITERS = 4
PER_WRITER = 8


def _writer(db: str, key_path: str, envelopes: list[str], out: str) -> None:
    ledger = open_for_append(db, key_path)
    seqs = []
    try:
        for raw in envelopes:
            appended, _ = ledger.append(Envelope.from_bytes(raw.encode()))
            seqs.append(appended.seq)
    finally:
        ledger.close()
    Path(out).write_text(json.dumps(seqs))


def test_concurrent_writers_on_one_ledger(world: World, tmp_path: Path) -> None:
    batches = []
    for w in range(WRITERS):
        batch = []
        for i in range(PER_WRITER):
            doc = {
                "kind": "party",
                "id": f"w{w}-p{i}",
                "name": "Parallel Party",
                "roles": ["auditor"],
                "country": "DE",
                "headquarters": "DE",
                "keys": [keys.generate().verifying.pem()],
            }
            batch.append(json.dumps(world.envelope(doc, world.operator).to_json()))
        batches.append(batch)
    key_path = str(world.dir / "keys" / "ledger.pem")
    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"out{w}.json" for w in range(WRITERS)]
    procs = [
        context.Process(target=_writer, args=(world.db, key_path, batches[w], str(outs[w])))
        for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    seqs = sorted(s for out in outs for s in json.loads(out.read_text()))
    assert seqs == list(range(1, 1 + WRITERS * PER_WRITER)), "no gap, no duplicate"
    size = world.ledger.size()
    assert size == 1 + WRITERS * PER_WRITER
    with world.ledger.store.read() as conn:
        sizes = conn.execute(text("SELECT size FROM checkpoints ORDER BY size")).scalars().all()
    assert sizes == list(range(1, size + 1)), "one checkpoint per append, none forked"
    report = audit(world.ledger, workers=1)
    assert report.size == size
