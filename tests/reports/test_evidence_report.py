"""The regulator report's evidence figures (issue 16), on both databases: the 50% cap per
product and month, the 25% figure on envelope chips to China and the 15% share of the
August 2025 H20 licenses, controlled serials with no recent location evidence; every
format carries them, `report verify` recomputes them, and a changed one is a difference."""

from __future__ import annotations

import copy
import csv
import io
import json
from typing import Any

import pytest

from provenance.compliance.checks import Checker
from provenance.errors import InputError
from provenance.reports import build, render, schema
from provenance.reports.periods import parse_period
from provenance.reports.verify import verify_report
from tests.conftest import World
from tests.ledger.test_custody import Story, shipment_doc

H200, H20 = "nvidia-h200-sxm", "nvidia-h20"
Q1 = parse_period("2026-Q1")


def line(serials: list[str], product: str = H200, value: str = "35000") -> dict[str, Any]:
    return {
        "product": product,
        "description": "GPU module",
        "hs_code": "8473.30.1180",
        "quantity": len(serials),
        "serials": serials,
        "unit_value": {"amount": value, "currency": "USD"},
    }


def ship(
    story: Story, shipment_id: str, date: str, to: str, items: dict[str, Any], **kw: Any
) -> None:
    party = "acme" if to == "US" else "dragon"
    route = ["US"] if to == "US" else ["US", to]
    document = shipment_doc(
        shipment_id, ["unused"], consignee=party, end_user=party, destination=to, route=route,
        ship_date=date, license=kw.get("license"),
    )  # fmt: skip
    document["items"] = [items]
    story.sign_as("meridian", document)


@pytest.fixture
def story(world: World) -> Story:
    story = Story(world)
    for party, roles, country, extra in (
        ("dragon", ["consignee", "end_user"], "CN", {}),
        ("acme", ["consignee", "end_user"], "US", {}),
        ("lm-ctu", ["landmark"], "CN", {"location": {"latitude": "30.57", "longitude": "104.07"}}),
    ):
        story.keys[party] = world.register(party, roles, country=country, **extra)
    story.manufacture([f"P{i}" for i in range(1, 7)] + [f"U{i}" for i in range(1, 9)], H200)
    story.manufacture(["X1", "X2"], H20)
    license = {"kind": "license", "exporter": "meridian", "consignee": "dragon",
               "destination": "CN", "valid_until": "2027-01-01"}  # fmt: skip
    story.sign_as("bis", {**license, "id": "BIS-H200", "eccns": ["3A090.a"], "products": [H200],
                          "valid_from": "2026-01-20"})  # fmt: skip
    story.sign_as("bis", {**license, "id": "BIS-H20", "eccns": ["EAR99"], "products": [H20],
                          "valid_from": "2025-08-08"})  # fmt: skip
    ship(story, "US-1", "2026-02-01", "US", line(["U1", "U2", "U3", "U4"]))
    ship(story, "CN-1", "2026-02-10", "CN", line(["P1", "P2"]), license="BIS-H200")
    ship(story, "CN-H20", "2026-02-15", "CN", line(["X1", "X2"], H20, "12000"), license="BIS-H20")
    ship(story, "US-2", "2026-03-05", "US", line(["U5", "U6", "U7", "U8"]))
    ship(story, "CN-2", "2026-03-10", "CN", line(["P3", "P4", "P5", "P6"]), license="BIS-H200")
    checker = Checker.open(story.ledger, as_of=Q1.end)
    found = checker.determine(["US-1", "CN-1", "CN-H20", "US-2", "CN-2"])
    checker.record(found, [world.operator])
    story.sign_as(
        "lm-ctu",
        {"kind": "location", "landmark": "lm-ctu", "serial": "P1", "nonce": "ab" * 8,
         "rtt_ms": "9", "measured_at": "2026-03-20T01:00:00Z",
         "answer": {"product_name": "NVIDIA H200"}},
    )  # fmt: skip
    return story


