"""The rules commands through click's CliRunner: check, shipment register, classify,
rules (list, show, facts, test) and flag (list, resolve). Exit codes, stdout and stderr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from provenance.compliance.packs import rules_dir
from tests.commands.test_ledger import Cli
from tests.conftest import World
from tests.ledger.test_custody import END_USE, SERIALS, Story, shipment_doc

AS_OF = "2026-06-01"
H100 = "nvidia-h100-sxm5"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The CLI in an empty folder, with no ledger (for the commands that need none)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROVENANCE_DB", str(tmp_path / "none.db"))
    monkeypatch.delenv("PROVENANCE_CHECKPOINT_KEY", raising=False)
    monkeypatch.delenv("PROVENANCE_OPERATOR_KEY", raising=False)
    yield Cli(CliRunner(), str(tmp_path / "none.db"), tmp_path)


class Trade(Cli):
    """The CLI on a ledger holding the catalog, the parties and a few shipments."""

    story: Story

    def size(self) -> int:
        return self.story.ledger.size()

    def check(self, *args: str) -> tuple[Result, dict[str, Any]]:
        result = self("check", *args, "--as-of", AS_OF, "--json")
        return result, json.loads(result.stdout)


def write_key(story: Story, party: str, path: Path) -> str:
    path.write_bytes(story.keys[party].private_pem())
    return str(path)


@pytest.fixture
def trade(world: World, monkeypatch: pytest.MonkeyPatch) -> Trade:
    """SH-CLEAR (received, with an end-use statement), SH-BLOCKED (H100s declared as H20s),
    and SH-CN (H100s to China citing an exception that does not apply)."""
    monkeypatch.chdir(world.dir)
    monkeypatch.setenv("PROVENANCE_DB", world.db)
    monkeypatch.delenv("PROVENANCE_CHECKPOINT_KEY", raising=False)
    monkeypatch.delenv("PROVENANCE_OPERATOR_KEY", raising=False)
    story = Story(world)
    story.keys["dragon"] = world.register("dragon", ["consignee", "end_user"], country="CN")
    story.manufacture()
    story.shipment("SH-CLEAR", SERIALS[:2])
    story.sign_as("lion", {**END_USE, "shipments": ["SH-CLEAR"]})
    story.sign_as(
        "lion",
        {
            "kind": "receipt",
            "shipment": "SH-CLEAR",
            "serials": SERIALS[:2],
            "date": "2026-02-10",
            "country": "SG",
            "site": "Jurong West DC",
        },
    )
    relabeled = shipment_doc("SH-BLOCKED", SERIALS[2:4])
    relabeled["items"][0].update(
        product="nvidia-h20", unit_value={"amount": "12000", "currency": "USD"}
    )
    story.sign_as("meridian", relabeled)
    story.shipment(
        "SH-CN",
        SERIALS[4:6],
        consignee="dragon",
        end_user="dragon",
        destination="CN",
        route=["US", "CN"],
        license="NAC",
        ship_date="2023-12-01",
    )
    for party in ("meridian", "bis", "lion"):
        write_key(story, party, world.dir / f"{party}.pem")
    trade = Trade(CliRunner(), world.db, world.dir)
    trade.story = story
    return trade


# --- check ------------------------------------------------------------------------------------


def test_check_json_of_a_clear_shipment_appends_a_determination(trade: Trade) -> None:
    size = trade.size()
    result, data = trade.check("SH-CLEAR")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert {"shipment", "pack", "items", "flags", "verdict"} <= set(data)
    assert data["shipment"] == "SH-CLEAR" and data["verdict"] == "clear"
    assert data["pack"]["id"] == "ear-2026-01" and len(data["pack"]["digest"]) == 64
    [item] = data["items"]
    assert item["product"] == H100 and item["eccn"] == "3A090.a"
    assert item["tpp"] == "15832" and item["pd"]
    assert item["license_required"] is False and item["policy"] is None
    assert data["flags"] == []
    assert data["seq"] == size and trade.size() == size + 1


def test_check_a_blocked_shipment_exits_1_with_its_flags(trade: Trade) -> None:
    result, data = trade.check("SH-BLOCKED")
    assert result.exit_code == 1
    assert data["verdict"] == "blocked"
    assert data["items"][0]["product"] == H100
    for flag in data["flags"]:
        assert {"id", "rule", "severity", "message", "facts"} <= set(flag)
        assert flag["id"].startswith(f"F-{data['seq']}-")
    relabel = next(
        f for f in data["flags"] if f["rule"] == "relabel.serial-registered-to-other-product"
    )
    assert relabel["severity"] == "blocking"
    assert relabel["facts"] == {"item.serials_other_product": 2}
    assert data["flags"][0]["severity"] == "blocking"  # most severe first


def test_check_license_required_exits_1(trade: Trade) -> None:
    result, data = trade.check("SH-CN")
    assert result.exit_code == 1
    assert data["pack"]["id"] == "ear-2023-11"  # in force on the ship date, 2023-12-01
    assert data["verdict"] == "license_required"
    [item] = data["items"]
    assert item["license_required"] is True and item["policy"] == "presumption_of_denial"
    # dragon is in China and headquartered there: the destination and headquarters rules
    # both apply, at the same policy; the first in the pack's order governs.
    assert item["governing_rule"] == "license.advanced-computing-d5-macau"
    assert item["licensing_rules"] == [
        "license.advanced-computing-d5-macau",
        "license.headquartered-d5-macau",
    ]
    assert item["governing"].startswith("the strictest of the requirements that apply")
    assert "licensing.exception-not-available" in {f["rule"] for f in data["flags"]}
    assert all(f["severity"] != "blocking" for f in data["flags"])


def test_check_dry_run_appends_nothing(trade: Trade) -> None:
    size = trade.size()
    result = trade("check", "SH-BLOCKED", "--dry-run", "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "BLOCKED" in result.stdout and "dry run: nothing appended" in result.stdout
    data = json.loads(trade("check", "SH-BLOCKED", "--dry-run", "--json").stdout)
    assert "seq" not in data and all("id" not in f for f in data["flags"])
    assert trade.size() == size
    assert trade.json("flag", "list") == []


def test_check_explain_prints_each_rule_its_expression_and_facts(trade: Trade) -> None:
    result = trade("check", "SH-BLOCKED", "--explain", "--dry-run", "--as-of", AS_OF)
    assert result.exit_code == 1
    out = result.stdout
    assert "rules that held, the expression and the facts it read:" in out
    assert "  relabel.serial-registered-to-other-product: item.serials_other_product > 0" in out
    assert "      item.serials_other_product = 2" in out
    assert "  eccn.3a090a: item.tpp >= 4800.0 ||" in out
    assert '      item.tpp = "15832"' in out
    data = json.loads(trade("check", "SH-BLOCKED", "--explain", "--dry-run", "--json").stdout)
    fired = {f["rule"]: f for f in data["explain"]}
    assert fired["eccn.3a090a"]["facts"]["item.tpp"] == "15832"
    assert fired["relabel.serial-registered-to-other-product"]["expression"] == (
        "item.serials_other_product > 0"
    )


def test_check_pack_overrides_the_pack_in_force(trade: Trade) -> None:
    result, data = trade.check("SH-CN", "--pack", "ear-2022-10", "--dry-run")
    assert data["pack"]["id"] == "ear-2022-10"
    assert data["items"][0]["classified_by"] == "eccn.3a090-2022"
    assert result.exit_code == 1  # H100s to China needed a license in 2022 too


def test_check_unknown_shipment_or_pack_exits_5(trade: Trade) -> None:
    size = trade.size()
    missing = trade("check", "SH-404")
    assert missing.exit_code == 5
    assert missing.stderr.startswith("error: no shipment 'SH-404'")
    bad_pack = trade("check", "SH-CLEAR", "--pack", "ear-1999-01")
    assert bad_pack.exit_code == 5
    assert "error: no rule pack 'ear-1999-01'" in bad_pack.stderr
    assert "provenance rules list" in bad_pack.stderr
    nothing = trade("check")
    assert nothing.exit_code == 2 and "name a shipment" in nothing.stderr
    assert trade.size() == size


# --- shipment register --------------------------------------------------------------------------


def test_shipment_register_prints_the_determination(trade: Trade) -> None:
    blocked = shipment_doc("SH-NEW", SERIALS[6:8])
    blocked["items"][0]["product"] = "nvidia-h20"
    Path("blocked.yaml").write_text(yaml.safe_dump(blocked), encoding="utf-8")
    size = trade.size()
    result = trade("shipment", "register", "blocked.yaml", "--key", "meridian.pem")
    assert result.exit_code == 1, result.stderr
    out = result.stdout
    assert out.startswith(f"appended entry {size}: shipment, signed by meridian")
    assert "shipment SH-NEW under ear-2026-01" in out and ": BLOCKED" in out
    assert "relabel.serial-registered-to-other-product" in out
    assert f"determination appended as entry {size + 1}" in out
    assert trade.size() == size + 2

    # No end-use statement yet: a high red flag, so the verdict is hold (exit 6).
    held = shipment_doc("SH-OK", SERIALS[8:10])
    Path("held.yaml").write_text(yaml.safe_dump(held), encoding="utf-8")
    result = trade("shipment", "register", "held.yaml", "--key", "meridian.pem", "--json")
    assert result.exit_code == 6, result.stderr
    data = json.loads(result.stdout)
    assert data["entry"]["kind"] == "shipment"
    assert data["determination"]["verdict"] == "hold"
    raised = {f["rule"]: f["severity"] for f in data["determination"]["flags"]}
    assert raised["diversion.no-end-use-statement"] == "high"
    assert "blocking" not in raised.values()
    assert data["determination"]["seq"] == data["entry"]["seq"] + 1


def test_check_hold_exits_6_and_a_signed_resolution_lifts_it(trade: Trade) -> None:
    trade.story.shipment("SH-HOLD", SERIALS[8:10])
    result, data = trade.check("SH-HOLD")
    assert result.exit_code == 6, result.stderr
    assert data["verdict"] == "hold"
    high = [f for f in data["flags"] if f["severity"] == "high"]
    assert high and all(f["status"] == "open" for f in data["flags"])
    assert "diversion.no-end-use-statement" in {f["rule"] for f in high}
    human = trade("check", "SH-HOLD", "--dry-run", "--as-of", AS_OF)
    assert human.exit_code == 6 and ": HOLD" in human.stdout

    def clear(flag: dict[str, Any]) -> None:
        resolved = trade(
            "flag",
            "resolve",
            flag["id"],
            "--status",
            "cleared",
            "--reason",
            "explained",
            "--key",
            "bis.pem",
        )
        assert resolved.exit_code == 0, resolved.stderr

    first, *rest = high
    clear(first)
    result, data = trade.check("SH-HOLD")
    assert data["verdict"] == ("hold" if rest else "clear")
    for flag in rest:
        clear(flag)
    result, data = trade.check("SH-HOLD")
    assert result.exit_code == 0, result.stderr
    assert data["verdict"] == "clear"
    assert {f["resolution"] for f in data["flags"] if f["severity"] == "high"} == {"cleared"}
    assert "(cleared)" in trade("check", "SH-HOLD", "--dry-run", "--as-of", AS_OF).stdout


def test_check_of_several_exits_with_the_worst(trade: Trade) -> None:
    trade.story.shipment("SH-HOLD", SERIALS[8:10])
    result = trade("check", "SH-CLEAR", "SH-HOLD", "--dry-run", "--as-of", AS_OF)
    assert result.exit_code == 6
    result = trade("check", "SH-HOLD", "SH-BLOCKED", "--dry-run", "--as-of", AS_OF)
    assert result.exit_code == 1


def test_check_refuses_a_pack_that_never_bound(trade: Trade) -> None:
    result = trade("check", "SH-CLEAR", "--pack", "ear-2025-01", "--dry-run")
    assert result.exit_code == 2
    assert "ear-2025-01 never bound" in result.stderr


# --- classify ----------------------------------------------------------------------------------


def test_classify_a_catalog_product(cli: Cli) -> None:
    data = cli.json("classify", "--product", H100)
    assert isinstance(data, dict)
    assert data["eccn"] == "3A090.a" and data["rule"] == "eccn.3a090a"
    assert data["tpp"] == "15832" and float(data["pd"]) == pytest.approx(15832 / 814, abs=1e-6)
    assert data["pack"]["id"] == "ear-2026-01" and len(data["pack"]["digest"]) == 64
    human = cli.ok("classify", "--product", H100).stdout
    assert human.startswith(f"{H100}: 3A090.a under ear-2026-01")


@pytest.mark.parametrize(
    ("args", "eccn"),
    [
        (["--tpp", "4000", "--die-area", "600"], "3A090.a"),
        (["--tpp", "4707", "--die-area", "608", "--no-datacenter"], "EAR99"),
        (["--pack", "ear-2022-10", "--product", "nvidia-a800-sxm4"], "EAR99"),
        (["--pack", "ear-2023-11", "--product", "nvidia-a800-sxm4"], "3A090.a"),
    ],
)
def test_classify_given_figures(cli: Cli, args: list[str], eccn: str) -> None:
    data = cli.json("classify", *args)
    assert isinstance(data, dict) and data["eccn"] == eccn


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "give --product ID, or --tpp N"),
        (["--product", H100, "--tpp", "4000"], "not both"),
        (["--tpp", "abc"], "must be numbers"),
        (["--tpp", "4000", "--die-area", "0"], "--die-area > 0"),
    ],
)
def test_classify_bad_input_exits_2(cli: Cli, args: list[str], words: str) -> None:
    result = cli("classify", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and words in result.stderr


# --- rules ---------------------------------------------------------------------------------------


def test_rules_list_show_and_facts(cli: Cli) -> None:
    packs = cli.json("rules", "list")
    assert isinstance(packs, list) and len(packs) == 9
    assert [p["id"] for p in packs if p["in_force"]] == ["ear-2026-01"]
    assert [p["id"] for p in packs if p["never_bound"]] == ["ear-2025-01"]
    assert "x ear-2025-01" in cli.ok("rules", "list").stdout
    assert [p["effective_from"] for p in packs] == sorted(p["effective_from"] for p in packs)

    shown = cli.json("rules", "show", "ear-2023-11")
    assert isinstance(shown, dict)
    assert {"digest", "classification", "licensing", "flags", "sources"} <= set(shown)
    assert shown["digest"] == next(p["digest"] for p in packs if p["id"] == "ear-2023-11")
    assert shown["chain"] == ["ear-2023-11", "ear-2022-10", "ear-2022-08"]
    assert "eccn.3a090a" in {r["id"] for r in shown["classification"]}
    assert "license.3a090-china-macau" not in {r["id"] for r in shown["licensing"]}  # removed
    assert shown["governing"].startswith("For each item, every licensing rule")

    envelope = cli.json("rules", "show", "ear-2026-01")
    assert isinstance(envelope, dict)
    assert envelope["superseded_by"]["license.advanced-computing-d5-macau"] == [
        "license.china-macau-envelope-2026"
    ]
    [rule] = [r for r in envelope["licensing"] if r["id"] == "license.china-macau-envelope-2026"]
    assert rule["supersedes"] == [
        "license.advanced-computing-d5-macau",
        "license.headquartered-d5-macau",
        "license.is-informed",
    ]
    human = cli.ok("rules", "show", "ear-2026-01").stdout
    assert "  which policy governs: For each item, every licensing rule" in human
    assert (
        "      supersedes: license.advanced-computing-d5-macau, license.headquartered-d5-macau, "
        "license.is-informed" in human
    )
    assert "      superseded by: license.china-macau-envelope-2026" in human
    assert "      exceptions: NAC (^A[0-9]{6,}$)" in human
    assert "NEVER BOUND" in cli.ok("rules", "show", "ear-2025-01").stdout

    missing = cli("rules", "show", "ear-1999-01")
    assert missing.exit_code == 5 and "no rule pack 'ear-1999-01'" in missing.stderr

    rows = cli.json("rules", "facts")
    assert isinstance(rows, list)
    assert all(set(row) == {"name", "type", "meaning"} for row in rows)
    tpp = next(row for row in rows if row["name"] == "item.tpp")
    assert tpp["type"] == "double"


def test_rules_test_runs_the_shipped_cases(cli: Cli) -> None:
    result = cli.ok("rules", "test")
    cases = sorted((rules_dir() / "tests").glob("*.yaml"))
    assert result.stdout.splitlines()[-1] == f"{len(cases)} passed, 0 failed"
    assert all(line.startswith(("ok  ", "       ")) for line in result.stdout.splitlines()[:-1])


def test_rules_test_names_what_differs(cli: Cli, tmp_path: Path) -> None:
    case = yaml.safe_load((rules_dir() / "tests" / "h100-singapore-clear.yaml").read_text())
    case["name"] = "expects the wrong verdict"
    case["expect"]["verdict"] = "blocked"
    case["expect"]["flags"] = ["diversion.not-received"]
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "wrong.yaml").write_text(yaml.safe_dump(case), encoding="utf-8")
    result = cli("rules", "test", str(folder))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "FAIL expects the wrong verdict (ear-2026-01)"
    assert "       verdict: expected blocked, got clear" in lines
    assert any("flag diversion.not-received expected, not raised" in line for line in lines)
    assert lines[-1] == "0 passed, 1 failed"
    data = json.loads(cli("rules", "test", str(folder), "--json").stdout)
    assert data[0]["passed"] is False and data[0]["verdict"] == "clear"


# --- flags ----------------------------------------------------------------------------------------


def test_flag_list_and_resolve(trade: Trade) -> None:
    result, data = trade.check("SH-BLOCKED")
    assert result.exit_code == 1
    listed = trade.json("flag", "list", "--open", "--severity", "high")
    assert isinstance(listed, list) and listed
    assert {f["severity"] for f in listed} <= {"high", "blocking"}
    assert {f["id"] for f in listed} == {
        f["id"] for f in data["flags"] if f["severity"] in ("high", "blocking")
    }
    target = next(f["id"] for f in listed if f["severity"] == "blocking")

    size = trade.size()
    refused = trade(
        "flag", "resolve", target, "--status", "cleared", "--reason", "x", "--key", "lion.pem"
    )
    assert refused.exit_code == 3 and refused.stderr.startswith("error: ")  # a consignee
    resolved = trade(
        "flag", "resolve", target, "--status", "cleared", "--reason", "x", "--key", "bis.pem"
    )
    assert resolved.exit_code == 0, resolved.stderr
    assert resolved.stdout.startswith(f"appended entry {size}: resolution, signed by bis")
    still_open = trade.json("flag", "list", "--open", "--severity", "high")
    assert isinstance(still_open, list)
    assert target not in {f["id"] for f in still_open}
    assert len(still_open) == len(listed) - 1
    every = trade.json("flag", "list", "--shipment", "SH-BLOCKED")
    assert isinstance(every, list)
    [done] = [f for f in every if f["id"] == target]
    assert (done["status"], done["resolved_by"], done["resolution"]) == ("cleared", "bis", "x")

    unknown = trade(
        "flag", "resolve", "F-9999-0", "--status", "cleared", "--reason", "x", "--key", "bis.pem"
    )
    assert unknown.exit_code == 2 and "unknown flag 'F-9999-0'" in unknown.stderr
    assert trade.size() == size + 1


# --- who may do what to a flag (issue 18 item 1) --------------------------------------------


def _resolve(trade: Trade, flag: str, status: str, key: str, *extra: str) -> Result:
    return trade("flag", "resolve", flag, "--status", status, "--reason", "r", "--key", key, *extra)


def _flag(trade: Trade, flag_id: str) -> dict[str, Any]:
    every = trade.json("flag", "list")
    assert isinstance(every, list)
    [found] = [f for f in every if f["id"] == flag_id]
    return found


def test_an_exporter_cannot_overrule_a_regulator(trade: Trade) -> None:
    _, data = trade.check("SH-BLOCKED")
    blocking = next(f["id"] for f in data["flags"] if f["severity"] == "blocking")
    size = trade.size()

    refused = _resolve(trade, blocking, "cleared", "meridian.pem")
    assert refused.exit_code == 3, refused.stderr
    assert "may not mark a blocking flag cleared" in refused.stderr
    assert refused.stdout == "" and trade.size() == size
    no_evidence = _resolve(trade, blocking, "disputed", "meridian.pem")
    assert no_evidence.exit_code == 2 and "evidence" in no_evidence.stderr

    evidence = ("--evidence", "sha256:" + "0f" * 32, "--evidence", "https://example.com/rma/1")
    answered = _resolve(trade, blocking, "disputed", "meridian.pem", *evidence)
    assert answered.exit_code == 0, answered.stderr
    assert _flag(trade, blocking)["status"] == "disputed"
    still_open = trade.json("flag", "list", "--open")
    assert isinstance(still_open, list) and blocking in {f["id"] for f in still_open}

    assert _resolve(trade, blocking, "confirmed", "bis.pem").exit_code == 0
    size = trade.size()
    again = ("--evidence", "https://example.com/rma/2")  # not the same envelope as before
    for status, extra in (("cleared", ()), ("confirmed", ()), ("disputed", again)):
        overrule = _resolve(trade, blocking, status, "meridian.pem", *extra)
        assert overrule.exit_code == 3, (status, overrule.stderr)
        assert overrule.stdout == ""
    assert "may not change a regulator's decision" in overrule.stderr
    assert trade.size() == size
    flag = _flag(trade, blocking)
    assert (flag["status"], flag["resolved_by"]) == ("confirmed", "bis")
    _, data = trade.check("SH-BLOCKED")
    assert data["verdict"] == "blocked"
    # A regulator may reconsider its own decision.
    assert _resolve(trade, blocking, "cleared", "bis.pem").exit_code == 0
    assert _flag(trade, blocking)["status"] == "cleared"


def test_no_other_role_resolves_a_flag_and_nothing_is_written(trade: Trade) -> None:
    _, data = trade.check("SH-BLOCKED")
    target = data["flags"][0]["id"]
    story = trade.story
    story.keys["rival"] = story.world.register("rival", ["exporter"])
    story.keys["operator"] = story.world.operator
    for party in ("nvidia", "lion", "straits", "dragon", "rival", "operator"):
        write_key(story, party, trade.dir / f"{party}.pem")
    size = trade.size()
    for party in ("nvidia", "lion", "straits", "dragon", "rival", "operator"):
        for status in ("cleared", "confirmed", "escalated"):
            refused = _resolve(trade, target, status, f"{party}.pem")
            assert refused.exit_code == 3, (party, status, refused.stderr)
            assert refused.stderr.startswith("error: ") and refused.stdout == ""
    assert trade.size() == size
    assert _flag(trade, target)["status"] == "open"


def test_an_allow_list_clearance_is_a_regulators_and_expires(trade: Trade) -> None:
    trade.story.shipment("SH-HOLD", SERIALS[8:10])
    _, data = trade.check("SH-HOLD")
    assert data["verdict"] == "hold"
    high = [f["id"] for f in data["flags"] if f["severity"] == "high"]
    size = trade.size()
    exporter = _resolve(trade, high[0], "cleared", "meridian.pem", "--expires", "2026-06-15")
    assert exporter.exit_code == 3 and trade.size() == size
    regulator = _resolve(trade, high[0], "escalated", "bis.pem", "--expires", "2026-06-15")
    assert regulator.exit_code == 2 and "only a clearance" in regulator.stderr
    for flag in high:
        done = _resolve(trade, flag, "cleared", "bis.pem", "--expires", "2026-06-15")
        assert done.exit_code == 0, done.stderr
    assert _flag(trade, high[0])["expires"] == "2026-06-15"
    before = trade("check", "SH-HOLD", "--as-of", "2026-06-15", "--json")
    assert json.loads(before.stdout)["verdict"] == "clear", before.stdout
    after = trade("check", "SH-HOLD", "--as-of", "2026-06-16", "--json")
    assert after.exit_code == 6 and json.loads(after.stdout)["verdict"] == "hold"
    # today is past 2026-06-15: the lists show the clearance lapsed, the flag open again
    lapsed = {f["id"]: f for f in trade.json("flag", "list", "--open", "--shipment", "SH-HOLD")}
    assert set(high) <= set(lapsed)
    assert (lapsed[high[0]]["status"], lapsed[high[0]]["expired"]) == ("open", True)
    text = trade.ok("flag", "list", "--open", "--shipment", "SH-HOLD").stdout
    assert "[allow-list clearance expired 2026-06-15]" in text
    shown = trade.ok("flag", "show", high[0]).stdout.splitlines()[0]
    assert shown.endswith(", open (the allow-list clearance expired 2026-06-15)")
    status = trade.json("status")
    assert status["open_flags"]["by_severity"]["high"] >= len(high)  # type: ignore[index,call-overload]
