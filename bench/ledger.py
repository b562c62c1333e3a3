"""Ledger benchmark: admission, audit and proofs against this machine's verify limit.

    python bench/ledger.py [--entries N] [--db URL] [--workers W]

Builds a ledger of N signed entries (party registrations signed by the
operator), then measures, in this one run:

* L, the single-core Ed25519 verify rate of this machine (cryptography's
  verify over the same messages the ledger verifies); the limit for a run on W
  worker processes is L x W;
* bulk admission (`Ledger.import_envelopes`: every signature verified on W
  processes, signers authorised, entries, tree nodes and projections written),
  in entries/s;
* the full audit (`provenance ledger verify`), in entries/s;
* the median time of an inclusion proof and of a consistency proof at N, and at
  N/100 and N/10 against earlier checkpoints, to show how proof time grows.

Targets: audit >= 0.7 x L x W, admission >= 0.4 x L x W, proofs <= 2 ms
at N = 1,000,000. The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import scratch_database

from provenance.crypto import keys
from provenance.crypto.envelope import Envelope
from provenance.crypto.signatures import cores
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger
from provenance.ledger.setup import initialise
from provenance.statements import kinds
from provenance.statements.signing import sign

COUNTRIES = ["US", "SG", "DE", "JP", "NL", "GB", "KR", "IN", "AE", "MY"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sign_range(key_path: str, start: int, stop: int) -> list[str]:
    operator = keys.load_private(Path(key_path))
    out = []
    for i in range(start, stop):
        country = COUNTRIES[i % len(COUNTRIES)]
        statement = kinds.from_document(
            {
                "kind": "party",
                "id": f"bench-party-{i:07d}",
                "name": f"Bench Trading {i} Ltd.",
                "roles": ["consignee"],
                "country": country,
                "headquarters": country,
            }
        )
        out.append(json.dumps(sign(statement, [operator]).to_json()))
    return out


def make_envelopes(key_path: Path, n: int, workers: int) -> list[Envelope]:
    step = 5000
    ranges = [(s, min(n, s + step)) for s in range(0, n, step)]
    with ProcessPoolExecutor(workers) as pool:
        chunks = pool.map(_sign_range, [str(key_path)] * len(ranges), *zip(*ranges, strict=True))
        return [Envelope.from_bytes(raw.encode()) for chunk in chunks for raw in chunk]


def verify_rate_per_core(envelopes: list[Envelope], key: keys.VerifyingKey) -> float:
    """Single-core verifies per second over the ledger's own signed messages."""
    sample = [(e.signatures[0].sig, e.pae()) for e in envelopes[:3000]]
    public = key.public_key
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for sig, message in sample:
            public.verify(sig, message)  # type: ignore[call-arg, union-attr]
        best = max(best, len(sample) / (time.perf_counter() - start))
    return best


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def time_proofs(ledger: Ledger, size: int, rng: random.Random, count: int = 200) -> dict[str, Any]:
    inclusion, consistency = [], []
    for _ in range(count):
        seq = rng.randrange(size)
        start = time.perf_counter()
        ledger.inclusion_proof(seq, size)
        inclusion.append(time.perf_counter() - start)
        old = rng.randrange(1, size + 1)
        start = time.perf_counter()
        ledger.consistency_proof(old, size)
        consistency.append(time.perf_counter() - start)
    return {"inclusion_ms": median_ms(inclusion), "consistency_ms": median_ms(consistency)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    parser.add_argument("--workers", type=int, default=None, help="default: one a core")
    parser.add_argument("--batch", type=int, default=50_000, help="envelopes per import call")
    args = parser.parse_args()
    n = args.entries
    workers = args.workers or cores()
    tmp = Path(tempfile.mkdtemp(prefix="provenance-bench-"))
    with scratch_database(args.db, tmp) as (db, backend):
        figures = run(db, backend, tmp, n, workers, args.batch)
    print(json.dumps(figures))


def run(db: str, backend: str, tmp: Path, n: int, workers: int, batch: int) -> dict[str, object]:
    done = initialise(db, origin="bench.provenance.dev/ledger", keys_dir=tmp / "keys")
    ledger = done.ledger
    log(f"signing {n:,} envelopes on {workers} processes ...")
    start = time.perf_counter()
    envelopes = make_envelopes(done.operator_key, n, workers)
    log(f"  {n / (time.perf_counter() - start):,.0f} envelopes/s signed")

    per_core = verify_rate_per_core(envelopes, keys.load_private(done.operator_key).verifying)
    limit = per_core * workers
    print(f"backend                 {backend}")
    print(f"cores used              {workers}")
    print(f"Ed25519 verify / core   {per_core:,.0f}/s   (limit L x cores = {limit:,.0f}/s)")

    log("admitting (bulk import) ...")
    start = time.perf_counter()
    rng = random.Random(7)
    checkpoints = sorted({max(1, n // 100), max(1, n // 10)})
    admitted = 0
    # import in batches whose boundaries leave checkpoints at N/100 and N/10
    bounds = sorted({*(c - 1 for c in checkpoints if c > 1), *range(batch, n, batch), n})
    previous = 0
    for bound in bounds:
        if bound <= previous:
            continue
        ledger.import_envelopes(envelopes[previous:bound], workers=workers)
        admitted += bound - previous
        previous = bound
        log(f"  {admitted:,}/{n:,}")
    admission_s = time.perf_counter() - start
    admission = n / admission_s
    size = ledger.size()
    print(f"admission               {admission:,.0f} entries/s   ({admission_s:.1f} s)")

    log("auditing ...")
    start = time.perf_counter()
    report = audit(ledger, workers=workers)
    audit_s = time.perf_counter() - start
    audit_rate = report.entries / audit_s
    print(f"full audit              {audit_rate:,.0f} entries/s   ({audit_s:.1f} s)")

    growth = {}
    for at in [*checkpoints, size]:
        at = min(at, size)
        growth[str(at)] = time_proofs(ledger, at, rng)
    at_n = growth[str(size)]
    for at, times in growth.items():
        print(
            f"proofs at size {int(at):>9,}  inclusion {times['inclusion_ms']:.3f} ms   "
            f"consistency {times['consistency_ms']:.3f} ms   (median of 200)"
        )
    ledger.close()
    admission_ratio = admission / limit
    audit_ratio = audit_rate / limit
    print(f"admission / limit       {admission_ratio:.2f}   (target >= 0.40)")
    print(f"audit / limit           {audit_ratio:.2f}   (target >= 0.70)")
    print(f"proof at N              {max(at_n.values()):.3f} ms   (target <= 2 ms at 1,000,000)")
    return {
        "backend": backend,
        "entries": size,
        "verify_per_core": round(per_core),
        "cores": workers,
        "admission_per_s": round(admission),
        "audit_per_s": round(audit_rate),
        "proof_ms": at_n["inclusion_ms"],
        "consistency_proof_ms": at_n["consistency_ms"],
        "proof_growth": growth,
        "admission_ratio": round(admission_ratio, 3),
        "audit_ratio": round(audit_ratio, 3),
        "pid": os.getpid(),
    }


if __name__ == "__main__":
    main()
