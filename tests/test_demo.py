"""The README's first command: the demo runs end to end and its files verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from provenance.offline import bundles as bundle
from provenance.offline import receipts


def test_demo_runs_and_leaves_a_verifiable_ledger(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--dir", str(target)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "refused, exit 3" in result.stdout
    assert "c2sp.org/tlog-proof@v1" in result.stdout
    key = CliRunner().invoke(main, ["ledger", "key", "--db", str(target / "ledger.db")])
    verifier = key.stdout.strip().splitlines()[-1]
    receipt = receipts.verify_receipt((target / "receipt-shipment.txt").read_text(), [verifier])
    assert receipt.entry.kind == "shipment"
    report = bundle.verify_bundle(json.loads((target / "bundle.json").read_text()), [verifier])
    kinds = {e["kind"] for e in report.entries}
    assert {"manufacture", "shipment", "receipt", "end-use", "inspection"} <= kinds
    assert "refused, exit 2: receipt: date: received 2026-09-30" in result.stdout
    assert "serial '1654923000101' is already registered to nvidia-h100-sxm5" in result.stdout
    chip = CliRunner().invoke(
        main, ["chip", "1654923000101", "--db", str(target / "ledger.db"), "--json"]
    )
    data = json.loads(chip.stdout)
    assert data["state"] == "inspected" and data["product"] == "nvidia-h100-sxm5"
    assert [h["kind"] for h in data["history"]] == [
        "manufacture",
        "end-use",
        "shipment",
        "receipt",
        "inspection",
    ]
    assert "verdict: CLEAR" in result.stdout and "verdict: BLOCKED" in result.stdout
    assert "refused, exit 3: party meridian-exports (roles: exporter) may not sign 'lab-test'" in (
        result.stdout
    )
    assert "refused, exit 2: invalid location: rtt_ms" in result.stdout
    assert "verdict: HOLD" in result.stdout
    assert "50% cap: nvidia-h200-sxm 8 units to China/Macau against 16" in result.stdout
    assert "verdicts: " in result.stdout  # in words, not a Python dict
    assert "{'" not in result.stdout and '{"' not in result.stdout
    flags = CliRunner().invoke(main, ["flag", "list", "--db", str(target / "ledger.db"), "--json"])
    rules = {f["rule"]: f["status"] for f in json.loads(flags.stdout)}
    assert rules["relabel.serial-registered-to-other-product"] == "confirmed"
    assert {"relabel.undervalued", "diversion.route-through-hub", "screening.el"} <= set(rules)
    assert data["observed"][0]["pci_device_id"] == "0x233010DE"
    audit = CliRunner().invoke(main, ["ledger", "verify", "--db", str(target / "ledger.db")])
    assert audit.exit_code == 0, audit.stderr
    # The closing hint runs where the user is, `provenance` on the PATH or not.
    hint = result.stdout.splitlines()[-2:]
    assert hint[0].startswith("explore it: ") and hint[1].strip().endswith(
        f"shipment list --db {target / 'ledger.db'}"
    )
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    for line in hint:
        command = line.removeprefix("explore it:").strip()
        ran = subprocess.run(
            ["bash", "-c", command], env=env, capture_output=True, text=True, check=False
        )
        assert ran.returncode == 0, (command, ran.stderr)
        assert ran.stderr == "" and ran.stdout


def test_the_hint_names_the_provenance_that_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provenance.commands.demo import invocation

    script = tmp_path / ".venv" / "bin" / "provenance"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(sys, "argv", [".venv/bin/provenance", "demo"])
    assert invocation() == ".venv/bin/provenance"
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    assert invocation() == "provenance"
    monkeypatch.setattr(sys, "argv", ["-c"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert invocation() == f"{sys.executable} -m provenance"


def test_demo_json_and_refuses_a_used_folder(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    first = CliRunner().invoke(main, ["demo", "--dir", str(target), "--json"])
    data = json.loads(first.stdout)
    assert data["size"] >= 32 and len(data["caught"]) == 7
    assert data["chip"]["state"] == "inspected"
    verdicts = {k: v["verdict"] for k, v in data["determinations"].items()}
    assert verdicts == {
        "clean": "clear",
        "relabeled": "blocked",
        "china": "clear",
        "china-relocated": "hold",
    }
    china = data["determinations"]["china"]
    assert china["items"][0]["governing_rule"] == "license.china-macau-envelope-2026"
    assert not [f for f in china["flags"] if f["severity"] in ("high", "blocking")]
    relocated = {f["rule"]: f for f in data["determinations"]["china-relocated"]["flags"]}
    assert "lm-frankfurt is 8,300 km" in relocated["diversion.location-inconsistent"]["message"]
    again = CliRunner().invoke(main, ["demo", "--dir", str(target)])
    assert again.exit_code == 2 and "not empty" in again.stderr
    fresh = CliRunner().invoke(main, ["demo", "--dir", str(target), "--fresh", "--json"])
    assert fresh.exit_code == 0
    assert json.loads(fresh.stdout)["verifier_key"] != data["verifier_key"]


@pytest.mark.slow
def test_the_commands_the_demo_prints_replay_in_an_empty_folder(tmp_path: Path) -> None:
    """Every `$` line the demo prints, pasted in order into an empty folder, does what the
    demo says it does: exit 0, or the exit code of the refusal or verdict it shows."""
    script = Path(sys.executable).parent / "provenance"
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    env.pop("PROVENANCE_DB", None)
    shown = subprocess.run(
        [str(script), "demo", "--dir", str(tmp_path / "demo")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    printed = [line.removeprefix("  $ ") for line in shown.splitlines() if line.startswith("  $ ")]
    ran = subprocess.run(
        [str(script), "demo", "--dir", str(tmp_path / "demo"), "--fresh", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(ran.stdout)["commands"]
    assert [c["command"] for c in expected] == printed
    assert printed[1] == f'export PATH={script.parent}:"$PATH"'  # `provenance` is not on PATH
    assert {c["exit"] for c in expected} == {0, 1, 2, 3, 6}
    # One shell, as a person pasting them: each command's exit code and stderr recorded.
    replay = tmp_path / "replay"
    replay.mkdir()
    lines = []
    for n, command in enumerate(printed):
        lines.append(f"{{ {command}\n}} > out-{n}.txt 2> err-{n}.txt; echo $? >> exits.txt")
    subprocess.run(
        ["bash", "-c", "\n".join(lines)], cwd=replay, env=env, capture_output=True, check=True
    )
    exits = [int(line) for line in (replay / "exits.txt").read_text().split()]
    for n, (command, code) in enumerate(zip(printed, exits, strict=True)):
        assert code == expected[n]["exit"], (command, (replay / f"err-{n}.txt").read_text())
    audit = CliRunner().invoke(main, ["ledger", "verify", "--db", str(replay / "ledger.db")])
    assert audit.exit_code == 0, audit.stderr
