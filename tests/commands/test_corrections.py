"""Correcting a mistake (issue 17 item 6): `shipment amend` and `shipment void`, signed
by the exporter who registered the shipment, through click's CliRunner. Every test
checks the exit code, stdout and stderr; a refused correction appends nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provenance.statements import kinds
from tests.commands.test_custody import (  # noqa: F401  (fixtures)
    SERIALS,
    Trade,
    catalog,
    fresh,
    item,
    ledger_state,
    license_doc,
    manufacture_doc,
    receipt_doc,
    shipment_doc,
    shipped,
    trade,
)

SHIPMENT_SEQ = 30
"""SHP-1's entry in the `shipped` ledger."""


def amend(cli: Trade, document: dict[str, Any], *extra: str, key: str = "meridian") -> Any:
    path = cli.write("amended", document)
    return cli(
        "shipment", "amend", "SHP-1", path, "--reason", "typo in the declaration",
        "--key", f"{key}.pem", *extra,
    )  # fmt: skip


def void(cli: Trade, *extra: str, key: str = "meridian") -> Any:
    return cli(
        "shipment", "void", "SHP-1", "--reason", "never shipped", "--key", f"{key}.pem", *extra
    )


def test_an_amendment_is_judged_and_supersedes_the_entry_it_corrects(shipped: Trade) -> None:  # noqa: F811
    shipped.append("license issue", license_doc(), "bis")  # entry 31
    # the typo: the last serial was not in this shipment
    result = amend(shipped, shipment_doc("SHP-1", item(SERIALS[:3])), "--json")
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["entry"]["seq"] == 32 and data["entry"]["kind"] == "shipment-amendment"
    assert data["entry"]["signer"] == "meridian"
    determination = data["determination"]
    assert determination["shipment"] == "SHP-1" and determination["seq"] == 33
    assert [i["quantity"] for i in determination["items"]] == [3]  # the amended facts judged
    assert result.exit_code == {"clear": 0, "hold": 6}.get(determination["verdict"], 1)

    shown = shipped.obj("shipment", "show", "SHP-1")
    assert (shown["seq"], shown["status"], shown["version_seq"]) == (SHIPMENT_SEQ, "amended", 32)
    assert shown["units"] == 3
    assert [s["serial"] for s in shown["items"][0]["serials"]] == sorted(SERIALS[:3])
    assert [(h["seq"], h["kind"], h.get("superseded_by")) for h in shown["history"]] == [
        (SHIPMENT_SEQ, "shipment", 32),
        (32, "shipment-amendment", None),
    ]
    assert shown["history"][1]["reason"] == "typo in the declaration"
    human = shipped.ok("shipment", "show", "SHP-1")
    assert human.stderr == ""
    lines = human.stdout.splitlines()
    assert lines[0].endswith("by meridian, amended: facts of entry 32")
    assert f"    entry {SHIPMENT_SEQ} shipment by meridian (superseded by entry 32)" in lines
    assert "    entry 32 shipment-amendment by meridian (in force)" in lines
    assert "      reason: typo in the declaration" in lines

    # the serial taken out is back where it was made, its history saying so
    removed = shipped.chip(SERIALS[3])
    assert (removed["state"], removed["shipment"], removed["country"]) == (
        "manufactured",
        None,
        "TW",
    )
    [old] = [h for h in removed["history"] if h["kind"] == "shipment"]
    assert old["superseded_by"] == 32
    kept = shipped.chip(SERIALS[0])
    assert kept["state"] == "shipped"
    assert [(h["kind"], h.get("superseded_by")) for h in kept["history"][1:]] == [
        ("shipment", 32),
        ("shipment-amendment", None),
    ]
    chip_text = shipped.ok("chip", SERIALS[0]).stdout
    assert "superseded by entry 32" in chip_text

    # a second amendment corrects the first; the ledger still verifies and replays
    again = amend(shipped, shipment_doc("SHP-1", item(SERIALS)), "--no-check")
    assert again.exit_code == 0 and again.stderr == ""
    assert again.stdout.startswith("appended entry 34: shipment-amendment, signed by meridian")
    history = shipped.obj("shipment", "show", "SHP-1")["history"]
    assert [h.get("superseded_by") for h in history] == [32, 34, None]
    assert shipped.chip(SERIALS[3])["state"] == "shipped"
    before = shipped.obj("shipment", "show", "SHP-1")
    shipped.ok("ledger", "replay")
    assert shipped.obj("shipment", "show", "SHP-1") == before
    assert shipped("ledger", "verify").exit_code == 0


