"""The CLI through click's CliRunner: exit codes, stdout, stderr."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cli import main
from tests.conftest import flip_payload_byte, tamper


@dataclass
class Cli:
    runner: CliRunner
    db: str
    dir: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(main, [*args], input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.stderr + result.stdout
        return result

    def json(self, *args: str) -> object:
        return json.loads(self.ok(*args, "--json").stdout)

    def json_input(self, *args: str, input: str) -> dict[str, object]:
        value = json.loads(self.ok(*args, "--json", input=input).stdout)
        assert isinstance(value, dict)
        return value


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROVENANCE_DB", db_url)
    monkeypatch.delenv("PROVENANCE_CHECKPOINT_KEY", raising=False)
    monkeypatch.delenv("PROVENANCE_KEY_PASSPHRASE", raising=False)
    yield Cli(CliRunner(), db_url, tmp_path)


@pytest.fixture
def ledger(cli: Cli) -> Cli:
    result = cli.ok("init", "--origin", "cli.test/ledger", "--no-catalog")
    assert "ledger verifier key" in result.stdout
    cli.ok("keys", "generate", "acme")
    Path("acme.yaml").write_text(
        "id: acme\nname: Acme Export Ltd.\nroles: [exporter, operator]\n"
        "country: SG\nheadquarters: SG\n"
    )
    cli.ok(
        "party", "register", "acme.yaml", "--public-key", "acme.pub", "--key", "keys/operator.pem"
    )
    return cli


def verifier_key(cli: Cli) -> str:
    return cli.ok("ledger", "key").stdout.strip().splitlines()[-1]


def write_party(name: str, **fields: object) -> str:
    doc = {
        "kind": "party",
        "id": name,
        "name": f"{name} GmbH",
        "roles": ["auditor"],
        "country": "DE",
        "headquarters": "DE",
        **fields,
    }
    Path(f"{name}.json").write_text(json.dumps(doc))
    return f"{name}.json"


def test_init_prints_the_verifier_key_and_ledger_key_repeats_it(cli: Cli) -> None:
    out = cli.ok("init", "--origin", "cli.test/ledger").stdout
    key = out.strip().splitlines()[-1]
    assert key.startswith("cli.test/ledger+")
    assert verifier_key(cli) == key
    assert (cli.dir / "keys" / "operator.pem").stat().st_mode & 0o777 == 0o600
    again = cli("init")
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_keys_generate(cli: Cli) -> None:
    data = cli.json("keys", "generate", "alice", "--algorithm", "p256")
    assert isinstance(data, dict) and len(data["keyid"]) == 64
    assert Path("alice.pem").stat().st_mode & 0o777 == 0o600
    twice = cli("keys", "generate", "alice")
    assert twice.exit_code == 2 and "refusing to overwrite" in twice.stderr


def test_party_show_and_list(ledger: Cli) -> None:
    shown = ledger.json("party", "show", "acme")
    assert isinstance(shown, dict)
    assert shown["roles"] == ["exporter", "operator"] and shown["country"] == "SG"
    listed = ledger.json("party", "list")
    assert isinstance(listed, list)
    assert {p["id"] for p in listed} == {"operator", "acme"}
    missing = ledger("party", "show", "nobody")
    assert missing.exit_code == 5 and missing.stderr.startswith("error: ")


def test_sign_offline_then_append_and_show(ledger: Cli) -> None:
    write_party("tuv")
    ledger.ok("sign", "tuv.json", "--key", "acme.pem", "--out", "tuv.env.json")
    result = ledger.ok("ledger", "append", "tuv.env.json", "--receipt", "tuv.receipt")
    assert "appended entry 2: party, signed by acme" in result.stdout
    again = ledger.ok("ledger", "append", "tuv.env.json")
    assert "already in the ledger as entry 2" in again.stdout
    shown = ledger.json("ledger", "show", "2")
    assert isinstance(shown, dict) and shown["signer"] == "acme"
    key = verifier_key(ledger)
    verified = ledger.ok("verify", "tuv.receipt", "--ledger-key", key)
    assert "receipt verified: entry 2" in verified.stdout
    cp = ledger.json("ledger", "checkpoint")
    assert isinstance(cp, dict)
    assert cp["origin"] == "cli.test/ledger" and cp["size"] == 3 and len(cp["root"]) == 64


def test_sign_to_stdout_and_append_from_stdin(ledger: Cli) -> None:
    write_party("stdin-party")
    envelope = ledger.ok("sign", "stdin-party.json", "--key", "acme.pem").stdout
    appended = ledger.json_input("ledger", "append", "-", input=envelope)
    assert appended["entry"]["seq"] == 2


def test_proof_consistency_export_and_offline_verify(ledger: Cli) -> None:
    for name in ("p1", "p2", "p3"):
        ledger.ok("party", "register", write_party(name), "--key", "keys/operator.pem")
    proof = ledger.ok("ledger", "proof", "1").stdout
    lines = proof.splitlines()
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1].startswith("extra ") and lines[2] == "index 1"
    Path("r.txt").write_text(proof)
    key = verifier_key(ledger)
    assert "receipt verified" in ledger.ok("verify", "r.txt", "--ledger-key", key).stdout
    old = ledger.ok("ledger", "proof", "1", "--size", "2").stdout
    assert old != proof
    consistency = ledger.json("ledger", "consistency", "2", "5")
    assert isinstance(consistency, dict) and consistency["verified"] is True
    ledger.ok("ledger", "export", "--seq", "3", "-o", "bundle.json")
    Path("key.txt").write_text(key + "\n")
    report = ledger.json("verify", "bundle.json", "--ledger-key", "key.txt")
    assert isinstance(report, dict)
    assert report["verified"] is True and report["requested"] == [3]
    data = json.loads(Path("bundle.json").read_text())
    data["receipts"][-1] = data["receipts"][-1].replace("index 3", "index 2")
    Path("bad.json").write_text(json.dumps(data))
    bad = ledger("verify", "bad.json", "--ledger-key", key)
    assert bad.exit_code == 4 and bad.stderr.startswith("error: ")
    wrong_key = ledger("verify", "bundle.json", "--ledger-key", "nonsense")
    assert wrong_key.exit_code == 2


def test_ledger_verify_and_replay(ledger: Cli) -> None:
    report = ledger.json("ledger", "verify", "--workers", "1")
    assert isinstance(report, dict) and report["size"] == 2
    replay = ledger.json("ledger", "replay")
    assert replay == {"replayed": 2}


def test_ledger_verify_pins_the_key_and_remembers_what_it_saw(
    ledger: Cli, tmp_path: Path, db_url: str
) -> None:
    """Issue 18 item 10, issue 14 item 2: a pinned key, the auditor's state, a rollback,
    the incremental audit."""
    import shutil

    from provenance.crypto import keys as crypto_keys
    from provenance.tlog import note

    Path("key.txt").write_text(ledger.ok("ledger", "key").stdout)
    first = ledger("ledger", "verify", "--workers", "1", "--json")
    assert first.exit_code == 0 and "trusted on first use" in first.stderr
    assert (tmp_path / "state" / "audits.json").is_file()
    report = ledger.json(
        "ledger", "verify", "--workers", "1", "--ledger-key", "key.txt", "--state", "st.json"
    )
    assert isinstance(report, dict)
    assert (report["size"], report["incremental_from"], report["audited"]) == (2, None, 2)
    sqlite = db_url.startswith("sqlite")
    path = Path(ledger.db.removeprefix("sqlite:///"))
    if sqlite:  # the file as it was, with its write-ahead log
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                shutil.copy(f"{path}{suffix}", f"before.db{suffix}")
    write_party("later")
    envelope = ledger.ok("sign", "later.json", "--key", "acme.pem").stdout
    Path("later.env.json").write_text(envelope)
    ledger.ok("ledger", "append", "later.env.json")
    again = ledger.json("ledger", "verify", "--workers", "1", "--state", "st.json")
    assert isinstance(again, dict)
    assert (again["size"], again["incremental_from"], again["audited"]) == (3, 2, 1)
    other = str(note.Signer.from_signing_key("cli.test/ledger", crypto_keys.generate()).verifier())
    wrong = ledger("ledger", "verify", "--ledger-key", other, "--state", "other.json")
    assert wrong.exit_code == 4 and wrong.stdout == ""
    assert wrong.stderr.startswith("error: the ledger's checkpoints are not signed by the pinned")
    assert not Path("other.json").exists()  # nothing remembered from a failed audit
    if sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
            if Path(f"before.db{suffix}").exists():
                shutil.copy(f"before.db{suffix}", f"{path}{suffix}")
        rolled = ledger("ledger", "verify", "--workers", "1", "--state", "st.json", "--full")
        assert rolled.exit_code == 4 and rolled.stdout == ""
        assert "1 entry was removed (a rollback)" in rolled.stderr


def test_import_is_all_or_nothing_with_line_numbers(ledger: Cli) -> None:
    lines = []
    for i in range(4):
        write_party(f"bulk{i}")
        lines.append(
            ledger.ok("sign", f"bulk{i}.json", "--key", "acme.pem").stdout.replace("\n", "")
        )
    Path("bad.jsonl").write_text("\n".join([*lines[:2], lines[2][:50], lines[3]]) + "\n")
    bad = ledger("ledger", "import", "bad.jsonl")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: line 3:")
    assert ledger.json("ledger", "checkpoint")["size"] == 2  # type: ignore[index]
    Path("good.jsonl").write_text("\n".join(lines) + "\n")
    result = ledger.json("ledger", "import", "good.jsonl")
    assert result == {"appended": 4, "duplicates": 0, "size": 6, "first": 2, "last": 5}


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        ("id: [unclosed\n", 2, "line"),
        ('{"id": "x",}', 2, ""),
        ("- just\n- a list\n", 2, "mapping"),
        ("id: bad id!\nname: X\nroles: [auditor]\ncountry: DE\nheadquarters: DE\n", 2, "id"),
        ("id: zz\nname: X\nroles: [pilot]\ncountry: DE\nheadquarters: DE\n", 2, "roles"),
        ("id: zz\nname: X\nroles: [auditor]\ncountry: QQ\nheadquarters: DE\n", 2, "country"),
    ],
)
def test_bad_party_files_give_one_line_and_write_nothing(
    ledger: Cli, content: str, code: int, message: str
) -> None:
    Path("bad.yaml").write_text(content)
    result = ledger("party", "register", "bad.yaml", "--key", "keys/operator.pem")
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert ledger.json("ledger", "checkpoint")["size"] == 2  # type: ignore[index]


def test_wrong_role_and_unknown_key_exit_3(ledger: Cli) -> None:
    ledger.ok("keys", "generate", "stranger")
    write_party("p9")
    unknown = ledger("party", "register", "p9.json", "--key", "stranger.pem")
    assert unknown.exit_code == 3 and unknown.stderr.startswith("error: ")
    Path("auditor.yaml").write_text(
        "id: aud\nname: Aud\nroles: [auditor]\ncountry: DE\nheadquarters: DE\n"
    )
    ledger.ok("keys", "generate", "aud")
    ledger.ok(
        "party", "register", "auditor.yaml", "--public-key", "aud.pub", "--key", "keys/operator.pem"
    )
    wrong_role = ledger("party", "register", "p9.json", "--key", "aud.pem")
    assert wrong_role.exit_code == 3 and "may not sign" in wrong_role.stderr
    assert ledger.json("ledger", "checkpoint")["size"] == 3  # type: ignore[index]


def test_revoked_key_is_refused(ledger: Cli) -> None:
    acme = ledger.json("party", "show", "acme")
    keyid = acme["keys"][0]["keyid"]  # type: ignore[index]
    ledger.ok("keys", "revoke", keyid, "--reason", "compromised", "--key", "keys/operator.pem")
    write_party("late")
    result = ledger("party", "register", "late.json", "--key", "acme.pem")
    assert result.exit_code == 3 and "revoked" in result.stderr


def test_key_rotate(ledger: Cli) -> None:
    acme = ledger.json("party", "show", "acme")
    old = acme["keys"][0]["keyid"]  # type: ignore[index]
    ledger.ok("keys", "generate", "acme2")
    ledger.ok(
        "key",
        "rotate",
        "acme",
        "--old",
        old,
        "--new-public-key",
        "acme2.pub",
        "--new-key",
        "acme2.pem",
        "--key",
        "acme.pem",
    )
    write_party("after")
    assert ledger("party", "register", "after.json", "--key", "acme.pem").exit_code == 3
    ledger.ok("party", "register", "after.json", "--key", "acme2.pem")


def test_key_rotate_and_revoke_name_the_keys_by_their_files(ledger: Cli) -> None:
    ledger.ok("keys", "generate", "acme2")
    result = ledger(
        "keys", "rotate", "acme", "--old", "acme.pub", "--new-public-key", "acme2.pub",
        "--key", "acme.pem", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    keys = ledger.json("party", "show", "acme")["keys"]  # type: ignore[index]
    assert [k["revoked_seq"] is None for k in keys] == [False, True]
    revoked = ledger(
        "keys", "revoke", "acme2.pub", "--reason", "lost", "--key", "keys/operator.pem"
    )
    assert revoked.exit_code == 0, revoked.stderr
    keys = ledger.json("party", "show", "acme")["keys"]  # type: ignore[index]
    assert keys[1]["revocation_reason"] == "lost"
    missing = ledger("keys", "revoke", "nope.pub", "--reason", "x", "--key", "keys/operator.pem")
    assert missing.exit_code == 2 and missing.stderr.startswith(
        "error: 'nope.pub' is neither a key id (64 hex digits) nor a public key file"
    )


def test_tampered_envelopes(ledger: Cli) -> None:
    write_party("t1")
    ledger.ok("sign", "t1.json", "--key", "acme.pem", "--out", "t1.env")
    env = json.loads(Path("t1.env").read_text())
    truncated = Path("t1.env").read_text()[:80]
    Path("trunc.env").write_text(truncated)
    r = ledger("ledger", "append", "trunc.env")
    assert r.exit_code == 2 and "not valid JSON" in r.stderr
    import base64

    payload = base64.b64decode(env["payload"]).replace(b"t1 GmbH", b"t2 GmbH")
    Path("forged.env").write_text(json.dumps(env | {"payload": base64.b64encode(payload).decode()}))
    r = ledger("ledger", "append", "forged.env")
    assert r.exit_code == 3 and "does not verify" in r.stderr
    Path("nosig.env").write_text(json.dumps(env | {"signatures": []}))
    r = ledger("ledger", "append", "nosig.env")
    assert r.exit_code == 3
    big = {
        "payload": base64.b64encode(b"x" * 600_000).decode(),
        "payloadType": "t",
        "signatures": [{"sig": "eA=="}],
    }
    Path("big.env").write_text(json.dumps(big))
    r = ledger("ledger", "append", "big.env")
    assert r.exit_code == 2 and "limit" in r.stderr
    assert ledger.json("ledger", "checkpoint")["size"] == 2  # type: ignore[index]


def test_json_errors_go_to_stdout_as_json(ledger: Cli) -> None:
    result = ledger("ledger", "show", "99", "--json")
    assert result.exit_code == 5
    assert json.loads(result.stdout)["error"]["message"] == "entry 99 does not exist"
    assert result.stderr.startswith("error: entry 99 does not exist")


def test_not_a_ledger(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "shop.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
    result = cli("ledger", "checkpoint", "--db", str(other))
    assert result.exit_code == 2
    assert "not a provenance ledger" in result.stderr
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 1000)
    result = cli("ledger", "verify", "--db", str(junk))
    assert result.exit_code == 2 and "not a provenance ledger" in result.stderr
    missing = cli("ledger", "checkpoint", "--db", str(tmp_path / "none.db"))
    assert missing.exit_code == 5 and "provenance init" in missing.stderr


def test_tampered_database_fails_verify_with_exit_4(ledger: Cli) -> None:
    from sqlalchemy import text

    from provenance.ledger.database import make_engine

    engine = make_engine(ledger.db)
    with engine.connect() as conn:
        leaf = bytes(conn.execute(text("SELECT leaf FROM entries WHERE seq = 1")).scalar_one())
    tamper(
        engine,
        "UPDATE entries SET leaf = :leaf WHERE seq = 1",
        {"leaf": flip_payload_byte(leaf, 30, 2)},
    )
    engine.dispose()
    result = ledger("ledger", "verify", "--workers", "1")
    assert result.exit_code == 4
    assert result.stderr.startswith("error: entry 1:")
    assert result.stdout == ""


def test_debug_shows_the_traceback(ledger: Cli) -> None:
    from provenance.errors import NotFoundError

    with pytest.raises(NotFoundError):
        ledger.runner.invoke(main, ["--debug", "ledger", "show", "42"], catch_exceptions=False)


def all_commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []

    def walk(prefix: str, command: click.Command) -> None:
        found.append((prefix, command))
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(f"{prefix} {name}".strip(), sub)

    walk("", main)
    return found


@pytest.mark.parametrize(("name", "command"), all_commands(), ids=lambda v: str(v) or "main")
def test_every_command_explains_itself(name: str, command: click.Command) -> None:
    assert command.help and len(command.help.split()) >= 3, f"{name!r} needs help text"
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0
    if not isinstance(command, click.Group) and name not in ("schema", "demo", "report schema"):
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        assert "--json" in options, f"{name} has no --json"


# --- inputs that crashed (issue 18 item 2) ------------------------------------------------


def _signed_payload(payload: bytes) -> dict[str, object]:
    """An envelope whose payload is `payload`, validly signed by acme (acme.pem)."""
    import base64

    from provenance.crypto import envelope as dsse
    from provenance.crypto import keys

    key = keys.load_private(Path("acme.pem"))
    signed = dsse.sign("application/vnd.in-toto+json", payload, [key])
    return signed.to_json() | {"payload": base64.b64encode(payload).decode()}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("outer-int", "integer of 5000 digits"),
        ("outer-deep", "nested more than 64 deep"),
        ("payload-int", "integer of 5000 digits"),
        ("payload-deep", "nested more than 64 deep"),
        ("payload-duplicate", "appears twice"),
        ("payload-nan", "NaN is not a JSON number"),
    ],
)
def test_envelopes_that_crashed_are_refused_with_exit_2(
    ledger: Cli, case: str, message: str
) -> None:
    size = ledger.json("ledger", "checkpoint")["size"]  # type: ignore[index]
    statement = b'{"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicate": %s}'
    if case == "outer-int":
        text = '{"payloadType": "t", "payload": "", "signatures": [], "n": ' + "7" * 5000 + "}"
    elif case == "outer-deep":
        text = '{"payloadType": ' + "[" * 100_000 + "]" * 100_000 + "}"
    else:
        body = {
            "payload-int": b"1" * 5000,
            "payload-deep": b"[" * 100_000 + b"]" * 100_000,
            "payload-duplicate": b'{"a": 1, "a": 2}',
            "payload-nan": b"NaN",
        }[case]
        text = json.dumps(_signed_payload(statement % body))
    Path("bad.env").write_text(text)
    for command in (("ledger", "append", "bad.env"), ("ledger", "import", "bad.env")):
        if command[1] == "import" and "deep" in case and case.startswith("outer"):
            Path("bad.env").write_text(text.replace("\n", ""))
        result = ledger(*command)
        assert result.exit_code == 2, (command, result.exit_code, result.stderr[-300:])
        assert result.stderr.startswith("error: ") and message in result.stderr
        assert "Traceback" not in result.stderr
    assert ledger.json("ledger", "checkpoint")["size"] == size  # type: ignore[index]


def test_receipts_with_numbers_in_other_digits_are_refused(ledger: Cli) -> None:
    receipt = ledger.ok("ledger", "proof", "1").stdout
    assert "\nindex 1\n" in receipt
    key = verifier_key(ledger)
    for digits, code in (("²", 2), ("١", 2), ("01", 2), ("1", 0)):
        Path("r.txt").write_text(receipt.replace("\nindex 1\n", f"\nindex {digits}\n"))
        result = ledger("verify", "r.txt", "--ledger-key", key)
        assert result.exit_code == code, (digits, result.stderr)
        if code:
            assert "receipt index" in result.stderr
    head, _, checkpoint = receipt.partition("\n\n")
    size_line = checkpoint.split("\n")[1]
    arabic = "".join(chr(0x660 + int(c)) for c in size_line)
    lines = checkpoint.split("\n")
    lines[1] = arabic
    Path("r.txt").write_text(head + "\n\n" + "\n".join(lines))
    result = ledger("verify", "r.txt", "--ledger-key", key)
    assert result.exit_code == 4  # the note no longer verifies (its size is checked too)


def test_json_inputs_that_crashed_are_refused(ledger: Cli) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    big = '{"checkpoint": ' + "1" * 5000 + "}"
    key = verifier_key(ledger)
    for text in (deep, big):
        Path("bundle.json").write_text(text)
        result = ledger("verify", "bundle.json", "--ledger-key", key)
        assert result.exit_code == 2 and result.stderr.startswith("error: "), result.stderr
        Path("report.json").write_text(text)
        result = ledger("report", "verify", "report.json")
        assert result.exit_code == 2 and result.stderr.startswith("error: "), result.stderr
        Path("party.json").write_text(text)
        result = ledger("party", "register", "party.json", "--key", "keys/operator.pem")
        assert result.exit_code == 2 and result.stderr.startswith("error: "), result.stderr


def test_verify_of_a_bundle_missing_its_requested_entries_fails(ledger: Cli) -> None:
    ledger.ok("party", "register", write_party("b1"), "--key", "keys/operator.pem")
    ledger.ok("ledger", "export", "--seq", "2", "-o", "bundle.json")
    key = verifier_key(ledger)
    data = json.loads(Path("bundle.json").read_text())
    data["receipts"] = [r for r in data["receipts"] if "\nindex 2\n" not in r]
    Path("stripped.json").write_text(json.dumps(data))
    result = ledger("verify", "stripped.json", "--ledger-key", key, "--json")
    assert result.exit_code == 4, result.stderr
    assert '"verified": true' not in result.stdout
    assert "requested entries 2" in result.stderr
    whole = json.loads(Path("bundle.json").read_text())
    for change in ({"receipts": [1]}, {"requested": ["2"]}):
        Path("bad.json").write_text(json.dumps(whole | change))
        bad = ledger("verify", "bad.json", "--ledger-key", key)
        assert bad.exit_code == 2 and bad.stderr.startswith("error: "), bad.stderr
