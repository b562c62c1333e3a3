"""The statement commands through click's CliRunner: products, manufacture, shipments,
receipts, end use, inspections, licenses, chips, the shipment CSV import and schemas.

Every test checks the exit code, stdout and stderr. A refused statement must give
one `error:` line naming the field (hints may follow) and append nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from click.testing import CliRunner, Result

from cli import main
from tests.commands.test_ledger import Cli
from tests.conftest import DATA

ORIGIN = "cli.test/ledger"
OPERATOR_KEY = "keys/operator.pem"
H100 = "nvidia-h100-sxm5"
SMI = DATA / "nvidia-smi" / "h100-sxm5-x8-driver-565-SYNTHETIC.xml"
SERIALS = ("1654423001593", "1654223054577", "H100-0003", "H100-0004")
"""The chips of shipment SHP-1; the first two are boards in the nvidia-smi evidence file."""

MADE = dt.date(2026, 1, 15)
SHIPPED = dt.date(2026, 2, 1)
RECEIVED = dt.date(2026, 2, 10)
END_USE = dt.date(2026, 2, 20)
INSPECTED = dt.date(2026, 3, 1)

PARTIES: dict[str, tuple[list[str], str]] = {
    "nvidia": (["manufacturer"], "US"),
    "meridian": (["exporter"], "US"),
    "lion": (["consignee", "end_user"], "SG"),
    "straits": (["auditor"], "SG"),
    "bis": (["regulator"], "US"),
    # A second exporter: shipments naming another exporter, and the exporter filter.
    "harbor": (["exporter"], "US"),
}

CSV_HEADER = (
    "shipment_id,exporter,consignee,end_user,forwarder,ship_date,destination,route,license,"
    "product,description,hs_code,quantity,serials,unit_value,currency"
)


# --- statement documents -----------------------------------------------------------------


def item(
    serials: Sequence[str], product: str = H100, quantity: int | None = None
) -> dict[str, Any]:
    return {
        "product": product,
        "description": "GPU accelerator module",
        "hs_code": "8473.30.1180",
        "quantity": len(serials) if quantity is None else quantity,
        "serials": list(serials),
        "unit_value": {"amount": "30000.00", "currency": "USD"},
    }


def shipment_doc(shipment_id: str, *items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": shipment_id,
        "exporter": "meridian",
        "consignee": "lion",
        "end_user": "lion",
        "ship_date": SHIPPED,
        "destination": "SG",
        "route": ["US", "SG"],
        "license": "LIC-1",
        "items": list(items) or [item(SERIALS)],
        **fields,
    }


def manufacture_doc(serials: Sequence[str] = SERIALS, **fields: Any) -> dict[str, Any]:
    return {"product": H100, "serials": list(serials), "date": MADE, "site": "TW", **fields}


def receipt_doc(**fields: Any) -> dict[str, Any]:
    return {
        "shipment": "SHP-1",
        "serials": list(SERIALS),
        "date": RECEIVED,
        "country": "SG",
        "site": "Lion Jurong DC",
        **fields,
    }


def end_use_doc(**fields: Any) -> dict[str, Any]:
    return {
        "shipments": ["SHP-1"],
        "date": END_USE,
        "end_use": "training large language models",
        "sector": "commercial cloud",
        "site": {"country": "SG", "facility": "Lion Jurong DC", "address": "1 Jurong Road"},
        "facility_power_mw": "40",
        "certifications": {
            "no_military": True,
            "no_wmd": True,
            "no_reexport": True,
            "no_restricted_hq_access": True,
        },
        "valid_until": dt.date(2027, 2, 20),
        **fields,
    }


def inspection_doc(**fields: Any) -> dict[str, Any]:
    return {
        "site": {"country": "SG", "facility": "Lion Jurong DC"},
        "date": INSPECTED,
        "serials_missing": [SERIALS[3]],
        "findings": ["one board not found in its rack"],
        **fields,
    }


def license_doc(**fields: Any) -> dict[str, Any]:
    return {
        "id": "LIC-1",
        "exporter": "meridian",
        "consignee": "lion",
        "end_user": "lion",
        "destination": "SG",
        "eccns": ["3A090.a"],
        "products": [H100],
        "max_quantity": 100,
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": dt.date(2026, 12, 31),
        "conditions": ["no re-export without authorisation"],
        **fields,
    }


def product_doc(**fields: Any) -> dict[str, Any]:
    """A single product document: the H100 SXM5 with a revised model name and price."""
    return {
        "id": H100,
        "vendor": "NVIDIA",
        "model": "H100 SXM5 80GB (revised)",
        "names": ["NVIDIA H100 80GB HBM3", "H100 SXM5"],
        "performance": [{"dtype": "fp8", "bits": 8, "tops": "1979"}],
        "die_area_mm2": "814",
        "interconnect_gbps": 900,
        "memory_bandwidth_gbps": 3350,
        "memory": "80 GB HBM3",
        "datacenter": True,
        "pci_device_ids": ["0x233010DE"],
        "hs_codes": ["8473.30.1180"],
        "reference_price": {"amount": "25000", "currency": "USD"},
        **fields,
    }


def write_yaml(name: str, document: dict[str, Any]) -> str:
    Path(name).write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return name


def csv_line(shipment_id: str, serials: Sequence[str], **cells: str) -> str:
    values = {
        "shipment_id": shipment_id,
        "exporter": "meridian",
        "consignee": "lion",
        "end_user": "lion",
        "forwarder": "",
        "ship_date": "2026-04-01",
        "destination": "SG",
        "route": "US;SG",
        "license": "LIC-1",
        "product": H100,
        "description": "GPU accelerator module",
        "hs_code": "8473.30.1180",
        "quantity": str(len(serials)),
        "serials": ";".join(serials),
        "unit_value": "30000.00",
        "currency": "USD",
        **cells,
    }
    return ",".join(values[column] for column in CSV_HEADER.split(","))


# --- the CLI and the ledger --------------------------------------------------------------


@dataclass
class Trade(Cli):
    """The CLI on a ledger holding the catalog (and, from `trade` on, the parties)."""

    documents: int = 0

    def obj(self, *args: str) -> dict[str, Any]:
        value = self.json(*args)
        assert isinstance(value, dict)
        return value

    def size(self) -> int:
        return int(self.obj("ledger", "checkpoint")["size"])

    def chip(self, serial: str) -> dict[str, Any]:
        return self.obj("chip", serial)

    def write(self, command: str, document: dict[str, Any]) -> str:
        self.documents += 1
        return write_yaml(f"{command.split()[-1]}-{self.documents}.yaml", document)

    def append(self, command: str, document: dict[str, Any], signer: str, *extra: str) -> int:
        """Sign DOCUMENT with SIGNER's key through COMMAND; the new entry's seq."""
        words = command.split()
        kind = words[-1] if words[0] == "attest" else words[0]
        if command == "shipment register":
            extra = ("--no-check", *extra)  # the statement alone: the rules have their own tests
        result = self.ok(*words, self.write(command, document), *extra, "--key", f"{signer}.pem")
        assert result.stderr == ""
        lines = result.stdout.splitlines()
        found = re.fullmatch(rf"appended entry (\d+): {kind}, signed by {signer}", lines[0])
        assert found, result.stdout
        seq = int(found.group(1))
        assert lines[1:] == [], result.stdout  # one line: the receipt only with --verbose
        return seq

    def refused(self, args: Sequence[str], code: int, *fragments: str) -> str:
        """Run ARGS, expect exit CODE, one error line holding FRAGMENTS, and no new entry."""
        before = self.size()
        error = one_error_line(self(*args), code)
        for fragment in fragments:
            assert fragment in error, f"{fragment!r} not in {error!r}"
        assert self.size() == before, "a refused statement was appended"
        return error


def one_error_line(result: Result, code: int) -> str:
    """The `error:` line of a failed command (only hints may follow it; stdout is empty)."""
    assert result.exit_code == code, result.stderr + result.stdout
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert all(line.startswith("hint: ") for line in lines[1:]), result.stderr
    return lines[0]


@pytest.fixture
def fresh(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Trade]:
    """The CLI in an empty folder, with PROVENANCE_DB naming a ledger not yet created."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROVENANCE_DB", db_url)
    monkeypatch.delenv("PROVENANCE_CHECKPOINT_KEY", raising=False)
    monkeypatch.delenv("PROVENANCE_KEY_PASSPHRASE", raising=False)
    yield Trade(CliRunner(), db_url, tmp_path)


