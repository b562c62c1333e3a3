"""Every rule of every pack has a case that fires it and one that does not.

Pure: the engine evaluates hand-built facts, no database. Each case starts from
a realistic clean shipment (eight H100 SXM5 from the US to a registered cloud in
Singapore under NLR, with a valid end-use statement) and overrides a few facts,
named `root.field` as in the vocabulary. `CASES` gives, per rule id, the facts
that fire the rule and (when the baseline itself legitimately fires it) the facts
under which it stays quiet; `PACK_CASES` replaces a case for one pack where the
rule's condition differs there. A rule with no case fails `test_every_rule_has_a_case`.

The second half checks the real chips of the catalog classify as the published tables
lists them (the table "Real accelerators" and the notes on the 2022 rule).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from provenance.compliance.checks import classify
from provenance.compliance.engine import evaluate
from provenance.compliance.facts import EXCEPTION_CODES, ItemFacts, ShipmentFacts
from provenance.compliance.packs import Library, LicensingRule, Pack
from provenance.compliance.vocabulary import FACTS, sample
from provenance.statements.catalog import load_catalog

LIBRARY = Library.load()
PACKS = {pack.id: pack for pack in LIBRARY.all()}
CATALOG = {product.id: product for product in load_catalog().products}
SHIP_DATE = dt.date(2026, 10, 2)
EVALUATED_ON = dt.date(2026, 11, 30)

Overrides = dict[str, Any]
"""`root.field` -> value; `params.name` changes the pack's parameter."""


# --- the baseline -----------------------------------------------------------------------


def _party(party_id: str, country: str, groups: list[str], roles: list[str]) -> dict[str, Any]:
    return {
        "id": party_id,
        "registered": True,
        "country": country,
        "country_groups": groups,
        "headquarters": country,
        "hq_groups": groups,
        "roles": roles,
        "is_forwarder": False,
        "screening_lists": [],
        "screening_score": 0.0,
        "entity_list_policies": [],
        "informed": [],
        "affiliate_of": [],
        "affiliate_policies": [],
        "ownership_chain": [],
    }


def baseline() -> dict[str, dict[str, Any]]:
    """Eight H100 SXM5 to a Singapore cloud under NLR: clean under every pack but ear-2025-01."""
    facts = sample({})
    del facts["params"]
    facts["item"].update(
        {
            "declared_product": "nvidia-h100-sxm5",
            "declared_known": True,
            "product": "nvidia-h100-sxm5",
            "catalog_known": True,
            "description": "NVIDIA H100 SXM5 80GB HBM3 GPU module",
            "hs_code": "8473.30.1180",
            "hs_class": "accelerator",
            "hs_expected": True,
            "quantity": 8,
            "unit_value": 30000.0,
            "currency": "USD",
            "reference_price": 30000.0,
            "value_ratio": 1.0,
            "tpp": 15832.0,
            "pd": 19.449631,
            "die_area_mm2": 814.0,
            "datacenter": True,
            "interconnect_gbps": 900,
            "memory_bandwidth_gbps": 3350,
            "declared_tpp": 15832.0,
            "serials": 8,
            "registered_products": ["nvidia-h100-sxm5"],
        }
    )
    facts["shipment"].update(
        {
            "id": "MX-2026-0042",
            "ship_date": SHIP_DATE.isoformat(),
            "destination": "SG",
            "destination_groups": ["A:6"],
            "destination_is_hub": True,
            "origin": "US",
            "route": ["US", "SG"],
            "license": "NLR",
            "license_kind": "exception",
            "units": 8,
            "items": 1,
            "value": 240000.0,
            "currency": "USD",
            "consignee_is_end_user": True,
            "days_since_ship": (EVALUATED_ON - SHIP_DATE).days,
            "received_units": 8,
        }
    )
    facts["exporter"] = _party("meridian-exports", "US", ["tier1_2025_01"], ["exporter"])
    cloud = _party("lionsgate-cloud", "SG", ["A:6"], ["consignee", "end_user"])
    facts["consignee"] = dict(cloud)
    facts["end_user"] = dict(cloud)
    facts["end_use"].update(
        {
            "present": True,
            "valid_on_ship_date": True,
            "site_country": "SG",
            "power_mw": 24.0,
            "certified": True,
            "units_at_end_user": 8,
            "power_needed_mw": 8 * 1.4 / 1000,
        }
    )
    facts["totals"].update(
        {"tpp": 8 * 15832.0, "tpp_destination": 8 * 15832.0, "tpp_end_user": 8 * 15832.0}
    )
    return facts


