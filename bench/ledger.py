"""Ledger benchmark: admission, audit, proofs, storage and memory against this machine.

    python bench/ledger.py [--entries N] [--admit K] [--db URL] [--workers W]
                           [--batch B] [--cache DIR]

Builds a ledger of K signed entries (party registrations signed by the operator;
K = N unless --admit says less), then measures, in this one run:

* L, the single-core Ed25519 verify rate of this machine (cryptography's
  verify over the same messages the ledger verifies); the limit for a run on W
  worker processes is L x W;
* bulk admission (`Ledger.import_envelopes` in calls of B envelopes read from a
  JSON Lines file: every signature verified on W processes, signers authorised,
  entries, tree nodes and projections written), in entries/s, run in a child
  process whose peak RSS (its own and its verifier workers') is printed;
* bytes on disk per entry at 100,000 and 1,000,000 entries (when the ledger reaches
  them) and at K, against the envelope bytes, per table and index (SQLite `dbstat`,
  PostgreSQL `pg_relation_size`);
* the full audit (`provenance ledger verify`), in entries/s, in a child process
  whose peak RSS is printed;
* the median time of an inclusion proof and of a consistency proof from the
  library (`Ledger.inclusion_proof`, `consistency_proof`, the upper tiles of the tree
  cached in memory: `tree.TileCache`) at 1,000, 10,000, 100,000, 1,000,000 and N
  entries, to show how proof time grows. When N > K, the tree is grown from K to N
  leaves by a bench-only fast path that writes the rows the ledger writes for the
  tree (`tree_nodes`, and a signed checkpoint at each of those sizes, signed by
  `Ledger._sign_checkpoint` after its own root and consistency checks) but no entry
  rows; every timed proof is verified against the root `tlog.merkle.root` computes
  from the leaf hashes (the stored leaves' and the synthetic ones').

Targets: audit >= 0.7 x L x W, admission >= 0.4 x L x W, proofs <= 0.2 ms at
N = 1,000,000. The last line printed is one JSON object of the figures, with the
load average of the machine when each figure was taken (the machine may be shared).

`--cache DIR` keeps the keys and the signed envelopes between runs (signing a
million envelopes takes minutes): a run reuses the file when it holds enough lines.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import scratch_database
from sqlalchemy import insert, select, text

from provenance.crypto import keys
from provenance.crypto.envelope import Envelope
from provenance.crypto.signatures import cores
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger
from provenance.ledger.setup import initialise
from provenance.ledger.tables import Entry, TreeNode
from provenance.statements import kinds
from provenance.statements.signing import sign
from provenance.tlog import merkle

COUNTRIES = ["US", "SG", "DE", "JP", "NL", "GB", "KR", "IN", "AE", "MY"]
PROOF_SIZES = [1_000, 10_000, 100_000, 1_000_000]
STORAGE_SIZES = [100_000, 1_000_000]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_now() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# --- envelopes --------------------------------------------------------------------------


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
        out.append(json.dumps(sign(statement, [operator]).to_json(), separators=(",", ":")))
    return out


def envelope_file(key_path: Path, n: int, workers: int, path: Path) -> Path:
    """A JSON Lines file of at least n envelopes signed by the operator key (reused)."""
    have = 0
    if path.exists():
        with path.open("rb") as f:
            have = sum(1 for _ in f)
    if have >= n:
        log(f"reusing {have:,} signed envelopes from {path}")
        return path
    log(f"signing {n - have:,} envelopes on {workers} processes ...")
    start = time.perf_counter()
    step = 5000
    ranges = [(s, min(n, s + step)) for s in range(have, n, step)]
    with ProcessPoolExecutor(workers) as pool, path.open("a", encoding="utf-8") as out:
        chunks = pool.map(_sign_range, [str(key_path)] * len(ranges), *zip(*ranges, strict=True))
        for chunk in chunks:
            out.write("".join(line + "\n" for line in chunk))
    log(f"  {(n - have) / (time.perf_counter() - start):,.0f} envelopes/s signed")
    return path


def read_lines(path: Path, start: int, stop: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        for i, line in enumerate(f):
            if i >= stop:
                return
            if i >= start:
                yield line.rstrip(b"\n")


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


def verify_cpu_us(envelopes: list[Envelope], key: keys.VerifyingKey) -> float:
    """CPU microseconds of one verify (process time: what the load does not change)."""
    sample = [(e.signatures[0].sig, e.pae()) for e in envelopes[:3000]]
    public = key.public_key
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for sig, message in sample:
            public.verify(sig, message)  # type: ignore[call-arg, union-attr]
        best = min(best, (time.process_time() - start) / len(sample) * 1e6)
    return best


# --- child processes: admission and audit, with their peak RSS ---------------------------


def _peak_rss_mib() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"process_mib": round(own, 1), "largest_worker_mib": round(workers, 1)}


def _import_child(
    db: str, key_path: str, path: str, start: int, stop: int, batch: int, workers: int
) -> dict[str, Any]:
    ledger = Ledger.open(db, ledger_key=keys.load_private(Path(key_path)))
    seconds = 0.0
    envelope_bytes = 0
    main_cpu = workers_cpu = 0.0
    try:
        for lo in range(start, stop, batch):
            hi = min(stop, lo + batch)
            lines = list(read_lines(Path(path), lo, hi))
            envelope_bytes += sum(len(line) for line in lines)
            envelopes = [Envelope.from_bytes(line) for line in lines]
            del lines
            begin, cpu = time.perf_counter(), _cpu()
            ledger.import_envelopes(envelopes, workers=workers)
            seconds += time.perf_counter() - begin
            after = _cpu()
            main_cpu += after[0] - cpu[0]
            workers_cpu += after[1] - cpu[1]
            del envelopes
    finally:
        ledger.close()
    return {
        "seconds": seconds,
        "envelope_bytes": envelope_bytes,
        "rss": _peak_rss_mib(),
        "main_cpu": main_cpu,
        "workers_cpu": workers_cpu,
    }


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its finished children (the verifier workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _audit_child(db: str, workers: int) -> dict[str, Any]:
    ledger = Ledger.open(db)
    try:
        begin = time.perf_counter()
        report = audit(ledger, workers=workers)
        seconds = time.perf_counter() - begin
    finally:
        ledger.close()
    return {"seconds": seconds, "entries": report.entries, "rss": _peak_rss_mib()}


def in_child(function: Any, *args: Any) -> Any:
    """Run `function(*args)` in a fresh forked process; return its result."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