@pytest.fixture
def catalog(fresh: Trade) -> Trade:
    """A ledger holding the operator (entry 0) and the 22-product catalog (entries 1-22)."""
    result = fresh.ok("init", "--origin", ORIGIN)
    assert "product catalog signed in: 22 products, entries 1-22" in result.stdout
    assert result.stderr == ""
    return fresh


@pytest.fixture
def trade(catalog: Trade) -> Trade:
    """The catalog ledger with the parties, each registered with a key of its own."""
    for party_id, (roles, country) in PARTIES.items():
        catalog.ok("keys", "generate", party_id)
        doc = {
            "id": party_id,
            "name": f"{party_id.title()} Ltd.",
            "roles": roles,
            "country": country,
            "headquarters": country,
        }
        path = write_yaml(f"{party_id}.yaml", doc)
        result = catalog.ok(
            "party", "register", path, "--public-key", f"{party_id}.pub", "--key", OPERATOR_KEY
        )
        assert result.stdout.startswith("appended entry ")
        assert result.stdout.splitlines()[0].endswith(": party, signed by operator")
    return catalog


@pytest.fixture
def shipped(trade: Trade) -> Trade:
    """SERIALS manufactured by nvidia and shipped by meridian to lion as SHP-1."""
    trade.append("attest manufacture", manufacture_doc(), "nvidia")
    trade.append("shipment register", shipment_doc("SHP-1"), "meridian")
    return trade


# --- init and the product catalog ----------------------------------------------------------


def test_init_signs_the_catalog_as_entries_1_to_22(catalog: Trade) -> None:
    assert catalog.size() == 23
    first, last = (catalog.obj("ledger", "show", seq) for seq in ("1", "22"))
    for entry in (first, last):
        assert entry["kind"] == "product" and entry["signer"] == "operator"
    assert first["statement"]["predicate"]["id"] != last["statement"]["predicate"]["id"]
    assert one_error_line(catalog("ledger", "show", "23"), 5) == "error: entry 23 does not exist"


def test_init_no_catalog_starts_with_no_products(fresh: Trade) -> None:
    both = fresh("init", "--no-catalog", "--catalog", "products.yaml")
    assert "--catalog and --no-catalog exclude each other" in one_error_line(both, 2)
    assert fresh("ledger", "checkpoint").exit_code == 5  # nothing was created
    result = fresh.ok("init", "--origin", ORIGIN, "--no-catalog")
    assert "product catalog" not in result.stdout
    assert result.stdout.splitlines()[-1].startswith(f"{ORIGIN}+")
    assert result.stderr == ""
    assert fresh.size() == 1
    assert fresh.json("product", "list") == []


def test_product_list(catalog: Trade) -> None:
    products = catalog.json("product", "list")
    assert isinstance(products, list) and len(products) == 22
    for product in products:
        assert {"id", "vendor", "model", "tpp", "die_area_mm2", "datacenter"} <= product.keys()
    ids = [p["id"] for p in products]
    assert ids == sorted(set(ids))
    assert {p["seq"] for p in products} == set(range(1, 23))
    h100 = next(p for p in products if p["id"] == H100)
    assert h100["tpp"] == "15832"
    assert h100["vendor"] == "NVIDIA" and h100["model"] == "H100 SXM5 80GB"
    assert h100["die_area_mm2"] == "814" and h100["datacenter"] is True
    assert h100["pci_device_ids"] == ["0x233010DE"]
    human = catalog.ok("product", "list")
    lines = human.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "vendor", "model"] and len(lines) == 23
    h100_line = next(line for line in lines if line.startswith(H100 + " "))
    assert "15832" in h100_line and h100_line.endswith("yes")
    assert human.stderr == ""


def test_product_show(catalog: Trade) -> None:
    shown = catalog.obj("product", "show", H100)
    assert shown["id"] == H100 and shown["tpp"] == "15832"
    assert shown["registered_serials"] == 0
    assert shown["reference_price"] == {"amount": "30000", "currency": "USD"}
    human = catalog.ok("product", "show", H100)  # read by a person, like `party show`
    assert human.stdout.startswith(f"{H100}: NVIDIA H100 SXM5 80GB\n") and human.stderr == ""
    assert "  TPP:          15832 (performance density 19.45)" in human.stdout
    missing = one_error_line(catalog("product", "show", "acme-x1"), 5)
    assert missing == "error: no product 'acme-x1'"


def test_product_import_supersedes_an_existing_id(catalog: Trade) -> None:
    path = write_yaml("h100.yaml", product_doc())
    imported = catalog.obj("product", "import", path, "--key", OPERATOR_KEY)
    assert imported == {"products": [{"id": H100, "seq": 23, "duplicate": False}], "size": 24}
    shown = catalog.obj("product", "show", H100)
    assert shown["model"] == "H100 SXM5 80GB (revised)" and shown["seq"] == 23
    assert shown["reference_price"] == {"amount": "25000", "currency": "USD"}
    assert shown["tpp"] == "15832"
    products = catalog.json("product", "list")
    assert isinstance(products, list) and len(products) == 22
    again = catalog.ok("product", "import", path, "--key", OPERATOR_KEY)
    assert again.stdout == f"{H100}: unchanged, already entry 23 (TPP 15832)\ntree size 24\n"
    assert again.stderr == ""
    assert catalog.size() == 24


def test_product_import_refuses_an_exporter_key(trade: Trade) -> None:
    path = write_yaml("h100.yaml", product_doc())
    args = ("product", "import", path, "--key", "meridian.pem")
    trade.refused(args, 3, "meridian", "may not sign 'product'")
    assert trade.obj("product", "show", H100)["model"] == "H100 SXM5 80GB"


# --- manufacture, shipments, custody ------------------------------------------------------


def test_manufacture_registers_the_serials(trade: Trade) -> None:
    path = trade.write("manufacture", manufacture_doc())
    out = trade.obj("attest", "manufacture", path, "--key", "nvidia.pem", "--receipt", "m.proof")
    assert out["entry"]["kind"] == "manufacture" and out["entry"]["signer"] == "nvidia"
    assert out["entry"]["duplicate"] is False
    chip = trade.chip(SERIALS[0])
    assert chip["product"] == H100 and chip["registered"] is True
    assert (chip["state"], chip["manufacturer"], chip["country"]) == (
        "manufactured",
        "nvidia",
        "TW",
    )
    assert [h["kind"] for h in chip["history"]] == ["manufacture"]
    assert chip["history"][0]["date"] == MADE.isoformat()
    assert trade.obj("product", "show", H100)["registered_serials"] == len(SERIALS)
    missing = one_error_line(trade("chip", "NO-SUCH-CHIP"), 5)
    assert "no chip with serial 'NO-SUCH-CHIP'" in missing