def determine(
    pack: Pack,
    overrides: Overrides,
    resolutions: dict[tuple[str, int | None], str] | None = None,
    confirmed: dict[tuple[str, int | None], tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """The determination of the baseline with `overrides`, under `pack` (with the signed
    resolutions of earlier flags, `(rule, line) -> status`)."""
    facts = baseline()
    parameters = dict(pack.parameters)
    for name, value in overrides.items():
        root, _, key = name.partition(".")
        if root == "params":
            assert key in parameters, f"{name}: not a parameter of {pack.id}"
            parameters[key] = value
            continue
        assert key in FACTS.get(root, {}), f"{name}: not a fact of the vocabulary"
        facts[root][key] = value
    if parameters != pack.parameters:
        pack = dataclasses.replace(pack, parameters=parameters)
    item = facts.pop("item")
    item_facts = ItemFacts(item)
    license_id = facts["shipment"]["license"] or None
    shipment = ShipmentFacts(
        facts["shipment"]["id"],
        1,
        SHIP_DATE,
        license_id,
        facts,
        [item_facts],
        resolutions=resolutions or {},
        confirmed=confirmed or {},
    )
    return evaluate(pack, shipment, evaluated_on=EVALUATED_ON).to_json()


def fired(pack: Pack, rule_id: str, overrides: Overrides) -> bool:
    """Whether the rule held: flag raised, licensing rule applied (governing or not, or
    superseded by another, or suspending exceptions), or the ECCN it chose."""
    data = determine(pack, overrides)
    [item] = data["items"]
    return (
        item["classified_by"] == rule_id
        or rule_id in item["licensing_rules"]
        or rule_id in [s["rule"] for s in item.get("superseded", [])]
        or rule_id in item.get("exceptions_suspended_by", [])
        or any(flag["rule"] == rule_id for flag in data["flags"])
    )


# --- reusable fragments of facts --------------------------------------------------------


def chip(product_id: str) -> Overrides:
    """The item facts of a catalog chip (figures as the catalog computes them)."""
    product = CATALOG[product_id]
    pd = product.performance_density
    return {
        "item.product": product_id,
        "item.declared_product": product_id,
        "item.registered_products": [product_id],
        "item.tpp": float(product.tpp),
        "item.declared_tpp": float(product.tpp),
        "item.pd": float(pd) if pd is not None else 0.0,
        "item.die_area_mm2": float(product.die_area_mm2 or 0),
        "item.datacenter": product.datacenter,
        "item.interconnect_gbps": product.interconnect_gbps or 0,
        "item.memory_bandwidth_gbps": product.memory_bandwidth_gbps or 0,
    }


def destination(country: str, groups: list[str], route: list[str] | None = None) -> Overrides:
    route = route or ["US", country]
    return {
        "shipment.destination": country,
        "shipment.destination_groups": groups,
        "shipment.origin": route[0],
        "shipment.route": route,
        "end_use.site_country": country,
    }


CHINA = destination("CN", ["D:1", "D:4", "D:5"])
# An end user (and consignee) located in China, headquartered there.
LOCATED_IN_CHINA = {
    f"{party}.{name}": value
    for party in ("consignee", "end_user")
    for name, value in (
        ("country", "CN"),
        ("country_groups", ["D:1", "D:4", "D:5"]),
        ("headquarters", "CN"),
        ("hq_groups", ["D:1", "D:4", "D:5"]),
    )
}
CHINA_END_USER = CHINA | LOCATED_IN_CHINA
SAUDI_ARABIA = destination("SA", ["D:4"])  # D:4, not A:5/A:6
JAPAN = destination("JP", ["A:5", "tier1_2025_01"])
INDIA = destination("IN", ["A:5"])  # Tier 2 under the diffusion rule
SERVER = {"item.hs_code": "8471.50.0150", "item.hs_class": "server"}
# No catalog chip is 3A090.b: a datacenter part with TPP 4000 on 1000 mm^2 (PD 4.0).
PART_3A090B = {"item.tpp": 4000.0, "item.declared_tpp": 4000.0, "item.pd": 4.0}
HQ_IN_CHINA = {
    "end_user.headquarters": "CN",
    "end_user.hq_groups": ["D:1", "D:4", "D:5"],
}
NAC_CONFIRMED = {"shipment.license": "NAC", "shipment.license_reference": "A1234567"}
# An HBM3 stack of reference hbm-parts (density 6.77 GB/s/mm^2) and a lower-density HBM2.
MEMORY_PART = {
    "item.declared_product": "hbm3-16gb-stack",
    "item.declared_known": False,
    "item.product": "hbm3-16gb-stack",
    "item.catalog_known": False,
    "item.memory_part": True,
    "item.memory_bandwidth_gbps": 819,
    "item.memory_bandwidth_density": 6.768595,
    "item.registered_products": [],
    "item.tpp": 0.0,
    "item.pd": 0.0,
    "item.declared_tpp": 0.0,
    "item.reference_price": 0.0,
    "item.description": "HBM3 16GB stack",
    "item.hs_code": "8542.32.0071",
    "item.hs_class": "other",
}
LOW_DENSITY_MEMORY = MEMORY_PART | {"item.memory_bandwidth_density": 2.782608}
H20_LETTER = {
    "item.named_by_letters": ["usg-nvidia-2025-04-09"],
    "item.informed_letters": ["usg-nvidia-2025-04-09"],
}
RUSSIA = destination("RU", ["D:1", "D:4", "D:5"])
UNKNOWN_PRODUCT = {
    "item.declared_product": "sandkyan-x1",
    "item.declared_known": False,
    "item.product": "sandkyan-x1",
    "item.catalog_known": False,
    "item.registered_products": [],
    "item.tpp": 0.0,
    "item.pd": 0.0,
    "item.declared_tpp": 0.0,
    "item.reference_price": 0.0,
}
CITES_LICENSE = {
    "shipment.license": "BIS-2026-0042",
    "shipment.license_kind": "license",
    "license.cited": True,
}
GOOD_LICENSE = CITES_LICENSE | {
    f"license.{name}": True
    for name in (
        "found",
        "valid_on_ship_date",
        "destination_ok",
        "parties_ok",
        "products_ok",
        "eccns_ok",
        "within_limits",
    )
}


# --- the table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    fires: Overrides
    quiet: Overrides = field(default_factory=dict)
    """Facts under which the rule does not hold: the baseline unless given."""


AFFILIATE: Overrides = {
    "consignee.affiliate_of": ["EL"],
    "consignee.affiliate_policies": ["presumption_of_denial"],
    "consignee.ownership_chain": ["lionsgate-cloud <- listed-parent (60%, EL)"],
}
AFFILIATE_CBC: Overrides = {
    "end_user.affiliate_of": ["EL"],
    "end_user.affiliate_policies": ["case_by_case"],
    "end_user.ownership_chain": [
        "lionsgate-cloud <- a (30%, EL)",
        "lionsgate-cloud <- b (20%, EL)",
    ],
}

CASES: dict[str, Case] = {
    # classification (first rule that holds gives the ECCN)
    "eccn.unknown-product": Case(UNKNOWN_PRODUCT),
    "eccn.3a090c": Case(MEMORY_PART),
    "eccn.4a090-2022": Case(SERVER),
    "eccn.3a090-2022": Case(chip("nvidia-a100-sxm4"), quiet=chip("nvidia-h800-sxm5")),
    "eccn.4a090a": Case(SERVER),
    "eccn.4a090b": Case(SERVER | PART_3A090B),
    # The baseline H100 is 3A090.a: quiet on the RTX 4090 D, fired by the PD prong (L4).
    "eccn.3a090a": Case(chip("nvidia-l4"), quiet=chip("nvidia-rtx-4090d")),
    "eccn.3a090b": Case(PART_3A090B),
    "eccn.below-3a090": Case(chip("nvidia-l20")),
    # licensing (every rule that holds applies)
    "license.3a090-china-macau": Case(CHINA),
    "license.entity-list": Case(
        {
            "consignee.screening_lists": ["EL"],
            "consignee.entity_list_policies": ["presumption_of_denial"],
        },
        quiet={
            "consignee.screening_lists": ["EL"],
            "consignee.entity_list_policies": ["case_by_case"],
        },
    ),
    "license.entity-list-case-by-case": Case(
        {"end_user.screening_lists": ["EL"], "end_user.entity_list_policies": ["case_by_case"]}
    ),
    "license.entity-list-approval": Case(
        {"forwarder.screening_lists": ["EL"], "forwarder.entity_list_policies": ["approval"]}
    ),
    "license.unverified-list": Case({"consignee.screening_lists": ["UVL"]}),
    "license.russia-belarus-ccl": Case(RUSSIA, quiet=RUSSIA | chip("nvidia-l20")),
    "license.embargoed-destination": Case(
        destination("CU", ["embargoed"]) | chip("nvidia-l20"),
        quiet=destination("SY", ["D:5"]) | chip("nvidia-l20"),
    ),
    "license.is-informed": Case(
        {
            "item.named_by_letters": ["usg-nvidia-2022-08-26"],
            "item.informed_letters": ["usg-nvidia-2022-08-26"],
        },
        quiet={"item.named_by_letters": ["usg-nvidia-2022-08-26"]},
    ),
    "license.advanced-computing-d5-macau": Case(CHINA, quiet=CHINA | PART_3A090B),
    "license.advanced-computing-d5-macau-nac": Case(CHINA | PART_3A090B, quiet=CHINA),
    "license.advanced-computing-d1-d4": Case(SAUDI_ARABIA, quiet=SAUDI_ARABIA | PART_3A090B),
    "license.advanced-computing-d1-d4-nac": Case(SAUDI_ARABIA | PART_3A090B, quiet=SAUDI_ARABIA),
    "license.headquartered-d5-macau": Case(HQ_IN_CHINA, quiet=HQ_IN_CHINA | PART_3A090B),
    "license.headquartered-d5-macau-nac": Case(HQ_IN_CHINA | PART_3A090B, quiet=HQ_IN_CHINA),
    "license.hbm-d5-macau": Case(CHINA | MEMORY_PART, quiet=CHINA | LOW_DENSITY_MEMORY),
    "license.hbm-d5-macau-exception": Case(CHINA | LOW_DENSITY_MEMORY, quiet=CHINA | MEMORY_PART),
    # SG is Tier 2: the baseline itself needs a license under the diffusion rule.
    "license.diffusion-tier2": Case(INDIA, quiet=JAPAN),
    "license.h20-bandwidth-china-d5": Case(
        CHINA | chip("nvidia-h20") | H20_LETTER,
        quiet=CHINA | chip("nvidia-h20") | {"item.named_by_letters": ["usg-nvidia-2025-04-09"]},
    ),
    "license.china-macau-envelope-2026": Case(CHINA_END_USER, quiet=CHINA),
    "license.china-macau-envelope-2026-nac": Case(
        CHINA_END_USER | PART_3A090B, quiet=CHINA_END_USER
    ),
    # flags: relabeling
    "relabel.serial-registered-to-other-product": Case(
        {
            "item.declared_product": "nvidia-h20",
            "item.declared_tpp": 2368.0,
            "item.serials_other_product": 8,
        }
    ),
    "relabel.unregistered-serials": Case({"item.serials_unregistered": 2}),
    "relabel.unknown-product-priced-or-coded-as-accelerator": Case(UNKNOWN_PRODUCT),
    "relabel.declared-spec-below-catalog": Case(
        {"item.declared_product": "nvidia-h20", "item.declared_tpp": 2368.0}
    ),
    "relabel.undervalued": Case({"item.unit_value": 1200.0, "item.value_ratio": 0.04}),
    "relabel.hs-code-inconsistent": Case(
        {
            "item.hs_code": "8504.40.9580",
            "item.hs_class": "misdeclaration",
            "item.hs_expected": False,
        }
    ),
    "relabel.misdeclared-description": Case(
        {"item.description": "generic computer parts", "item.description_misdeclared": True}
    ),
    "relabel.serial-in-another-open-shipment": Case({"item.serials_in_open_shipment": 3}),
    "relabel.serial-at-two-sites": Case({"item.serials_at_two_sites": 1}),
    "relabel.hardware-says-other-product": Case(
        {"item.observed": 8, "item.observed_other_product": 8, "item.observed_products": ["x"]}
    ),
    # flags: diversion
    "diversion.route-through-hub": Case(
        {
            "shipment.route": ["US", "MY", "SG"],
            "shipment.transit": ["MY"],
            "shipment.transit_hubs": ["MY"],
        }
    ),
    "diversion.forwarder-as-consignee": Case({"consignee.is_forwarder": True}),
    "diversion.destination-not-end-use-site": Case({"end_use.site_country": "MY"}),
    "diversion.restricted-headquarters": Case(HQ_IN_CHINA, quiet=HQ_IN_CHINA | GOOD_LICENSE),
    "diversion.no-end-use-statement": Case({"end_use.valid_on_ship_date": False}),
    "diversion.quantity-exceeds-facility-power": Case(
        {"end_use.power_mw": 0.5, "end_use.units_at_end_user": 800, "end_use.power_needed_mw": 1.12}
    ),
    "diversion.not-received": Case({"shipment.received_units": 0, "shipment.not_received": 8}),
    "diversion.missing-at-inspection": Case({"shipment.missing_at_inspection": 2}),
    "diversion.seen-not-in-evidence": Case({"item.seen_without_evidence": 1}),
    "relabel.evidence-shows-unregistered-serial": Case({"shipment.evidence_unregistered": 3}),
    "diversion.receipt-of-serials-not-shipped": Case({"shipment.foreign_receipts": 1}),
    "diversion.receipt-elsewhere": Case(
        {"shipment.receipt_countries": ["MY"], "shipment.receipts_elsewhere": ["MY"]},
        quiet={"shipment.receipt_countries": ["SG"]},
    ),
    # flags: licensing
    "licensing.required-none-cited": Case(
        CHINA | {"shipment.license": "", "shipment.license_kind": "none"}
    ),
    "licensing.exception-not-available": Case(CHINA),
    "licensing.exception-reference-missing": Case(
        CHINA | PART_3A090B | {"shipment.license": "NAC"},
        quiet=CHINA | PART_3A090B | NAC_CONFIRMED,
    ),
    "licensing.informed-product-other-exporter": Case(
        {"item.named_by_letters": ["usg-nvidia-2025-04-09"]}, quiet=H20_LETTER
    ),
    "licensing.russia-belarus-ear99": Case(RUSSIA | chip("nvidia-l20"), quiet=RUSSIA),
    "licensing.license-not-found": Case(CITES_LICENSE),
    "licensing.license-not-valid": Case(GOOD_LICENSE | {"license.valid_on_ship_date": False}),
    "licensing.license-other-destination": Case(GOOD_LICENSE | {"license.destination_ok": False}),
    "licensing.license-other-party": Case(GOOD_LICENSE | {"license.parties_ok": False}),
    "licensing.license-other-items": Case(GOOD_LICENSE | {"license.products_ok": False}),
    "licensing.license-exceeded": Case(
        GOOD_LICENSE
        | {
            "license.quantity_used": 108,
            "license.quantity_max": 100,
            "license.within_limits": False,
        }
    ),
    "licensing.cumulative-tpp-destination": Case(
        {"params.tpp_cap_destination": 1_000_000.0, "totals.tpp_destination": 1_100_000.0}
    ),
    "licensing.cumulative-tpp-end-user": Case(
        {"params.tpp_cap_end_user": 100_000.0, "totals.tpp_end_user": 126_656.0}
    ),
    "licensing.h20-revenue-condition": Case(CHINA | chip("nvidia-h20") | H20_LETTER),
    "licensing.china-envelope-conditions": Case(CHINA_END_USER, quiet=CHINA),
    "licensing.china-reexport": Case(destination("CN", ["D:1", "D:4", "D:5"], ["TW", "CN"])),
    # the Affiliates rule (90 FR 47201), judged by the ship date against its suspension
    "license.affiliates-rule": Case(
        AFFILIATE | {"shipment.ship_date": "2026-11-20"},
        quiet=AFFILIATE | {"shipment.ship_date": "2026-11-09"},
    ),
    "license.affiliates-rule-case-by-case": Case(
        AFFILIATE_CBC | {"shipment.ship_date": "2026-11-10"},
        quiet=AFFILIATE_CBC | {"shipment.ship_date": "2025-09-28"},
    ),
    "screening.affiliate-of-listed-party": Case(
        AFFILIATE | {"shipment.ship_date": "2025-10-01"},
        quiet=AFFILIATE | {"shipment.ship_date": "2026-01-01"},
    ),
    "screening.affiliate-rule-suspended": Case(
        AFFILIATE, quiet=AFFILIATE | {"shipment.ship_date": "2026-11-10"}
    ),
    # the 2026 path's conditions, read from the evidence (issue 16)
    "licensing.china-lab-test-missing": Case(
        CHINA_END_USER | {"item.lab_untested_count": 2, "item.lab_untested": ["P1", "P2"]},
        quiet=CHINA | {"item.lab_untested_count": 2, "item.lab_untested": ["P1", "P2"]},
    ),
    "licensing.china-lab-test-outside-envelope": Case(
        CHINA_END_USER | {"item.lab_outside_envelope": ["P2 (TPP 15,830, 7,000 GB/s)"]},
        quiet=CHINA_END_USER | {"item.lab_tested": 8},
    ),
    "relabel.lab-test-identity-mismatch": Case(
        {"item.lab_identity_mismatch": ["P1 (NVIDIA H100 80GB HBM3: nvidia-h100-sxm5)"]},
        quiet={"item.lab_tested": 8},
    ),
    "licensing.china-kyc-missing": Case(
        CHINA_END_USER, quiet=CHINA_END_USER | {"kyc.covers_ship_date": True}
    ),
    "licensing.china-cap-exceeded": Case(
        CHINA_END_USER | {"item.cap_china_units": 3, "item.cap_us_units": 5},
        quiet=CHINA_END_USER | {"item.cap_china_units": 3, "item.cap_us_units": 6},
    ),
    "licensing.china-not-us-available": Case(
        CHINA_END_USER | {"item.us_available_from": "2026-03-01"},
        quiet=CHINA_END_USER | {"item.us_available_from": "2026-01-15"},
    ),
    "licensing.china-us-availability-unknown": Case(
        CHINA_END_USER, quiet=CHINA_END_USER | {"item.us_available_from": "2024-06-30"}
    ),
    "diversion.location-inconsistent": Case(
        {"item.location_outside_count": 1, "item.location_outside": ["P2: lm-frankfurt is far"]},
        quiet={"item.location_measured": 8},
    ),
    "diversion.payer-not-consignee": Case(
        {"shipment.payer": "hk-trading", "shipment.payer_not_consignee": True},
        quiet={"shipment.payer": "lionsgate-cloud"},
    ),
    "diversion.residential-or-unknown-address": Case(
        {"shipment.delivery_address": "unknown"}, quiet={"shipment.delivery_address": "commercial"}
    ),
    "diversion.first-time-bulk-buyer": Case(
        {"shipment.units": 64},
        quiet={"shipment.units": 64, "shipment.consignee_prior_shipments": 1},
    ),
    # flags: screening
    "screening.entity-list": Case({"end_user.screening_lists": ["EL"]}),
    "screening.unverified-list": Case({"consignee.screening_lists": ["UVL"]}),
    "screening.military-end-user": Case({"end_user.screening_lists": ["MEU"]}),
    "screening.denied-or-blocked": Case({"exporter.screening_lists": ["DPL"]}),
    # flags: later packs
    "classification.hbm-part": Case(
        UNKNOWN_PRODUCT
        | {"item.description": "SK hynix HBM3E 12-high stack", "item.hs_code": "8542.32.0071"}
    ),
    "guidance.huawei-ascend-gp10": Case(chip("huawei-ascend-910c")),
    "guidance.iaas-training-for-d5": Case(HQ_IN_CHINA),
}

PACK_CASES: dict[tuple[str, str], Case] = {
    # Before the October 2022 rule every known chip is EAR99: the baseline itself is
    # classified by this rule there.
    ("eccn.below-3a090", "ear-2022-08"): Case({}, quiet=UNKNOWN_PRODUCT),
    # Under the diffusion rule the baseline (SG, Tier 2) needs a license NLR cannot cover.
    ("licensing.exception-not-available", "ear-2025-01"): Case(CHINA, quiet=JAPAN),
    ("licensing.informed-product-other-exporter", "ear-2025-01"): Case(
        JAPAN | {"item.named_by_letters": ["usg-nvidia-2025-04-09"]}, quiet=JAPAN | H20_LETTER
    ),
    # Before 3A090 only the party, embargo and letter rules require a license: an
    # embargoed destination, and the baseline H100 (EAR99 then) to Russia.
    ("licensing.required-none-cited", "ear-2022-08"): Case(
        destination("CU", ["embargoed"]) | {"shipment.license": "", "shipment.license_kind": "none"}
    ),
    ("licensing.exception-not-available", "ear-2022-08"): Case(destination("CU", ["embargoed"])),
    ("licensing.russia-belarus-ear99", "ear-2022-08"): Case(RUSSIA, quiet=UNKNOWN_PRODUCT),
}

UNREACHABLE: dict[tuple[str, str], tuple[str, Overrides]] = {
    ("license.russia-belarus-ccl", "ear-2022-08"): (
        "before 3A090 every catalog chip is EAR99 here (its CCL number from other "
        "controls is not recorded), so licensing.russia-belarus-ear99 raises instead",
        RUSSIA | chip("nvidia-a100-sxm4"),
    ),
    ("licensing.exception-reference-missing", "ear-2022-08"): (
        "no rule asks for a reference before License Exception NAC (ear-2023-11)",
        CHINA | PART_3A090B | {"shipment.license": "NAC"},
    ),
    ("licensing.exception-reference-missing", "ear-2022-10"): (
        "no rule asks for a reference before License Exception NAC (ear-2023-11)",
        CHINA | chip("nvidia-a100-sxm4") | {"shipment.license": "NAC"},
    ),
}
"""(rule, pack) -> why the rule cannot hold in that pack, and the facts that come
closest: test_rule_fires asserts it does not (a change that makes it reachable shows)."""

# Rules whose case needs a defect fixed first (see the reason): expected to fail.
KNOWN_BROKEN: dict[str, str] = {}
"""Rule id -> why its case cannot fire yet (marked xfail, strict: a fix shows up)."""


def case_of(rule_id: str, pack_id: str) -> Case | None:
    return PACK_CASES.get((rule_id, pack_id)) or CASES.get(rule_id)


def rules_of(pack: Pack) -> list[str]:
    return [c.rule.id for c in (*pack.classification, *pack.licensing, *pack.flags)]


EVERY_RULE = [
    pytest.param(pack_id, rule_id, id=f"{pack_id}:{rule_id}")
    for pack_id, pack in PACKS.items()
    for rule_id in rules_of(pack)
]


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize(("pack_id", "rule_id"), EVERY_RULE)
def test_every_rule_has_a_case(pack_id: str, rule_id: str) -> None:
    assert case_of(rule_id, pack_id) is not None, f"add a case for {rule_id} to CASES"


def test_the_table_names_only_rules_that_exist() -> None:
    known = {(r, p) for p, pack in PACKS.items() for r in rules_of(pack)}
    rule_ids = {r for r, _ in known}
    assert set(CASES) <= rule_ids, set(CASES) - rule_ids
    assert set(PACK_CASES) <= known, set(PACK_CASES) - known


@pytest.mark.parametrize(("pack_id", "rule_id"), EVERY_RULE)
def test_rule_quiet(pack_id: str, rule_id: str) -> None:
    case = case_of(rule_id, pack_id)
    assert case is not None
    assert not fired(PACKS[pack_id], rule_id, case.quiet)


@pytest.mark.parametrize(("pack_id", "rule_id"), EVERY_RULE)
def test_rule_fires(pack_id: str, rule_id: str, request: pytest.FixtureRequest) -> None:
    if rule_id in KNOWN_BROKEN:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_BROKEN[rule_id], strict=True))
    if (rule_id, pack_id) in UNREACHABLE:
        _reason, closest = UNREACHABLE[(rule_id, pack_id)]
        assert not fired(PACKS[pack_id], rule_id, closest)
        return
    case = case_of(rule_id, pack_id)
    assert case is not None
    assert fired(PACKS[pack_id], rule_id, case.fires)