def test_flags_raised_on_the_old_facts_are_closed_by_the_amendment(shipped: Trade) -> None:  # noqa: F811
    """The typo: a product the catalog does not know (flagged); the amendment names the
    product, the re-check no longer raises the flag and closes it."""
    typo = shipment_doc("SHP-2", item(["N-1"], product="nvidia-h100-sxm"))
    shipped.append("attest manufacture", manufacture_doc(["N-1"]), "nvidia")
    first = shipped("shipment", "register", shipped.write("s", typo), "--key", "meridian.pem",
                    "--json")  # fmt: skip
    assert first.stderr.startswith("note: items[0].product 'nvidia-h100-sxm'")
    before = {f["rule"]: f["id"] for f in json.loads(first.stdout)["determination"]["flags"]}
    fixed = shipment_doc("SHP-2", item(["N-1"]))
    path = shipped.write("amended", fixed)
    result = shipped("shipment", "amend", "SHP-2", path, "--reason", "product id typo",
                     "--key", "meridian.pem", "--json")  # fmt: skip
    assert result.stderr == ""
    after = {f["rule"] for f in json.loads(result.stdout)["determination"]["flags"]}
    gone = set(before) - after
    assert gone, (before, after)
    listed = {f["id"]: f for f in shipped.json("flag", "list", "--shipment", "SHP-2")}  # type: ignore[union-attr]
    for rule in gone:
        assert listed[before[rule]]["status"] == "closed"


def test_a_voided_shipment_is_not_judged_nor_exported(shipped: Trade) -> None:  # noqa: F811
    report = shipped.obj("report", "regulator", "--period", "2026")
    assert report["totals"]["shipments"] == 1
    result = void(shipped)
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith("appended entry 31: shipment-void, signed by meridian")
    shown = shipped.obj("shipment", "show", "SHP-1")
    assert (shown["status"], shown["voided_seq"]) == ("void", 31)
    assert [(h["kind"], h.get("voided_by")) for h in shown["history"]] == [
        ("shipment", 31),
        ("shipment-void", None),
    ]
    assert (
        "VOID (entry 31): not judged, not an export"
        in shipped.ok("shipment", "show", "SHP-1").stdout
    )
    checked = shipped("check", "SHP-1")
    assert (checked.exit_code, checked.stdout) == (5, "")
    assert checked.stderr == (
        "error: shipment 'SHP-1' is void (entry 31): a voided shipment is not judged\n"
        "hint: provenance shipment show SHP-1\n"
    )
    every = shipped("check", "--all", "--verbose")
    assert "SHP-1" not in every.stdout
    assert shipped.chip(SERIALS[0])["state"] == "manufactured"
    report = shipped.obj("report", "regulator", "--period", "2026")
    assert report["totals"]["shipments"] == 0
    listed = shipped.ok("shipment", "list").stdout
    assert listed.splitlines()[0].endswith("(void)")
    # a voided shipment is corrected no more
    again = shipped.refused(
        ("shipment", "void", "SHP-1", "--reason", "x", "--key", "meridian.pem", "--corrects",
         str(SHIPMENT_SEQ)), 2, "was voided by entry 31")  # fmt: skip
    assert again.startswith("error: shipment-void: shipment: ")
    path = shipped.write("amended", shipment_doc("SHP-1"))
    shipped.refused(
        ("shipment", "amend", "SHP-1", path, "--reason", "x", "--key", "meridian.pem"),
        2,
        "shipment 'SHP-1' was voided by entry 31; a voided shipment is not corrected",
    )
    shipped.ok("ledger", "replay")
    assert shipped.obj("shipment", "show", "SHP-1") == shown


@pytest.mark.parametrize("command", ["amend", "void"])
def test_only_the_exporter_who_registered_it_corrects_a_shipment(
    shipped: Trade,  # noqa: F811
    command: str,
) -> None:
    if command == "amend":
        path = shipped.write("amended", shipment_doc("SHP-1", item(SERIALS[:3])))
        args: tuple[str, ...] = ("shipment", "amend", "SHP-1", path)
    else:
        args = ("shipment", "void", "SHP-1")
    before = ledger_state(shipped)
    error = shipped.refused(
        (*args, "--reason", "mine now", "--key", "harbor.pem"),
        3,
        "shipment 'SHP-1' was registered by 'meridian', not by the signer 'harbor'",
    )
    assert error.startswith(f"error: shipment-{'amendment' if command == 'amend' else 'void'}")
    # a consignee is no exporter at all: refused by the signer policy
    shipped.refused((*args, "--reason", "x", "--key", "lion.pem"), 3)
    assert ledger_state(shipped) == before


