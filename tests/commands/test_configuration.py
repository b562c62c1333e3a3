"""Configuration files (option defaults by option name), the passphrase prompt on a
terminal, and shell completion: through the CLI, checking exit codes, stdout, stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import cli
from cli import main


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, [*args], input=input, catch_exceptions=False)


def origin(*args: str) -> str:
    """The origin of the ledger `ledger checkpoint` opens, given `args`."""
    result = run("ledger", "checkpoint", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return str(json.loads(result.stdout)["origin"])


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory, its own XDG config home, four ledgers a..d whose
    origins name them, and no PROVENANCE_* variable set."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("PROVENANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "provenance").mkdir(parents=True)
    for name in "abcd":
        made = run(
            "init", "--origin", f"{name}.test/l", "--db", f"{name}.db",
            "--keys", f"keys-{name}", "--no-catalog",
        )  # fmt: skip
        assert made.exit_code == 0, made.stderr
    yield tmp_path


def user_config(here: Path, text: str) -> Path:
    path = here / "xdg" / "provenance" / "config.toml"
    path.write_text(text)
    return path


def test_precedence_command_line_environment_local_file_user_file(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_config(here, 'db = "a.db"\n')
    assert origin() == "a.test/l"
    Path("provenance.toml").write_text('db = "b.db"\n')
    assert origin() == "b.test/l"
    monkeypatch.setenv("PROVENANCE_DB", "c.db")
    assert origin() == "c.test/l"
    assert origin("--db", "d.db") == "d.test/l"


def test_a_commands_table_wins_over_its_group_and_the_top(here: Path) -> None:
    Path("provenance.toml").write_text(
        'db = "a.db"\n[ledger]\ndb = "b.db"\n[ledger.checkpoint]\ndb = "c.db"\n'
    )
    assert origin() == "c.test/l"
    listed = run("party", "list", "--json")  # only the top applies to `party list`
    assert listed.exit_code == 0, listed.stderr
    Path("provenance.toml").write_text('db = "a.db"\n[ledger]\ndb = "b.db"\n')
    assert origin() == "b.test/l"
    key = run("ledger", "key")
    assert key.exit_code == 0 and key.stdout.startswith("origin b.test/l\n"), key.stdout


def test_config_option_names_the_file_instead(here: Path) -> None:
    Path("provenance.toml").write_text('db = "a.db"\n')
    Path("other.toml").write_text('db = "b.db"\n')
    assert origin() == "a.test/l"
    result = run("--config", "other.toml", "ledger", "checkpoint", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["origin"] == "b.test/l"
    missing = run("--config", "nope.toml", "ledger", "checkpoint")
    assert missing.exit_code == 2 and missing.stdout == ""
    assert missing.stderr == "error: configuration file nope.toml not found\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('bogus = 1\n', "provenance.toml: bogus: no command has this option"),
        (
            '[shipment.list]\nfrom = "yesterday"\n',
            "provenance.toml: shipment.list.from: Invalid value for '--from': 'yesterday' "
            "does not match the format '%Y-%m-%d'.",
        ),
        ('[shipment.lst]\nfrom = "2026-01-01"\n', "provenance.toml: [shipment.lst]: no such"),
        ('[nope]\ndb = "a.db"\n', "provenance.toml: [nope]: no such command (key db)"),
        (
            '[ledger.checkpoint]\npack = "x"\n',
            "provenance.toml: ledger.checkpoint.pack: `provenance ledger checkpoint` has no "
            "option --pack",
        ),
        ('json = "yes"\n', "provenance.toml: json: --json is a flag: true or false, not 'yes'"),
        ('db = ["a.db", "b.db"]\n', "provenance.toml: db: --db takes one value, not a list"),
        ("db = \n", "provenance.toml: not valid TOML"),
    ],
    ids=["unknown-key", "bad-date", "unknown-command", "unknown-table", "not-its-option",
         "flag-not-bool", "list-for-one", "not-toml"],
)  # fmt: skip
def test_an_unknown_key_or_a_bad_value_is_exit_2_naming_file_and_key(
    here: Path, text: str, message: str
) -> None:
    Path("provenance.toml").write_text(text)
    result = run("ledger", "checkpoint", "--db", "a.db")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {message}"), result.stderr


def test_a_key_another_command_has_does_not_stop_this_one(here: Path) -> None:
    Path("provenance.toml").write_text('db = "a.db"\npack = "ear-2026-01"\n')
    assert origin() == "a.test/l"


def test_repeatable_options_and_flags_from_the_file(here: Path) -> None:
    Path("statement.yaml").write_text(
        "kind: party\nid: p\nname: P\nroles: [auditor]\ncountry: DE\nheadquarters: DE\n"
    )
    Path("provenance.toml").write_text('[sign]\nkey = "keys-a/operator.pem"\n')
    signed = run("sign", "statement.yaml")
    assert signed.exit_code == 0, signed.stderr
    assert len(json.loads(signed.stdout)["signatures"]) == 1
    Path("provenance.toml").write_text(
        '[sign]\nkey = ["keys-a/operator.pem", "keys-b/operator.pem"]\n'
    )
    assert len(json.loads(run("sign", "statement.yaml").stdout)["signatures"]) == 2
    Path("provenance.toml").write_text('db = "a.db"\njson = true\n')
    listed = run("party", "list")
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["id"] == "operator"


def test_config_show_prints_each_value_and_where_it_came_from(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = user_config(here, 'db = "a.db"\n[check]\npack = "ear-2026-01"\n')
    Path("provenance.toml").write_text('db = "b.db"\n[shipment.register]\nno-check = true\n')
    monkeypatch.setenv("PROVENANCE_LEDGER", "https://ledger.example")
    shown = run("config", "show")
    assert shown.exit_code == 0, shown.stderr
    assert shown.stderr == ""
    assert shown.stdout.splitlines() == [
        f"files: {user}, provenance.toml",
        "db = 'b.db'  from provenance.toml",
        f"check.pack = 'ear-2026-01'  from {user}",
        "shipment.register.no-check = True  from provenance.toml",
        "ledger = 'https://ledger.example'  from $PROVENANCE_LEDGER",
    ]
    monkeypatch.setenv("PROVENANCE_DB", "c.db")
    data = json.loads(run("config", "show", "--json").stdout)
    assert data["files"] == [str(user), "provenance.toml"]
    assert {"key": "db", "value": "b.db", "source": "provenance.toml",
            "overridden_by": "PROVENANCE_DB"} in data["settings"]  # fmt: skip
    assert {"key": "db", "value": "c.db", "source": "$PROVENANCE_DB",
            "overridden_by": None} in data["settings"]  # fmt: skip
    Path("provenance.toml").unlink()
    user.unlink()
    monkeypatch.delenv("PROVENANCE_DB")
    monkeypatch.delenv("PROVENANCE_LEDGER")
    none = run("config", "show")
    assert none.exit_code == 0
    assert none.stdout == f"files: none (./provenance.toml, {user})\n"
    Path("provenance.toml").write_text('[config.show]\ndb = "a.db"\n')
    bad = run("config", "show")
    assert bad.exit_code == 2 and "config.show.db" in bad.stderr


# --- the passphrase prompt ---------------------------------------------------------------------


@pytest.fixture
def encrypted(here: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROVENANCE_KEY_PASSPHRASE", "s3cret")
    assert run("keys", "generate", "sealed").exit_code == 0
    monkeypatch.delenv("PROVENANCE_KEY_PASSPHRASE")
    assert b"ENCRYPTED PRIVATE KEY" in Path("sealed.pem").read_bytes()
    Path("statement.yaml").write_text(
        "kind: party\nid: p\nname: P\nroles: [auditor]\ncountry: DE\nheadquarters: DE\n"
    )
    return Path("sealed.pem")


def test_an_encrypted_key_is_asked_for_on_a_terminal(
    encrypted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    signed = run("sign", "statement.yaml", "--key", str(encrypted), input="s3cret\n")
    assert signed.exit_code == 0, signed.stderr
    assert signed.stderr == f"passphrase for {encrypted}: \n"  # the answer is not echoed
    assert "s3cret" not in signed.output
    assert json.loads(signed.stdout)["signatures"]
    wrong = run("sign", "statement.yaml", "--key", str(encrypted), input="guess\n")
    assert wrong.exit_code == 2 and wrong.stdout == ""
    assert wrong.stderr.endswith(f"error: wrong passphrase for {encrypted}\n")


def test_without_a_terminal_an_encrypted_key_is_the_clear_error(
    encrypted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_interactive", lambda: False)
    refused = run("sign", "statement.yaml", "--key", str(encrypted), input="s3cret\n")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr == (
        f"error: {encrypted} is encrypted\nhint: set PROVENANCE_KEY_PASSPHRASE to its passphrase\n"
    )
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    monkeypatch.setenv("PROVENANCE_KEY_PASSPHRASE", "s3cret")  # the environment: no prompt
    signed = run("sign", "statement.yaml", "--key", str(encrypted))
    assert signed.exit_code == 0 and signed.stderr == ""


# --- shell completion --------------------------------------------------------------------------


def completion(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "provenance")],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_variable_prints_a_script(shell: str, tmp_path: Path) -> None:
    done = completion({"_PROVENANCE_COMPLETE": f"{shell}_source"}, tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert "_PROVENANCE_COMPLETE" in done.stdout and f"{shell}_complete" in done.stdout


def test_completion_completes_commands_and_ignores_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "provenance.toml").write_text("bogus = 1\n")
    done = completion(
        {"_PROVENANCE_COMPLETE": "bash_complete", "COMP_WORDS": "provenance shi",
         "COMP_CWORD": "1"},
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.split() == ["plain,shipment"]