def test_shipment_register_and_show(shipped: Trade) -> None:
    shown = shipped.obj("shipment", "show", "SHP-1")
    assert {k: shown[k] for k in ("id", "exporter", "consignee", "end_user", "forwarder")} == {
        "id": "SHP-1",
        "exporter": "meridian",
        "consignee": "lion",
        "end_user": "lion",
        "forwarder": None,
    }
    assert shown["ship_date"] == SHIPPED.isoformat() and shown["destination"] == "SG"
    assert shown["route"] == ["US", "SG"] and shown["license"] == "LIC-1"
    assert shown["units"] == len(SERIALS) and len(shown["items"]) == 1
    line = shown["items"][0]
    assert (line["product"], line["quantity"], line["hs_code"]) == (H100, 4, "8473.30.1180")
    assert line["unit_value"] == {"amount": "30000.00", "currency": "USD"}
    assert [s["serial"] for s in line["serials"]] == sorted(SERIALS)
    assert {(s["state"], s["registered_product"]) for s in line["serials"]} == {("shipped", H100)}
    assert shown["receipts"] == [] and shown["end_use_statements"] == []
    assert shown["not_received"] == sorted(SERIALS)
    chip = shipped.chip(SERIALS[0])
    assert (chip["state"], chip["shipment"], chip["country"]) == ("shipped", "SHP-1", None)
    human = shipped.ok("shipment", "show", "SHP-1").stdout
    assert human.startswith(
        f"shipment SHP-1 (entry {shown['seq']}), shipped 2026-02-01 by meridian"
    )
    assert "to lion for end user lion in SG, route US > SG, license LIC-1" in human
    assert (
        one_error_line(shipped("shipment", "show", "SHP-404"), 5) == "error: no shipment 'SHP-404'"
    )


def test_a_product_unknown_to_the_catalog_is_declared_not_refused(trade: Trade) -> None:
    doc = shipment_doc("SHP-X", item(["X-1"], product="acme-x1"))
    path = trade.write("shipment register", doc)
    result = trade.ok("shipment", "register", path, "--no-check", "--key", "meridian.pem")
    assert result.stdout.startswith("appended entry 29: shipment, signed by meridian\n")
    assert result.stderr == (
        "note: items[0].product 'acme-x1' is not in the catalog; the rules judge it as an "
        "unknown product\n"
    )
    typo = shipment_doc("SHP-Y", item(["Y-1"], product="nvidia-h100-sxm"))
    result = trade.ok(
        "shipment", "register", trade.write("shipment register", typo), "--no-check",
        "--key", "meridian.pem",
    )  # fmt: skip
    assert result.stderr == (
        "note: items[0].product 'nvidia-h100-sxm' is not in the catalog (did you mean "
        "'nvidia-h100-sxm5'?); the rules judge it as an unknown product\n"
    )
    line = trade.obj("shipment", "show", "SHP-X")["items"][0]
    assert line["product"] == "acme-x1"
    assert line["serials"] == [
        {"serial": "X-1", "registered_product": None, "state": "unregistered", "country": None}
    ]


def test_custody_from_manufacture_to_inspection(shipped: Trade) -> None:
    # The end-use statement is appended before the receipt but dated after it:
    # the chip's history is in date order, not entry order.
    end_use = shipped.append("attest end-use", end_use_doc(), "lion")
    assert shipped.chip(SERIALS[0])["state"] == "shipped"
    receipt = shipped.append("attest receipt", receipt_doc(), "lion")
    chip = shipped.chip(SERIALS[0])
    assert (chip["state"], chip["state_seq"], chip["country"]) == ("received", receipt, "SG")
    shown = shipped.obj("shipment", "show", "SHP-1")
    assert shown["not_received"] == [] and shown["end_use_statements"] == [end_use]
    assert shown["receipts"][0]["serials"] == sorted(SERIALS)
    inspection = shipped.append(
        "attest inspection", inspection_doc(serials_seen=list(SERIALS[:3])), "straits"
    )
    assert shipped.chip(SERIALS[3])["state"] == "missing"
    chip = shipped.chip(SERIALS[0])
    assert (chip["state"], chip["state_seq"]) == ("inspected", inspection)
    history = chip["history"]
    assert [h["kind"] for h in history] == [
        "manufacture",
        "shipment",
        "receipt",
        "end-use",
        "inspection",
    ]
    assert [h["signer"] for h in history] == ["nvidia", "meridian", "lion", "lion", "straits"]
    dates = [MADE, SHIPPED, RECEIVED, END_USE, INSPECTED]
    assert [h["date"] for h in history] == [d.isoformat() for d in dates]
    assert [h["seq"] for h in history][2:4] == [receipt, end_use]
    size = shipped.size()
    for h in history:
        assert h["proof"]["verified"] is True and h["proof"]["tree_size"] == size
    assert chip["tree_size"] == size and chip["observed"] == []
    human = shipped.ok("chip", SERIALS[0])
    assert human.stdout.startswith(f"chip {SERIALS[0]}: {H100}, state inspected, in SG\n")
    assert f"history (5 entries; signatures and inclusion in the checkpoint of size {size}" in (
        human.stdout
    )
    assert human.stderr == ""


def test_inspection_records_the_nvidia_smi_evidence(shipped: Trade) -> None:
    shipped.append("attest receipt", receipt_doc(), "lion")
    seq = shipped.append("attest inspection", inspection_doc(), "straits", "--nvidia-smi", str(SMI))
    digest = hashlib.sha256(SMI.read_bytes()).hexdigest()
    predicate = shipped.obj("ledger", "show", str(seq))["statement"]["predicate"]
    (evidence,) = predicate["evidence"]
    assert evidence["file"] == SMI.name and evidence["sha256"] == digest
    assert evidence["driver_version"] == "565.57.01" and len(evidence["devices"]) == 8
    assert {SERIALS[0], SERIALS[1]} <= {d["serial"] for d in evidence["devices"]}
    chip = shipped.chip(SERIALS[0])
    assert chip["state"] == "inspected"
    assert chip["observed"] == [
        {
            "seq": seq,
            "product_name": "NVIDIA H100 80GB HBM3",
            "pci_device_id": "0x233010DE",
            "board_part_number": chip["observed"][0]["board_part_number"],
            "uuid": chip["observed"][0]["uuid"],
            "file_sha256": digest,
        }
    ]
    assert chip["observed"][0]["uuid"].startswith("GPU-")
    assert chip["history"][-1]["kind"] == "inspection"
    not_seen = shipped.chip(SERIALS[2])  # neither in the evidence nor listed missing
    assert (not_seen["state"], not_seen["observed"]) == ("received", [])
    assert shipped.chip(SERIALS[3])["state"] == "missing"


def test_license_issue_and_show(shipped: Trade) -> None:
    seq = shipped.append("license issue", license_doc(), "bis")
    shown = shipped.obj("license", "show", "LIC-1")
    assert shown == {
        "id": "LIC-1",
        "seq": seq,
        "regulator": "bis",
        "exporter": "meridian",
        "consignee": "lion",
        "end_user": "lion",
        "destination": "SG",
        "eccns": ["3A090.a"],
        "products": [H100],
        "max_quantity": 100,
        "max_value": None,
        "max_tpp": None,
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
        "conditions": ["no re-export without authorisation"],
        "shipments": ["SHP-1"],
    }
    human = shipped.ok("license", "show", "LIC-1").stdout  # read by a person, like `party show`
    assert human.startswith(f"LIC-1: issued by bis at entry {seq}\n")
    assert "  caps:         100 units" in human and "  cited by:     SHP-1" in human
    assert one_error_line(shipped("license", "show", "LIC-9"), 5) == "error: no license 'LIC-9'"
    assert shipped("license", "show", "LIC-9").stderr.endswith(
        "hint: did you mean 'LIC-1'? (provenance license list)\n"
    )