# --- storage ------------------------------------------------------------------------------


def storage(ledger: Ledger) -> dict[str, int]:
    """Bytes on disk per table and index (indexes as `table/index`)."""
    with ledger.store.read() as conn:
        if ledger.store.dialect == "sqlite":
            owners = dict(
                conn.execute(
                    text("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table','index')")
                ).all()
            )
            rows = conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all()
            out = {}
            for name, size in rows:
                owner = owners.get(name, name)
                out[name if owner == name else f"{owner}/{name}"] = int(size)
            return out
        rows = conn.execute(
            text(
                "SELECT c.relname, t.relname, pg_relation_size(c.oid) "
                "FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid "
                "LEFT JOIN pg_class t ON t.oid = i.indrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace "
                "AND c.relkind IN ('r', 'i')"
            )
        ).all()
        out = {}
        for name, owner, size in rows:
            out[f"{owner}/{name}" if owner else name] = int(size)
        toast = conn.execute(
            text(
                "SELECT c.relname, pg_total_relation_size(c.reltoastrelid) FROM pg_class c "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
                "AND c.reltoastrelid <> 0"
            )
        ).all()
        for name, size in toast:
            if size:
                out[f"{name}/(toast)"] = int(size)
        return out


def storage_figures(ledger: Ledger, entries: int, envelope_bytes: int) -> dict[str, Any]:
    parts = storage(ledger)
    total = sum(parts.values())
    by_table: dict[str, int] = {}
    for name, size in parts.items():
        by_table[name.split("/", 1)[0]] = by_table.get(name.split("/", 1)[0], 0) + size
    return {
        "entries": entries,
        "bytes_per_entry": round(total / entries, 1),
        "envelope_bytes_per_entry": round(envelope_bytes / entries, 1),
        "overhead_ratio": round(total / envelope_bytes, 2),
        "per_entry_by_table": {
            k: round(v / entries, 1) for k, v in sorted(by_table.items(), key=lambda x: -x[1])
        },
        "per_entry_by_relation": relations(parts, entries, total),
        "load": load_now(),
    }