@pytest.mark.parametrize("command", ["amend", "void"])
def test_a_dry_run_correction_writes_nothing(shipped: Trade, command: str) -> None:  # noqa: F811
    before = ledger_state(shipped)
    if command == "amend":
        result = amend(shipped, shipment_doc("SHP-1", item(SERIALS[:3])), "--dry-run")
    else:
        result = void(shipped, "--dry-run")
    assert result.stderr == ""
    kind = "shipment-amendment" if command == "amend" else "shipment-void"
    assert result.stdout.splitlines()[0] == (
        f"dry run: would append as entry 31: {kind}, signed by meridian"
    )
    assert result.stdout.splitlines()[-1].endswith("nothing written")
    assert "tlog-proof" not in result.stdout
    assert ledger_state(shipped) == before
    assert shipped.obj("shipment", "show", "SHP-1")["status"] == "registered"


def test_after_a_receipt_the_serials_stay_and_the_shipment_is_not_voided(shipped: Trade) -> None:  # noqa: F811
    shipped.append("attest receipt", receipt_doc(), "lion")  # entry 31
    shipped.refused(
        ("shipment", "void", "SHP-1", "--reason", "x", "--key", "meridian.pem"),
        2,
        "shipment 'SHP-1' was received (entry 31): a shipment that arrived is not voided",
    )
    path = shipped.write("amended", shipment_doc("SHP-1", item(SERIALS[:3])))
    error = shipped.refused(
        ("shipment", "amend", "SHP-1", path, "--reason", "x", "--key", "meridian.pem"),
        2,
        "was received (entry 31): its serials are not amended (H100-0004)",
    )
    assert error.startswith("error: shipment-amendment: shipment.items: ")
    # every other field may still be corrected
    fixed = amend(shipped, shipment_doc("SHP-1", license="LIC-2"), "--no-check")
    assert fixed.exit_code == 0 and fixed.stderr == ""
    assert shipped.obj("shipment", "show", "SHP-1")["license"] == "LIC-2"


def test_bad_corrections_are_refused_naming_why(shipped: Trade) -> None:  # noqa: F811
    path = shipped.write("amended", shipment_doc("SHP-9"))
    error = shipped.refused(
        ("shipment", "amend", "SHP-1", path, "--reason", "x", "--key", "meridian.pem"), 2
    )
    assert error == f"error: {path}: id: the file is shipment 'SHP-9', not 'SHP-1'"
    stale = shipped.refused(
        ("shipment", "void", "SHP-1", "--reason", "x", "--corrects", "7", "--key",
         "meridian.pem"), 2)  # fmt: skip
    assert stale == (
        "error: shipment-void: corrects: entry 7 is not the version of shipment 'SHP-1' in "
        f"force (entry {SHIPMENT_SEQ})"
    )
    other = shipped.write("amended", shipment_doc("SHP-1", exporter="harbor"))
    shipped.refused(
        ("shipment", "amend", "SHP-1", other, "--reason", "x", "--key", "meridian.pem"),
        2,
        "the exporter of shipment 'SHP-1' is 'meridian'; an amendment does not change it",
    )
    empty = shipped.refused(
        ("shipment", "void", "SHP-1", "--reason", "", "--key", "meridian.pem"), 2
    )
    assert empty.startswith("error: invalid shipment-void: reason: ")
    unknown = shipped("shipment", "void", "SHP-404", "--reason", "x", "--key", "meridian.pem")
    assert (unknown.exit_code, unknown.stdout) == (5, "")
    assert unknown.stderr.startswith("error: no shipment 'SHP-404'")