@pytest.mark.parametrize("pack_id", PACKS)
def test_the_baseline_is_clean(pack_id: str) -> None:
    data = determine(PACKS[pack_id], {})
    [item] = data["items"]
    if pack_id == "ear-2025-01":  # Singapore is Tier 2 under the diffusion rule
        assert item["licensing_rules"] == ["license.diffusion-tier2"]
        assert [f["rule"] for f in data["flags"]] == ["licensing.exception-not-available"]
        assert data["verdict"] == "license_required"
    else:
        assert (item["licensing_rules"], data["flags"], data["verdict"]) == ([], [], "clear")
    expected = {"ear-2022-08": "EAR99", "ear-2022-10": "3A090"}.get(pack_id, "3A090.a")
    assert item["eccn"] == expected


# --- cross-rule behaviour worth pinning -------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "verdict"), [("high", "blocked"), ("blocking", "blocked"), ("warning", "clear")]
)
def test_a_confirmed_flag_the_facts_no_longer_raise_stands(severity: str, verdict: str) -> None:
    """The baseline raises nothing; a flag confirmed on the shipment before is carried all
    the same (its message bounded as a statement's), and a high one blocks."""
    from provenance.statements.payloads import DeterminedFlag

    earlier = {("relabel.undervalued", 0): ("F-9-0", severity, "x" * 2000)}
    data = determine(PACKS["ear-2026-01"], {}, confirmed=earlier)
    [flag] = data["flags"]
    assert (flag["rule"], flag["line"], flag["resolution"]) == (
        "relabel.undervalued",
        0,
        "confirmed",
    )
    assert flag["message"].startswith("confirmed (F-9-0), it stands though these facts no longer")
    assert len(flag["message"]) == 2000 and flag["message"].endswith("...")
    DeterminedFlag.model_validate(flag)
    assert data["verdict"] == verdict
    # raised again by the facts, it is the raised one that counts, once
    case = case_of("relabel.undervalued", "ear-2026-01")
    assert case is not None
    raised = determine(PACKS["ear-2026-01"], case.fires, confirmed=earlier)
    [again] = [f for f in raised["flags"] if f["rule"] == "relabel.undervalued"]
    assert not again["message"].startswith("confirmed (")