def relations(parts: dict[str, int], entries: int, total: int) -> dict[str, float]:
    """Per entry, each table or index holding at least 1% of the bytes; the rest summed."""
    out: dict[str, float] = {}
    rest = 0
    for name, size in sorted(parts.items(), key=lambda x: -x[1]):
        if size >= total / 100:
            out[name] = round(size / entries, 1)
        else:
            rest += size
    out["(the other tables and indexes)"] = round(rest / entries, 1)
    return out


def print_storage(figures: dict[str, Any]) -> None:
    print(
        f"storage at {figures['entries']:>9,}  {figures['bytes_per_entry']:,.0f} bytes/entry on "
        f"disk, envelope {figures['envelope_bytes_per_entry']:,.0f} bytes "
        f"(x{figures['overhead_ratio']})"
    )
    for name, per in figures["per_entry_by_relation"].items():
        print(f"    {name:<48} {per:>8,.1f} bytes/entry")


# --- the tree beyond the admitted entries (bench-only fast path) --------------------------


def synthetic_leaf(seq: int) -> bytes:
    return merkle.leaf_hash(b"bench synthetic leaf %d" % seq)


def grow_tree(ledger: Ledger, target: int, sign_at: list[int]) -> None:
    """Extend the stored tree to `target` leaves with synthetic leaf hashes: the
    `tree_nodes` rows admission writes (from the same `CompactRange`), and a checkpoint
    signed at each size of `sign_at` and at `target` (`Ledger._sign_checkpoint` checks
    the root recomputed from the stored nodes and the consistency with the previous
    checkpoint first). No entry rows are written: this ledger no longer audits."""
    with ledger.store.write() as conn:
        head = ledger._head(conn)
        frontier = head.frontier
        rows: list[dict[str, Any]] = []
        stops = sorted({s for s in sign_at if frontier.size < s < target} | {target})
        for stop in stops:
            while frontier.size < stop:
                for node, value in frontier.append(synthetic_leaf(frontier.size)):
                    rows.append({"level": node.level, "idx": node.idx, "hash": value})
                if len(rows) >= 20_000:
                    conn.execute(insert(TreeNode), rows)
                    rows = []
            if rows:
                conn.execute(insert(TreeNode), rows)
                rows = []
            ledger._sign_checkpoint(conn, head)


def leaf_hashes(ledger: Ledger, admitted: int, size: int) -> list[bytes]:
    """Every leaf hash of the tree: the stored leaves', then the synthetic ones."""
    hashes: list[bytes] = []
    step = 20_000
    with ledger.store.read() as conn:
        for lo in range(0, admitted, step):
            rows = conn.execute(
                select(Entry.c.leaf)
                .where(Entry.c.seq >= lo, Entry.c.seq < lo + step)
                .order_by(Entry.c.seq)
            ).scalars()
            hashes.extend(merkle.leaf_hash(bytes(leaf)) for leaf in rows)
    hashes.extend(synthetic_leaf(seq) for seq in range(admitted, size))
    return hashes


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def time_proofs(
    ledger: Ledger, size: int, hashes: list[bytes], rng: random.Random, count: int = 200
) -> dict[str, Any]:
    """Median inclusion and consistency proof times at `size`, every proof verified
    (after it was timed) against the reference root of the first `size` leaf hashes."""
    root = merkle.root(hashes[:size])
    roots: dict[int, bytes] = {}
    inclusion, consistency = [], []
    for _ in range(count):
        seq = rng.randrange(size)
        start = time.perf_counter()
        proof = ledger.inclusion_proof(seq, size)
        inclusion.append(time.perf_counter() - start)
        merkle.verify_inclusion(hashes[seq], seq, size, proof, root)
        old = rng.randrange(1, size + 1)
        start = time.perf_counter()
        proof = ledger.consistency_proof(old, size)
        consistency.append(time.perf_counter() - start)
        if old not in roots:
            roots[old] = ledger.root(old)
        merkle.verify_consistency(old, size, proof, roots[old], root)
    return {
        "inclusion_ms": median_ms(inclusion),
        "consistency_ms": median_ms(consistency),
        "inclusion_p90_ms": round(sorted(inclusion)[int(count * 0.9)] * 1000, 3),
        "load": load_now(),
    }


