"""Several processes appending at once never fork or gap the tree."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest
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


STRESS_WRITERS = 8
STRESS_APPENDS = int(os.environ.get("PROVENANCE_STRESS_APPENDS", "1000"))


def _stress_writer(db: str, key_path: str, envelopes: list[str], out: str) -> None:
    """Append one by one, each receipt verified offline against the ledger's key."""
    from provenance.offline.receipts import verify_receipt

    ledger = open_for_append(db, key_path)
    seqs, verified = [], 0
    try:
        for raw in envelopes:
            appended, receipt = ledger.append(Envelope.from_bytes(raw.encode()))
            seqs.append(appended.seq)
            checked = verify_receipt(receipt.text(), ledger.verifier_keys)
            verified += checked.entry.seq == appended.seq
    finally:
        ledger.close()
    Path(out).write_text(json.dumps({"seqs": seqs, "verified": verified}))


@pytest.mark.slow
def test_eight_writers_append_a_thousand_each(world: World, tmp_path: Path) -> None:
    """8 processes x 1,000 appends (issue 18 item 6): no error, no gap, no fork, every
    receipt verified, the ledger audits."""
    batches = []
    for w in range(STRESS_WRITERS):
        batch = []
        for i in range(STRESS_APPENDS):
            doc = {
                "kind": "party",
                "id": f"s{w}-p{i}",
                "name": "Stress Party",
                "roles": ["auditor"],
                "country": "DE",
                "headquarters": "DE",
            }
            batch.append(json.dumps(world.envelope(doc, world.operator).to_json()))
        batches.append(batch)
    key_path = str(world.dir / "keys" / "ledger.pem")
    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"stress{w}.json" for w in range(STRESS_WRITERS)]
    started = time.monotonic()
    procs = [
        context.Process(target=_stress_writer, args=(world.db, key_path, batches[w], str(o)))
        for w, o in enumerate(outs)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(1800)
        assert p.exitcode == 0
    elapsed = time.monotonic() - started
    results = [json.loads(o.read_text()) for o in outs]
    total = STRESS_WRITERS * STRESS_APPENDS
    seqs = sorted(s for r in results for s in r["seqs"])
    assert seqs == list(range(1, 1 + total)), "no gap, no duplicate"
    assert sum(r["verified"] for r in results) == total, "every receipt verified"
    with world.ledger.store.read() as conn:
        sizes = conn.execute(text("SELECT size FROM checkpoints ORDER BY size")).scalars().all()
    assert sizes == list(range(1, total + 2)), "one checkpoint per append, none forked"
    assert audit(world.ledger, workers=1).size == total + 1
    print(f"{STRESS_WRITERS} writers x {STRESS_APPENDS}: {total / elapsed:.0f} appends/s")
