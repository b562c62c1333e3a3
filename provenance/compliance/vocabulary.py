# ruff: noqa: E501  (a table of one-line meanings reads better unwrapped)
"""The fact vocabulary: every name a rule pack's CEL conditions may use, with its type
and meaning. `provenance rules facts` prints it; pack loading refuses any other name.

Types are CEL's: `string`, `int`, `double`, `bool`, `list(string)`, `map`. Decimals
(TPP, money, power) are doubles here: rules compare them with thresholds, and no
figure is written back from a double. Dates are ISO strings ("2026-10-02"), which
compare correctly as strings.
"""

from __future__ import annotations

from typing import Any

PARTY_FACTS: dict[str, tuple[str, str]] = {
    "id": ("string", "party id ('' when the shipment names none, e.g. no forwarder)"),
    "registered": ("bool", "the party is registered in the ledger"),
    "country": ("string", "country of the party's address (ISO-2)"),
    "country_groups": (
        "list(string)",
        "EAR country groups of that country on the ship date (where the party is located)",
    ),
    "headquarters": ("string", "country of its headquarters or ultimate parent (ISO-2)"),
    "hq_groups": (
        "list(string)",
        "EAR country groups of the headquarters on the ship date (D:1, D:5, A:5, macau...)",
    ),
    "roles": ("list(string)", "its roles in the ledger (exporter, consignee, forwarder...)"),
    "is_forwarder": ("bool", "the party is registered as a freight forwarder"),
    "screening_lists": (
        "list(string)",
        "lists it matches at or above the threshold (EL, UVL, MEU, DPL, SDN...)",
    ),
    "screening_score": ("double", "best screening score (0-100), 0 when no candidate"),
    "entity_list_policies": (
        "list(string)",
        "license review policies of the Entity List entries it matches (their CSL license_policy: presumption_of_denial, case_by_case, approval)",
    ),
    "informed": (
        "list(string)",
        "is-informed letters (reference is-informed) addressed to the party and in force on the ship date",
    ),
    "affiliate_of": (
        "list(string)",
        "lists (EL, MEU) of the parties that own it 50% or more, directly or indirectly, alone or in aggregate (owners on party statements; the Affiliates rule)",
    ),
    "affiliate_policies": (
        "list(string)",
        "Entity List review policies of those owners (presumption_of_denial, case_by_case, approval)",
    ),
    "ownership_chain": (
        "list(string)",
        "the ownership links that make it an affiliate: 'party <- owner (share%, lists)'",
    ),
}