# --- the run --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="tree size for proofs")
    parser.add_argument("--admit", type=int, default=None, help="entries admitted (default N)")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    parser.add_argument("--workers", type=int, default=None, help="default: one a core")
    parser.add_argument("--batch", type=int, default=50_000, help="envelopes per import call")
    parser.add_argument("--cache", default=None, help="keep keys and envelopes here")
    parser.add_argument("--no-audit", action="store_true", help="skip the full audit")
    args = parser.parse_args()
    n = args.entries
    admit = min(n, args.admit if args.admit is not None else n)
    workers = args.workers or cores()
    tmp = Path(tempfile.mkdtemp(prefix="provenance-bench-"))
    cache = Path(args.cache) if args.cache else tmp
    cache.mkdir(parents=True, exist_ok=True)
    with scratch_database(args.db, tmp) as (db, backend):
        figures = run(db, backend, cache, n, admit, workers, args.batch, not args.no_audit)
    print(json.dumps(figures))


def run(
    db: str,
    backend: str,
    cache: Path,
    n: int,
    admit: int,
    workers: int,
    batch: int,
    with_audit: bool,
) -> dict[str, object]:
    done = initialise(db, origin="bench.provenance.dev/ledger", keys_dir=cache / "keys")
    ledger = done.ledger
    first = ledger.size()
    path = envelope_file(done.operator_key, admit, workers, cache / "envelopes.jsonl")
    sample = [Envelope.from_bytes(line) for line in read_lines(path, 0, 3000)]
    per_core = verify_rate_per_core(sample, keys.load_private(done.operator_key).verifying)
    limit = per_core * workers
    load_at_limit = load_now()
    print(f"backend                 {backend}")
    print(f"cores used              {workers}")
    print(f"load average            {load_at_limit}")
    print(f"Ed25519 verify / core   {per_core:,.0f}/s   (limit L x cores = {limit:,.0f}/s)")

    # Admission in segments (each in a child process) whose ends are the sizes at which
    # storage is measured and proofs are timed: a checkpoint lands on each.
    log("admitting (bulk import) ...")
    ledger.close()
    ends = sorted({s - first for s in (*PROOF_SIZES, *STORAGE_SIZES) if first < s < first + admit})
    ends.append(admit)
    seconds = 0.0
    envelope_bytes = 0
    main_cpu = workers_cpu = 0.0
    rss: list[dict[str, Any]] = []
    stored: list[dict[str, Any]] = []
    previous = 0
    for end in ends:
        result = in_child(
            _import_child, db, str(done.checkpoint_key), str(path), previous, end, batch, workers
        )
        seconds += result["seconds"]
        envelope_bytes += result["envelope_bytes"]
        main_cpu += result["main_cpu"]
        workers_cpu += result["workers_cpu"]
        rss.append({"at": first + end, **result["rss"]})
        log(f"  {end:,}/{admit:,}  ({end / seconds:,.0f}/s, load {load_now()[0]})")
        previous = end
        if first + end in STORAGE_SIZES or (end == admit and not stored):
            with Ledger.open(db) as reader:
                stored.append(storage_figures(reader, first + end, envelope_bytes))
    load_at_admission = load_now()
    admission_rate = admit / seconds
    ledger = Ledger.open(db, ledger_key=keys.load_private(done.checkpoint_key))
    size = ledger.size()
    print(f"admission               {admission_rate:,.0f} entries/s   ({seconds:.1f} s)")
    verify_us = verify_cpu_us(sample, keys.load_private(done.operator_key).verifying)
    main_us, workers_us = main_cpu / admit * 1e6, workers_cpu / admit * 1e6
    cpu_bound = min(1 / main_us, workers / (main_us + workers_us)) * 1e6
    projected = cpu_bound / (workers / verify_us * 1e6)
    print(
        f"admission CPU / entry   main process {main_us:.0f} us, verifier workers "
        f"{workers_us:.0f} us; one verify {verify_us:.0f} us: on {workers} idle cores "
        f"{cpu_bound:,.0f}/s = {projected:.2f} x L (load-independent)"
    )
    print(
        "import peak RSS         "
        + ", ".join(f"{r['process_mib']:.0f} MiB at {r['at']:,}" for r in rss)
        + f"   (workers at most {max(r['largest_worker_mib'] for r in rss):.0f} MiB;"
        f" {batch:,} envelopes per call)"
    )
    for figures in stored:
        print_storage(figures)

    audit_figures: dict[str, Any] = {}
    if with_audit:
        log("auditing ...")
        result = in_child(_audit_child, db, workers)
        audit_rate = result["entries"] / result["seconds"]
        audit_figures = {
            "audit_per_s": round(audit_rate),
            "audit_ratio": round(audit_rate / limit, 3),
            "audit_rss": result["rss"],
            "audit_load": load_now(),
        }
        print(f"full audit              {audit_rate:,.0f} entries/s   ({result['seconds']:.1f} s)")
        print(
            f"audit peak RSS          {result['rss']['process_mib']:.0f} MiB at {size:,} entries"
            f"   (workers at most {result['rss']['largest_worker_mib']:.0f} MiB)"
        )

    sizes = sorted({s for s in PROOF_SIZES if s <= n} | {n})
    grown_tree: dict[str, Any] = {}
    if n > size:
        log(f"growing the tree from {size:,} to {n:,} leaves (bench fast path) ...")
        grow_tree(ledger, n, sizes)
        parts = storage(ledger)
        tree_bytes = sum(v for k, v in parts.items() if k.split("/", 1)[0] == "tree_nodes")
        grown_tree = {"leaves": n, "tree_nodes_bytes_per_leaf": round(tree_bytes / n, 1)}
        print(
            f"tree_nodes at {n:>9,}  {tree_bytes / n:.1f} bytes/leaf (table and index; the "
            "tree grown by the fast path)"
        )
    log("reading leaf hashes for the reference roots ...")
    hashes = leaf_hashes(ledger, size, n)
    rng = random.Random(7)
    growth = {}
    for at in sizes:
        growth[str(at)] = time_proofs(ledger, at, hashes, rng)
    at_n = growth[str(n)]
    for at, times in growth.items():
        print(
            f"proofs at size {int(at):>9,}  inclusion {times['inclusion_ms']:.3f} ms   "
            f"consistency {times['consistency_ms']:.3f} ms   (median of 200, "
            f"load {times['load'][0]})"
        )
    if n > size:
        print(f"                        (tree grown from {size:,} to {n:,} by the fast path)")
    print(
        f"tile cache              {len(ledger.tiles)} tiles held, {ledger.tiles.loads} read "
        f"(bound {ledger.tiles.limit} tiles)"
    )
    ledger.close()
    admission_ratio = admission_rate / limit
    print(f"admission / limit       {admission_ratio:.2f}   (target >= 0.40)")
    if audit_figures:
        print(f"audit / limit           {audit_figures['audit_ratio']:.2f}   (target >= 0.70)")
    proof_at_n = max(at_n["inclusion_ms"], at_n["consistency_ms"])
    print(f"proof at N              {proof_at_n:.3f} ms   (target <= 0.2 ms at 1,000,000)")
    return {
        "backend": backend,
        "entries": size,
        "tree_size": n,
        "verify_per_core": round(per_core),
        "cores": workers,
        "load_at_limit": load_at_limit,
        "admission_per_s": round(admission_rate),
        "admission_ratio": round(admission_ratio, 3),
        "admission_load": load_at_admission,
        "admission_cpu_us": {
            "main": round(main_us, 1),
            "workers": round(workers_us, 1),
            "verify": round(verify_us, 1),
            "projected_ratio": round(projected, 3),
        },
        "import_rss": rss,
        **audit_figures,
        "storage": stored,
        "grown_tree": grown_tree,
        "proof_ms": at_n["inclusion_ms"],
        "consistency_proof_ms": at_n["consistency_ms"],
        "proof_growth": growth,
        "tile_cache": {"held": len(ledger.tiles), "limit": ledger.tiles.limit},
        "pid": os.getpid(),
    }


if __name__ == "__main__":
    main()