def test_entity_list_license_is_required_even_for_ear99_items() -> None:
    data = determine(
        PACKS["ear-2026-01"],
        chip("nvidia-l20")
        | {"end_user.screening_lists": ["EL"], "end_user.entity_list_policies": ["case_by_case"]},
    )
    [item] = data["items"]
    assert item["eccn"] == "EAR99"
    assert item["licensing_rules"] == ["license.entity-list-case-by-case"]
    assert item["policy"] == "case_by_case"
    assert data["verdict"] == "license_required"


def test_two_entity_list_entries_the_strictest_policy_governs() -> None:
    data = determine(
        PACKS["ear-2026-01"],
        {
            "consignee.screening_lists": ["EL"],
            "consignee.entity_list_policies": ["approval"],
            "end_user.screening_lists": ["EL"],
            "end_user.entity_list_policies": ["presumption_of_denial"],
        },
    )
    [item] = data["items"]
    assert item["governing_rule"] == "license.entity-list"
    assert item["policy"] == "presumption_of_denial"
    assert item["governing"].startswith("the strictest of the requirements that apply")
    assert "license.entity-list-approval (approval)" in item["governing"]


def test_china_inside_the_2026_envelope_is_case_by_case_and_outside_is_denial() -> None:
    pack = PACKS["ear-2026-01"]
    inside = determine(pack, CHINA_END_USER | chip("nvidia-h200-sxm"))["items"][0]
    outside = determine(pack, CHINA_END_USER | chip("nvidia-b200"))["items"][0]
    assert (inside["policy"], inside["governing_rule"]) == (
        "case_by_case",
        "license.china-macau-envelope-2026",
    )
    assert inside["superseded"] == [
        {"rule": "license.advanced-computing-d5-macau", "by": "license.china-macau-envelope-2026"},
        {"rule": "license.headquartered-d5-macau", "by": "license.china-macau-envelope-2026"},
    ]
    assert "supersedes license.advanced-computing-d5-macau" in inside["governing"]
    assert (outside["policy"], outside["governing_rule"]) == (
        "presumption_of_denial",
        "license.advanced-computing-d5-macau",
    )


