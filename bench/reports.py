"""Reports benchmark: the regulator's quarterly report over a ledger of N shipments.

    python bench/reports.py [--shipments N] [--db URL]

Builds a ledger of N shipments (2 H100 serials each, ship dates spread over eight
quarters, one in ten relabeled through a hub, a few licenses drawn against), with a
signed determination for every shipment of the reported quarter, then measures, in
this one run:

* the regulator report for 2026-Q3 (every SQL aggregate, rendered to JSON and
  HTML) at the full size, and at the checkpoints left at 10% and 30% of the
  shipments, to show how the time grows with the ledger;
* the same report with the ledger verification it includes by default, as an auditor
  runs it: the auditor verified the ledger once the shipments were in (a full audit,
  remembered in its state file, timed apart), then the quarter's determinations were
  appended; the report's verification audits only those (plus the consistency proof
  from the remembered checkpoint): `with_verification_s`;
* the same report with a full re-audit of every entry (no state), for comparison;
* the report at the full size again after one in ten of the quarter's shipments was
  amended (another destination and price): the same figures, read through the
  superseded versions, and its time as a ratio of the report before the amendments.

Target: <= 10 s for the report with verification on SQLite and on PostgreSQL. The
last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import scratch_database

from provenance.compliance.checks import Checker
from provenance.crypto import keys
from provenance.ledger.audit import audit
from provenance.ledger.audit_state import AuditState
from provenance.ledger.log import Ledger
from provenance.ledger.projections.tables import ShipmentRow
from provenance.ledger.setup import initialise
from provenance.reports import build, render
from provenance.reports.periods import parse_period
from provenance.statements import kinds
from provenance.statements.signing import sign

QUARTER = "2026-Q3"
QUARTERS = [
    (2025, 1),
    (2025, 4),
    (2025, 7),
    (2025, 10),
    (2026, 1),
    (2026, 4),
    (2026, 7),
    (2026, 10),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ship_date(i: int) -> str:
    year, month = QUARTERS[i % len(QUARTERS)]
    return f"{year}-{month + (i // 8) % 3:02d}-{1 + (i // 24) % 28:02d}"


def build_ledger(
    db: str, tmp: Path, n: int
) -> tuple[Ledger, keys.SigningKey, keys.SigningKey, list[int]]:
    done = initialise(db, origin="bench.provenance.dev/ledger", keys_dir=tmp / "keys")
    ledger = done.ledger
    operator = keys.load_private(done.operator_key)
    party_keys: dict[str, keys.SigningKey] = {}
    parties = [
        ("nvidia", ["manufacturer"], "US", "US"),
        ("meridian", ["exporter"], "US", "US"),
        ("bis", ["regulator"], "US", "US"),
        ("swift", ["consignee", "forwarder"], "MY", "MY"),
        ("lotus", ["end_user"], "HK", "CN"),
        *[
            (f"cloud-{c.lower()}", ["consignee", "end_user"], c, c)
            for c in ("SG", "JP", "DE", "AE", "IN")
        ],
    ]
    for party, roles, country, hq in parties:
        party_keys[party] = keys.generate()
        document = {
            "kind": "party",
            "id": party,
            "name": party.title(),
            "roles": roles,
            "country": country,
            "headquarters": hq,
            "keys": [party_keys[party].verifying.pem()],
        }
        ledger.append(sign(kinds.from_document(document), [operator]))
    licenses = []
    for year in (2025, 2026):
        lic = {
            "kind": "license",
            "id": f"L-AE-{year}",
            "exporter": "meridian",
            "end_user": "cloud-ae",
            "destination": "AE",
            "eccns": ["3A090.a"],
            "max_quantity": 5000,
            "max_tpp": "80000000",
            "valid_from": f"{year}-01-01",
            "valid_until": f"{year}-12-31",
        }
        licenses.append(lic["id"])
        ledger.append(sign(kinds.from_document(lic), [party_keys["bis"]]))
    units = 2 * n
    log(f"registering {units:,} serials ...")
    ledger.import_envelopes(
        [
            sign(
                kinds.from_document(
                    {
                        "kind": "manufacture",
                        "product": "nvidia-h100-sxm5",
                        "serials": [f"Q{s:011d}" for s in range(start, min(units, start + 2000))],
                        "date": "2024-12-01",
                        "site": "TW",
                    }
                ),
                [party_keys["nvidia"]],
            )
            for start in range(0, units, 2000)
        ]
    )
    log(f"registering {n:,} shipments ...")
    sizes = []
    marks = {n // 10, (3 * n) // 10}
    batch: list[Any] = []
    for i in range(n):
        document = shipment_document(i)
        batch.append(sign(kinds.from_document(document), [party_keys["meridian"]]))
        if i + 1 in marks or len(batch) == 20000 or i + 1 == n:
            ledger.import_envelopes(batch)
            batch = []
            if i + 1 in marks:
                sizes.append(ledger.size())
    return ledger, operator, party_keys["meridian"], sizes


def shipment_document(i: int) -> dict[str, Any]:
    """Shipment i of the bench ledger: one in ten relabeled through a hub."""
    relabeled = i % 10 == 9
    country = ("SG", "JP", "DE", "AE", "IN")[i % 5]
    document: dict[str, Any] = {
        "kind": "shipment",
        "id": f"S{i:07d}",
        "exporter": "meridian",
        "consignee": "swift" if relabeled else f"cloud-{country.lower()}",
        "end_user": "lotus" if relabeled else f"cloud-{country.lower()}",
        "ship_date": ship_date(i),
        "destination": "HK" if relabeled else country,
        "route": ["US", "MY", "HK"] if relabeled else ["US", country],
        "items": [
            {
                "product": "gpu-module" if relabeled else "nvidia-h100-sxm5",
                "description": "adapters" if relabeled else "NVIDIA H100 SXM5 80GB",
                "hs_code": "8504.40.9580" if relabeled else "8473.30.1180",
                "quantity": 2,
                "serials": [f"Q{2 * i:011d}", f"Q{2 * i + 1:011d}"],
                "unit_value": {"amount": "2500" if relabeled else "30000", "currency": "USD"},
            }
        ],
    }
    if not relabeled:
        document["license"] = f"L-AE-{document['ship_date'][:4]}" if country == "AE" else "NLR"
    return document


def amend(ledger: Ledger, exporter: keys.SigningKey, ids: list[str]) -> None:
    """Amend shipments S<i>: the serials stay, the destination and the unit value change
    (what a report at an earlier size must not see)."""
    with ledger.store.read() as conn:
        seqs = dict(
            conn.execute(
                select(ShipmentRow.id, ShipmentRow.seq).where(ShipmentRow.id.in_(ids))
            ).all()
        )
    envelopes = []
    for shipment_id in ids:
        corrected = shipment_document(int(shipment_id[1:]))
        del corrected["kind"]
        corrected["destination"], corrected["route"] = "JP", ["US", "JP"]
        corrected["items"][0]["unit_value"]["amount"] = "31000"
        amendment = {
            "kind": "shipment-amendment",
            "corrects": seqs[shipment_id],
            "date": "2026-11-30",
            "reason": "destination and price typed wrong",
            "shipment": corrected,
        }
        envelopes.append(sign(kinds.from_document(amendment), [exporter]))
    ledger.import_envelopes(envelopes)


def figures_of(report: dict[str, Any]) -> dict[str, Any]:
    """A report's figures: everything but when it was generated and its verification."""
    return {k: v for k, v in report.items() if k not in ("generated_at", "verification")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="provenance-bench-"))
    with scratch_database(args.db, tmp) as (db, backend):
        figures = run(db, backend, tmp, args.shipments)
    print(json.dumps(figures))


