"""The README's first command: the demo runs end to end and its files verify."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli import main
from provenance import bundle


def test_demo_runs_and_leaves_a_verifiable_ledger(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--dir", str(target)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "refused, exit 3" in result.stdout
    assert "c2sp.org/tlog-proof@v1" in result.stdout
    key = CliRunner().invoke(main, ["ledger", "key", "--db", str(target / "ledger.db")])
    verifier = key.stdout.strip().splitlines()[-1]
    receipt = (target / "receipt-1.txt").read_text()
    assert bundle.verify_receipt(receipt, [verifier]).entry.seq == 1
    bundle.verify_bundle(json.loads((target / "bundle.json").read_text()), [verifier])
    audit = CliRunner().invoke(main, ["ledger", "verify", "--db", str(target / "ledger.db")])
    assert audit.exit_code == 0, audit.stderr


def test_demo_json_and_refuses_a_used_folder(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    first = CliRunner().invoke(main, ["demo", "--dir", str(target), "--json"])
    data = json.loads(first.stdout)
    assert data["size"] >= 7 and len(data["caught"]) == 3
    again = CliRunner().invoke(main, ["demo", "--dir", str(target)])
    assert again.exit_code == 2 and "not empty" in again.stderr
    fresh = CliRunner().invoke(main, ["demo", "--dir", str(target), "--fresh", "--json"])
    assert fresh.exit_code == 0
    assert json.loads(fresh.stdout)["verifier_key"] != data["verifier_key"]