def test_the_cap_by_product_and_month(story: Story) -> None:
    report = build.regulator(story.ledger, Q1, verify=False)
    schema.validate(report)
    cap = report["china_cap"]
    assert cap["from"] == "2026-01-15" and cap["share"] == "0.50"
    [h200] = cap["products"]  # the H20 is not on the 2026 path
    assert h200["product"] == H200
    assert (h200["china_units"], h200["us_units"], h200["ratio"]) == (6, 8, "0.7500")
    assert not h200["within_cap"]
    assert h200["by_month"] == [
        {"month": "2026-01", "china_units": 0, "us_units": 0, "ratio": None},
        {"month": "2026-02", "china_units": 2, "us_units": 4, "ratio": "0.5000"},
        {"month": "2026-03", "china_units": 6, "us_units": 8, "ratio": "0.7500"},
    ]


def test_the_charge_and_the_share_from_declared_values(story: Story) -> None:
    report = build.regulator(story.ledger, Q1, verify=False)
    charges = report["charges"]
    assert "not a tax or duty assessment" in charges["note"]
    assert charges["envelope_25"]["by_exporter"] == [
        {"exporter": "meridian", "currency": "USD", "shipments": 2, "units": 6,
         "value": "210000.00", "charge": "52500.00"},
    ]  # fmt: skip
    assert charges["h20_mi308_15"]["by_exporter"] == [
        {"exporter": "meridian", "currency": "USD", "shipments": 1, "units": 2,
         "value": "24000.00", "share": "3600.00"},
    ]  # fmt: skip
    february = build.regulator(story.ledger, parse_period("2026-02"), verify=False)
    assert february["charges"]["envelope_25"]["by_exporter"][0]["charge"] == "17500.00"


def test_controlled_serials_without_recent_location_evidence(story: Story) -> None:
    report = build.regulator(story.ledger, Q1, verify=False)
    location = report["location_evidence"]
    assert (location["days"], location["as_of"]) == (30, "2026-03-31")
    assert (location["controlled_serials"], location["without_evidence"]) == (6, 5)
    assert [g["serial"] for g in location["listed"]] == ["P2", "P3", "P4", "P5", "P6"]
    assert {g["last_measured"] for g in location["listed"]} == {None}
    short = build.regulator(story.ledger, parse_period("2026-04"), verify=False, location_days=5)
    assert short["location_evidence"]["without_evidence"] == 6
    assert short["parameters"]["location_days"] == 5
    with pytest.raises(InputError, match="location days"):
        build.regulator(story.ledger, Q1, verify=False, location_days=0)


def test_every_format_carries_the_figures_and_verify_recomputes_them(story: Story) -> None:
    report = build.regulator(story.ledger, Q1, verify=False, location_days=15)
    assert verify_report(story.ledger, report).ok
    text = render.render(report, "md")
    assert "## The 50% cap (FR 2026-00789)" in text
    assert "| nvidia-h200-sxm | 6 | 8 | 0.7500 | NO | 6 / 8 |" in text
    assert "not a tax or duty assessment" in text and "| 52,500 |" in text
    html = render.render(report, "html")
    assert "<polyline" in html and "cap 50%" in html and "not a tax or duty assessment" in html
    rows = list(csv.reader(io.StringIO(render.render(report, "csv"))))
    assert ["china_cap", H200, "ratio", "0.7500"] in rows
    assert ["charges.envelope_25", "meridian USD", "charge", "52500.00"] in rows
    assert ["location_evidence", "", "without_evidence", "5"] in rows
    changed = copy.deepcopy(report)
    changed["charges"]["envelope_25"]["by_exporter"][0]["charge"] = "1.00"
    result = verify_report(story.ledger, changed)
    assert not result.ok
    assert any("charges.envelope_25.by_exporter[0].charge" in d for d in result.differences)
    other = copy.deepcopy(report)
    other["china_cap"]["products"][0]["by_month"][2]["ratio"] = "0.4000"
    assert not verify_report(story.ledger, other).ok
    json.dumps(report)  # no floats, nothing unserialisable
