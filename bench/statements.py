"""Statements benchmark: bulk shipment import through the CLI, and the chip query.

    python bench/statements.py [--shipments N] [--serials-per-shipment K] [--db URL]

Builds a ledger with the product catalog and three parties, registers
N x K H100 serials (manufacture statements of 2,000 serials each), writes an
ERP CSV of N shipments of K serials, then measures, in this one run:

* `provenance shipment import FILE.csv --key ...` run as a user runs it (a
  separate process, start-up included): every shipment validated, signed,
  verified on every core, authorised, appended with its projections (shipment,
  items, serials, custody of each chip) and a checkpoint; in shipments/s;
* the limit for that: the signatures alone. Each shipment is signed once and
  verified once; with S signs/s and V verifies/s on one core and W cores the
  crypto bound is W / (1/S + 1/V) shipments/s (signing is serial in the CLI,
  so the honest bound is lower still: 1 / (1/S + 1/(V x W))). Both are printed;
  the ratio is against the second;
* `provenance chip SERIAL` at that size, as a process (start-up included), and
  the query alone in-process (median of 50 serials), with the history verified
  (signatures and inclusion proofs).

Target: report the figures; there is no threshold. The last line
printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import scratch_database

from provenance.crypto import keys
from provenance.crypto.signatures import cores
from provenance.ledger import queries
from provenance.ledger.log import Ledger
from provenance.ledger.setup import initialise
from provenance.statements import kinds
from provenance.statements.shipment_csv import write_shipments_csv
from provenance.statements.signing import sign

ROOT = Path(__file__).resolve().parents[1]
BATCH = 2000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serial(n: int) -> str:
    return f"B{n:012d}"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main())", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def crypto_rates(key: keys.SigningKey, samples: int = 2000) -> tuple[float, float]:
    """Single-core Ed25519 sign and verify rates over shipment-sized messages."""
    message = os.urandom(1500)
    start = time.perf_counter()
    sigs = [key.sign(message) for _ in range(samples)]
    sign_rate = samples / (time.perf_counter() - start)
    start = time.perf_counter()
    for sig in sigs:
        key.verifying.is_valid_signature(sig, message)
    verify_rate = samples / (time.perf_counter() - start)
    return sign_rate, verify_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--serials-per-shipment", type=int, default=8)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="provenance-bench-"))
    with scratch_database(args.db, tmp) as (db, backend):
        figures = run(db, backend, tmp, args.shipments, args.serials_per_shipment)
    print(json.dumps(figures))


def setup(db: str, tmp: Path, units: int) -> tuple[Path, Path]:
    done = initialise(db, origin="bench.provenance.dev/ledger", keys_dir=tmp / "keys")
    ledger = done.ledger
    operator = keys.load_private(done.operator_key)
    party_keys: dict[str, keys.SigningKey] = {}
    for party, roles, country in (
        ("nvidia", ["manufacturer"], "US"),
        ("meridian", ["exporter"], "US"),
        ("lion", ["consignee", "end_user"], "SG"),
    ):
        party_keys[party] = keys.generate()
        document = {
            "kind": "party",
            "id": party,
            "name": party.title(),
            "roles": roles,
            "country": country,
            "headquarters": country,
            "keys": [party_keys[party].verifying.pem()],
        }
        ledger.append(sign(kinds.from_document(document), [operator]))
    log(f"registering {units:,} serials ...")
    manufactures = [
        sign(
            kinds.from_document(
                {
                    "kind": "manufacture",
                    "product": "nvidia-h100-sxm5",
                    "serials": [serial(n) for n in range(start, min(units, start + BATCH))],
                    "date": "2026-01-05",
                    "site": "TW",
                }
            ),
            [party_keys["nvidia"]],
        )
        for start in range(0, units, BATCH)
    ]
    ledger.import_envelopes(manufactures)
    ledger.close()
    exporter_key = tmp / "meridian.pem"
    keys.save_private(exporter_key, party_keys["meridian"])
    return exporter_key, done.checkpoint_key


def shipments(n: int, k: int) -> list[dict[str, Any]]:
    return [
        {
            "kind": "shipment",
            "id": f"SHP-{i:06d}",
            "exporter": "meridian",
            "consignee": "lion",
            "end_user": "lion",
            "ship_date": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "destination": "SG",
            "route": ["US", "SG"],
            "license": "NLR",
            "items": [
                {
                    "product": "nvidia-h100-sxm5",
                    "description": "NVIDIA H100 SXM5 80GB HBM3 GPU module",
                    "hs_code": "8473.30.1180",
                    "quantity": k,
                    "serials": [serial(i * k + j) for j in range(k)],
                    "unit_value": {"amount": "30000.00", "currency": "USD"},
                }
            ],
        }
        for i in range(n)
    ]


def run(db: str, backend: str, tmp: Path, n: int, k: int) -> dict[str, object]:
    workers = cores()
    exporter_key, checkpoint_key = setup(db, tmp, n * k)
    csv_path = tmp / "shipments.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as out:
        write_shipments_csv(shipments(n, k), out)
    sign_rate, verify_rate = crypto_rates(keys.load_private(exporter_key))
    bound_parallel = workers / (1 / sign_rate + 1 / verify_rate)
    bound_cli = 1 / (1 / sign_rate + 1 / (verify_rate * workers))
    print(f"backend                  {backend}")
    print(f"cores                    {workers}")
    print(f"Ed25519 per core         sign {sign_rate:,.0f}/s, verify {verify_rate:,.0f}/s")

    log(f"importing {n:,} shipments of {k} serials through the CLI ...")
    start = time.perf_counter()
    result = cli(
        "shipment",
        "import",
        str(csv_path),
        "--key",
        str(exporter_key),
        "--checkpoint-key",
        str(checkpoint_key),
        "--db",
        db,
        "--json",
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"import failed ({result.returncode}): {result.stderr}")
    imported = json.loads(result.stdout)
    assert imported["appended"] == n, imported
    rate = n / elapsed
    print(
        f"shipment import          {rate:,.0f} shipments/s ({elapsed:.1f} s for {n:,}, "
        f"{n * k:,} serials; process start-up included)"
    )
    print(
        f"signature bound          {bound_cli:,.0f} shipments/s (serial signing, parallel "
        f"verify); {bound_parallel:,.0f}/s if signing were parallel too"
    )
    print(f"import / bound           {rate / bound_cli:.2f}")

    rng = random.Random(3)
    picks = [serial(rng.randrange(n * k)) for _ in range(50)]
    start = time.perf_counter()
    shown = cli("chip", picks[0], "--db", db, "--json")
    chip_process = time.perf_counter() - start
    if shown.returncode != 0:
        raise SystemExit(f"chip failed: {shown.stderr}")
    history = json.loads(shown.stdout)["history"]
    assert [h["kind"] for h in history] == ["manufacture", "shipment"], history
    ledger = Ledger.open(db)
    samples = []
    for pick in picks:
        start = time.perf_counter()
        found = queries.chip(ledger, pick)
        samples.append(time.perf_counter() - start)
        assert found["state"] == "shipped"
    size = ledger.size()
    ledger.close()
    chip_query = statistics.median(samples)
    print(f"ledger size              {size:,} entries")
    print(
        f"provenance chip          {chip_process * 1000:,.0f} ms as a process "
        f"(start-up included); {chip_query * 1000:.1f} ms the query alone (median of 50), "
        f"{len(history)} entries verified"
    )
    return {
        "backend": backend,
        "shipments": n,
        "serials_per_shipment": k,
        "cores": workers,
        "sign_per_core": round(sign_rate),
        "verify_per_core": round(verify_rate),
        "import_per_s": round(rate, 1),
        "import_s": round(elapsed, 2),
        "bound_per_s": round(bound_cli, 1),
        "import_ratio": round(rate / bound_cli, 3),
        "chip_process_ms": round(chip_process * 1000, 1),
        "chip_query_ms": round(chip_query * 1000, 2),
        "ledger_size": size,
    }


if __name__ == "__main__":
    main()