def test_the_2026_envelope_leaves_a_chinese_parent_abroad_and_reexports_at_denial() -> None:
    pack = PACKS["ear-2026-01"]
    # A Singapore subsidiary of a Chinese parent as consignee of a shipment to China.
    abroad = CHINA_END_USER | {
        "consignee.country": "SG",
        "consignee.country_groups": ["A:6"],
        "consignee.hq_groups": ["D:1", "D:4", "D:5"],
    }
    item = determine(pack, abroad | chip("nvidia-h200-sxm"))["items"][0]
    assert item["policy"] == "presumption_of_denial"
    assert "license.china-macau-envelope-2026" not in item["licensing_rules"]
    # The same subsidiary receiving in Singapore: the headquarters rule alone.
    at_home = {"consignee.hq_groups": ["D:1", "D:4", "D:5"]}
    item = determine(pack, at_home | chip("nvidia-h200-sxm"))["items"][0]
    assert (item["governing_rule"], item["policy"]) == (
        "license.headquartered-d5-macau",
        "presumption_of_denial",
    )
    # From Taiwan to China: a reexport.
    reexport = CHINA_END_USER | {"shipment.origin": "TW", "shipment.route": ["TW", "CN"]}
    data = determine(pack, reexport | chip("nvidia-h200-sxm"))
    assert data["items"][0]["policy"] == "presumption_of_denial"
    assert "licensing.china-reexport" in {f["rule"] for f in data["flags"]}