def test_the_correction_kinds_are_in_the_registry() -> None:
    for name in ("shipment-amendment", "shipment-void"):
        kind = kinds.get(name)
        assert kind.signers == {kinds.R.EXPORTER} and kind.date_field == "date"
        assert kinds.kind_of(kind.predicate_type) == name
    amendment = kinds.from_document(
        {
            "kind": "shipment-amendment",
            "corrects": 30,
            "date": "2026-03-01",
            "reason": "typo",
            "shipment": shipment_doc("SHP-1"),
        }
    )
    assert [name for name, _ in amendment.subjects()] == [
        "shipment/SHP-1",
        *(f"chip/{s}" for s in SERIALS),
    ]
    predicate = amendment.predicate()
    assert kinds.from_predicate("shipment-amendment", predicate).predicate() == predicate
    assert (
        kinds.get("shipment-amendment")
        .summarise(predicate)
        .startswith("amends entry 30: shipment SHP-1: 4 units")
    )
    voided = kinds.from_document(
        {
            "kind": "shipment-void",
            "shipment": "SHP-1",
            "corrects": 30,
            "date": "2026-03-01",
            "reason": "never shipped",
        }
    )
    assert [name for name, _ in voided.subjects()] == ["shipment/SHP-1"]
    assert kinds.get("shipment-void").summarise(voided.predicate()) == (
        "voids shipment SHP-1 (entry 30); reason: never shipped"
    )
    with pytest.raises(Exception, match="invalid shipment-void: corrects"):
        kinds.from_document(
            {
                "kind": "shipment-void",
                "shipment": "SHP-1",
                "corrects": -1,
                "date": "2026-03-01",
                "reason": "x",
            }
        )


def test_a_void_signed_offline_is_appended_like_any_statement(shipped: Trade) -> None:  # noqa: F811
    document = {"kind": "shipment-void", "shipment": "SHP-1", "corrects": SHIPMENT_SEQ,
                "date": "2026-03-01", "reason": "never shipped"}  # fmt: skip
    path = shipped.write("void", document)
    signed = shipped("sign", path, "--key", "meridian.pem", "--out", "void.env.json")
    assert signed.exit_code == 0 and signed.stderr == ""
    appended = shipped("ledger", "append", "void.env.json")
    assert appended.exit_code == 0 and appended.stderr == ""
    assert appended.stdout.startswith("appended entry 31: shipment-void, signed by meridian")
    assert shipped.obj("shipment", "show", "SHP-1")["status"] == "void"
    # signed by another exporter: refused by the same handler, nothing written
    shipped.ok("sign", path, "--key", "harbor.pem", "--out", "harbor.env.json")
    shipped.refused(("ledger", "append", "harbor.env.json"), 3, "not by the signer 'harbor'")


@pytest.mark.parametrize("report", ["regulator", "exporter"])
def test_a_report_signed_before_an_amendment_still_verifies(shipped: Trade, report: str) -> None:  # noqa: F811
    """A report is recomputed at its own tree size: the facts in force then, not the
    amended ones; a report made after the amendment counts the amended facts."""
    shipped.append("license issue", license_doc(), "bis")  # entry 31
    scope = ("--party", "meridian") if report == "exporter" else ()
    signer = "meridian" if report == "exporter" else "bis"
    before = shipped.obj("report", report, *scope, "--period", "2026")
    shipped.ok("report", report, *scope, "--period", "2026", "--sign", f"{signer}.pem",
               "-o", "before.json")  # fmt: skip
    assert (before["totals"]["shipments"], before["totals"]["units"]) == (1, 4)
    # the amendment takes a serial out, and the shipment goes to another country
    moved = shipment_doc("SHP-1", item(SERIALS[:3]), destination="MY", route=["US", "MY"])
    assert amend(shipped, moved, "--no-check").exit_code == 0
    verified = shipped("report", "verify", "before.json")
    assert verified.stderr == ""
    assert "every figure recomputed from the ledger matches" in verified.stdout
    assert verified.exit_code == 0
    at_size = shipped.obj(
        "report", report, *scope, "--period", "2026", "--size", str(before["checkpoint"]["size"])
    )
    for figure in ("totals", "by_destination", "licenses", "custody"):
        assert at_size[figure] == before[figure], figure
    after = shipped.obj("report", report, *scope, "--period", "2026")
    assert (after["totals"]["shipments"], after["totals"]["units"]) == (1, 3)
    assert [d["destination"] for d in after["by_destination"]] == ["MY"]
    # replayed, the versions' facts are rebuilt from the entries: the report still verifies
    shipped.ok("ledger", "replay")
    assert shipped("report", "verify", "before.json").exit_code == 0