FACTS: dict[str, dict[str, tuple[str, str]]] = {
    "shipment": {
        "id": ("string", "shipment id"),
        "ship_date": ("string", "ship date (ISO)"),
        "destination": (
            "string",
            "final destination country (ISO-2; Hong Kong is treated as CN for groups)",
        ),
        "destination_groups": (
            "list(string)",
            "EAR country groups of the destination on the ship date (D:1, D:4, D:5, A:5, A:6, macau, embargoed, tier1_2025_01)",
        ),
        "destination_is_hub": (
            "bool",
            "the destination is a diversion hub (reference diversion-hubs)",
        ),
        "origin": ("string", "first country of the route"),
        "route": ("list(string)", "countries in order, origin first"),
        "transit": ("list(string)", "countries strictly between origin and destination"),
        "transit_hubs": ("list(string)", "transit countries that are diversion hubs"),
        "license": ("string", "license id or exception code cited ('' when none)"),
        "license_kind": ("string", "'none', 'exception' (NLR, NAC, ACA...) or 'license'"),
        "license_reference": (
            "string",
            "what follows the exception code in the citation (NAC:A1234567 -> 'A1234567'; '' when none)",
        ),
        "units": ("int", "units in the shipment"),
        "items": ("int", "number of items (lines)"),
        "value": ("double", "declared value, sum of quantity x unit value"),
        "currency": ("string", "currency of the values ('MIXED' when items differ)"),
        "has_forwarder": ("bool", "a freight forwarder is named"),
        "consignee_is_end_user": ("bool", "consignee and end user are the same party"),
        "days_since_ship": ("int", "days from the ship date to the evaluation date"),
        "received_units": ("int", "serials of this shipment received (signed receipts)"),
        "not_received": ("int", "serials of this shipment with no receipt"),
        "foreign_receipts": ("int", "serials received against this shipment that it did not carry"),
        "missing_at_inspection": (
            "int",
            "serials of this shipment reported missing at an inspection",
        ),
        "evidence_unregistered": (
            "int",
            "serials that the nvidia-smi evidence of an inspection naming this shipment's serials shows and no manufacturer registered",
        ),
        "receipt_countries": (
            "list(string)",
            "countries where receipts against this shipment were signed",
        ),
        "receipts_elsewhere": (
            "list(string)",
            "of those, the countries other than the destination",
        ),
        "payer": (
            "string",
            "who pays for the goods, as the exporter declares ('' when not declared)",
        ),
        "payer_not_consignee": ("bool", "a payer is declared and it is not the consignee"),
        "delivery_address": (
            "string",
            "the delivery address as the exporter found it: commercial, residential, unknown ('' when not declared)",
        ),
        "consignee_prior_shipments": (
            "int",
            "shipments to this consignee registered before this one (0: a first-time buyer)",
        ),
    },
    "item": {
        "line": ("int", "item number in the shipment, from 0"),
        "declared_product": ("string", "product as declared"),
        "declared_known": ("bool", "the declared product is in the catalog"),
        "product": (
            "string",
            "the product the chips are: the one their serials are registered to when they agree, else as declared",
        ),
        "catalog_known": ("bool", "`product` is in the catalog"),
        "description": ("string", "description on the papers"),
        "description_misdeclared": (
            "bool",
            "the description is one seen on misdeclared GPUs (adapters, modules, generic computer parts...)",
        ),
        "hs_code": ("string", "tariff code as declared"),
        "hs_class": (
            "string",
            "'accelerator', 'server', 'misdeclaration' or 'other' (reference hs-codes, prefix match)",
        ),
        "hs_expected": (
            "bool",
            "the HS code is one the catalog gives for `product`, or an accelerator or server code",
        ),
        "quantity": ("int", "units"),
        "unit_value": ("double", "declared value of one unit"),
        "currency": ("string", "currency of the unit value"),
        "reference_price": ("double", "catalog reference unit price of `product` (0 when unknown)"),
        "value_ratio": (
            "double",
            "unit value / reference price (1 when either is unknown or currencies differ)",
        ),
        "tpp": ("double", "TPP of `product` (0 when unknown)"),
        "pd": ("double", "performance density of `product` (0 when unknown)"),
        "die_area_mm2": ("double", "applicable die area (0 when unknown)"),
        "datacenter": ("bool", "`product` is designed or marketed for datacenters"),
        "interconnect_gbps": ("int", "chip-to-chip transfer rate GB/s (0 when none or unknown)"),
        "memory_bandwidth_gbps": ("int", "memory bandwidth GB/s (0 when unknown)"),
        "memory_part": (
            "bool",
            "the item is a high-bandwidth memory part of reference hbm-parts (not an accelerator)",
        ),
        "memory_bandwidth_density": (
            "double",
            "of a memory part: memory bandwidth GB/s per mm^2 of its package (0 otherwise)",
        ),
        "named_by_letters": (
            "list(string)",
            "is-informed letters in force on the ship date that cover this product to this destination or these parties, whoever they inform",
        ),
        "informed_letters": (
            "list(string)",
            "of those, the letters that inform the exporter (the license requirements they impose)",
        ),
        "declared_tpp": ("double", "TPP of the declared product (0 when unknown)"),
        "serials": ("int", "serials listed"),
        "serials_unregistered": ("int", "serials no manufacturer registered"),
        "serials_other_product": ("int", "serials registered to another product than declared"),
        "registered_products": ("list(string)", "products the serials are registered to"),
        "serials_in_open_shipment": (
            "int",
            "serials also in an earlier shipment with no receipt of them since",
        ),
        "serials_at_two_sites": (
            "int",
            "serials received or inspected at two different sites on the same day",
        ),
        "observed": ("int", "devices of these serials seen in inspection evidence (nvidia-smi)"),
        "observed_other_product": (
            "int",
            "of those, devices whose PCI id or name says another product than declared",
        ),
        "observed_products": ("list(string)", "catalog products the evidence identifies"),
        "seen_without_evidence": (
            "int",
            "serials an inspection with nvidia-smi evidence claims seen that its evidence does not show",
        ),
        "eccn": (
            "string",
            "ECCN chosen by the classification rules (set before licensing and flags)",
        ),
        "license_required": ("bool", "a licensing rule requires a license (set before flags)"),
        "policy": (
            "string",
            "review policy of the governing licensing rule ('' when none; set before flags)",
        ),
        "governing_rule": (
            "string",
            "the licensing rule whose policy governs ('' when none; set before flags)",
        ),
        "exceptions": ("list(string)", "license exceptions the licensing rules allow"),
        "exceptions_suspended": (
            "bool",
            "a rule that suspends license exceptions holds (e.g. an Unverified List party)",
        ),
        "exception_covers": (
            "bool",
            "the exception the shipment cites covers this item (set before flags)",
        ),
        "exception_reference_missing": (
            "bool",
            "the exception cited is available but its citation lacks the reference a rule asks for (NAC without its confirmation number)",
        ),
        "lab_tested": (
            "int",
            "serials with a lab test by a US lab (registered and testing in the US) dated on or before the ship date",
        ),
        "lab_untested_count": ("int", "serials with no such test"),
        "lab_untested": ("list(string)", "those serials (the first 20)"),
        "lab_outside_envelope": (
            "list(string)",
            "serials whose latest such test measured TPP >= params.china_envelope_tpp or DRAM bandwidth >= params.china_envelope_bandwidth_gbps, with the figures",
        ),
        "lab_identity_mismatch": (
            "list(string)",
            "serials whose latest such test identifies (PCI id, else name) another product than declared, or none of the catalog",
        ),
        "location_measured": (
            "int",
            "serials measured by a landmark between the ship date and the evaluation date",
        ),
        "location_no_site": (
            "int",
            "of those, serials whose declared site (the end-use statement) has no coordinates",
        ),
        "location_outside_count": (
            "int",
            "serials a landmark's round trip (half of it at params.km_per_ms_fibre) cannot reach from the declared site",
        ),
        "location_outside": (
            "list(string)",
            "those serials with each landmark, its distance to the site and the reach it allowed",
        ),
        "cap_china_units": (
            "int",
            "units of `product` exported from the US to China/Macau (HK as China) from params.china_cap_from up to this shipment, this one included, all exporters",
        ),
        "cap_us_units": (
            "int",
            "units of `product` shipped to US end users (destination US) from params.china_cap_from up to this shipment",
        ),
        "cap_ratio": ("double", "cap_china_units / cap_us_units (0 when no US units)"),
        "us_available_from": (
            "string",
            "when `product` became commercially available in the US, per the catalog ('' when not recorded)",
        ),
    },
    "exporter": PARTY_FACTS,
    "consignee": PARTY_FACTS,
    "end_user": PARTY_FACTS,
    "forwarder": PARTY_FACTS,
    "end_use": {
        "present": (
            "bool",
            "the end user signed an end-use statement covering this shipment or its serials",
        ),
        "valid_on_ship_date": ("bool", "one was signed on or before the ship date and valid on it"),
        "site_country": ("string", "country of the declared site ('' when none)"),
        "power_mw": ("double", "declared facility power, MW (0 when none)"),
        "certified": (
            "bool",
            "all four certifications are given (no military, no WMD, no re-export, no restricted-HQ access)",
        ),
        "units_at_end_user": (
            "int",
            "units shipped to this end user so far, this shipment included",
        ),
        "power_needed_mw": ("double", "units_at_end_user x params.kw_per_accelerator / 1000"),
        "site_located": ("bool", "the declared site has coordinates (what location checks need)"),
    },
    "kyc": {
        "consignee_valid": (
            "bool",
            "the consignee signed, by the ship date, a KYC attestation covering it with every control stated true",
        ),
        "end_user_valid": ("bool", "the same of the end user"),
        "covers_ship_date": ("bool", "either of them holds"),
        "incomplete": (
            "bool",
            "an attestation covers the ship date but states a control false, and none is complete",
        ),
    },
    "license": {
        "cited": ("bool", "the shipment cites a license id (not an exception)"),
        "found": ("bool", "the cited license is in the ledger"),
        "valid_on_ship_date": ("bool", "ship date within valid_from..valid_until"),
        "destination_ok": ("bool", "the license is for this destination"),
        "parties_ok": (
            "bool",
            "exporter, and consignee / end user where the license names them, match",
        ),
        "products_ok": ("bool", "every item's product is one the license lists (or it lists none)"),
        "eccns_ok": ("bool", "every item's ECCN is one the license lists"),
        "quantity_used": ("int", "units shipped under it so far, this shipment included"),
        "quantity_max": ("int", "its quantity limit (0: none)"),
        "value_used": ("double", "value shipped under it so far, this shipment included"),
        "value_max": ("double", "its value limit (0: none)"),
        "tpp_used": ("double", "TPP shipped under it so far, this shipment included"),
        "tpp_max": ("double", "its TPP limit (0: none)"),
        "within_limits": ("bool", "quantity, value and TPP used are within the limits"),
        "exception_covers": (
            "bool",
            "the exception the shipment cites covers every item that needs a license, and one does (set before flags)",
        ),
    },
    "totals": {
        "tpp": ("double", "TPP of this shipment: units x TPP summed"),
        "tpp_destination": (
            "double",
            "TPP shipped to this destination so far, this shipment included",
        ),
        "tpp_end_user": ("double", "TPP shipped to this end user so far, this shipment included"),
    },
    "params": {},
}
"""Root -> field -> (type, meaning). `params` holds the pack's own parameters."""

_SAMPLES = {"string": "", "int": 0, "double": 0.0, "bool": False, "list(string)": []}


def sample(params: dict[str, Any]) -> dict[str, Any]:
    """A complete fact set of neutral values (what loading a pack evaluates against)."""
    facts: dict[str, Any] = {
        root: {name: _SAMPLES[kind] for name, (kind, _) in fields.items()}
        for root, fields in FACTS.items()
    }
    facts["params"] = dict(params)
    return facts


def describe() -> list[dict[str, str]]:
    """The vocabulary as rows: name, type, meaning (for `provenance rules facts`)."""
    rows = []
    for root, fields in FACTS.items():
        if root == "params":
            rows.append({"name": "params.*", "type": "any", "meaning": "the pack's parameters"})
            continue
        for name, (kind, meaning) in fields.items():
            rows.append({"name": f"{root}.{name}", "type": kind, "meaning": meaning})
    return rows
