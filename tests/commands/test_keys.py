"""`provenance keys`: the key files found and whose they are; `key`, the old name, works
hidden from the help and says it is deprecated."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli import main
from tests.commands.test_ledger import Cli, cli, ledger  # noqa: F401 (fixtures)


def test_keys_list_names_each_keys_party(ledger: Cli) -> None:  # noqa: F811
    ledger.ok("keys", "generate", "stranger")
    Path("notes.pem").write_text("not a key")
    rows = ledger.json("keys", "list")
    assert isinstance(rows, list)
    found = {tuple(r["files"]): (r["state"], r["party"]) for r in rows}
    assert found == {
        ("acme.pem", "acme.pub"): ("valid", "acme"),
        ("keys/ledger.pem", "keys/ledger.pub"): ("checkpoint", None),
        ("keys/operator.pem", "keys/operator.pub"): ("valid", "operator"),
        ("stranger.pem", "stranger.pub"): ("unregistered", None),
        ("notes.pem",): ("unreadable", None),
    }
    acme = next(r for r in rows if r["party"] == "acme")
    assert acme["private"] is True and acme["registered_seq"] == 1 and len(acme["keyid"]) == 64
    human = ledger.ok("keys", "list")
    assert human.stderr == ""
    lines = human.stdout.splitlines()
    assert lines[lines.index("acme.pem, acme.pub") + 1].endswith(
        "(private and public): party acme, registered at entry 1"
    )
    assert "  unreadable: not a PEM key" in lines
    assert lines[-1] == "5 keys found, 2 of registered parties"
    revoked = acme["keyid"]
    ledger.ok("keys", "revoke", revoked, "--reason", "lost", "--key", "keys/operator.pem")
    again = {r["keyid"]: r for r in ledger.json("keys", "list")}  # type: ignore[union-attr]
    assert again[revoked]["state"] == "revoked" and again[revoked]["revoked_seq"] == 2


def test_keys_list_reads_only_the_folders_given(ledger: Cli) -> None:  # noqa: F811
    rows = ledger.json("keys", "list", "--dir", "keys")
    assert [r["files"][0] for r in rows] == ["keys/ledger.pem", "keys/operator.pem"]  # type: ignore[index]
    missing = ledger("keys", "list", "--dir", "nowhere")
    assert missing.exit_code == 2 and "'nowhere' does not exist" in missing.stderr


def test_key_is_a_hidden_deprecated_name_of_keys(ledger: Cli) -> None:  # noqa: F811
    top = CliRunner().invoke(main, ["--help"])
    assert "  keys " in top.stdout and "  key " not in top.stdout
    old = ledger("key", "generate", "bob")
    assert old.exit_code == 0 and old.stdout.startswith("wrote bob.pem and bob.pub\n")
    assert "The command 'key' is deprecated. Use `provenance keys` instead." in old.stderr
    assert "DEPRECATED" in ledger.ok("key", "--help").stdout