def test_d1_d4_is_approval_unless_a_party_is_d5_headquartered() -> None:
    pack = PACKS["ear-2026-01"]
    item = determine(pack, SAUDI_ARABIA)["items"][0]
    assert (item["governing_rule"], item["policy"]) == (
        "license.advanced-computing-d1-d4",
        "approval",
    )
    item = determine(pack, SAUDI_ARABIA | HQ_IN_CHINA)["items"][0]
    assert (item["governing_rule"], item["policy"]) == (
        "license.headquartered-d5-macau",
        "presumption_of_denial",
    )


def test_the_bandwidth_rule_leaves_3a090_parts_alone_from_2025_08() -> None:
    rule = "license.h20-bandwidth-china-d5"
    h200 = CHINA | chip("nvidia-h200-sxm") | H20_LETTER
    assert fired(PACKS["ear-2025-05"], rule, h200)
    assert not fired(PACKS["ear-2025-08"], rule, h200)
    item = determine(PACKS["ear-2025-08"], h200)["items"][0]
    assert "license.is-informed" in item["licensing_rules"]  # the letter still binds


def test_the_h20_letter_supersedes_the_generic_letter_rule() -> None:
    item = determine(PACKS["ear-2025-08"], CHINA | chip("nvidia-h20") | H20_LETTER)["items"][0]
    assert item["licensing_rules"] == ["license.h20-bandwidth-china-d5"]
    assert item["superseded"] == [
        {"rule": "license.is-informed", "by": "license.h20-bandwidth-china-d5"}
    ]
    assert item["policy"] == "case_by_case"
    uninformed = determine(
        PACKS["ear-2025-08"],
        CHINA | chip("nvidia-h20") | {"item.named_by_letters": ["usg-nvidia-2025-04-09"]},
    )
    assert uninformed["items"][0]["license_required"] is False
    assert uninformed["verdict"] == "hold"  # licensing.informed-product-other-exporter