def run(db: str, backend: str, tmp: Path, n: int) -> dict[str, object]:
    start = time.perf_counter()
    ledger, operator, exporter, sizes = build_ledger(db, tmp, n)
    period = parse_period(QUARTER)
    quarter_ids = [
        f"S{i:07d}"
        for i in range(n)
        if period.start <= dt.date.fromisoformat(ship_date(i)) <= period.end
    ]
    state = AuditState(tmp / "auditor" / "audits.json")
    log(f"the auditor's earlier audit of {ledger.size():,} entries ...")
    begin = time.perf_counter()
    earlier = audit(ledger)
    earlier_s = time.perf_counter() - begin
    assert earlier.seen is not None
    state.put(ledger.store.url, earlier.seen)
    log(f"checking the {len(quarter_ids):,} shipments of {QUARTER} ...")
    checker = Checker.open(ledger, as_of=dt.date(2026, 11, 30))
    for s in range(0, len(quarter_ids), 5000):
        chunk = quarter_ids[s : s + 5000]
        checker.record(checker.determine(chunk), [operator])
    size = ledger.size()
    sizes.append(size)
    log(f"ledger built: {size:,} entries in {time.perf_counter() - start:.0f} s")

    timings = {}
    for at in sizes:
        begin = time.perf_counter()
        report = build.regulator(ledger, period, size=at, verify=False)
        render.render(report, "json")
        render.render(report, "html")
        timings[at] = time.perf_counter() - begin
    begin = time.perf_counter()
    verified = build.regulator(ledger, period, verify=True, audit_state=state)
    render.render(verified, "json")
    render.render(verified, "html")
    with_verify = time.perf_counter() - begin
    begin = time.perf_counter()
    fully = build.regulator(ledger, period, verify=True)
    with_full = time.perf_counter() - begin
    # One in ten of the quarter's shipments amended after the report: recomputed at its
    # size, the report must give the same figures (the versions then stand in).
    amended = quarter_ids[::10]
    log(f"amending {len(amended):,} shipments of {QUARTER} ...")
    amend(ledger, exporter, amended)
    begin = time.perf_counter()
    then = build.regulator(ledger, period, size=size, verify=False)
    render.render(then, "json")
    render.render(then, "html")
    after_amendments = time.perf_counter() - begin
    unchanged = figures_of(then) == figures_of(report)
    ledger.close()
    full = timings[size]
    check = verified["verification"]
    print(f"backend                  {backend}")
    print(f"shipments                {n:,} ({report['totals']['shipments']:,} in {QUARTER})")
    for at, seconds in timings.items():
        print(f"report at size {at:>9,}  {seconds:6.2f} s")
    print(
        f"report with verification {with_verify:6.2f} s (incremental audit of "
        f"{check.get('audited', 0):,} entries appended since size "
        f"{check.get('incremental_from')}: {'passed' if check['ok'] else 'FAILED'})"
    )
    print(
        f"report with full audit   {with_full:6.2f} s (every one of {size:,} entries: "
        f"{'passed' if fully['verification']['ok'] else 'FAILED'})"
    )
    print(f"the auditor's earlier full audit of {earlier.size:,} entries: {earlier_s:.2f} s")
    print(
        f"report at size {size:,} after {len(amended):,} amendments  {after_amendments:6.2f} s "
        f"= {after_amendments / full:.2f} x the same report before them; figures "
        f"{'unchanged' if unchanged else 'CHANGED'}"
    )
    print(
        f"target                   <= 10 s with verification: "
        f"{'met' if with_verify <= 10 and check['ok'] else 'MISSED'} "
        f"({full:.2f} s without the audit)"
    )
    return {
        "backend": backend,
        "shipments": n,
        "entries": size,
        "report_s": {str(k): round(v, 3) for k, v in timings.items()},
        "with_verification_s": round(with_verify, 2),
        "incremental_audited": check.get("audited"),
        "incremental_from": check.get("incremental_from"),
        "with_full_audit_s": round(with_full, 2),
        "earlier_full_audit_s": round(earlier_s, 2),
        "target_met": with_verify <= 10 and bool(check["ok"]),
        "amended": len(amended),
        "report_after_amendments_s": round(after_amendments, 3),
        "after_amendments_ratio": round(after_amendments / full, 2),
        "figures_unchanged_by_amendments": unchanged,
        "quarter_shipments": report["totals"]["shipments"],
    }


if __name__ == "__main__":
    main()
