"""Rules benchmark: determinations per second over 10,000 shipments of 8 items.

    python bench/rules.py [--shipments N] [--items K] [--db URL]

Builds a ledger with the catalog, parties and N x K registered H100 serials, and N
shipments of K items (one serial each; every tenth shipment relabeled and routed
through a hub, so flags fire), then measures, in this one run:

* determinations/s of `Checker.determine` (facts gathered in bulk from the
  projections, then every rule of the pack in force evaluated) on one process, with
  the share of that time spent gathering facts vs evaluating CEL, and on every core;
* the limit the rules alone allow: the same pack evaluated on facts already in
  memory (no database), in determinations/s;
* determinations/s when they are also signed by the operator and appended
  (what `provenance check --all` does: each determination signed on the core that
  evaluated it, then all appended in one transaction); the share of the total that
  signing and appending take is what is spent beyond determining alone (the 2-core
  figure above).

Target: >= 1,000 determinations/s on SQLite. The last line printed is
one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import scratch_database

from provenance.compliance.checks import Checker
from provenance.compliance.engine import evaluate
from provenance.crypto import keys
from provenance.crypto.signatures import cores
from provenance.ledger.log import Ledger
from provenance.ledger.setup import initialise
from provenance.statements import kinds
from provenance.statements.signing import sign

AS_OF = dt.date(2026, 11, 30)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serial(n: int) -> str:
    return f"R{n:012d}"


def build(db: str, tmp: Path, n: int, k: int) -> keys.SigningKey:
    done = initialise(db, origin="bench.provenance.dev/ledger", keys_dir=tmp / "keys")
    ledger = done.ledger
    operator = keys.load_private(done.operator_key)
    party_keys: dict[str, keys.SigningKey] = {}
    for party, roles, country, hq in (
        ("nvidia", ["manufacturer"], "US", "US"),
        ("meridian", ["exporter"], "US", "US"),
        ("lion", ["consignee", "end_user"], "SG", "SG"),
        ("swift", ["consignee", "forwarder"], "MY", "MY"),
        ("lotus", ["end_user"], "HK", "CN"),
    ):
        party_keys[party] = keys.generate()
        ledger.append(
            sign(
                kinds.from_document(
                    {
                        "kind": "party",
                        "id": party,
                        "name": party.title(),
                        "roles": roles,
                        "country": country,
                        "headquarters": hq,
                        "keys": [party_keys[party].verifying.pem()],
                    }
                ),
                [operator],
            )
        )
    units = n * k
    log(f"registering {units:,} serials and {n:,} shipments ...")
    envelopes = [
        sign(
            kinds.from_document(
                {
                    "kind": "manufacture",
                    "product": "nvidia-h100-sxm5",
                    "serials": [serial(i) for i in range(start, min(units, start + 2000))],
                    "date": "2026-01-05",
                    "site": "TW",
                }
            ),
            [party_keys["nvidia"]],
        )
        for start in range(0, units, 2000)
    ]
    for i in range(n):
        relabeled = i % 10 == 9
        items = [
            {
                "product": "sandkyan-ad-100" if relabeled else "nvidia-h100-sxm5",
                "description": "adapters" if relabeled else "NVIDIA H100 SXM5 80GB",
                "hs_code": "8504.40.9580" if relabeled else "8473.30.1180",
                "quantity": 1,
                "serials": [serial(i * k + j)],
                "unit_value": {"amount": "2500" if relabeled else "30000", "currency": "USD"},
            }
            for j in range(k)
        ]
        document: dict[str, Any] = {
            "kind": "shipment",
            "id": f"SHP-{i:06d}",
            "exporter": "meridian",
            "consignee": "swift" if relabeled else "lion",
            "end_user": "lotus" if relabeled else "lion",
            "ship_date": f"2026-{1 + i % 10:02d}-{1 + i % 28:02d}",
            "destination": "HK" if relabeled else "SG",
            "route": ["US", "MY", "HK"] if relabeled else ["US", "SG"],
            "items": items,
        }
        if not relabeled:
            document["license"] = "NLR"
        envelopes.append(sign(kinds.from_document(document), [party_keys["meridian"]]))
    ledger.import_envelopes(envelopes)
    ledger.close()
    return operator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="provenance-bench-"))
    with scratch_database(args.db, tmp) as (db, backend):
        figures = run(db, backend, tmp, args.shipments, args.items)
    print(json.dumps(figures))


def run(db: str, backend: str, tmp: Path, n: int, k: int) -> dict[str, object]:
    operator = build(db, tmp, n, k)
    ids = [f"SHP-{i:06d}" for i in range(n)]
    with Ledger.open(db) as ledger:
        checker = Checker.open(ledger, as_of=AS_OF)
        log(f"determining {n:,} shipments of {k} items on one process ...")
        start = time.perf_counter()
        checker.determine(ids, workers=1)
        single = n / (time.perf_counter() - start)
        facts_s, rules_s = checker.timing["facts"], checker.timing["rules"]
        checker = Checker.open(ledger, as_of=AS_OF)
        log(f"determining {n:,} shipments of {k} items on every core ...")
        start = time.perf_counter()
        determinations = checker.determine(ids)
        elapsed = time.perf_counter() - start
        verdicts: dict[str, int] = {}
        for d in determinations:
            verdicts[d.verdict] = verdicts.get(d.verdict, 0) + 1

        # The limit the rules allow: the same pack on facts already in memory.
        pack = checker.library.in_force(AS_OF)
        sample_ids = ids[:1000]
        gathered = checker.facts(pack).gather(sample_ids)
        copies = [copy.deepcopy(g) for g in gathered]
        begin = time.perf_counter()
        for one in copies:
            evaluate(pack, one, evaluated_on=AS_OF)
        rules_only = len(copies) / (time.perf_counter() - begin)

    with Ledger.open(db) as ledger:
        ledger.use_checkpoint_key(keys.load_private(tmp / "keys" / "ledger.pem"))
        checker = Checker.open(ledger, as_of=AS_OF)
        log("determining, signing and appending ...")
        start = time.perf_counter()
        recorded = checker.determine(ids, sign_with=[operator])  # as `check --all` does
        determined_s = time.perf_counter() - start
        checker.record(recorded, [operator])
        recorded_s = time.perf_counter() - start - determined_s
        with_append = n / (determined_s + recorded_s)
        size = ledger.size()
    # beyond determining alone: the signing done in the workers and the append
    total_s = determined_s + recorded_s
    append_share = max(0.0, total_s - elapsed) / total_s

    rate = n / elapsed
    print(f"backend                    {backend}")
    print(f"shipments x items          {n:,} x {k}")
    print(f"verdicts                   {verdicts}")
    spent = facts_s + rules_s
    facts_pct, rules_pct = 100 * facts_s / spent, 100 * rules_s / spent
    print(
        f"determinations/s, 1 core   {single:,.0f}   (facts {facts_s:.1f} s = {facts_pct:.0f}%, "
        f"CEL rules {rules_s:.1f} s = {rules_pct:.0f}%)"
    )
    print(f"determinations/s, {cores()} cores  {rate:,.0f}   ({elapsed:.1f} s)")
    print(f"rules alone (limit)        {rules_only:,.0f} determinations/s (facts in memory)")
    print(f"determinations / limit     {rate / rules_only:.2f}")
    print(f"with signing + appending   {with_append:,.0f} determinations/s (ledger size {size:,})")
    print(
        f"signing + appending        {total_s - elapsed:.1f} s of {total_s:.1f} s = "
        f"{append_share:.2f} of the total   (target <= 0.33; the append alone {recorded_s:.1f} s)"
    )
    load = [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    print(f"load average               {load}")
    print(f"target                     >= 1,000/s: {'met' if rate >= 1000 else 'MISSED'}")
    return {
        "backend": backend,
        "shipments": n,
        "items": k,
        "determinations_per_s": round(rate, 1),
        "one_core_per_s": round(single, 1),
        "facts_share": round(facts_s / spent, 3),
        "rules_share": round(rules_s / spent, 3),
        "rules_only_per_s": round(rules_only, 1),
        "ratio_to_rules_only": round(rate / rules_only, 3),
        "with_append_per_s": round(with_append, 1),
        "append_share": round(append_share, 3),
        "load": load,
        "verdicts": verdicts,
    }


if __name__ == "__main__":
    main()
