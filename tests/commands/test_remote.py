"""The commands against a served ledger (`--ledger URL`), through click's CliRunner: exit
codes, stdout and stderr, every receipt and checkpoint verified by the client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from cli import main
from provenance.crypto import keys
from provenance.ledger.setup import initialise
from tests.conftest import World
from tests.ledger.test_custody import SERIALS, shipment_doc
from tests.service.conftest import Parties, Server


@pytest.fixture
def served(world: World, parties: Parties, tmp_path: Path) -> Iterator[Server]:
    """A server that holds the operator key, so that it records shipments' determinations."""
    server = Server(
        world.db,
        tmp_path / "keys" / "ledger.pem",
        tmp_path,
        args=["--operator-key", str(tmp_path / "keys" / "operator.pem")],
    ).start()
    try:
        yield server
    finally:
        server.stop()


class Remote:
    def __init__(self, url: str, parties: Parties, tmp_path: Path) -> None:
        self.url = url
        self.dir = tmp_path
        for name, key in parties.keys.items():
            path = tmp_path / f"{name}.pem"
            if not path.exists():
                keys.save_private(path, key)

    def __call__(self, *args: str, key: str | None = None, ledger: str | None = None) -> Result:
        extra = ["--ledger", ledger or self.url]
        if key:
            extra += ["--key", str(self.dir / f"{key}.pem")]
        return CliRunner().invoke(main, [*args, *extra], catch_exceptions=False)

    def ok(self, *args: str, key: str | None = None) -> Result:
        result = self(*args, key=key)
        assert result.exit_code == 0, result.stderr + result.stdout
        return result


