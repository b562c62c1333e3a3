"""SIGKILL at random moments of `ledger import` and `shipment import` (issue 18 item 6),
on both databases: after every kill the ledger verifies, the import is all or nothing,
and the same import run again succeeds. Marked slow: 20 kills per command and database.

Each kill hits the import's whole process group (the command and its signature workers),
at a moment drawn uniformly between its start and the end of a full run timed first, so
kills land during start-up, signature checks, the append transaction and the commit."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from provenance.crypto import keys
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger
from provenance.statements.shipment_csv import write_shipments_csv
from tests.conftest import World
from tests.ledger.test_custody import Story, shipment_doc

KILLS = int(os.environ.get("PROVENANCE_KILLS", "20"))
PER_IMPORT = 150
SHIPMENTS_PER_IMPORT = 25

pytestmark = pytest.mark.slow


def _size(db: str) -> int:
    ledger = Ledger.open(db)  # a fresh connection: whatever the killed process left
    try:
        return ledger.size()
    finally:
        ledger.close()


def _start(args: list[str], db: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PROVENANCE_DB": db}
    env.pop("PROVENANCE_KEY_PASSPHRASE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "provenance", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )


def _timed_run(args: list[str], db: str) -> float:
    started = time.monotonic()
    proc = _start(args, db)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    return time.monotonic() - started


def _kill_at(args: list[str], db: str, delay: float) -> int | None:
    proc = _start(args, db)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        return None
    finally:
        if proc.stderr is not None:
            proc.stderr.close()
    return proc.returncode  # it finished before the kill


def _check_after_kill(world: World, before: int, added: int, finished: int | None) -> bool:
    after = _size(world.db)
    assert after in (before, before + added), f"partial import: {before} -> {after}"
    if finished is not None:
        assert finished == 0 and after == before + added
    ledger = Ledger.open(world.db)
    try:
        assert audit(ledger, workers=1).size == after
    finally:
        ledger.close()
    return after == before + added


def _party_envelopes(world: World, run: int) -> str:
    lines = []
    for i in range(PER_IMPORT):
        doc = {
            "kind": "party",
            "id": f"k{run}-p{i}",
            "name": "Killed Import Party",
            "roles": ["auditor"],
            "country": "DE",
            "headquarters": "DE",
            "keys": [keys.generate().verifying.pem()],
        }
        lines.append(json.dumps(world.envelope(doc, world.operator).to_json()))
    return "\n".join(lines) + "\n"


def test_ledger_import_killed_at_random_moments(world: World, tmp_path: Path) -> None:
    rng = random.Random(18)
    checkpoint_key = str(world.dir / "keys" / "ledger.pem")
    runner = CliRunner()

    def args(path: Path) -> list[str]:
        return ["ledger", "import", str(path), "--checkpoint-key", checkpoint_key]

    first = tmp_path / "calibrate.jsonl"
    first.write_text(_party_envelopes(world, -1))
    full = _timed_run(args(first), world.db)
    outcomes = {"committed": 0, "rolled back": 0}
    for run in range(KILLS):
        path = tmp_path / f"run{run}.jsonl"
        path.write_text(_party_envelopes(world, run))
        before = _size(world.db)
        finished = _kill_at(args(path), world.db, rng.uniform(0.0, full))
        done = _check_after_kill(world, before, PER_IMPORT, finished)
        outcomes["committed" if done else "rolled back"] += 1
        again = runner.invoke(main, [*args(path), "--db", world.db, "--json"])
        assert again.exit_code == 0, again.stderr
        assert _size(world.db) == before + PER_IMPORT, "the next import succeeds"
    assert outcomes["rolled back"] >= 1, outcomes  # some kills landed before the commit
    print(f"ledger import: {KILLS} kills, {outcomes}, a full run {full:.1f} s")


def test_shipment_import_killed_at_random_moments(world: World, tmp_path: Path) -> None:
    rng = random.Random(6)
    story = Story(world)
    total = (KILLS + 1) * SHIPMENTS_PER_IMPORT
    serials = [f"99{n:010d}" for n in range(total)]
    story.manufacture(serials)
    key = tmp_path / "meridian.pem"
    key.write_bytes(story.keys["meridian"].private_pem())
    checkpoint_key = str(world.dir / "keys" / "ledger.pem")
    runner = CliRunner()

    def csv_file(run: int) -> Path:
        out = io.StringIO()
        start = (run + 1) * SHIPMENTS_PER_IMPORT
        docs = [
            shipment_doc(f"SH-K{run}-{i}", [serials[start + i]])
            for i in range(SHIPMENTS_PER_IMPORT)
        ]
        write_shipments_csv(docs, out)
        path = tmp_path / f"run{run}.csv"
        path.write_text(out.getvalue())
        return path

    def args(path: Path) -> list[str]:
        return [
            "shipment",
            "import",
            str(path),
            "--key",
            str(key),
            "--checkpoint-key",
            checkpoint_key,
        ]

    full = _timed_run(args(csv_file(-1)), world.db)
    outcomes = {"committed": 0, "rolled back": 0}
    for run in range(KILLS):
        path = csv_file(run)
        before = _size(world.db)
        finished = _kill_at(args(path), world.db, rng.uniform(0.0, full))
        done = _check_after_kill(world, before, SHIPMENTS_PER_IMPORT, finished)
        outcomes["committed" if done else "rolled back"] += 1
        again = runner.invoke(main, [*args(path), "--db", world.db, "--json"])
        assert again.exit_code == 0, again.stderr
        assert _size(world.db) == before + SHIPMENTS_PER_IMPORT, "the next import succeeds"
    assert outcomes["rolled back"] >= 1, outcomes
    print(f"shipment import: {KILLS} kills, {outcomes}, a full run {full:.1f} s")
