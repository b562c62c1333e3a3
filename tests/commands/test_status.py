"""`provenance status`: the database, the ledger's origin and size, its last checkpoint,
the key files found and their parties, open flags by severity; on a database and on a
served ledger."""

from __future__ import annotations

from pathlib import Path

from tests.commands.test_custody import (  # noqa: F401 (fixtures)
    ORIGIN,
    PARTIES,
    Trade,
    catalog,
    fresh,
    one_error_line,
    shipped,
    trade,
)
from tests.commands.test_ledger import verifier_key


def test_status_on_a_database(shipped: Trade) -> None:  # noqa: F811
    Path("stray").mkdir()
    shipped.ok("keys", "generate", "stranger", "--dir", "stray")
    data = shipped.obj("status")
    assert data["origin"] == ORIGIN and data["ledger"] is None
    assert data["database"] and data["size"] == shipped.size()
    assert data["checkpoint"]["size"] == data["size"] and data["checkpoint"]["origin"] == ORIGIN
    assert data["verifier_key"] == verifier_key(shipped)
    assert data["parties"] == 1 + len(PARTIES) and data["shipments"] == 1
    owners = {k["party"] for k in data["keys"] if k["state"] == "valid"}
    assert owners == {"operator", *PARTIES}
    assert [k["files"] for k in data["keys"] if k["state"] == "checkpoint"] == [
        ["keys/ledger.pem", "keys/ledger.pub"]
    ]
    assert data["open_flags"]["total"] == sum(data["open_flags"]["by_severity"].values())
    assert list(data["open_flags"]["by_severity"]) == ["blocking", "high", "warning", "info"]
    human = shipped.ok("status")
    assert human.stderr == ""
    lines = human.stdout.splitlines()
    assert lines[0].startswith(f"ledger {ORIGIN} (database ")
    assert f"  checkpoint:     tree size {data['size']}, root " in human.stdout
    assert f"  registered:     {1 + len(PARTIES)} parties, 1 shipments" in human.stdout
    assert f"keys found: {len(data['keys'])}, {len(PARTIES) + 1} of registered parties" in lines
    assert "  meridian.pem, meridian.pub: ed25519 " in human.stdout
    assert "(private and public): party meridian, registered at entry " in human.stdout
    assert any(line.startswith("open flags: ") for line in lines)
    # another folder of keys: only those
    only = shipped.obj("status", "--dir", "stray")["keys"]
    assert [(k["files"], k["state"], k["party"]) for k in only] == [
        (["stray/stranger.pem", "stray/stranger.pub"], "unregistered", None)
    ]


def test_status_counts_the_open_flags_by_severity(shipped: Trade) -> None:  # noqa: F811
    before = shipped.obj("status")["open_flags"]
    assert before == {
        "total": 0,
        "by_severity": {"blocking": 0, "high": 0, "warning": 0, "info": 0},
    }
    assert "open flags: 0\n" in shipped.ok("status").stdout
    assert shipped("check", "SHP-1").exit_code == 1  # blocked: its flags are raised
    flags = shipped.json("flag", "list", "--open")
    assert isinstance(flags, list)
    counts = shipped.obj("status")["open_flags"]
    assert counts["total"] == len(flags)
    for severity, n in counts["by_severity"].items():
        assert n == sum(1 for f in flags if f["severity"] == severity), severity
    assert counts["by_severity"]["blocking"] == 1 and counts["by_severity"]["high"] == 2
    human = shipped.ok("status").stdout
    assert f"open flags: {counts['total']} (1 blocking, 2 high" in human
    assert "  provenance flag list --open\n" in human


def test_status_of_no_ledger_is_not_found(fresh: Trade) -> None:  # noqa: F811
    error = one_error_line(fresh("status"), 5)  # SQLite: "no ledger at"; PostgreSQL: "holds no"
    assert "no ledger" in error
    bad = fresh("status", "--dir", "no-such-folder")
    assert bad.exit_code == 2 and "'no-such-folder' does not exist" in bad.stderr