def test_license_list_filters_and_limits(shipped: Trade) -> None:
    shipped.append("license issue", license_doc(), "bis")
    later = {"valid_from": dt.date(2027, 1, 1), "valid_until": dt.date(2027, 6, 30)}
    shipped.append("license issue", license_doc(id="LIC-JP", destination="JP", **later), "bis")
    every = shipped.json("license", "list")
    assert isinstance(every, list)
    assert [(r["id"], r["cited_by"]) for r in every] == [("LIC-1", 1), ("LIC-JP", 0)]
    assert every[0]["eccns"] == ["3A090.a"] and "shipments" not in every[0]
    assert [r["id"] for r in shipped.json("license", "list", "--destination", "jp")] == ["LIC-JP"]  # type: ignore[index]
    valid = shipped.json("license", "list", "--valid-on", "2026-06-01", "--exporter", "meridian")
    assert [r["id"] for r in valid] == ["LIC-1"]  # type: ignore[index]
    assert shipped.json("license", "list", "--exporter", "harbor") == []
    human = shipped.ok("license", "list")
    assert human.stderr == ""
    lines = human.stdout.splitlines()
    assert lines[0].split() == ["LIC-1", "meridian", "->", "SG", "3A090.a", "2026-01-01", "to",
                                "2026-12-31", "cited", "by", "1", "shipment"]  # fmt: skip
    assert lines[-1] == "2 licenses"
    cut = shipped.ok("license", "list", "--limit", "1").stdout.splitlines()
    assert (len(cut), cut[-1]) == (2, "1 of 2 licenses shown (--limit 1)")
    for args in (("party", "list"), ("product", "list")):
        rows = shipped.json(*args)
        assert isinstance(rows, list) and len(rows) > 2
        assert shipped.json(*args, "--limit", "2") == rows[:2]
        noun = "parties" if args[0] == "party" else "products"
        shown = shipped.ok(*args, "--limit", "2").stdout.splitlines()
        assert shown[-1] == f"2 of {len(rows)} {noun} shown (--limit 2)"
        assert not shipped.ok(*args).stdout.splitlines()[-1].endswith("shown")
    bad = shipped("license", "list", "--limit", "0")
    assert (bad.exit_code, bad.stdout) == (2, "") and "--limit" in bad.stderr


def test_shipment_list_filters(trade: Trade) -> None:
    shipments = [
        ("SHP-A", "meridian", dt.date(2026, 2, 1), "SG"),
        ("SHP-B", "meridian", dt.date(2027, 1, 5), "SG"),  # after --to
        ("SHP-C", "meridian", dt.date(2026, 3, 1), "JP"),  # elsewhere
        ("SHP-D", "harbor", dt.date(2026, 4, 1), "SG"),  # another exporter
        ("SHP-E", "meridian", dt.date(2025, 12, 31), "SG"),  # before --from
        ("SHP-F", "meridian", dt.date(2026, 12, 31), "SG"),
    ]
    for shipment_id, exporter, date, country in shipments:
        doc = shipment_doc(
            shipment_id,
            item([f"{shipment_id}-1"]),
            exporter=exporter,
            ship_date=date,
            destination=country,
            route=["US", country],
        )
        trade.append("shipment register", doc, exporter)
    filters = ("--exporter", "meridian", "--destination", "SG")
    dates = ("--from", "2026-01-01", "--to", "2026-12-31")
    found = trade.json("shipment", "list", *filters, *dates)
    assert isinstance(found, list)
    assert [s["id"] for s in found] == ["SHP-F", "SHP-A"]
    assert found[1]["ship_date"] == "2026-02-01" and found[1]["units"] == 1
    everything = trade.json("shipment", "list")
    assert isinstance(everything, list) and len(everything) == len(shipments)
    human = trade.ok("shipment", "list", *filters, *dates)
    assert human.stdout.splitlines()[-1] == "2 shipments" and human.stderr == ""
    first = trade.ok("shipment", "list", *filters, *dates, "--limit", "1").stdout.splitlines()
    assert first[0].split()[1] == "SHP-F" and first[-1] == "1 of 2 shipments shown (--limit 1)"
    assert trade.json("shipment", "list", "--limit", "3") == everything[:3]
    bad_date = trade("shipment", "list", "--from", "2026-13-01")
    assert bad_date.exit_code == 2 and "--from" in bad_date.stderr


# --- the ERP CSV import ------------------------------------------------------------------


CSV_BAD_LINES = [
    (csv_line("CSV-3", ["C-5", "C-6"], quantity="3"), ("items[0]", "quantity is 3 but 2 serials")),
    (csv_line("CSV-3", ["C-5"], consignee="ghost"), ("consignee", "unknown party 'ghost'")),
    (csv_line("CSV-3", ["C-5"], quantity="ten"), ("column quantity", "'ten' is not an integer")),
]
"""A bad line (line 4 of the file, among good ones) and what its error must say."""


