"""`provenance monitor` against a real server: the three uses, resuming, a split view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from provenance.ledger.log import Ledger
from tests.conftest import World
from tests.ledger.test_custody import SERIALS, shipment_doc
from tests.service.conftest import Parties, Server


def run_monitor(server: Server, tmp_path: Path, key: str, state: str, *watch: str) -> Result:
    args = ["monitor", server.url, "--key", key, "--state", str(tmp_path / state), *watch]
    return CliRunner().invoke(main, args)


def key_file(tmp_path: Path, parties: Parties, name: str) -> str:
    from provenance.crypto import keys

    path = tmp_path / f"{name}-monitor.pem"
    if not path.exists():
        keys.save_private(path, parties.keys[name])
    return str(path)


def reports(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_a_manufacturer_sees_a_shipment_of_its_serials_by_an_unknown_exporter(
    server: Server, parties: Parties, world: World, tmp_path: Path
) -> None:
    serials = tmp_path / "serials.txt"
    serials.write_text("# our H100s\n" + "\n".join(SERIALS[:8]) + "\n")
    nvidia = key_file(tmp_path, parties, "nvidia")
    watch = ("--watch-serials", str(serials))
    first = run_monitor(server, tmp_path, nvidia, "nvidia", *watch, "--once")
    assert first.exit_code == 1, first.output  # its own registration of the serials
    [manufacture] = reports(first)
    assert manufacture["kind"] == "manufacture"
    assert manufacture["reasons"][0] == f"serial {sorted(SERIALS[:8])[0]}"

    quiet = run_monitor(server, tmp_path, nvidia, "nvidia", *watch, "--once")
    assert (quiet.exit_code, quiet.stdout) == (0, "")  # resumed: nothing new

    appended, _ = world.ledger.append(parties.shipment("SHP-RIVAL", exporter="rival"))
    seen = run_monitor(server, tmp_path, nvidia, "nvidia", *watch, "--once")
    assert seen.exit_code == 1
    [shipment] = reports(seen)
    assert shipment["seq"] == appended.seq and shipment["kind"] == "shipment"
    assert len(shipment["reasons"]) == 8
    assert shipment["signers"][0]["keyid"] == parties.keys["rival"].keyid
    assert shipment["signers"][0]["party"] is None  # a party the manufacturer does not know
    assert shipment["checkpoint"]["size"] == world.ledger.size()


def test_a_party_sees_an_entry_signed_with_its_key_that_it_did_not_make(
    server: Server, parties: Parties, world: World, tmp_path: Path
) -> None:
    meridian = key_file(tmp_path, parties, "meridian")
    watch = ("--watch-key", parties.keys["meridian"].keyid)
    first = run_monitor(server, tmp_path, meridian, "meridian", *watch)
    assert (first.exit_code, first.stdout) == (0, "")

    # Someone holding meridian's key signs a shipment meridian never made.
    appended, _ = world.ledger.append(parties.shipment("SHP-STOLEN-KEY"))
    seen = run_monitor(server, tmp_path, meridian, "meridian", *watch)
    assert seen.exit_code == 1
    [report] = reports(seen)
    assert report["seq"] == appended.seq
    assert report["reasons"] == [f"signed by key {parties.keys['meridian'].keyid}"]
    # The key was learned from meridian's own registration: the signature verified.
    assert report["signers"] == [{"keyid": parties.keys["meridian"].keyid, "party": "meridian"}]


def test_a_regulator_watching_a_consignee_sees_every_receipt_by_it(
    server: Server, parties: Parties, world: World, tmp_path: Path
) -> None:
    receipts = []
    for n, serials in ((1, SERIALS[:4]), (2, SERIALS[4:8])):
        document = shipment_doc(f"SHP-{n}", serials)
        world.ledger.append(world.envelope(document, parties.keys["meridian"]))
        appended, _ = world.append(
            {
                "kind": "receipt",
                "shipment": f"SHP-{n}",
                "serials": serials,
                "date": "2026-02-10",
                "country": "SG",
                "site": "Jurong West DC",
            },
            parties.keys["lion"],
        )
        receipts.append(appended.seq)
    bis = key_file(tmp_path, parties, "bis")
    seen = run_monitor(server, tmp_path, bis, "bis", "--watch-party", "lion")
    assert seen.exit_code == 1
    found = reports(seen)
    by_lion = [r["seq"] for r in found if "signed by party lion" in r["reasons"]]
    assert by_lion == receipts
    assert all(r["kind"] == "receipt" for r in found if r["seq"] in by_lion)
    named = {r["kind"] for r in found if "names party lion" in r["reasons"]}
    assert named == {"party", "shipment"}
    # Every entry the regulator read was proved; nothing it has seen is reported twice.
    again = run_monitor(server, tmp_path, bis, "bis", "--watch-party", "lion")
    assert (again.exit_code, again.stdout) == (0, "")


@pytest.mark.slow
def test_a_split_view_is_reported_with_both_checkpoints(
    server: Server, parties: Parties, world: World, tmp_path: Path
) -> None:
    from provenance.ledger.setup import initialise

    bis = key_file(tmp_path, parties, "bis")
    first = run_monitor(server, tmp_path, bis, "bis", "--watch-party", "lion")
    assert first.exit_code == 1
    fork_db = f"sqlite:///{tmp_path / 'fork.db'}"
    initialise(
        fork_db, origin=world.ledger.origin, keys_dir=tmp_path / "keys", with_catalog=False
    ).ledger.close()
    forked = Server(fork_db, tmp_path / "keys" / "ledger.pem", tmp_path).start()
    try:
        shown = run_monitor(forked, tmp_path, bis, "bis", "--watch-party", "lion")
    finally:
        forked.stop()
    assert shown.exit_code == 4, shown.output
    assert shown.stdout, shown.stderr
    [evidence] = reports(shown)
    assert evidence["split_view"]["remembered"] == world.ledger.checkpoint().note
    assert evidence["split_view"]["shown"] == Ledger.open(fork_db).checkpoint().note
    assert "not consistent with the one of size" in shown.stderr
    assert "hint: keep both notes" in shown.stderr


def test_follow_reports_entries_as_they_are_appended(
    server: Server, parties: Parties, world: World, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from tests.service.conftest import ROOT

    meridian = key_file(tmp_path, parties, "meridian")
    args = [sys.executable, "-m", "provenance", "monitor", server.url, "--follow"]
    args += ["--interval", "0.2", "--key", meridian, "--state", str(tmp_path / "follow")]
    args += ["--watch-party", "meridian"]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())  # its own registration
        assert first["kind"] == "party" and first["reasons"] == ["names party meridian"]
        appended, _ = world.ledger.append(parties.shipment("SHP-FOLLOWED"))
        report = json.loads(process.stdout.readline())
        assert report["seq"] == appended.seq
        assert report["reasons"] == ["signed by party meridian"]
        assert process.poll() is None  # still following
    finally:
        process.terminate()
        process.wait(10)
