"""`provenance report ...` through click's CliRunner: exit codes, stdout and stderr."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from provenance.reports import schema
from tests.commands.test_ledger import Cli
from tests.conftest import World, backends
from tests.reports import scenario
from tests.reports.scenario import H100S, Trade


def write_keys(trade: Trade) -> None:
    for party in ("bis", "meridian"):
        path = trade.world.dir / f"{party}.pem"
        path.write_bytes(trade.story.keys[party].private_pem())


@pytest.fixture(scope="module", params=backends())
def trade(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Trade]:
    """The scenario, built once per backend: the commands run on it append nothing."""
    with scenario.module_world(request.param, tmp_path_factory.mktemp("trade")) as world:
        built = scenario.build(world)
        write_keys(built)
        yield built


class Reports(Cli):
    trade: Trade

    def size(self) -> int:
        return self.trade.ledger.size()

    def key(self, party: str) -> str:
        return str(self.trade.world.dir / f"{party}.pem")


def reports_cli(trade: Trade, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Reports:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROVENANCE_DB", trade.world.db)
    for name in (
        "PROVENANCE_CHECKPOINT_KEY",
        "PROVENANCE_OPERATOR_KEY",
        "PROVENANCE_KEY_PASSPHRASE",
    ):
        monkeypatch.delenv(name, raising=False)
    cli = Reports(CliRunner(), trade.world.db, tmp_path)
    cli.trade = trade
    return cli


@pytest.fixture
def cli(trade: Trade, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Reports:
    return reports_cli(trade, tmp_path, monkeypatch)


@pytest.fixture
def fresh(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Reports:
    """The CLI on a scenario of its own, for the commands that append."""
    built = scenario.build(world)
    write_keys(built)
    work = tmp_path / "work"
    work.mkdir()
    return reports_cli(built, work, monkeypatch)


def report_json(cli: Reports, *args: str) -> dict[str, Any]:
    value = json.loads(cli.ok("report", *args, "--json").stdout)
    assert isinstance(value, dict)
    return value


# --- the regulator's report ------------------------------------------------------------------


def test_regulator_markdown_to_stdout(cli: Reports) -> None:
    result = cli.ok("report", "regulator", "--period", "2026-Q3")
    out = result.stdout
    assert result.stderr == ""  # no progress on a pipe
    assert out.startswith("# Export compliance report, 2026-Q3\n")
    assert f"size {cli.size()}" in out
    assert "**6 shipments, 16 units, TPP 199,456 (12.6 H100-equivalents)**" in out
    assert "since the first entry TPP 231,120 (14.6 H100-eq.)" in out
    assert "Verdicts: 2 blocked, 0 license required, 4 hold, 0 clear, 0 unchecked." in out
    assert "| SG | 3 | 7 | 110,824 | 7 | 142,488 |" in out
    assert "| L-AE-1 | meridian | AE | 2026-07-01..2027-06-30 | 5 / 10 |" in out
    assert "| diversion.no-end-use-statement | high | 6 | 0 | 0 | 0 |" in out
    assert "- Serials not received: 10 in 5 shipments." in out
    assert "Ledger verification: passed" in out
    assert "Screening list: none." in out
    quick = cli.ok("report", "regulator", "--period", "2026-Q3", "--no-verify").stdout
    assert "Ledger verification" not in quick


def test_regulator_html_to_a_file(cli: Reports) -> None:
    result = cli.ok(
        "report",
        "regulator",
        "--period",
        "2026-Q3",
        "--no-verify",
        "--format",
        "html",
        "-o",
        "r.html",
    )
    assert result.stdout == ""
    assert result.stderr == f"wrote r.html (checkpoint test.example/ledger size {cli.size()})\n"
    html = (cli.dir / "r.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<title>Export compliance report, 2026-Q3</title>" in html
    assert html.count("<svg") == 4


def test_regulator_csv(cli: Reports) -> None:
    out = cli.ok(
        "report", "regulator", "--period", "2026-Q3", "--no-verify", "--format", "csv"
    ).stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["table", "key", "field", "value"]
    assert ["checkpoint", "", "size", str(cli.size())] in rows
    assert ["totals", "", "tpp", "199456.0"] in rows
    assert ["totals", "", "units", "16"] in rows
    assert ["verdicts", "", "blocked", "2"] in rows
    assert ["by_destination", "HK", "units", "4"] in rows
    assert ["by_eccn", "EAR99", "tpp", "9472.0"] in rows
    assert ["licenses", "L-AE-1", "quantity_drawn", "5"] in rows
    assert ["licenses", "L-AE-1", "eccns", "3A090.a"] in rows
    assert ["flags", "diversion.no-end-use-statement", "open", "6"] in rows
    assert ["custody.missing_at_inspection", "", "serials", "1"] in rows
    assert {len(r) for r in rows} == {4}


def test_regulator_json_follows_the_schema(cli: Reports) -> None:
    report = report_json(cli, "regulator", "--period", "2026-Q3")
    schema.validate(report)
    assert report["totals"]["tpp"] == "199456.0" and report["verification"]["ok"] is True
    explicit = report_json(
        cli, "regulator", "--from", "2026-07-01", "--to", "2026-09-30", "--no-verify"
    )
    assert explicit["parameters"]["period"]["label"] == "2026-07-01..2026-09-30"
    assert explicit["totals"] == report["totals"]
    same = report_json(cli, "regulator", "--period", "2026-Q3", "--no-verify", "--format", "csv")
    assert same["totals"] == report["totals"]  # --json wins over --format


def test_a_report_at_an_older_size(cli: Reports) -> None:
    size = cli.trade.appended["SH-AE2"].seq
    report = report_json(
        cli, "regulator", "--period", "2026-Q3", "--size", str(size), "--no-verify"
    )
    assert report["checkpoint"]["size"] == size
    assert report["verdicts"]["unchecked"] == 2
    missing = cli("report", "regulator", "--period", "2026-Q3", "--size", str(cli.size() + 9))
    assert missing.exit_code == 5 and "no checkpoint was signed" in missing.stderr


def test_sign_append_and_verify(fresh: Reports) -> None:
    size = fresh.size()
    result = fresh.ok(
        "report",
        "regulator",
        "--period",
        "2026-Q3",
        "--sign",
        fresh.key("bis"),
        "-o",
        "r.json",
        "--append",
    )
    assert fresh.size() == size + 1
    assert f"signed report appended as entry {size}" in result.stderr
    assert "wrote r.json" in result.stderr and result.stdout == ""
    envelope = json.loads((fresh.dir / "r.json").read_text(encoding="utf-8"))
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    shown = json.loads(fresh.ok("ledger", "show", str(size), "--json").stdout)
    assert shown["kind"] == "report" and shown["signer"] == "bis"
    assert shown["statement"]["predicate"]["report"]["checkpoint"]["size"] == size

    verified = fresh.ok("report", "verify", "r.json")
    assert "signature: valid, signed by bis" in verified.stdout
    assert (
        f"checkpoint: size {size} signed by this ledger, consistent with the current size "
        f"{size + 1}" in verified.stdout
    )
    assert "every figure recomputed from the ledger matches" in verified.stdout
    assert verified.stderr == ""
    data = json.loads(fresh.ok("report", "verify", "r.json", "--json").stdout)
    assert data["ok"] is True and data["signed_by"] == "bis" and data["differences"] == []

    # The payload altered after signing: the signature does not verify.
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["predicate"]["report"]["totals"]["units"] = 15
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    Path("forged.json").write_text(json.dumps(envelope), encoding="utf-8")
    forged = fresh("report", "verify", "forged.json")
    assert forged.exit_code == 3
    assert forged.stderr.startswith("error: ") and "does not verify" in forged.stderr


def test_sign_without_append_writes_the_envelope_to_stdout(cli: Reports) -> None:
    size = cli.size()
    result = cli.ok(
        "report",
        "exporter",
        "--party",
        "meridian",
        "--period",
        "2026",
        "--sign",
        cli.key("meridian"),
    )
    assert cli.size() == size
    envelope = json.loads(result.stdout)
    assert set(envelope) == {"payload", "payloadType", "signatures"}
    Path("e.json").write_text(result.stdout, encoding="utf-8")
    assert "signed by meridian" in cli.ok("report", "verify", "e.json").stdout


def test_verify_a_plain_report_and_a_tampered_one(cli: Reports) -> None:
    cli.ok(
        "report", "regulator", "--period", "2026-Q3", "--no-verify", "--json", "-o", "plain.json"
    )
    verified = cli.ok("report", "verify", "plain.json")
    assert "signature: none (an unsigned report)" in verified.stdout
    assert "every figure recomputed from the ledger matches" in verified.stdout

    report = json.loads(Path("plain.json").read_text(encoding="utf-8"))
    report["by_destination"][0]["units"] = 70
    Path("tampered.json").write_text(json.dumps(report), encoding="utf-8")
    tampered = cli("report", "verify", "tampered.json")
    assert tampered.exit_code == 4
    assert "1 differences from the ledger:" in tampered.stdout
    assert "  by_destination[0].units: report 70, ledger 7" in tampered.stdout
    assert tampered.stderr == "error: the report does not match the ledger (1 differences)\n"
    data = json.loads(cli("report", "verify", "tampered.json", "--json").stdout)
    assert data["ok"] is False and data["differences"] == [
        "by_destination[0].units: report 70, ledger 7"
    ]

    report["checkpoint"]["root"] = "f" * 64
    Path("rooted.json").write_text(json.dumps(report), encoding="utf-8")
    rooted = cli("report", "verify", "rooted.json")
    assert rooted.exit_code == 4
    assert "NOT signed by this ledger" in rooted.stdout
    assert "checkpoint: the ledger signed no checkpoint of size" in rooted.stdout


# --- exporters and auditors ----------------------------------------------------------------------


def test_exporter_report(cli: Reports) -> None:
    out = cli.ok("report", "exporter", "--party", "meridian", "--period", "2026").stdout
    assert out.startswith("# Exporter report: meridian, 2026\n")
    assert "**6 shipments, 17 units" in out
    report = report_json(cli, "exporter", "--party", "harbor", "--period", "2026")
    schema.validate(report)
    assert [s["id"] for s in report["shipments"]] == ["SH-HARBOR"]
    assert report["totals"]["units"] == 1


def test_chip_and_shipment_dossiers(cli: Reports) -> None:
    chip = report_json(cli, "chip", H100S[5])
    schema.validate(chip)
    assert chip["kind"] == "chip" and chip["subject"]["state"] == "missing"
    assert [e["kind"] for e in chip["entries"]] == [
        "manufacture",
        "end-use",
        "shipment",
        "receipt",
        "inspection",
    ]
    assert all(e["proof"]["verified"] for e in chip["entries"])
    out = cli.ok("report", "shipment", "SH-AE1").stdout
    assert out.startswith("# Dossier of shipment SH-AE1\n")
    assert "| seq | date | kind | signer | summary | proof |" in out
    assert out.count("| verified |") == 3
    html = cli.ok("report", "chip", H100S[5], "--format", "html").stdout
    assert html.startswith("<!DOCTYPE html>") and "Dossier of chip H100-0005" in html
    Path("chip.json").write_text(json.dumps(chip), encoding="utf-8")
    assert "every figure recomputed" in cli.ok("report", "verify", "chip.json").stdout


def test_report_schema(cli: Reports) -> None:
    printed = json.loads(cli.ok("report", "schema").stdout)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed["title"] == "provenance compliance report"
    assert {s["title"] for s in printed["oneOf"]} == {"PeriodReport", "Dossier"}


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["regulator"], 2, "error: a report needs a period"),
        (["regulator", "--period", "2026-Q5"], 2, "error: --period '2026-Q5' is not a period"),
        (["regulator", "--period", "2026-13"], 2, "error: --period '2026-13': no month 13"),
        (["regulator", "--period", "2026-Q3", "--from", "2026-07-01"], 2, "not both"),
        (["regulator", "--from", "2026-07-01"], 2, "a report needs a period"),
        (["regulator", "--from", "2026-09-30", "--to", "2026-07-01"], 2, "is before --from"),
        (["regulator", "--from", "July"], 2, "Invalid value for '--from'"),
        (
            ["regulator", "--period", "2026-Q3", "--format", "pdf"],
            2,
            "Invalid value for '--format'",
        ),
        (["regulator", "--period", "2026-Q3", "--append"], 2, "--append needs --sign"),
        (["exporter", "--period", "2026"], 2, "Missing option '--party'"),
        (["exporter", "--party", "ghost", "--period", "2026"], 5, "error: no party 'ghost'"),
        (["chip", "NO-SUCH-SERIAL"], 5, "error: no chip with serial 'NO-SUCH-SERIAL'"),
        (["shipment", "SH-404"], 5, "error: no shipment 'SH-404'"),
        (["verify", "missing.json"], 2, "no such file"),
    ],
)
def test_bad_input(cli: Reports, args: list[str], code: int, words: str) -> None:
    size = cli.size()
    result = cli("report", *args)
    assert result.exit_code == code, result.stderr + result.stdout
    assert words in result.stderr
    assert cli.size() == size


def test_files_that_are_not_reports(cli: Reports) -> None:
    Path("list.json").write_text("[1, 2, 3]", encoding="utf-8")
    Path("words.txt").write_text("not json", encoding="utf-8")
    Path("other.json").write_text(json.dumps({"kind": "regulator"}), encoding="utf-8")
    for name, words in (
        ("list.json", "is not a provenance report"),
        ("words.txt", "is not valid JSON"),
        ("other.json", "is not a provenance report"),
    ):
        result = cli("report", "verify", name)
        assert result.exit_code == 2, result.stderr
        assert result.stderr.startswith(f"error: {name} {words}")
        assert result.stdout == ""


def test_errors_as_json(cli: Reports) -> None:
    result = cli("report", "exporter", "--party", "ghost", "--period", "2026", "--json")
    assert result.exit_code == 5
    assert json.loads(result.stdout)["error"]["exit_code"] == 5


def test_a_report_signed_by_an_unknown_key_exits_3(cli: Reports) -> None:
    cli.ok("keys", "generate", "stranger")
    cli.ok(
        "report",
        "regulator",
        "--period",
        "2026-Q3",
        "--no-verify",
        "--sign",
        "stranger.pem",
        "-o",
        "s.json",
    )
    result = cli("report", "verify", "s.json")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: the report is signed by no key this ledger knows")


def _malformed(report: dict[str, Any], name: str) -> None:
    if name == "size":
        report["checkpoint"]["size"] = "abc"
    elif name == "checkpoint":
        report["checkpoint"] = [1]
    elif name == "from":
        report["parameters"]["period"]["from"] = "garbage"
    elif name == "period":
        del report["parameters"]["period"]
    elif name == "party":
        report["parameters"]["kind"] = "exporter"


@pytest.mark.parametrize("name", ["size", "checkpoint", "from", "period", "party"])
def test_a_malformed_report_is_bad_input(cli: Reports, name: str) -> None:
    cli.ok("report", "regulator", "--period", "2026-Q3", "--no-verify", "--json", "-o", "r.json")
    report = json.loads(Path("r.json").read_text(encoding="utf-8"))
    _malformed(report, name)
    Path("bad.json").write_text(json.dumps(report), encoding="utf-8")
    result = cli("report", "verify", "bad.json")
    assert result.exit_code == 2, result.stderr


def test_a_period_out_of_the_calendar_is_bad_input(cli: Reports) -> None:
    result = cli("report", "regulator", "--period", "0000")
    assert result.exit_code == 2, result.stderr