@pytest.fixture
def remote(
    served: Server,
    parties: Parties,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Remote:
    monkeypatch.setenv("PROVENANCE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("PROVENANCE_DB", raising=False)
    monkeypatch.delenv("PROVENANCE_CHECKPOINT_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    return Remote(served.url, parties, tmp_path)


def test_registering_a_shipment_over_http_returns_its_checked_determination(
    remote: Remote, world: World
) -> None:
    Path("shipment.yaml").write_text(yaml.safe_dump(shipment_doc("SH-CLI", SERIALS[:8])))
    first = remote("shipment", "register", "shipment.yaml", "--json", key="meridian")
    assert first.exit_code in (0, 1, 6), first.stderr  # 1 or 6: the rules found something
    assert "pinned the ledger key" in first.stderr
    answer = json.loads(first.stdout)
    seq = answer["entry"]["seq"]
    assert world.ledger.entry(seq).kind == "shipment"
    assert answer["determination"]["shipment"] == "SH-CLI"
    assert world.ledger.entry(answer["determination"]["seq"]).kind == "determination"
    again = remote("shipment", "register", "shipment.yaml", key="meridian")
    assert f"already in the ledger as entry {seq}" in again.stdout


def test_reading_commands_verify_what_the_server_sends(
    remote: Remote,
    parties: Parties,
    world: World,
) -> None:
    appended, _ = world.ledger.append(parties.shipment("SH-R"))
    seq = appended.seq
    checkpoint = remote.ok("ledger", "checkpoint")
    assert checkpoint.stdout == world.ledger.checkpoint().note
    shown = json.loads(remote.ok("ledger", "show", str(seq), "--json", key="meridian").stdout)
    assert shown["kind"] == "shipment"
    refused = remote("ledger", "show", str(seq), key="rival")
    assert refused.exit_code == 3 and "may not read" in refused.stderr
    unsigned = remote("ledger", "show", str(seq))
    assert unsigned.exit_code == 2 and "needs a registered key" in unsigned.stderr
    proof = remote.ok("ledger", "proof", str(seq), key="lion").stdout
    Path("entry.receipt").write_text(proof)
    verified = CliRunner().invoke(
        main, ["verify", "entry.receipt", "--ledger-key", world.ledger.verifier_key]
    )
    assert verified.exit_code == 0, verified.stderr
    consistency = json.loads(
        remote.ok("ledger", "consistency", "1", str(world.ledger.size()), "--json").stdout
    )
    assert (
        consistency["verified"]
        and consistency["new_root"] == world.ledger.root(world.ledger.size()).hex()
    )
    chip = json.loads(remote.ok("chip", SERIALS[0], "--json", key="nvidia").stdout)
    assert seq in {h["seq"] for h in chip["history"]}
    shipment = json.loads(remote.ok("shipment", "show", "SH-R", "--json", key="lion").stdout)
    assert shipment["id"] == "SH-R"
    assert remote("shipment", "show", "SH-R", key="rival").exit_code == 3
    remote.ok("ledger", "export", "--seq", str(seq), "-o", "bundle.json", key="bis")
    bundle = CliRunner().invoke(
        main, ["verify", "bundle.json", "--ledger-key", world.ledger.verifier_key]
    )
    assert bundle.exit_code == 0, bundle.stderr


def test_writing_commands_go_to_the_server(
    remote: Remote,
    parties: Parties,
    world: World,
) -> None:
    size = world.ledger.size()
    revoked = remote.ok(
        "keys", "revoke", parties.keys["rival"].keyid, "--reason", "left", key="operator"
    )
    assert "appended entry" in revoked.stdout
    envelopes = [
        json.dumps(
            world.envelope(
                {
                    "kind": "party",
                    "id": f"bulk{i}",
                    "name": f"Bulk {i}",
                    "roles": ["consignee"],
                    "country": "SG",
                    "headquarters": "SG",
                    "keys": [],
                },
                world.operator,
            ).to_json()
        )
        for i in range(12)
    ]
    Path("bulk.jsonl").write_text("\n".join(envelopes) + "\n")
    imported = json.loads(remote.ok("ledger", "import", "bulk.jsonl", "--json").stdout)
    assert imported["appended"] == 12
    again = json.loads(remote.ok("ledger", "import", "bulk.jsonl", "--json").stdout)
    assert again["appended"] == 0 and again["duplicates"] == 12
    assert world.ledger.size() == size + 13
    # a refusal keeps its exit code across the wire
    refused = remote("keys", "revoke", parties.keys["meridian"].keyid, "--reason", "x", key="lion")
    assert refused.exit_code == 3, refused.stderr
    local_only = remote("screening", "import", "list.csv", key="operator")
    assert local_only.exit_code == 2 and "not on a served ledger" in local_only.stderr


def test_a_split_view_is_exit_4_with_both_checkpoints(
    remote: Remote, world: World, tmp_path: Path
) -> None:
    remote.ok("ledger", "checkpoint")  # the real ledger, seen first
    fork_db = f"sqlite:///{tmp_path / 'fork.db'}"
    initialise(
        fork_db, origin=world.ledger.origin, keys_dir=tmp_path / "keys", with_catalog=False
    ).ledger.close()
    fork = Server(fork_db, tmp_path / "keys" / "ledger.pem", tmp_path).start()
    try:
        shown = CliRunner().invoke(
            main,
            ["ledger", "checkpoint", "--ledger", fork.url, "--ledger-key",
             world.ledger.verifier_key],
        )  # fmt: skip
    finally:
        fork.stop()
    assert shown.exit_code == 4
    assert "the checkpoint seen before" in shown.stderr
    assert world.ledger.checkpoint().note in shown.stderr
    assert "the checkpoint shown now" in shown.stderr


def test_status_and_a_chips_bundle_of_a_served_ledger(
    remote: Remote, parties: Parties, world: World
) -> None:
    world.ledger.append(parties.shipment("SH-S"))
    Path("ledger.vkey").write_text(f"# the ledger's key\n{world.ledger.verifier_key}\n")
    shown = remote("status", "--ledger-key", "ledger.vkey", "--json")  # a file holding the key
    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["ledger"] == remote.url and data["database"] is None
    assert data["verifier_key"] == world.ledger.verifier_key
    assert data["size"] == data["checkpoint"]["size"] == world.ledger.size()
    assert data["keys"] is None and data["reader"] is None and data["open_flags"] is None
    human = remote.ok("status").stdout
    assert human.startswith(f"ledger {world.ledger.origin} (served at {remote.url})\n")
    assert "open flags: not shown for a served ledger without --key" in human
    # with a key: whose it is, and the open flags it may read (its own shipments' only)
    raised: dict[str, list[str]] = {}
    for exporter, shipment_id, serials in (("meridian", "SH-M", 0), ("rival", "SH-X", 8)):
        document = shipment_doc(shipment_id, SERIALS[serials : serials + 8], exporter=exporter)
        Path(f"{shipment_id}.yaml").write_text(yaml.safe_dump(document))
        registered = remote("shipment", "register", f"{shipment_id}.yaml", "--json", key=exporter)
        assert registered.exit_code in (0, 1, 6), registered.stderr
        flags = json.loads(registered.stdout)["determination"]["flags"]
        raised[exporter] = [f["severity"] for f in flags]
    assert raised["meridian"] and raised["rival"], raised

    def by_severity(severities: list[str]) -> dict[str, int]:
        return {s: severities.count(s) for s in ("blocking", "high", "warning", "info")}

    mine = json.loads(remote.ok("status", "--json", key="meridian").stdout)
    assert mine["reader"]["party"] == "meridian" and mine["reader"]["roles"] == ["exporter"]
    assert mine["open_flags"]["total"] == len(raised["meridian"])
    assert mine["open_flags"]["by_severity"] == by_severity(raised["meridian"])
    every = json.loads(remote.ok("status", "--json", key="bis").stdout)["open_flags"]
    assert every["by_severity"] == by_severity(raised["meridian"] + raised["rival"])
    text = remote.ok("status", key="meridian").stdout
    assert "reading as: meridian (exporter)\n" in text
    assert f"open flags that this key may read: {len(raised['meridian'])} (" in text
    exported = remote.ok("ledger", "export", "--chip", SERIALS[0], "-o", "chip.json", key="bis")
    assert exported.stdout.startswith("wrote chip.json: ")
    history = json.loads(remote.ok("chip", SERIALS[0], "--json", key="bis").stdout)["history"]
    assert json.loads(Path("chip.json").read_text())["requested"] == [h["seq"] for h in history]
    verified = CliRunner().invoke(main, ["verify", "chip.json", "--ledger-key", "ledger.vkey"])
    assert verified.exit_code == 0, verified.stderr
    bad = remote("status", "--ledger-key", "nowhere.vkey")
    assert bad.exit_code == 2 and "is neither a verifier key nor a file" in bad.stderr


def test_a_shipment_is_amended_and_voided_over_http(
    remote: Remote, parties: Parties, world: World
) -> None:
    """The entry in force is read from the server; the correction goes to it, is judged
    there and refused there as locally; a refusal writes nothing."""
    registered, _ = world.ledger.append(parties.shipment("SH-FIX"))
    Path("fixed.yaml").write_text(yaml.safe_dump(shipment_doc("SH-FIX", SERIALS[:6])))
    amended = remote(
        "shipment", "amend", "SH-FIX", "fixed.yaml", "--reason", "two units too many", "--json",
        key="meridian",
    )  # fmt: skip
    assert amended.exit_code in (0, 1, 6), amended.stderr
    answer = json.loads(amended.stdout)
    seq = answer["entry"]["seq"]
    assert world.ledger.entry(seq).kind == "shipment-amendment"
    assert [i["quantity"] for i in answer["determination"]["items"]] == [6]
    shown = json.loads(remote.ok("shipment", "show", "SH-FIX", "--json", key="meridian").stdout)
    assert (shown["status"], shown["version_seq"], shown["units"]) == ("amended", seq, 6)
    assert [h.get("superseded_by") for h in shown["history"]] == [seq, None]
    # another exporter's correction is refused by the server: exit 3, nothing appended
    size = world.ledger.size()
    unread = remote("shipment", "void", "SH-FIX", "--reason", "mine", key="rival")
    assert (unread.exit_code, unread.stdout) == (3, "")  # it may not even read the shipment
    assert "rival is not a party to shipment SH-FIX (HTTP 403)" in unread.stderr
    refused = remote(
        "shipment", "void", "SH-FIX", "--reason", "mine", "--corrects", str(seq), key="rival"
    )
    assert (refused.exit_code, refused.stdout) == (3, "")
    assert "was registered by 'meridian', not by the signer 'rival'" in refused.stderr
    stale = remote(
        "shipment", "void", "SH-FIX", "--reason", "x", "--corrects", str(registered.seq),
        key="meridian",
    )  # fmt: skip
    assert stale.exit_code == 2 and "is not the version of shipment 'SH-FIX' in force" in (
        stale.stderr
    )
    assert world.ledger.size() == size
    voided = remote("shipment", "void", "SH-FIX", "--reason", "never left", key="meridian")
    assert voided.exit_code == 0, voided.stderr
    assert voided.stdout.startswith(f"appended entry {size}: shipment-void, signed by meridian")
    after = json.loads(remote.ok("shipment", "show", "SH-FIX", "--json", key="meridian").stdout)
    assert (after["status"], after["voided_seq"]) == ("void", size)