def test_shipment_import_csv_with_one_bad_line_appends_nothing(trade: Trade) -> None:
    args = ("shipment", "import", "ship.csv", "--key", "meridian.pem")
    for bad_line, fragments in CSV_BAD_LINES:
        lines = [
            CSV_HEADER,
            csv_line("CSV-1", ["C-1", "C-2"]),
            csv_line("CSV-1", ["C-3"]),
            bad_line,
            csv_line("CSV-2", ["C-4"]),
        ]
        Path("ship.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        error = trade.refused(args, 2, *fragments)
        assert error.startswith("error: ship.csv line 4"), error
        assert trade.json("shipment", "list") == []
    assert trade("shipment", "show", "CSV-1").exit_code == 5


def test_shipment_import_csv(trade: Trade) -> None:
    lines = [
        CSV_HEADER,
        csv_line("CSV-1", ["C-1", "C-2"]),
        csv_line("CSV-1", ["C-3"], product="nvidia-h200-sxm", unit_value="35000"),
        csv_line("CSV-2", ["C-4"], route="US; JP; SG", license="", ship_date="2026-05-01"),
    ]
    Path("ship.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = trade.size()
    result = trade.ok("shipment", "import", "ship.csv", "--key", "meridian.pem")
    assert result.stdout == (
        f"imported 2 shipments from ship.csv: 2 appended (entries {first}-{first + 1}), "
        f"0 already present; tree size {first + 2}\n"
    )
    assert result.stderr == ""
    one = trade.obj("shipment", "show", "CSV-1")
    assert (one["exporter"], one["units"], one["license"]) == ("meridian", 3, "LIC-1")
    assert [(i["product"], i["quantity"]) for i in one["items"]] == [
        (H100, 2),
        ("nvidia-h200-sxm", 1),
    ]
    assert [s["serial"] for s in one["items"][0]["serials"]] == ["C-1", "C-2"]
    assert one["items"][1]["unit_value"] == {"amount": "35000", "currency": "USD"}
    two = trade.obj("shipment", "show", "CSV-2")
    assert two["route"] == ["US", "JP", "SG"] and two["license"] is None
    assert two["forwarder"] is None and two["ship_date"] == "2026-05-01"
    assert trade.chip("C-4")["history"][0]["signer"] == "meridian"
    again = trade.obj("shipment", "import", "ship.csv", "--key", "meridian.pem")
    assert again == {
        "shipments": 2,
        "appended": 0,
        "duplicates": 2,
        "first": first,
        "last": first + 1,
        "size": first + 2,
    }


def test_schema_shipment() -> None:
    result = CliRunner().invoke(main, ["schema", "shipment"], catch_exceptions=False)
    assert result.exit_code == 0 and result.stderr == ""
    schema = json.loads(result.stdout)
    assert schema["$id"] == "https://provenance.dev/attestations/shipment/v1"
    assert schema["properties"]["kind"] == {"const": "shipment"}
    assert {"kind", "id", "exporter", "consignee", "end_user", "ship_date", "items"} <= set(
        schema["required"]
    )
    shipment_item = schema["$defs"]["ShipmentItem"]
    assert shipment_item["properties"]["quantity"]["minimum"] == 1
    assert "serials" in shipment_item["required"]


# --- refused statements ------------------------------------------------------------------


class Refusal(NamedTuple):
    name: str
    command: str
    document: dict[str, Any]
    signer: str
    code: int
    fragments: tuple[str, ...]
    """What the one error line must hold: the field, and what is wrong with it."""
    extra: tuple[str, ...] = ()


REFUSALS = [
    Refusal(
        "unknown consignee",
        "shipment register",
        shipment_doc("SHP-2", item(["N-1"]), consignee="ghost"),
        "meridian",
        2,
        ("consignee", "unknown party 'ghost'"),
    ),
    Refusal(
        "receipt of an unknown shipment",
        "attest receipt",
        receipt_doc(shipment="SHP-404"),
        "lion",
        2,
        ("shipment", "unknown shipment 'SHP-404'"),
    ),
    Refusal(
        "serial twice in one item",
        "shipment register",
        shipment_doc("SHP-2", item(["N-1", "N-2", "N-1"])),
        "meridian",
        2,
        ("items[0].serials", "'N-1' is listed twice"),
    ),
    Refusal(
        "serial in two items",
        "shipment register",
        shipment_doc("SHP-2", item(["N-1", "N-2"]), item(["N-3", "N-1"])),
        "meridian",
        2,
        ("items[1].serials[1]", "'N-1' is also listed in items[0]"),
    ),
    Refusal(
        "quantity is not the serial count",
        "shipment register",
        shipment_doc("SHP-2", item(["N-1", "N-2"], quantity=3)),
        "meridian",
        2,
        ("items[0]", "quantity is 3 but 2 serials are listed"),
    ),
    Refusal(
        "receipt before the ship date",
        "attest receipt",
        receipt_doc(date=dt.date(2026, 1, 20)),
        "lion",
        2,
        ("date", "before the shipment's ship_date 2026-02-01"),
    ),
    Refusal(
        "evidence is other XML",
        "attest inspection",
        inspection_doc(),
        "straits",
        2,
        ("inventory.xml", "not nvidia-smi -q -x output", "<nvidia_smi_log>"),
        ("--nvidia-smi", "inventory.xml"),
    ),
    Refusal(
        "evidence is not XML",
        "attest inspection",
        inspection_doc(),
        "straits",
        2,
        ("notes.txt", "not well-formed XML"),
        ("--nvidia-smi", "notes.txt"),
    ),
    Refusal(
        "manufacturer signs a shipment",
        "shipment register",
        shipment_doc("SHP-2", item(["N-1"])),
        "nvidia",
        3,
        ("party nvidia (roles: manufacturer) may not sign 'shipment'",),
    ),
    Refusal(
        "exporter signs another exporter's shipment",
        "shipment register",
        shipment_doc("SHP-2", item(["N-1"]), exporter="harbor"),
        "meridian",
        3,
        ("exporter", "names 'harbor' as exporter but is signed by 'meridian'"),
    ),
    Refusal(
        "serial registered twice",
        "attest manufacture",
        manufacture_doc(["N-1", SERIALS[2]]),
        "nvidia",
        2,
        ("serials[1]", f"serial {SERIALS[2]!r} is already registered to {H100}"),
    ),
    Refusal(
        "manufacture of an unknown product",
        "attest manufacture",
        manufacture_doc(["N-1"], product="acme-x1"),
        "nvidia",
        2,
        ("product", "'acme-x1' is not in the catalog"),
    ),
    Refusal(
        "duplicate shipment id",
        "shipment register",
        shipment_doc("SHP-1", item(["N-1"])),
        "meridian",
        2,
        ("id", "shipment 'SHP-1' is already entry"),
    ),
    Refusal(
        "end use of nothing",
        "attest end-use",
        end_use_doc(shipments=[], serials=[]),
        "lion",
        2,
        ("shipments and serials are both empty",),
    ),
    Refusal(
        "license ends before it starts",
        "license issue",
        license_doc(valid_until=dt.date(2025, 12, 31)),
        "bis",
        2,
        ("valid_until 2025-12-31 is before valid_from 2026-01-01",),
    ),
    Refusal(
        "unknown destination country",
        "shipment register",
        shipment_doc("SHP-2", item(["N-1"]), destination="XX"),
        "meridian",
        2,
        ("destination", "'XX' is not an ISO 3166-1 alpha-2 country code"),
    ),
]


def test_bad_statements_are_refused_and_append_nothing(shipped: Trade) -> None:
    """Every case of REFUSALS, on one ledger (a refusal leaves it as it was); all are run
    and every failing case is reported."""
    Path("inventory.xml").write_text(
        '<?xml version="1.0"?>\n<inventory><gpu><serial>N-1</serial></gpu></inventory>\n'
    )
    Path("notes.txt").write_text("GPU serials seen on site: N-1, N-2\n")
    size = shipped.size()
    failures: list[str] = []
    for case in REFUSALS:
        path = shipped.write(case.command, case.document)
        args = (*case.command.split(), path, *case.extra, "--key", f"{case.signer}.pem")
        try:
            shipped.refused(args, case.code, *case.fragments)
        except AssertionError as exc:
            failures.append(f"{case.name}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert shipped.size() == size
    assert shipped.obj("ledger", "verify", "--workers", "1")["size"] == size


# --- documents as people write them: YAML's own types ----------------------------------------

README_SHIPMENT = """\
id: MX-2026-0042
exporter: meridian
consignee: lion
end_user: lion
ship_date: 2026-02-01
destination: SG
route: [US, SG]
license: LIC-1
items:
  - product: nvidia-h100-sxm5
    description: NVIDIA H100 SXM5 80GB HBM3 GPU module
    hs_code: "8473.30.1180"
    quantity: 3
    serials: [1654923000101, 0012, 1654923000103]
    unit_value: {amount: "30000.00", currency: USD}
"""
"""The README's shipment, serials written as numbers (`0012` is octal 10 to YAML 1.1)."""


def test_serials_written_as_numbers_are_the_digits_written(trade: Trade) -> None:
    Path("serials.yaml").write_text(
        "product: nvidia-h100-sxm5\nserials: [1654923000101, 0012, 1654923000103]\n"
        "date: 2026-01-15\nsite: TW\n"
    )
    made = trade.ok("attest", "manufacture", "serials.yaml", "--key", "nvidia.pem")
    assert made.stdout.startswith("appended entry ") and made.stderr == ""
    Path("shipment.yaml").write_text(README_SHIPMENT)
    shipped = trade.ok(
        "shipment", "register", "shipment.yaml", "--no-check", "--key", "meridian.pem"
    )
    assert ": shipment, signed by meridian" in shipped.stdout.splitlines()[0]
    assert shipped.stderr == ""
    shown = trade.obj("shipment", "show", "MX-2026-0042")
    serials = [s["serial"] for s in shown["items"][0]["serials"]]
    assert sorted(serials) == ["0012", "1654923000101", "1654923000103"]
    assert trade.chip("0012")["state"] == "shipped"
    assert trade("chip", "10").exit_code == 5  # not the octal reading


@pytest.mark.parametrize(
    ("serials", "fragments"),
    [
        ("[1654923000101.5]", ("serials[0]", "1654923000101.5 is a decimal number", "quote them")),
        ("[1.6e+12]", ("serials[0]", "is a decimal number, not a serial", '["1654923000101"]')),
        ("[yes]", ("serials[0]", "true is a boolean, not a serial", "serials are strings")),
        ("[0x1F]", ("serials[0]", "0x1F is read as the number 31", "quote them")),
        ("[-5]", ("serials[0]", "-5 is a negative number", "quote them")),
    ],
)
def test_serials_that_are_not_integers_are_refused_saying_how_to_quote_them(
    trade: Trade, serials: str, fragments: tuple[str, ...]
) -> None:
    Path("serials.yaml").write_text(
        f"product: nvidia-h100-sxm5\nserials: {serials}\ndate: 2026-01-15\nsite: TW\n"
    )
    args = ("attest", "manufacture", "serials.yaml", "--key", "nvidia.pem")
    error = trade.refused(args, 2, "serials.yaml: invalid manufacture: ", *fragments)
    assert error.startswith("error: serials.yaml: ")


@pytest.mark.parametrize(
    ("command", "signer", "text", "fragments"),
    [
        (
            "shipment register",
            "meridian",
            README_SHIPMENT.replace("2026-02-01", "2026-13-01"),
            ("ship_date", "2026-13-01 is not a date", "month must be in 1..12"),
        ),
        (
            "attest manufacture",
            "nvidia",
            "product: nvidia-h100-sxm5\nserials: [N-1]\ndate: 2026-02-30\nsite: TW\n",
            ("date", "2026-02-30 is not a date", "day is out of range for month"),
        ),
        (
            "attest manufacture",
            "nvidia",
            "product: nvidia-h100-sxm5\nserials: [N-1]\ndate: 0\nsite: TW\n",
            ("date", "0 is a number, not a date", "YYYY-MM-DD"),
        ),
        (
            "attest manufacture",
            "nvidia",
            "product: nvidia-h100-sxm5\nserials: [N-1]\ndate: 2026-01-15\nsite: NO\n",
            ("site", "YAML reads this as the boolean false", "quote it"),
        ),
        (
            "shipment register",
            "meridian",
            README_SHIPMENT.replace('"8473.30.1180"', "8473.30"),
            ("items[0].hs_code", "YAML reads 8473.3 as a number", "quote it"),
        ),
        (
            "shipment register",
            "meridian",
            README_SHIPMENT.replace("quantity: 3", "quantity: true"),
            ("items[0].quantity", "a whole number is needed, not a boolean"),
        ),
        (
            "shipment register",
            "meridian",
            README_SHIPMENT.replace("quantity: 3", "quantity: 03"),
            ("items[0].quantity", "03 has a leading zero", "octal"),
        ),
        (
            "shipment register",
            "meridian",
            README_SHIPMENT.replace("consignee: lion", "consignee:"),
            ("consignee", "the value is empty (null)"),
        ),
        (
            "attest receipt",
            "lion",
            "shipment: SHP-1\nserials: [N-1]\ndate: 2026-02-31 10:00\ncountry: SG\nsite: DC\n",
            ("date",),
        ),
        (
            "license issue",
            "bis",
            "id: LIC-9\nexporter: meridian\ndestination: SG\neccns: [3A090.a]\n"
            "valid_from: 2026-01-01\nvalid_until: 2026-04-31\n",
            ("valid_until", "2026-04-31 is not a date"),
        ),
    ],
)
def test_yaml_types_that_do_not_fit_are_bad_input_naming_file_and_field(
    shipped: Trade, command: str, signer: str, text: str, fragments: tuple[str, ...]
) -> None:
    Path("doc.yaml").write_text(text)
    args = (*command.split(), "doc.yaml", "--key", f"{signer}.pem")
    kind = {"shipment register": "shipment", "license issue": "license"}.get(
        command, command.split()[-1]
    )
    shipped.refused(args, 2, f"error: doc.yaml: invalid {kind}: ", *fragments)


def test_an_inspection_claiming_serials_its_evidence_does_not_show_is_flagged(
    shipped: Trade,
) -> None:
    """Issue 17 item 4: the auditor claims SERIALS[2] seen, but the nvidia-smi file shows
    SERIALS[0], SERIALS[1] and six boards no manufacturer registered."""
    doc = inspection_doc(serials_seen=[SERIALS[2]], serials_missing=[], findings=[])
    shipped.append("attest inspection", doc, "straits", "--nvidia-smi", str(SMI))
    checked = shipped("check", "SHP-1", "--as-of", "2026-03-02", "--json")
    assert checked.exit_code == 1, checked.stderr  # LIC-1 is cited but never issued
    assert checked.stderr == ""
    flags = {f["rule"]: f for f in json.loads(checked.stdout)["flags"]}
    unseen = flags["diversion.seen-not-in-evidence"]
    assert unseen["severity"] == "high" and unseen["line"] == 0
    assert unseen["message"].startswith("1 serial(s) an inspection claims seen are not in")
    unregistered = flags["relabel.evidence-shows-unregistered-serial"]
    assert "shows 6 serial(s) no manufacturer registered" in unregistered["message"]

    chip = shipped.ok("chip", SERIALS[2])
    assert chip.stderr == ""
    lines = chip.stdout.splitlines()
    assert lines[0] == f"chip {SERIALS[2]}: {H100}, state inspected, in SG"
    at = lines.index(f"red flags on its shipments ({len(flags)}):")
    shown = "\n".join(lines[at:])
    rule = f"diversion.seen-not-in-evidence [{unseen['id']}]"
    assert f"HIGH     {rule} open, SHP-1: 1 serial(s)" in shown
    as_json = shipped.chip(SERIALS[2])
    assert {f["rule"] for f in as_json["flags"]} == set(flags)


# --- --dry-run and "did you mean" ----------------------------------------------------------


def ledger_state(trade: Trade) -> tuple[int, str]:
    """The tree size and a digest of every table (SQLite: the file's dump; PostgreSQL:
    the checkpoint and the row counts of the tables the commands touch)."""
    import sqlite3

    size = trade.size()
    if trade.db.startswith("sqlite"):
        conn = sqlite3.connect(trade.db.removeprefix("sqlite:///"))
        try:
            dump = "\n".join(conn.iterdump())
        finally:
            conn.close()
        return size, hashlib.sha256(dump.encode()).hexdigest()
    counts = [
        len(trade.json("shipment", "list")),  # type: ignore[arg-type]
        len(trade.json("flag", "list")),  # type: ignore[arg-type]
        len(trade.json("party", "list")),  # type: ignore[arg-type]
    ]
    return size, json.dumps([trade.obj("ledger", "checkpoint")["root"], counts])


def test_dry_run_judges_as_the_write_would_and_writes_nothing(shipped: Trade) -> None:
    Path("lion.yaml").write_text("id: lion\nname: Lion Ltd.\nroles: [consignee]\ncountry: SG\n"
                                 "headquarters: SG\n")  # fmt: skip
    runs: list[tuple[str, tuple[str, ...], int, str]] = [
        ("attest manufacture", (shipped.write("m", manufacture_doc(["DR-1", "DR-2"])), "--key",
         "nvidia.pem"), 0, "dry run: would append as entry 31: manufacture, signed by nvidia"),
        ("attest receipt", (shipped.write("r", receipt_doc()), "--key", "lion.pem"), 0,
         "dry run: would append as entry 31: receipt, signed by lion"),
        ("license issue", (shipped.write("l", license_doc()), "--key", "bis.pem"), 0,
         "dry run: would append as entry 31: license, signed by bis"),
        ("party register", ("lion.yaml", "--key", OPERATOR_KEY), 0,
         "dry run: would append as entry 31: party, signed by operator"),
        ("product import", (write_yaml("h100.yaml", product_doc()), "--key", OPERATOR_KEY), 0,
         f"{H100}: would be entry 31 (TPP 15832)"),
        # refused as the real write is refused: same exit code, same error
        ("shipment register", (shipped.write("s", shipment_doc("SHP-9", item(["N-1"]))),
         "--key", "nvidia.pem"), 3, ""),
    ]  # fmt: skip
    before = ledger_state(shipped)
    for command, args, code, first in runs:
        result = shipped(*command.split(), *args, "--dry-run")
        assert result.exit_code == code, (command, result.stderr + result.stdout)
        if code == 0:
            assert result.stdout.splitlines()[0] == first, (command, result.stdout)
            assert "nothing written" in result.stdout.splitlines()[-1]
            assert "tlog-proof" not in result.stdout  # no receipt: nothing was appended
            assert result.stderr == ""
        else:
            real = shipped(*command.split(), *args)
            assert (real.exit_code, real.stderr) == (code, result.stderr)
            assert result.stderr.startswith("error: ") and result.stdout == ""
        assert ledger_state(shipped) == before, f"{command} --dry-run wrote something"
    assert shipped("chip", "DR-1").exit_code == 5


def test_shipment_register_dry_run_shows_the_determination(shipped: Trade) -> None:
    shipped.append("attest manufacture", manufacture_doc(["N-1", "N-2"]), "nvidia")
    path = shipped.write("s", shipment_doc("SHP-2", item(["N-1", "N-2"]), license="NLR"))
    before = ledger_state(shipped)
    dry = shipped("shipment", "register", path, "--key", "meridian.pem", "--dry-run",
                  "--receipt", "r.proof")  # fmt: skip
    assert dry.exit_code == 6, dry.stderr  # hold: no end-use statement, not received
    assert dry.stderr == ""
    lines = dry.stdout.splitlines()
    assert lines[0] == "dry run: would append as entry 32: shipment, signed by meridian"
    assert "diversion.no-end-use-statement [F-33-0]" in dry.stdout
    assert "determination would be appended as entry 33" in lines
    assert lines[-1] == "dry run: nothing written"
    assert not Path("r.proof").exists()
    assert ledger_state(shipped) == before
    as_json = json.loads(
        shipped("shipment", "register", path, "--key", "meridian.pem", "--dry-run", "--json").stdout
    )
    assert as_json["dry_run"] is True and "receipt" not in as_json
    assert as_json["determination"]["verdict"] == "hold"
    real = shipped("shipment", "register", path, "--key", "meridian.pem")
    assert real.exit_code == 6 and real.stdout.startswith("appended entry 32: shipment")
    assert "determination appended as entry 33" in real.stdout
    assert shipped.size() == 34


def test_a_dry_run_against_a_served_ledger_is_refused(trade: Trade) -> None:
    path = trade.write("m", manufacture_doc(["DR-1"]))
    args = ("attest", "manufacture", path, "--key", "nvidia.pem", "--dry-run")
    error = trade.refused((*args, "--ledger", "http://127.0.0.1:9"), 2)
    assert error == "error: --dry-run works on a database (--db), not on a served ledger"


def test_bulk_dry_runs_write_nothing(trade: Trade) -> None:
    Path("ship.csv").write_text(CSV_HEADER + "\n" + csv_line("CSV-1", ["C-1", "C-2"]) + "\n")
    envelope = trade.write("m", {"kind": "manufacture", **manufacture_doc(["E-1"])})
    trade.ok("sign", envelope, "--key", "nvidia.pem", "--out", "m.env.json")
    Path("m.jsonl").write_text(Path("m.env.json").read_text().replace("\n", "") + "\n")
    before = ledger_state(trade)
    imported = trade("shipment", "import", "ship.csv", "--key", "meridian.pem", "--dry-run")
    assert imported.exit_code == 0 and imported.stderr == ""
    assert imported.stdout == (
        "dry run: imported 1 shipment from ship.csv: 1 would be appended (entry 29), "
        "0 already present; nothing written\n"
    )
    appended = trade("ledger", "append", "m.env.json", "--dry-run")
    assert appended.exit_code == 0 and appended.stderr == ""
    assert appended.stdout.startswith("dry run: would append as entry 29: manufacture")
    lines = trade("ledger", "import", "m.jsonl", "--dry-run")
    assert lines.exit_code == 0 and lines.stderr == ""
    assert lines.stdout == (
        "dry run: 1 entry would be appended (0 already present); nothing written\n"
    )
    assert ledger_state(trade) == before
    assert trade("chip", "E-1").exit_code == 5


def test_an_unknown_product_id_gets_a_did_you_mean(trade: Trade) -> None:
    shown = trade("product", "show", "nvidia-h100-sxm")
    assert shown.exit_code == 5 and shown.stdout == ""
    assert shown.stderr == (
        "error: no product 'nvidia-h100-sxm'\n"
        "hint: did you mean 'nvidia-h100-sxm5'? (provenance product list)\n"
    )
    path = trade.write("m", manufacture_doc(["N-1"], product="nvidia-h100-sxm"))
    made = trade("attest", "manufacture", path, "--key", "nvidia.pem", "--dry-run")
    assert made.exit_code == 2 and made.stdout == ""
    assert made.stderr.splitlines()[1].startswith("hint: did you mean 'nvidia-h100-sxm5'?")
    far = trade("product", "show", "zzzz")
    assert far.stderr.splitlines()[1] == "hint: provenance product list"


# --- flags follow the facts ------------------------------------------------------------------


def test_flags_follow_the_facts_at_a_recheck(shipped: Trade) -> None:
    """Issue 17 item 7: not received and no end-use statement at the first check; the
    receipt and the statement arrive; the next check closes the flag it no longer raises
    (its history names the determination), and a flag a regulator confirmed stays so."""
    shipped.append("license issue", license_doc(), "bis")
    first = shipped("check", "SHP-1", "--as-of", "2026-04-15", "--json")
    assert first.exit_code == 6 and first.stderr == "", first.stdout
    flags = {f["rule"]: f for f in json.loads(first.stdout)["flags"]}
    unreceived = flags["diversion.not-received"]["id"]
    no_statement = flags["diversion.no-end-use-statement"]["id"]
    confirmed = shipped.ok(
        "flag", "resolve", no_statement, "--status", "confirmed", "--reason", "no statement",
        "--key", "bis.pem",
    )  # fmt: skip
    assert confirmed.stderr == ""
    shipped.append("attest end-use", end_use_doc(date=dt.date(2026, 1, 20)), "lion")
    shipped.append("attest receipt", receipt_doc(), "lion")
    again = shipped("check", "SHP-1", "--as-of", "2026-04-16", "--json")
    assert again.stderr == ""
    determination = json.loads(again.stdout)
    # Neither condition holds now, but the regulator's confirmation stands, and blocks,
    # until a regulator resolves the flag otherwise: the facts do not undo a finding.
    assert again.exit_code == 1 and determination["verdict"] == "blocked"
    [standing] = determination["flags"]
    assert (standing["id"], standing["rule"], standing["resolution"]) == (
        no_statement,
        "diversion.no-end-use-statement",
        "confirmed",
    )
    assert standing["message"].startswith(
        f"confirmed ({no_statement}), it stands though these facts no longer raise it: "
    )
    seq = determination["seq"]
    listed = {f["id"]: f for f in shipped.json("flag", "list", "--shipment", "SHP-1")}  # type: ignore[union-attr]
    closed = listed[unreceived]
    assert (closed["status"], closed["resolved_seq"], closed["resolved_by"]) == (
        "closed",
        seq,
        "operator",
    )
    assert closed["resolution"] == f"no longer raised by determination entry {seq}"
    assert listed[no_statement]["status"] == "confirmed"
    still_open = shipped.json("flag", "list", "--open", "--shipment", "SHP-1")
    assert unreceived not in {f["id"] for f in still_open}  # type: ignore[union-attr]
    human = shipped.ok("flag", "list", "--shipment", "SHP-1")
    assert human.stderr == ""
    assert any(unreceived in line and "closed" in line for line in human.stdout.splitlines())
    shown = shipped.obj("flag", "show", unreceived)
    assert shown["status"] == "closed"
    assert shown["history"] == [
        {
            "seq": seq,
            "status": "closed",
            "party": "operator",
            "reason": f"no longer raised by determination entry {seq}",
        }
    ]
    human_show = shipped.ok("flag", "show", no_statement)
    assert human_show.stderr == ""
    assert human_show.stdout.startswith(
        f"{no_statement}: diversion.no-end-use-statement (high), confirmed\n"
    )
    assert "by bis: no statement" in human_show.stdout.splitlines()[-1]
    missing = shipped("flag", "show", "F-999-0")
    assert (missing.exit_code, missing.stdout) == (5, "")
    assert missing.stderr == "error: no flag 'F-999-0'\nhint: provenance flag list\n"
    limited = shipped.ok("flag", "list", "--shipment", "SHP-1", "--limit", "1")
    assert limited.stderr == ""
    assert re.fullmatch(r"1 of \d+ flags shown \(--limit 1\)", limited.stdout.splitlines()[-1])
    report = shipped.obj("report", "regulator", "--period", "2026")
    [row] = [r for r in report["flags"]["by_rule"] if r["rule"] == "diversion.not-received"]
    assert (row["open"], row["closed"], row["total"]) == (0, 1, 1)
    md = shipped.ok("report", "regulator", "--period", "2026", "--format", "md")
    assert md.stderr == "" and "| closed |" in md.stdout
    # replay rebuilds exactly the same flags
    shipped.ok("ledger", "replay")
    assert {f["id"]: f for f in shipped.json("flag", "list", "--shipment", "SHP-1")} == listed  # type: ignore[union-attr]
    # the regulator clears it (the statement arrived): the next check is clear
    shipped.ok("flag", "resolve", no_statement, "--status", "cleared", "--reason",
               "statement filed", "--key", "bis.pem")  # fmt: skip
    cleared = shipped("check", "SHP-1", "--as-of", "2026-04-17", "--json")
    assert cleared.exit_code == 0 and json.loads(cleared.stdout)["flags"] == []
    # an exporter may not lift a confirmed flag
    shipped.refused(
        ("flag", "resolve", no_statement, "--status", "cleared", "--reason", "x", "--key",
         "meridian.pem"), 3)  # fmt: skip


def test_flags_follow_the_facts_within_one_batch(shipped: Trade) -> None:
    """Determinations appended together (as `check --all` records them) close and reopen
    flags exactly as they do one by one: the batch's own flags are seen by its later
    determinations, and a flag resolved in the same batch keeps its resolution."""
    from provenance.compliance.checks import Checker
    from provenance.crypto import keys
    from provenance.ledger.log import Ledger

    operator = keys.load_private(Path(OPERATOR_KEY))
    with Ledger.open(shipped.db) as ledger:
        ledger.use_checkpoint_key(keys.load_private(Path("keys/ledger.pem")))
        late = Checker.open(ledger, as_of=dt.date(2026, 4, 15)).determine(["SHP-1"])
        early = Checker.open(ledger, as_of=SHIPPED).determine(["SHP-1"])
        later = Checker.open(ledger, as_of=dt.date(2026, 4, 16)).determine(["SHP-1"])
        rules_late = {f["rule"] for f in late[0].flags}
        assert "diversion.not-received" in rules_late
        assert "diversion.not-received" not in {f["rule"] for f in early[0].flags}
        # raised, no longer raised, raised again: three entries, one batch
        first, second, third = Checker.open(ledger, as_of=SHIPPED).record(
            [late[0], early[0], later[0]], [operator]
        )
    assert (first.seq + 1, first.seq + 2) == (second.seq, third.seq)
    flags = {f["rule"]: f for f in shipped.json("flag", "list", "--shipment", "SHP-1")}  # type: ignore[union-attr]
    unreceived = flags["diversion.not-received"]
    assert unreceived["raised_seq"] == first.seq and unreceived["status"] == "open"
    history = shipped.obj("flag", "show", unreceived["id"])["history"]
    assert [(h["seq"], h["status"]) for h in history][-2:] == [
        (second.seq, "closed"),
        (third.seq, "open"),
    ]
    # the same flags as a replay, which admits the entries one at a time
    shipped.ok("ledger", "replay")
    again = {f["rule"]: f for f in shipped.json("flag", "list", "--shipment", "SHP-1")}  # type: ignore[union-attr]
    assert again == flags


def test_an_append_prints_one_line_the_receipt_to_a_file_or_with_verbose(trade: Trade) -> None:
    """Issue 17 item 8: one line (entry, kind, signer); --receipt writes the receipt to a
    file and says so; --verbose prints the checkpoint and the whole receipt."""
    quiet = trade.ok("attest", "manufacture", trade.write("m", manufacture_doc(["Q-1"])),
                     "--key", "nvidia.pem")  # fmt: skip
    assert quiet.stderr == ""
    [line] = quiet.stdout.splitlines()
    seq = int(re.fullmatch(r"appended entry (\d+): manufacture, signed by nvidia", line).group(1))  # type: ignore[union-attr]
    filed = trade.ok("attest", "manufacture", trade.write("m", manufacture_doc(["Q-2"])),
                     "--key", "nvidia.pem", "--receipt", "q2.receipt")  # fmt: skip
    assert filed.stdout.splitlines() == [
        f"appended entry {seq + 1}: manufacture, signed by nvidia",
        "receipt written to q2.receipt (check it with: provenance verify)",
    ]
    assert Path("q2.receipt").read_text().startswith("c2sp.org/tlog-proof@v1\n")
    loud = trade.ok("attest", "manufacture", trade.write("m", manufacture_doc(["Q-3"])),
                    "--key", "nvidia.pem", "--verbose")  # fmt: skip
    lines = loud.stdout.splitlines()
    assert lines[0] == f"appended entry {seq + 2}: manufacture, signed by nvidia"
    assert lines[1] == f"checkpoint: {ORIGIN} size {seq + 3}"
    assert lines[2].startswith("receipt (C2SP tlog-proof")
    assert lines[3] == "c2sp.org/tlog-proof@v1"
    assert lines[4].startswith("extra ") and lines[5] == f"index {seq + 2}"


def test_check_all_on_a_ledger_without_shipments_says_so(catalog: Trade) -> None:
    result = catalog("check", "--all")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "nothing to check: the ledger holds no shipment in force\n"
    as_json = catalog("check", "--all", "--json")
    assert (as_json.exit_code, json.loads(as_json.stdout), as_json.stderr) == (0, [], "")
    both = catalog("check", "SHP-1", "--all")
    assert (both.exit_code, both.stdout) == (2, "")
    assert "name shipments or give --all, not both" in both.stderr


def test_check_all_ends_with_a_summary_and_shows_each_shipment_only_with_verbose(
    shipped: Trade,
) -> None:
    """Issue 17 item 8: counts by verdict and the blocked shipments; --verbose for each.
    (No license LIC-1 was issued, so both shipments are blocked.)"""
    one = shipped("check", "--all", "--as-of", "2026-04-15", "--dry-run", "--json")
    assert [d["shipment"] for d in json.loads(one.stdout)] == ["SHP-1"]  # a list, even of one
    shipped.append("shipment register", shipment_doc("SHP-2", item(["X-404"])), "meridian")
    result = shipped("check", "--all", "--as-of", "2026-04-15")
    assert result.exit_code == 1 and result.stderr == ""
    assert result.stdout.splitlines() == [
        "2 shipments checked",
        "  verdict            shipments",
        "  blocked                    2",
        "blocked: SHP-1, SHP-2",
        "determinations appended: 2 (0 already in the ledger)",
        "each shipment: provenance check ID, or --all --verbose",
    ]
    verbose = shipped("check", "--all", "--as-of", "2026-04-15", "--verbose")
    assert verbose.exit_code == 1
    assert "shipment SHP-1 under" in verbose.stdout and "shipment SHP-2 under" in verbose.stdout
    assert "already entry" in verbose.stdout  # the same determinations: nothing appended
    dry = shipped("check", "--all", "--as-of", "2026-04-16", "--dry-run")
    assert dry.stdout.splitlines()[-2:] == [
        "dry run: nothing appended",
        "each shipment: provenance check ID, or --all --verbose",
    ]