def test_aca_covers_a_nac_eligible_part_to_a_d4_destination_from_2024_04() -> None:
    cited = SAUDI_ARABIA | PART_3A090B | {"shipment.license": "ACA"}
    data = determine(PACKS["ear-2026-01"], cited)
    [item] = data["items"]
    assert item["covered_by"] == "exception ACA"
    assert data["verdict"] == "clear"
    assert data["flags"] == []
    # ACA did not exist before 2024-04-04 (NAC did the job, without notification).
    before = determine(PACKS["ear-2023-11"], cited)
    assert before["items"][0]["exceptions"] == ["NAC"]
    assert before["verdict"] == "license_required"
    # Datacenter 3A090.a is outside ACA and NAC.
    dc = determine(PACKS["ear-2026-01"], SAUDI_ARABIA | {"shipment.license": "ACA"})
    assert dc["items"][0]["exceptions"] == []
    assert dc["verdict"] == "license_required"


def test_nac_needs_its_confirmation_number() -> None:
    pack = PACKS["ear-2023-11"]
    confirmed = determine(pack, CHINA | PART_3A090B | NAC_CONFIRMED)
    assert confirmed["items"][0]["eccn"] == "3A090.b"
    assert confirmed["items"][0]["covered_by"] == "exception NAC:A1234567"
    assert confirmed["items"][0]["policy"] == "presumption_of_denial"  # if applied for
    bare = determine(pack, CHINA | PART_3A090B | {"shipment.license": "NAC"})
    assert bare["items"][0]["covered_by"] is None
    assert "licensing.exception-reference-missing" in {f["rule"] for f in bare["flags"]}
    assert bare["verdict"] == "license_required"
    wrong = determine(
        pack, CHINA | PART_3A090B | NAC_CONFIRMED | {"shipment.license_reference": "12345"}
    )
    assert wrong["items"][0]["covered_by"] is None


def test_nac_for_a_d5_headquartered_party_abroad() -> None:
    data = determine(PACKS["ear-2026-01"], HQ_IN_CHINA | PART_3A090B | NAC_CONFIRMED)
    [item] = data["items"]
    assert item["governing_rule"] == "license.headquartered-d5-macau-nac"
    assert item["covered_by"] == "exception NAC:A1234567"
    # The notification named these parties: the headquarters red flag is not raised.
    assert data["verdict"] == "clear"
    assert "diversion.restricted-headquarters" not in {f["rule"] for f in data["flags"]}
    bare = determine(PACKS["ear-2026-01"], HQ_IN_CHINA | PART_3A090B | {"shipment.license": "NAC"})
    assert {f["rule"] for f in bare["flags"]} >= {
        "diversion.restricted-headquarters",
        "licensing.exception-reference-missing",
    }


def test_an_unverified_list_party_suspends_exceptions() -> None:
    cited = SAUDI_ARABIA | PART_3A090B | {"shipment.license": "ACA"}
    data = determine(PACKS["ear-2026-01"], cited | {"consignee.screening_lists": ["UVL"]})
    [item] = data["items"]
    assert item["exceptions"] == []
    assert item["exceptions_suspended_by"] == ["license.unverified-list"]
    assert item["covered_by"] is None
    assert data["verdict"] == "license_required"
    # No license required: the UVL statement is still asked for (a high flag: hold).
    plain = determine(PACKS["ear-2026-01"], {"consignee.screening_lists": ["UVL"]})
    assert plain["items"][0]["license_required"] is False
    assert plain["verdict"] == "hold"


def test_an_exception_code_in_lower_case_is_judged_alike() -> None:
    data = determine(PACKS["ear-2026-01"], SAUDI_ARABIA | PART_3A090B | {"shipment.license": "aca"})
    assert data["items"][0]["covered_by"] == "exception ACA"
    assert data["flags"] == []


def test_a_4a090_server_to_china_is_treated_like_its_chips() -> None:
    data = determine(PACKS["ear-2026-01"], CHINA_END_USER | SERVER)
    assert data["items"][0]["eccn"] == "4A090.a"
    assert data["items"][0]["governing_rule"] == "license.china-macau-envelope-2026"
    flags = {f["rule"] for f in data["flags"]}
    assert "licensing.h20-revenue-condition" not in flags
    assert "licensing.china-envelope-conditions" in flags


def test_hbm_needs_a_license_to_d5_and_the_exception_only_below_its_density() -> None:
    pack = PACKS["ear-2026-01"]
    high = determine(pack, CHINA | MEMORY_PART | {"shipment.license": "HBM"})
    assert high["items"][0]["eccn"] == "3A090.c"
    assert high["items"][0]["exceptions"] == []
    assert high["verdict"] == "license_required"
    low = determine(pack, CHINA | LOW_DENSITY_MEMORY | {"shipment.license": "HBM"})
    assert low["items"][0]["covered_by"] == "exception HBM"
    # Outside D:5 and Macau, HBM needs no license (not even to D:1/D:4).
    assert determine(pack, SAUDI_ARABIA | MEMORY_PART)["items"][0]["license_required"] is False
    # Before December 2024 it was not 3A090.c.
    assert determine(PACKS["ear-2024-04"], MEMORY_PART)["items"][0]["eccn"] == "EAR99"


