"""Service benchmark: appends over HTTP against the bulk import rate of the same run.

    python bench/service.py [--entries N] [--db URL] [--workers W] [--connections C]

Builds a ledger, pre-signs 2 x N envelopes (party registrations signed by the
operator), then measures, in this one run:

* B, the bulk import rate (`Ledger.import_envelopes` of N envelopes, in a second
  ledger on the same database), entries/s: the limit;
* appends over HTTP: C concurrent connections (default 32) POST the other N
  envelopes, one a request, to `provenance serve --workers W`; appends/s as a ratio
  to B, and the p50 and p99 latency of a submission;
* tile reads/s (full and partial tiles of the tree, C connections) and proofs/s
  (`/v1/proofs/inclusion/<i>` of random entries);
* with --monitor: `provenance monitor --follow` (its own process, the operator's key,
  reading every entry) follows the ledger while the appends grow it: the entries/s it
  proved and matched, and how long after the last append it had read everything.

Target: appends/s >= 0.5 x B on PostgreSQL with 2 workers. The last line printed is one
JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from ledger import make_envelopes
from scratch import scratch_database

from provenance.crypto.envelope import Envelope
from provenance.ledger.log import Ledger
from provenance.ledger.setup import initialise
from provenance.tlog import tiles

ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    db: str, key: Path, workers: int, tmp: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    out = open(tmp / "server.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable, "-m", "provenance", "serve", "--db", db, "--port", str(port),
            "--workers", str(workers), "--checkpoint-key", str(key), "--access-log",
            os.devnull, "--max-outstanding", "100000",
        ],
        cwd=ROOT,
        stdout=out,
        stderr=out,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the server did not start: {(tmp / 'server.log').read_text()[-2000:]}")


class Connection:
    """A bare HTTP/1.1 keep-alive connection over asyncio streams: the load generator
    (an HTTP client library in Python would be the bottleneck, not the server)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _address(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").partition(":")
    return host, int(port)


async def submit_all(url: str, bodies: list[bytes], connections: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    host, port = _address(url)

    async def worker() -> None:
        connection = Connection(host, port)
        try:
            while not queue.empty():
                body = queue.get_nowait()
                for _ in range(50):
                    started = time.perf_counter()
                    status, data = await connection.request("POST", "/v1/entries", body)
                    if status in (200, 201):
                        latencies.append(time.perf_counter() - started)
                        break
                    if status not in (429, 503):
                        raise SystemExit(f"append refused: {data[:300]!r}")
                    await asyncio.sleep(0.05)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - started, latencies


async def read_all(url: str, paths: list[str], connections: int) -> float:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    host, port = _address(url)

    async def worker() -> None:
        connection = Connection(host, port)
        try:
            while not queue.empty():
                path = queue.get_nowait()
                status, data = await connection.request("GET", path)
                if status != 200:
                    raise SystemExit(f"GET {path}: {status} {data[:200]!r}")
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return len(paths) / (time.perf_counter() - started)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--reads", type=int, default=3000, help="tile and proof requests each")
    parser.add_argument("--monitor", action="store_true", help="follow with provenance monitor")
    args = parser.parse_args()
    n = args.entries
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with (
            scratch_database(args.db, tmp) as (served_db, backend),
            scratch_database(args.db, tmp / "bulk") as (bulk_db, _),
        ):
            done = initialise(
                served_db, origin="bench.example/ledger", keys_dir=tmp / "keys", with_catalog=False
            )
            done.ledger.close()
            bulk = initialise(
                bulk_db, origin="bench.example/ledger", keys_dir=tmp / "keys", with_catalog=False
            )
            log(f"signing {2 * n} envelopes")
            envelopes = make_envelopes(tmp / "keys" / "operator.pem", 2 * n, os.cpu_count() or 1)
            http_envelopes, bulk_envelopes = envelopes[:n], envelopes[n:]

            log(f"bulk import of {n} envelopes ({backend})")
            started = time.perf_counter()
            bulk.ledger.import_envelopes(bulk_envelopes)
            bulk_rate = n / (time.perf_counter() - started)
            bulk.ledger.close()

            process, url = start_server(served_db, tmp / "keys" / "ledger.pem", args.workers, tmp)
            try:
                bodies = [json.dumps(Envelope.to_json(e)).encode() for e in http_envelopes]
                follower = start_monitor(url, tmp) if args.monitor else None
                log(f"{n} appends over {args.connections} connections, {args.workers} worker(s)")
                elapsed, latencies = asyncio.run(submit_all(url, bodies, args.connections))
                append_rate = n / elapsed
                with Ledger.open(served_db) as ledger:
                    size = ledger.size()
                followed = finish_monitor(follower, tmp, size, elapsed) if follower else None
                tile_paths = ["/" + t.path() for t in tiles.tiles_for(size) if not t.entries]
                sample = [rng.choice(tile_paths) for _ in range(args.reads)]
                tile_rate = asyncio.run(read_all(url, sample, args.connections))
                proofs = [f"/v1/proofs/inclusion/{rng.randrange(size)}" for _ in range(args.reads)]
                proof_rate = asyncio.run(read_all(url, proofs, args.connections))
            finally:
                process.terminate()
                process.wait(30)
    ratio = append_rate / bulk_rate
    load = os.getloadavg()[0]
    figures: dict[str, Any] = {
        "benchmark": "service",
        "backend": backend,
        "workers": args.workers,
        "connections": args.connections,
        "entries": n,
        "bulk_import_per_s": round(bulk_rate, 1),
        "appends_per_s": round(append_rate, 1),
        "appends_vs_bulk": round(ratio, 3),
        "target_vs_bulk": 0.5,
        "append_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "append_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "tile_reads_per_s": round(tile_rate, 1),
        "proofs_per_s": round(proof_rate, 1),
        "load_average": round(load, 2),
    }
    if followed is not None:
        figures.update(followed)
    print(
        f"appends over HTTP: {append_rate:,.0f}/s = {ratio:.2f} x bulk import ({bulk_rate:,.0f}/s; "
        f"target 0.5, {'met' if ratio >= 0.5 else 'missed'}); "
        f"p50 {figures['append_p50_ms']} ms, p99 {figures['append_p99_ms']} ms"
    )
    print(
        f"tile reads: {tile_rate:,.0f}/s; inclusion proofs: {proof_rate:,.0f}/s (load {load:.1f})"
    )
    if followed is not None:
        print(
            f"monitor: followed {followed['monitor_following_per_s']:,.0f} entries/s while the "
            f"ledger grew at {append_rate:,.0f}/s (start-up included); all {size} read "
            f"{followed['monitor_lag_s']:.2f} s after the last append; a fresh monitor "
            f"reads {followed['monitor_catch_up_per_s']:,.0f} entries/s from scratch"
        )
    print(json.dumps(figures))


def start_monitor(url: str, tmp: Path) -> tuple[subprocess.Popen[bytes], float]:
    """`provenance monitor --follow` in its own process, reading every entry."""
    state = tmp / "monitor"
    out = open(tmp / "monitor.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable, "-m", "provenance", "monitor", url, "--follow", "--interval", "0.1",
            "--key", str(tmp / "keys" / "operator.pem"), "--state", str(state),
            "--watch-party", "nobody-in-particular", "--json",
        ],
        cwd=ROOT,
        stdout=out,
        stderr=out,
    )  # fmt: skip
    return process, time.perf_counter()


def _monitor_next(tmp: Path) -> int:
    try:
        return int(json.loads((tmp / "monitor" / "monitor.json").read_text())["next"])
    except (OSError, ValueError, KeyError):
        return 0


def finish_monitor(
    follower: tuple[subprocess.Popen[bytes], float], tmp: Path, size: int, appending: float
) -> dict[str, Any]:
    """Wait until the monitor read all `size` entries; its rate and its lag."""
    process, started = follower
    appends_ended = time.perf_counter()
    deadline = appends_ended + 600
    while _monitor_next(tmp) < size and time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError((tmp / "monitor.log").read_text()[-2000:])
        time.sleep(0.02)
    caught_up = time.perf_counter()
    process.terminate()
    process.wait(30)
    followed = _monitor_next(tmp)
    # Its capacity: a fresh monitor (in this process, start-up excluded) reads, proves
    # and matches the whole ledger in one round.
    from provenance.crypto import keys
    from provenance.remote.client import RemoteLedger, State
    from provenance.remote.monitor import Monitor, Watch

    key = keys.load_private(tmp / "keys" / "operator.pem")
    url = process.args[4]  # type: ignore[index]
    with RemoteLedger(url, key=key, state=State(tmp / "fresh")) as remote:
        fresh = Monitor(remote, Watch(parties=frozenset({"nobody"})), tmp / "fresh")
        remote.checkpoint()
        began = time.perf_counter()
        done = fresh.round()
        catch_up = done.read / (time.perf_counter() - began)
    return {
        "monitor_following_per_s": round(followed / (caught_up - started), 1),
        "monitor_lag_s": round(caught_up - appends_ended, 2),
        "monitor_read": followed,
        "monitor_catch_up_per_s": round(catch_up, 1),
    }


if __name__ == "__main__":
    main()
