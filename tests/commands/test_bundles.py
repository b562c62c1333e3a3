"""`ledger export --chip / --shipment` (a bundle of just those entries, that `verify`
accepts), `provenance show BUNDLE` (its statements decoded), `ledger key` (the file that
holds the verifier key, which `--ledger-key` takes) and `sign --kind`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.commands.test_custody import (  # noqa: F401 (fixtures)
    ORIGIN,
    SERIALS,
    Trade,
    catalog,
    fresh,
    license_doc,
    one_error_line,
    receipt_doc,
    shipped,
    trade,
    write_yaml,
)


def _bundle(cli: Trade, *args: str) -> dict[str, object]:
    out = cli.obj("ledger", "export", *args, "-o", "b.json")
    assert out["bundle"] == "b.json"
    value = json.loads(Path("b.json").read_text())
    assert isinstance(value, dict)
    return value


def test_export_a_chip_or_a_shipment(shipped: Trade) -> None:  # noqa: F811
    receipt = shipped.append("attest receipt", receipt_doc(), "lion")
    history = [h["seq"] for h in shipped.chip(SERIALS[0])["history"]]
    chip = _bundle(shipped, "--chip", SERIALS[0])
    assert chip["requested"] == sorted(history) and receipt in history
    verified = shipped.ok("verify", "b.json", "--ledger-key", "keys/ledger.vkey", "--json")
    report = json.loads(verified.stdout)
    assert report["verified"] and report["requested"] == chip["requested"]
    shipment = _bundle(shipped, "--shipment", "SHP-1")
    declared = shipped.obj("shipment", "show", "SHP-1")["seq"]
    assert shipment["requested"] == [declared, receipt]
    human = shipped.ok("verify", "b.json", "--ledger-key", "keys/ledger.vkey").stdout
    assert f" * entry {declared:>6}  shipment" in human
    assert one_error_line(shipped("ledger", "export", "--chip", "X-9", "-o", "x.json"), 5) == (
        "error: no chip with serial 'X-9' in the ledger"
    )
    missing = shipped("ledger", "export", "--shipment", "SHP-9", "-o", "x.json")
    assert one_error_line(missing, 5) == "error: no shipment 'SHP-9'"
    both = shipped("ledger", "export", "--chip", SERIALS[0], "--seq", "1", "-o", "x.json")
    assert one_error_line(both, 2) == "error: --seq, --chip and --shipment exclude each other"
    assert not Path("x.json").exists()


def test_show_decodes_a_bundles_statements(shipped: Trade) -> None:  # noqa: F811
    bundle = _bundle(shipped, "--shipment", "SHP-1")
    shown = shipped.obj("show", "b.json")
    assert shown["verified"] is False and shown["origin"] == ORIGIN
    assert shown["requested"] == bundle["requested"]
    entries = shown["entries"]
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    [declared] = [e for e in entries if e["requested"]]
    assert declared["kind"] == "shipment" and declared["signer"] == "meridian"
    assert declared["subjects"][0] == "shipment/SHP-1"
    assert declared["predicate"]["id"] == "SHP-1"
    assert declared["summary"].startswith("shipment SHP-1: 4 units, meridian to lion")
    assert entries[0]["seq"] == 0 and entries[0]["signer"] == "operator"
    human = shipped.ok("show", "b.json")
    assert human.stderr == ""
    lines = human.stdout.splitlines()
    assert lines[0] == f"bundle of {ORIGIN} at tree size {shipped.size()}: {len(entries)} entries"
    assert lines[1] == "(decoded, not verified: check it with `provenance verify`)"
    assert f" * entry {declared['seq']:>6}  shipment        signed by meridian" in lines
    assert "      destination: SG" in lines and "      keys: (a PEM public key)" in lines
    receipt = shipped.ok("ledger", "proof", "1").stdout
    Path("one.receipt").write_text(receipt)
    refused = one_error_line(shipped("show", "one.receipt"), 2)
    assert refused == "error: a receipt, not a bundle: `provenance verify` checks it"
    Path("junk.json").write_text('{"format": "nope"}')
    assert one_error_line(shipped("show", "junk.json"), 2).startswith("error: not a provenance")
    assert one_error_line(shipped("show", "nope.json"), 2) == "error: nope.json: no such file"


def test_ledger_key_names_the_file_that_holds_it(catalog: Trade) -> None:  # noqa: F811
    shown = catalog.obj("ledger", "key")
    assert shown["file"] is not None and shown["file"].endswith("keys/ledger.vkey")
    assert Path("keys/ledger.vkey").read_text() == shown["verifier_key"] + "\n"
    lines = catalog.ok("ledger", "key").stdout.splitlines()
    assert lines == [
        f"origin {ORIGIN}",
        f"held in {shown['file']} (for --ledger-key {shown['file']})",
        shown["verifier_key"],
    ]
    Path("keys/ledger.vkey").unlink()
    assert catalog.obj("ledger", "key")["file"] is None
    assert "held in no file" in catalog.ok("ledger", "key").stdout
    written = catalog.obj("ledger", "key", "-o", "mine.vkey")
    assert written["file"] == "mine.vkey"
    assert Path("mine.vkey").read_text().strip() == shown["verifier_key"]
    Path("r.txt").write_text(catalog.ok("ledger", "proof", "0").stdout)
    assert catalog.ok("verify", "r.txt", "--ledger-key", "mine.vkey").stdout.startswith(
        "receipt verified: entry 0 (party)"
    )


def test_sign_takes_the_documents_the_register_commands_take(shipped: Trade) -> None:  # noqa: F811
    doc = write_yaml("license.yaml", license_doc())  # no `kind`: as `license issue` takes it
    bare = one_error_line(shipped("sign", doc, "--key", "bis.pem"), 2)
    assert bare == "error: license.yaml: the document has no 'kind' field"
    signed = shipped.obj("sign", doc, "--kind", "license", "--key", "bis.pem", "--out", "l.env")
    assert signed["kind"] == "license" and signed["envelope"] == "l.env"
    appended = shipped.obj("ledger", "append", "l.env")
    assert appended["entry"]["kind"] == "license" and appended["entry"]["signer"] == "bis"
    wrong = one_error_line(shipped("sign", doc, "--kind", "receipt", "--key", "bis.pem"), 2)
    assert wrong.startswith("error: license.yaml: invalid receipt: ")
    products = write_yaml("products.yaml", {"products": []})
    empty = shipped("sign", products, "--kind", "product", "--key", "keys/operator.pem")
    assert empty.exit_code == 2
    catalog_file = str(Path(__file__).parents[2] / "rules" / "products.yaml")
    many = shipped.obj(
        "sign", catalog_file, "--kind", "product", "--key", "keys/operator.pem", "--out", "p.jsonl"
    )
    assert many["count"] == 22 and len(Path("p.jsonl").read_text().splitlines()) == 22
    imported = shipped.obj("ledger", "import", "p.jsonl")
    assert imported["duplicates"] == 22  # init signed the same catalog