def test_russia_needs_a_license_for_ccl_items_and_embargoes_for_ear99() -> None:
    h100 = determine(PACKS["ear-2022-10"], RUSSIA | chip("nvidia-a100-sxm4"))["items"][0]
    assert (h100["eccn"], h100["governing_rule"]) == ("3A090", "license.russia-belarus-ccl")
    cuba = determine(PACKS["ear-2026-01"], destination("CU", ["embargoed"]) | chip("nvidia-l20"))
    assert cuba["items"][0]["eccn"] == "EAR99"
    assert cuba["items"][0]["governing_rule"] == "license.embargoed-destination"


# --- verdicts: hold, and the resolutions that lift it ------------------------------------------


def test_an_unresolved_high_flag_holds_the_shipment() -> None:
    held = {"end_use.valid_on_ship_date": False}
    flag = ("diversion.no-end-use-statement", None)
    assert determine(PACKS["ear-2026-01"], held)["verdict"] == "hold"
    assert determine(PACKS["ear-2026-01"], held, {flag: "escalated"})["verdict"] == "hold"
    cleared = determine(PACKS["ear-2026-01"], held, {flag: "cleared"})
    assert cleared["verdict"] == "clear"
    assert cleared["flags"][0]["resolution"] == "cleared"
    assert determine(PACKS["ear-2026-01"], held, {flag: "confirmed"})["verdict"] == "blocked"


def test_a_warning_does_not_hold_and_a_cleared_blocking_flag_still_blocks() -> None:
    pack = PACKS["ear-2026-01"]
    warned = {"item.description": "generic computer parts", "item.description_misdeclared": True}
    assert determine(pack, warned)["verdict"] == "clear"
    missing = {"shipment.missing_at_inspection": 2}
    # A blocking flag blocks whatever its resolution says.
    assert determine(pack, missing)["verdict"] == "blocked"
    cleared = {("diversion.missing-at-inspection", None): "cleared"}
    assert determine(pack, missing, cleared)["verdict"] == "blocked"


def test_every_exception_a_pack_allows_can_be_cited() -> None:
    allowed = {
        code
        for pack in PACKS.values()
        for compiled in pack.licensing
        if isinstance(compiled.rule, LicensingRule)
        for code in compiled.rule.codes()
    }
    assert allowed <= EXCEPTION_CODES, allowed - EXCEPTION_CODES


# --- real chips (the published tables of real accelerators) --------------------------

EXPECTED_2023 = {
    "nvidia-h100-sxm5": "3A090.a",
    "nvidia-h100-pcie": "3A090.a",
    "nvidia-h800-sxm5": "3A090.a",
    "nvidia-h200-sxm": "3A090.a",
    "nvidia-h20": "EAR99",
    "nvidia-h20-141gb": "EAR99",
    "nvidia-a100-sxm4": "3A090.a",
    "nvidia-a800-sxm4": "3A090.a",
    "nvidia-a40": "3A090.b",
    "nvidia-l40s": "3A090.a",
    "nvidia-l20": "EAR99",
    "nvidia-l4": "3A090.a",
    "nvidia-rtx-4090": "3A090.a",
    "nvidia-rtx-4090d": "EAR99",
    "nvidia-b200": "3A090.a",
    "amd-mi300x": "3A090.a",
    "intel-gaudi3": "3A090.a",
}
"""The table's "expected ECCN (2023 rule)"; "not 3A090" is EAR99 here (the Ascends have none).
The A40 (3A090.b) and the H20 141GB were added by issue 15, with their sources in the catalog."""

EXPECTED_2022 = {
    "nvidia-h100-sxm5": "3A090",
    "nvidia-a100-sxm4": "3A090",
    "nvidia-a800-sxm4": "EAR99",
    "nvidia-h800-sxm5": "EAR99",
}
"""The 2022 rule (TPP >= 4800 and 600 GB/s): A800 and H800 (400 GB/s) fell outside."""

RULE_OF = {
    "3A090.a": "eccn.3a090a",
    "3A090.b": "eccn.3a090b",
    "3A090": "eccn.3a090-2022",
    "EAR99": "eccn.below-3a090",
}


def classify_chip(pack_id: str, product_id: str) -> tuple[str, str | None]:
    product = CATALOG[product_id]
    result = classify(
        PACKS[pack_id],
        tpp=product.tpp,
        die_area=product.die_area_mm2,
        datacenter=product.datacenter,
        interconnect=product.interconnect_gbps or 0,
        memory_bandwidth=product.memory_bandwidth_gbps or 0,
        product=product_id,
    )
    return result.eccn, result.rule


@pytest.mark.parametrize("pack_id", ["ear-2023-11", "ear-2026-01"])
@pytest.mark.parametrize("product_id", EXPECTED_2023)
def test_real_chip_classifies_as_listed(pack_id: str, product_id: str) -> None:
    eccn = EXPECTED_2023[product_id]
    assert classify_chip(pack_id, product_id) == (eccn, RULE_OF[eccn])


@pytest.mark.parametrize("product_id", EXPECTED_2022)
def test_real_chip_under_the_2022_rule(product_id: str) -> None:
    eccn = EXPECTED_2022[product_id]
    assert classify_chip("ear-2022-10", product_id) == (eccn, RULE_OF[eccn])


def test_classify_matches_the_engine_for_every_listed_chip() -> None:
    for product_id, eccn in EXPECTED_2023.items():
        data = determine(PACKS["ear-2026-01"], chip(product_id))
        assert data["items"][0]["eccn"] == eccn, product_id


def test_pd_prong_needs_a_datacenter_part() -> None:
    pack, l4 = PACKS["ear-2026-01"], CATALOG["nvidia-l4"]
    as_consumer = classify(pack, tpp=l4.tpp, die_area=l4.die_area_mm2, datacenter=False)
    assert (as_consumer.eccn, as_consumer.rule) == ("EAR99", "eccn.below-3a090")
    at_4800 = classify(pack, tpp=Decimal(4800), die_area=None, datacenter=False)
    assert (at_4800.eccn, at_4800.rule) == ("3A090.a", "eccn.3a090a")
