"""The evidence facts from real statements, on both databases: lab tests (which count),
KYC attestations, location measurements against the declared site, the 50% cap's
counts, and the diversion facts of the 2025 guidance; a replay rebuilds the evidence
projections exactly."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from provenance.compliance import geodesy
from provenance.compliance.facts import Facts, Reference, ShipmentFacts
from provenance.compliance.packs import Library
from provenance.errors import AuthorizationError, InputError
from tests.conftest import World
from tests.ledger.test_custody import Story, shipment_doc
from tests.ledger.test_log import snapshot

PACK = "ear-2026-01"
AS_OF = dt.date(2026, 6, 1)
H200 = "nvidia-h200-sxm"
GUIYANG = {"latitude": "26.6470", "longitude": "106.6302"}
FRANKFURT = {"latitude": "50.1109", "longitude": "8.6821"}
CHENGDU = {"latitude": "30.5728", "longitude": "104.0668"}


@pytest.fixture(scope="module")
def library() -> Library:
    return Library.load()


@pytest.fixture
def story(world: World) -> Story:
    story = Story(world)
    for party, roles, country, extra in (
        ("dragon", ["consignee", "end_user"], "CN", {}),
        ("acme", ["consignee", "end_user"], "US", {}),
        ("uslab", ["lab"], "US", {}),
        ("twlab", ["lab"], "TW", {}),
        ("lm-fra", ["landmark"], "DE", {"location": FRANKFURT}),
        ("lm-ctu", ["landmark"], "CN", {"location": CHENGDU}),
    ):
        story.keys[party] = world.register(party, roles, country=country, **extra)
    return story


def gather(story: Story, library: Library, *ids: str) -> dict[str, ShipmentFacts]:
    chosen = library.get(PACK)
    facts = Facts(story.ledger, Reference.from_pack(chosen.reference), chosen.parameters, AS_OF)
    return {f.id: f for f in facts.gather(list(ids))}


def item(serials: list[str], product: str = H200) -> dict[str, Any]:
    return {
        "product": product,
        "description": "NVIDIA H200 SXM module",
        "hs_code": "8473.30.1180",
        "quantity": len(serials),
        "serials": serials,
        "unit_value": {"amount": "35000", "currency": "USD"},
    }


def ship(story: Story, shipment_id: str, serials: list[str], **fields: Any) -> int:
    document = shipment_doc(
        shipment_id,
        ["unused"],
        consignee="dragon",
        end_user="dragon",
        destination="CN",
        route=["US", "CN"],
        license="BIS-1",
        ship_date="2026-03-02",
    )
    document.update(fields)
    document["items"] = [item(serials)]
    return story.sign_as("meridian", document)


def lab_test(
    story: Story, serials: list[str], *, lab: str = "uslab", date: str = "2026-02-25", **kw: Any
) -> int:
    results = [
        {
            "serial": s,
            "identity": {
                "product_name": kw.get("name", "NVIDIA H200"),
                "pci_device_id": kw.get("pci", "0x233510DE"),
            },
            "performance": [{"dtype": "fp16", "bits": 16, "tops": kw.get("tops", "989.4")}],
            "memory_bandwidth_gbps": kw.get("bandwidth", 4800),
        }
        for s in serials
    ]
    return story.sign_as(
        lab,
        {
            "kind": "lab-test",
            "product": H200,
            "date": date,
            "country": kw.get("country", "US"),
            "facility": "lab",
            "results": results,
        },
    )


def kyc(story: Story, party: str = "dragon", **fields: Any) -> int:
    controls = {
        "users_identified": True,
        "remote_access_authenticated": True,
        "access_logged": True,
        "no_d5_hq_training": True,
    }
    controls.update(fields.pop("controls", {}))
    return story.sign_as(
        party,
        {
            "kind": "kyc",
            "party": party,
            "date": "2026-02-01",
            "valid_from": "2026-02-01",
            "valid_until": "2026-12-31",
            "authorised_users": "staff",
            "remote_access": "hardware keys",
            "controls": controls,
            **fields,
        },
    )


def measure(story: Story, landmark: str, serial: str, rtt: str, nonce: str, at: str) -> int:
    return story.sign_as(
        landmark,
        {
            "kind": "location",
            "landmark": landmark,
            "serial": serial,
            "nonce": nonce,
            "rtt_ms": rtt,
            "measured_at": at,
            "answer": {"product_name": "NVIDIA H200", "serial": serial},
        },
    )


def test_lab_tests_count_only_from_a_us_lab_testing_in_the_us_by_the_ship_date(
    story: Story, library: Library
) -> None:
    story.manufacture(["P1", "P2", "P3", "P4", "P5"], product=H200)
    ship(story, "CN-1", ["P1", "P2", "P3", "P4", "P5"])
    lab_test(story, ["P1"])
    lab_test(story, ["P2"], lab="twlab", country="TW")  # a Taiwanese lab
    lab_test(story, ["P3"], date="2026-03-03")  # after the ship date
    lab_test(story, ["P4"], bandwidth=7000)  # outside the envelope
    lab_test(story, ["P5"], name="NVIDIA H100 80GB HBM3", pci="0x233010DE")  # an H100
    [facts] = gather(story, library, "CN-1").values()
    found = facts.items[0].facts
    assert found["lab_tested"] == 3
    assert found["lab_untested_count"] == 2
    assert found["lab_untested"] == ["P2", "P3"]
    assert found["lab_outside_envelope"] == ["P4 (TPP 15,830, 7,000 GB/s)"]
    assert found["lab_identity_mismatch"] == ["P5 (NVIDIA H100 80GB HBM3: nvidia-h100-sxm5)"]


def test_a_later_test_of_a_serial_replaces_an_earlier_one(story: Story, library: Library) -> None:
    story.manufacture(["P1"], product=H200)
    ship(story, "CN-1", ["P1"])
    lab_test(story, ["P1"], date="2026-02-20", bandwidth=7000)
    lab_test(story, ["P1"], date="2026-02-27")
    [facts] = gather(story, library, "CN-1").values()
    assert facts.items[0].facts["lab_outside_envelope"] == []


def test_kyc_covers_the_ship_date_only_when_signed_complete_and_in_force(
    story: Story, library: Library
) -> None:
    story.manufacture(["P1", "P2", "P3"], product=H200)
    ship(story, "CN-1", ["P1"])
    ship(story, "CN-2", ["P2"], ship_date="2027-01-10")  # after valid_until
    ship(story, "CN-3", ["P3"], consignee="acme")  # the end user still dragon
    kyc(story)
    kyc(story, party="acme", controls={"access_logged": False})
    found = gather(story, library, "CN-1", "CN-2", "CN-3")
    assert found["CN-1"].facts["kyc"] == {
        "consignee_valid": True,
        "end_user_valid": True,
        "covers_ship_date": True,
        "incomplete": False,
    }
    assert not found["CN-2"].facts["kyc"]["covers_ship_date"]
    third = found["CN-3"].facts["kyc"]
    assert (third["consignee_valid"], third["end_user_valid"], third["covers_ship_date"]) == (
        False,
        True,
        True,
    )


def test_kyc_signed_after_the_ship_date_does_not_cover_it(story: Story, library: Library) -> None:
    story.manufacture(["P1"], product=H200)
    ship(story, "CN-1", ["P1"], ship_date="2026-02-10")
    kyc(story, date="2026-02-11", valid_from="2026-02-01")
    [facts] = gather(story, library, "CN-1").values()
    assert not facts.facts["kyc"]["covers_ship_date"]


def test_location_bounds_against_the_declared_site(story: Story, library: Library) -> None:
    story.manufacture(["P1", "P2", "P3"], product=H200)
    ship(story, "CN-1", ["P1", "P2", "P3"])
    story.sign_as(
        "dragon",
        {
            "kind": "end-use",
            "shipments": ["CN-1"],
            "date": "2026-02-20",
            "end_use": "cloud inference",
            "sector": "commercial cloud",
            "site": {"country": "CN", "facility": "Guiyang DC 3", "location": GUIYANG},
            "facility_power_mw": "12",
            "certifications": {
                "no_military": True,
                "no_wmd": True,
                "no_reexport": True,
                "no_restricted_hq_access": True,
            },
            "valid_until": "2027-02-20",
        },
    )
    measure(story, "lm-ctu", "P1", "9.5", "aa" * 8, "2026-03-08T02:00:00Z")  # fits
    measure(story, "lm-fra", "P2", "6", "bb" * 8, "2026-03-08T02:00:00+08:00")  # too fast
    measure(story, "lm-fra", "P3", "6", "cc" * 8, "2026-03-01T02:00:00Z")  # before shipping
    [facts] = gather(story, library, "CN-1").values()
    found = facts.items[0].facts
    assert found["location_measured"] == 2
    assert found["location_outside_count"] == 1
    km = geodesy.distance_km((50.1109, 8.6821), (26.6470, 106.6302))
    assert 8_000 < km < 8_600
    assert found["location_outside"] == [
        f"P2: lm-fra is {km:,.0f} km from the declared site; "
        "a 6 ms round trip allows at most 600 km"
    ]
    assert facts.facts["end_use"]["site_located"]


def test_the_cap_counts_china_and_us_units_per_product_since_the_rule(
    story: Story, library: Library
) -> None:
    story.manufacture([f"C{i}" for i in range(6)] + [f"U{i}" for i in range(5)], product=H200)
    story.world.register("harbor", ["exporter"])
    story.keys["harbor"] = story.world.party_keys["harbor"]
    us = {"consignee": "acme", "end_user": "acme", "destination": "US", "route": ["US"]}
    ship(story, "US-0", ["U0"], ship_date="2026-01-10", license=None, **us)  # before the rule
    ship(story, "US-1", ["U1", "U2", "U3"], ship_date="2026-02-01", license=None, **us)
    ship(story, "CN-0", ["C0"], ship_date="2026-01-12")  # before the rule
    ship(story, "CN-1", ["C1"], ship_date="2026-02-05")
    document = shipment_doc(
        "CN-2", ["unused"], consignee="dragon", end_user="dragon", destination="CN",
        route=["US", "CN"], exporter="harbor", ship_date="2026-02-06",
    )  # fmt: skip
    document["items"] = [item(["C2", "C3"])]
    story.sign_as("harbor", document)  # another exporter counts too
    ship(story, "CN-TW", ["C4"], route=["TW", "CN"], ship_date="2026-02-07")  # not from the US
    ship(story, "US-2", ["U4"], ship_date="2026-03-01", license=None, **us)  # after CN-2
    found = gather(story, library, "CN-1", "CN-2", "US-2")
    first = found["CN-1"].items[0].facts
    assert (first["cap_china_units"], first["cap_us_units"]) == (1, 3)
    second = found["CN-2"].items[0].facts
    assert (second["cap_china_units"], second["cap_us_units"]) == (3, 3)
    assert second["cap_ratio"] == 1.0
    assert second["us_available_from"] == "2024-06-30"


def test_diversion_facts(story: Story, library: Library) -> None:
    story.manufacture(["P1", "P2"], product=H200)
    ship(story, "CN-1", ["P1"], payer="hk-trading", delivery_address="residential")
    ship(story, "CN-2", ["P2"], ship_date="2026-03-05", payer="dragon")
    found = gather(story, library, "CN-1", "CN-2")
    first, second = found["CN-1"].facts["shipment"], found["CN-2"].facts["shipment"]
    assert (first["payer"], first["payer_not_consignee"], first["delivery_address"]) == (
        "hk-trading",
        True,
        "residential",
    )
    assert first["consignee_prior_shipments"] == 0
    assert (second["payer_not_consignee"], second["delivery_address"]) == (False, "")
    assert second["consignee_prior_shipments"] == 1


def test_refusals_write_nothing(story: Story) -> None:
    before = snapshot(story.world)
    with pytest.raises(AuthorizationError, match="may not sign 'lab-test'"):
        lab_test(story, ["P1"], lab="meridian")
    with pytest.raises(AuthorizationError, match="names 'lm-ctu' but is signed by 'lm-fra'"):
        story.sign_as(
            "lm-fra",
            {
                "kind": "location",
                "landmark": "lm-ctu",
                "serial": "P1",
                "nonce": "dd" * 8,
                "rtt_ms": "5",
                "measured_at": "2026-03-08T02:00:00Z",
                "answer": {"product_name": "NVIDIA H200"},
            },
        )
    with pytest.raises(InputError, match="rtt_ms"):
        measure(story, "lm-fra", "P1", "0", "ee" * 8, "2026-03-08T02:00:00Z")
    with pytest.raises(InputError, match="owners"):
        story.world.register("shell", ["consignee"], owners=[{"party": "nobody", "share": "60"}])
    assert snapshot(story.world) == before


def test_replay_rebuilds_the_evidence_projections(story: Story) -> None:
    story.manufacture(["P1"], product=H200)
    ship(story, "CN-1", ["P1"], payer="dragon")
    lab_test(story, ["P1"])
    kyc(story)
    measure(story, "lm-ctu", "P1", "9.5", "aa" * 8, "2026-03-08T02:00:00+08:00")
    story.world.register(
        "dragon-sub", ["consignee"], country="CN", owners=[{"party": "dragon", "share": "51.5"}]
    )
    before = snapshot(story.world)
    story.ledger.replay()
    assert snapshot(story.world) == before
