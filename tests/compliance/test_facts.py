"""Facts from real statements (both databases): what `Facts.gather` computes for each
fact the rules read, and how determinations, flags and resolutions land in the ledger."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select

from provenance.compliance.checks import Checker, statement
from provenance.compliance.facts import (
    Facts,
    Reference,
    ShipmentFacts,
    entity_list_policy,
    parse_citation,
)
from provenance.compliance.packs import Library
from provenance.errors import AuthorizationError, InputError
from provenance.ledger import queries
from provenance.ledger.projections.tables import DeterminationRow
from provenance.ledger.tables import Entry
from provenance.screening import snapshots
from provenance.statements.inspection import evidence, read_nvidia_smi
from provenance.statements.signing import sign
from tests.conftest import DATA, World
from tests.ledger.test_custody import END_USE, SERIALS, SMI, Story, shipment_doc
from tests.ledger.test_log import snapshot

PACK = "ear-2026-01"
AS_OF = dt.date(2026, 6, 1)
H100 = "nvidia-h100-sxm5"
H100_TPP = 15832.0
SMI_SERIALS = [
    device.serial for device in read_nvidia_smi(SMI).devices if device.serial is not None
]
CSL = DATA / "csl" / "consolidated.csv"


@pytest.fixture(scope="module")
def library() -> Library:
    return Library.load()


@pytest.fixture
def story(world: World) -> Story:
    return Story(world)


def gather(
    story: Story, library: Library, *ids: str, pack: str = PACK, as_of: dt.date = AS_OF
) -> dict[str, ShipmentFacts]:
    chosen = library.get(pack)
    facts = Facts(story.ledger, Reference.from_pack(chosen.reference), chosen.parameters, as_of)
    return {f.id: f for f in facts.gather(list(ids))}


def item(serials: list[str], product: str = H100, unit_value: str = "30000.00") -> dict[str, Any]:
    return {
        "product": product,
        "description": "NVIDIA GPU module",
        "hs_code": "8473.30.1180",
        "quantity": len(serials),
        "serials": serials,
        "unit_value": {"amount": unit_value, "currency": "USD"},
    }


def ship(story: Story, shipment_id: str, *items: dict[str, Any], **fields: Any) -> int:
    document = shipment_doc(shipment_id, ["unused"], **fields)
    document["items"] = list(items)
    return story.sign_as(str(fields.get("exporter", "meridian")), document)


def receive(
    story: Story, shipment_id: str, serials: list[str], date: str, party: str = "lion"
) -> int:
    return story.sign_as(
        party,
        {
            "kind": "receipt",
            "shipment": shipment_id,
            "serials": serials,
            "date": date,
            "country": "SG",
            "site": "Jurong West DC",
        },
    )


def inspect(story: Story, **fields: Any) -> int:
    return story.sign_as(
        "straits",
        {
            "kind": "inspection",
            "site": {"country": "SG", "facility": "Jurong West DC"},
            "date": "2026-03-01",
            **fields,
        },
    )


# --- relabeling: the serial registry ------------------------------------------------------


def test_relabeled_unregistered_and_mixed_serials(story: Story, library: Library) -> None:
    story.manufacture(SERIALS[:4])
    story.manufacture(["H200-1"], product="nvidia-h200-sxm")
    ship(
        story,
        "SH-1",
        item(SERIALS[:2], product="nvidia-h20", unit_value="12000"),
        item([SERIALS[2], "UNREG-1", "UNREG-2"]),
        item([SERIALS[3], "H200-1"]),
    )
    relabeled, unregistered, mixed = (i.facts for i in gather(story, library, "SH-1")["SH-1"].items)

    assert relabeled["declared_product"] == "nvidia-h20"
    assert relabeled["product"] == H100  # the registry wins when the serials agree
    assert relabeled["registered_products"] == [H100]
    assert relabeled["serials_other_product"] == 2
    assert relabeled["serials_unregistered"] == 0
    assert relabeled["tpp"] == H100_TPP and relabeled["declared_tpp"] == 2368.0
    assert relabeled["declared_known"] and relabeled["catalog_known"]

    assert unregistered["serials"] == 3
    assert unregistered["serials_unregistered"] == 2
    assert unregistered["serials_other_product"] == 0
    assert unregistered["registered_products"] == [H100]
    assert unregistered["product"] == H100

    assert mixed["registered_products"] == [H100, "nvidia-h200-sxm"]
    assert mixed["product"] == H100  # two registered products: as declared
    assert mixed["serials_other_product"] == 1
    assert mixed["serials_unregistered"] == 0

    [determination] = Checker.open(story.ledger, as_of=AS_OF).determine(["SH-1"])
    raised = {(f["rule"], f["line"]) for f in determination.flags}
    assert ("relabel.serial-registered-to-other-product", 0) in raised
    assert ("relabel.serial-registered-to-other-product", 2) in raised
    assert ("relabel.unregistered-serials", 1) in raised
    assert ("relabel.declared-spec-below-catalog", 0) in raised
    assert determination.items[0]["product"] == H100
    assert determination.items[0]["declared_product"] == "nvidia-h20"
    assert determination.verdict == "blocked"


def test_serials_in_an_open_shipment(story: Story, library: Library) -> None:
    story.manufacture(SERIALS[:4])
    ship(story, "SH-1", item(SERIALS[:4]))  # 2026-02-01
    receive(story, "SH-1", SERIALS[2:4], "2026-02-10")  # closes SERIALS[2:4] before SH-2
    ship(story, "SH-2", item(SERIALS[:4]), ship_date="2026-03-01")
    receive(story, "SH-1", [SERIALS[0]], "2026-03-05")  # after SH-2 shipped: too late
    ship(story, "SH-3", item([SERIALS[1]]), ship_date="2026-04-01")
    found = gather(story, library, "SH-1", "SH-2", "SH-3")

    assert found["SH-1"].items[0].facts["serials_in_open_shipment"] == 0  # the first carrier
    # SERIALS[0] and [1] were still out on SH-1 on 2026-03-01; [2] and [3] had arrived.
    assert found["SH-2"].items[0].facts["serials_in_open_shipment"] == 2
    # SERIALS[1] is out on SH-1 and SH-2 (neither received): counted once.
    assert found["SH-3"].items[0].facts["serials_in_open_shipment"] == 1

    [determination] = Checker.open(story.ledger, as_of=AS_OF).determine(["SH-2"])
    assert "relabel.serial-in-another-open-shipment" in {f["rule"] for f in determination.flags}


def test_open_shipments_are_earlier_by_ship_date_not_by_registration(
    story: Story, library: Library
) -> None:
    story.manufacture(SERIALS[:1])
    ship(story, "SH-A", item(SERIALS[:1]), ship_date="2026-03-01")  # registered first
    ship(story, "SH-B", item(SERIALS[:1]), ship_date="2026-02-01")  # shipped first
    found = gather(story, library, "SH-A", "SH-B")
    # On 2026-02-01 SH-A had not shipped; on 2026-03-01 SH-B was out with no receipt.
    assert found["SH-B"].items[0].facts["serials_in_open_shipment"] == 0
    assert found["SH-A"].items[0].facts["serials_in_open_shipment"] == 1


# --- custody: receipts and inspections ----------------------------------------------------


def test_receipts_foreign_serials_and_missing_at_inspection(story: Story, library: Library) -> None:
    story.manufacture(SERIALS[:6])
    ship(story, "SH-1", item(SERIALS[:4]))
    receive(story, "SH-1", [SERIALS[0], SERIALS[1], SERIALS[5], "STRAY-1"], "2026-02-10")
    inspect(story, serials_seen=SERIALS[:2], serials_missing=[SERIALS[3]])
    shipment = gather(story, library, "SH-1")["SH-1"].facts["shipment"]
    assert shipment["units"] == 4
    assert shipment["received_units"] == 2
    assert shipment["not_received"] == 2
    assert shipment["foreign_receipts"] == 2
    assert shipment["missing_at_inspection"] == 1
    assert shipment["days_since_ship"] == (AS_OF - dt.date(2026, 2, 1)).days

    [determination] = Checker.open(story.ledger, as_of=AS_OF).determine(["SH-1"])
    raised = {f["rule"] for f in determination.flags}
    assert {
        "diversion.not-received",
        "diversion.missing-at-inspection",
        "diversion.receipt-of-serials-not-shipped",
    } <= raised
    assert determination.verdict == "blocked"


def test_observed_devices_from_inspection_evidence(story: Story, library: Library) -> None:
    assert len(SMI_SERIALS) == 8
    story.manufacture(SMI_SERIALS[:4])
    story.manufacture(SMI_SERIALS[4:], product="nvidia-h20")
    ship(
        story,
        "SH-1",
        item(SMI_SERIALS[:4]),
        item(SMI_SERIALS[4:], product="nvidia-h20", unit_value="12000"),
    )
    ship(story, "SH-2", item(SERIALS[:1]), ship_date="2026-02-02")  # nothing observed
    inspect(story, evidence=[evidence(read_nvidia_smi(SMI), SMI.name)])
    found = gather(story, library, "SH-1", "SH-2")
    honest, relabeled = (i.facts for i in found["SH-1"].items)
    assert honest["observed"] == 4
    assert honest["observed_other_product"] == 0
    assert honest["observed_products"] == [H100]
    # Registered and declared as H20s, but every board reports itself an H100.
    assert relabeled["product"] == "nvidia-h20"
    assert relabeled["observed"] == 4
    assert relabeled["observed_other_product"] == 4
    assert relabeled["observed_products"] == [H100]
    none = found["SH-2"].items[0].facts
    assert (none["observed"], none["observed_other_product"], none["observed_products"]) == (
        0,
        0,
        [],
    )

    [determination] = Checker.open(story.ledger, as_of=AS_OF).determine(["SH-1"])
    hardware = [
        f for f in determination.flags if f["rule"] == "relabel.hardware-says-other-product"
    ]
    assert [f["line"] for f in hardware] == [1]
    assert determination.verdict == "blocked"


# --- end use --------------------------------------------------------------------------------


def test_end_use_statements(story: Story, library: Library) -> None:
    story.manufacture(SERIALS[:10])
    ship(story, "SH-1", item(SERIALS[:8]))  # 2026-02-01
    ship(story, "SH-2", item([SERIALS[8]]), ship_date="2026-02-05")
    ship(story, "SH-3", item([SERIALS[9]]), ship_date="2026-02-06")
    story.sign_as("lion", END_USE)  # SH-1, signed 2026-01-20 (before shipping), 24.5 MW
    story.sign_as(
        "lion",
        {
            **END_USE,
            "shipments": [],
            "serials": [SERIALS[8]],  # covers SH-2 by serial, signed after it shipped
            "date": "2026-02-15",
            "site": {"country": "MY", "facility": "Johor DC", "address": "1 Johor Road"},
            "facility_power_mw": "3",
        },
    )
    found = gather(story, library, "SH-1", "SH-2", "SH-3")

    valid = found["SH-1"].facts["end_use"]
    assert valid["present"] and valid["valid_on_ship_date"] and valid["certified"]
    assert valid["site_country"] == "SG"
    assert valid["power_mw"] == 24.5
    assert valid["units_at_end_user"] == 8
    assert valid["power_needed_mw"] == pytest.approx(8 * 1.4 / 1000)

    late = found["SH-2"].facts["end_use"]
    assert late["present"] and not late["valid_on_ship_date"]
    assert late["site_country"] == "MY" and late["power_mw"] == 3.0
    assert late["units_at_end_user"] == 9  # cumulative for the end user, in ship-date order

    absent = found["SH-3"].facts["end_use"]
    assert not absent["present"] and not absent["valid_on_ship_date"]
    assert (absent["site_country"], absent["power_mw"], absent["certified"]) == ("", 0.0, False)

    checker = Checker.open(story.ledger, as_of=AS_OF)
    first, second, third = checker.determine(["SH-1", "SH-2", "SH-3"])
    assert "diversion.no-end-use-statement" not in {f["rule"] for f in first.flags}
    assert {"diversion.no-end-use-statement", "diversion.destination-not-end-use-site"} <= {
        f["rule"] for f in second.flags
    }
    assert "diversion.no-end-use-statement" in {f["rule"] for f in third.flags}


# --- licenses and cumulative compute --------------------------------------------------------


LICENSE = {
    "kind": "license",
    "id": "L-1",
    "exporter": "meridian",
    "end_user": "lion",
    "destination": "SG",
    "eccns": ["3A090.a"],
    "products": [H100],
    "max_quantity": 10,
    "valid_from": "2026-01-01",
    "valid_until": "2026-12-31",
}


def test_license_facts_and_quantity_drawn_across_shipments(story: Story, library: Library) -> None:
    story.world.register("harbor", ["exporter"])
    story.keys["harbor"] = story.world.party_keys["harbor"]
    story.manufacture(SERIALS)
    story.sign_as("bis", LICENSE)
    story.sign_as("bis", {**LICENSE, "id": "L-HARBOR", "exporter": "harbor"})
    ship(story, "SH-1", item(SERIALS[:8]), license="L-1")  # 2026-02-01
    ship(story, "SH-2", item(SERIALS[8:11]), license="L-1", ship_date="2026-03-01")
    ship(story, "SH-3", item([SERIALS[11]]), license="L-1", ship_date="2027-02-01")
    ship(
        story,
        "SH-MY",
        item([SERIALS[0]]),
        license="L-HARBOR",
        destination="MY",
        route=["US", "MY"],
        ship_date="2026-04-01",
    )
    ship(story, "SH-NONE", item([SERIALS[1]]), license="L-404", ship_date="2026-04-02")
    found = gather(story, library, "SH-1", "SH-2", "SH-3", "SH-MY", "SH-NONE")

    first = found["SH-1"].facts["license"]
    assert first["cited"] and first["found"] and first["valid_on_ship_date"]
    assert first["destination_ok"] and first["parties_ok"]
    assert (first["quantity_used"], first["quantity_max"]) == (8, 10)
    assert first["value_used"] == 8 * 30000.0
    assert first["tpp_used"] == 8 * H100_TPP
    assert first["within_limits"]

    second = found["SH-2"].facts["license"]
    assert second["quantity_used"] == 11 and not second["within_limits"]
    third = found["SH-3"].facts["license"]
    assert not third["valid_on_ship_date"] and third["quantity_used"] == 12

    other = found["SH-MY"].facts["license"]
    assert other["found"] and not other["destination_ok"] and not other["parties_ok"]
    missing = found["SH-NONE"].facts["license"]
    assert missing["cited"] and not missing["found"] and missing["quantity_used"] == 0
    assert found["SH-NONE"].facts["shipment"]["license_kind"] == "license"

    checker = Checker.open(story.ledger, as_of=AS_OF)
    by_id = {d.shipment: d for d in checker.determine(["SH-1", "SH-2", "SH-3", "SH-MY", "SH-NONE"])}
    assert by_id["SH-1"].license["covers"] is True
    rules = {s: {f["rule"] for f in d.flags} for s, d in by_id.items()}
    assert not any(r.startswith("licensing.") for r in rules["SH-1"])
    assert "licensing.license-exceeded" in rules["SH-2"]
    assert "licensing.license-not-valid" in rules["SH-3"]
    assert {"licensing.license-other-destination", "licensing.license-other-party"} <= rules[
        "SH-MY"
    ]
    assert "licensing.license-not-found" in rules["SH-NONE"]


def test_cumulative_tpp_per_destination_in_ship_date_order(story: Story, library: Library) -> None:
    story.manufacture(SERIALS[:6])
    ship(story, "SH-LATE", item(SERIALS[:2]), ship_date="2026-03-01")  # registered first
    ship(story, "SH-EARLY", item([SERIALS[2]]), ship_date="2026-02-01")
    ship(
        story,
        "SH-MY",
        item(SERIALS[3:6]),
        destination="MY",
        route=["US", "MY"],
        ship_date="2026-02-15",
    )
    found = gather(story, library, "SH-LATE", "SH-EARLY", "SH-MY")
    assert found["SH-EARLY"].facts["totals"]["tpp"] == H100_TPP
    assert found["SH-EARLY"].facts["totals"]["tpp_destination"] == H100_TPP
    assert found["SH-LATE"].facts["totals"]["tpp"] == 2 * H100_TPP
    assert found["SH-LATE"].facts["totals"]["tpp_destination"] == 3 * H100_TPP
    assert found["SH-MY"].facts["totals"]["tpp_destination"] == 3 * H100_TPP
    # The end user (lion) received all three, in ship-date order.
    assert found["SH-MY"].facts["totals"]["tpp_end_user"] == 4 * H100_TPP
    assert found["SH-LATE"].facts["totals"]["tpp_end_user"] == 6 * H100_TPP


def test_cumulative_tpp_counts_relabeled_chips_as_what_they_are(
    story: Story, library: Library
) -> None:
    story.manufacture(SERIALS[:2])
    ship(story, "SH-R", item(SERIALS[:2], product="nvidia-h20", unit_value="12000"))
    totals = gather(story, library, "SH-R")["SH-R"].facts["totals"]
    assert totals["tpp"] == 2 * H100_TPP  # the registry says H100s
    # The only shipment to SG and to lion: "so far, this shipment included" is this one.
    assert totals["tpp_destination"] == totals["tpp"]
    assert totals["tpp_end_user"] == totals["tpp"]


# --- screening --------------------------------------------------------------------------------


def test_a_party_named_like_an_entity_list_entry_is_on_the_el(
    story: Story, library: Library
) -> None:
    story.world.register(
        "qixing",
        ["consignee", "end_user"],
        country="CN",
        name="Zhenhua Qixing Microelectronics Co., Ltd.",
    )
    story.keys["qixing"] = story.world.party_keys["qixing"]
    story.manufacture(SERIALS[:2])
    ship(
        story,
        "SH-CN",
        item(SERIALS[:2]),
        consignee="qixing",
        end_user="qixing",
        destination="CN",
        route=["US", "CN"],
    )
    before = gather(story, library, "SH-CN")["SH-CN"].facts
    assert before["consignee"]["screening_lists"] == []  # no list imported yet
    assert before["consignee"]["screening_score"] == 0.0

    snapshots.import_list(
        story.ledger, CSL.read_bytes(), name=CSL.name, signers=[story.world.operator]
    )
    facts = gather(story, library, "SH-CN")["SH-CN"].facts
    assert facts["consignee"]["screening_lists"] == ["EL"]
    assert facts["end_user"]["screening_lists"] == ["EL"]
    assert facts["consignee"]["screening_score"] >= 85
    assert facts["exporter"]["screening_lists"] == []
    assert facts["forwarder"]["id"] == "" and facts["forwarder"]["screening_lists"] == []

    checker = Checker.open(story.ledger, as_of=AS_OF)
    [determination] = checker.determine(["SH-CN"])
    assert "screening.entity-list" in {f["rule"] for f in determination.flags}
    assert "license.entity-list" in determination.items[0]["licensing_rules"]
    assert determination.screening == checker.screening_digest() is not None


# --- determinations, flags and resolutions in the ledger ----------------------------------------


def open_flags(story: Story, shipment: str) -> list[dict[str, Any]]:
    return queries.flags(story.ledger, only_open=True, shipment=shipment)


def test_determinations_flags_and_resolutions(story: Story) -> None:
    story.world.register("harbor", ["exporter"])
    story.keys["harbor"] = story.world.party_keys["harbor"]
    story.manufacture(SERIALS[:4])
    ship(story, "SH-1", item(SERIALS[:4]))  # no end use, not received: flags
    checker = Checker.open(story.ledger, as_of=AS_OF)
    [determination] = checker.determine(["SH-1"])
    assert determination.flags
    [appended] = checker.record([determination], [story.world.operator])
    assert appended.kind == "determination" and appended.signer == "operator"
    with story.ledger.store.read() as conn:
        kind = conn.execute(select(Entry.c.kind).where(Entry.c.seq == appended.seq)).scalar()
        recorded = conn.execute(
            select(DeterminationRow.shipment_id, DeterminationRow.verdict, DeterminationRow.flags)
        ).all()
    assert kind == "determination"
    assert [tuple(r) for r in recorded] == [
        ("SH-1", determination.verdict, len(determination.flags))
    ]

    flags = queries.flags(story.ledger, shipment="SH-1")
    expected = {
        f"F-{appended.seq}-{n}": (f["rule"], f["line"]) for n, f in enumerate(determination.flags)
    }
    assert {f["id"]: (f["rule"], f["line"]) for f in flags} == expected
    assert all(re.fullmatch(r"F-\d+-\d+", f["id"]) for f in flags)
    assert {f["status"] for f in flags} == {"open"}
    assert checker.flags_of("SH-1") == {
        (rule, line): (flag_id, "open") for flag_id, (rule, line) in expected.items()
    }

    # The same check on the same day signs the same bytes: the ledger already holds it.
    [same] = checker.record(checker.determine(["SH-1"]), [story.world.operator])
    assert same.duplicate and same.seq == appended.seq
    # Checking again a day later records a second determination but no flag twice.
    later = Checker.open(story.ledger, as_of=AS_OF + dt.timedelta(days=1))
    [second] = later.record(later.determine(["SH-1"]), [story.world.operator])
    assert not second.duplicate and second.seq > appended.seq
    assert len(queries.flags(story.ledger, shipment="SH-1")) == len(expected)
    with story.ledger.store.read() as conn:
        seqs = conn.execute(select(DeterminationRow.seq).order_by(DeterminationRow.seq))
        assert seqs.scalars().all() == [appended.seq, second.seq]

    # The regulator resolves one; the exporter of another shipment may not.
    target = next(iter(expected))
    story.sign_as(
        "bis", {"kind": "resolution", "flag": target, "status": "cleared", "reason": "ok"}
    )
    [resolved] = [f for f in queries.flags(story.ledger) if f["id"] == target]
    assert resolved["status"] == "cleared" and resolved["resolved_by"] == "bis"
    assert resolved["resolution"] == "ok"
    assert target not in {f["id"] for f in open_flags(story, "SH-1")}

    other = next(f for f in expected if f != target)
    size = story.ledger.size()
    before = snapshot(story.world)
    with pytest.raises(AuthorizationError, match="only a regulator") as refused:
        story.sign_as(
            "harbor", {"kind": "resolution", "flag": other, "status": "cleared", "reason": "mine"}
        )
    assert refused.value.exit_code == 3
    assert story.ledger.size() == size and snapshot(story.world) == before
    with pytest.raises(InputError, match="unknown flag 'F-9999-0'"):
        story.sign_as(
            "bis", {"kind": "resolution", "flag": "F-9999-0", "status": "confirmed", "reason": "x"}
        )
    assert story.ledger.size() == size

    # The shipment's own exporter may answer its flags (issue 18 item 1: not escalate them).
    with pytest.raises(AuthorizationError, match="may not mark a flag escalated"):
        story.sign_as(
            "meridian",
            {"kind": "resolution", "flag": other, "status": "escalated", "reason": "look"},
        )
    story.sign_as(
        "meridian",
        {
            "kind": "resolution",
            "flag": other,
            "status": "disputed",
            "reason": "look",
            "evidence": ["https://example.com/letter"],
        },
    )
    [disputed] = [f for f in queries.flags(story.ledger) if f["id"] == other]
    assert disputed["status"] == "disputed" and disputed["resolved_by"] == "meridian"

    before = snapshot(story.world)
    assert before["determinations"] and before["flags"]
    assert story.ledger.replay() == story.ledger.size()
    assert snapshot(story.world) == before


# --- issue 15: dated groups, letters, citations, receipts elsewhere, resolutions -----------------


def test_country_groups_are_those_of_the_ship_date(story: Story, library: Library) -> None:
    story.world.register("lago", ["consignee", "end_user"], country="NI")
    story.keys["lago"] = story.world.party_keys["lago"]
    story.manufacture(SERIALS[:2])
    ship(
        story,
        "NI-1",
        item(SERIALS[:1]),
        consignee="lago",
        end_user="lago",
        destination="NI",
        route=["US", "NI"],
        ship_date="2024-03-01",
    )
    ship(
        story,
        "NI-2",
        item(SERIALS[1:2]),
        consignee="lago",
        end_user="lago",
        destination="NI",
        route=["US", "NI"],
        ship_date="2024-04-01",
    )
    found = gather(story, library, "NI-1", "NI-2", pack="ear-2023-11")
    assert found["NI-1"].facts["shipment"]["destination_groups"] == []
    assert found["NI-2"].facts["shipment"]["destination_groups"] == ["D:1", "D:5"]
    lago = found["NI-2"].facts["end_user"]
    assert lago["country_groups"] == lago["hq_groups"] == ["D:1", "D:5"]
    assert found["NI-1"].facts["end_user"]["hq_groups"] == []


def test_a_change_that_contradicts_the_lists_is_refused(library: Library) -> None:
    data = dict(library.get(PACK).reference)
    groups = dict(data["country-groups"])
    groups["changes"] = [{"code": "NI", "group": "D:5", "added": "2027-01-01"}]
    data["country-groups"] = groups
    with pytest.raises(InputError, match="NI is a member of D:5 in the list"):
        Reference.from_pack(data)


def test_letters_inform_their_exporter_from_their_date(story: Story, library: Library) -> None:
    story.world.register("nv-exports", ["exporter"], name="NVIDIA Corporation")
    story.keys["nv-exports"] = story.world.party_keys["nv-exports"]
    story.keys["dragon"] = story.world.register("dragon", ["consignee", "end_user"], country="CN")
    story.manufacture(SERIALS[:3], product="nvidia-h20")
    to_china = {
        "consignee": "dragon",
        "end_user": "dragon",
        "destination": "CN",
        "route": ["US", "CN"],
    }
    ship(
        story,
        "H20-MAR",
        item(SERIALS[:1], "nvidia-h20"),
        exporter="nv-exports",
        ship_date="2025-03-01",
        **to_china,
    )
    ship(
        story,
        "H20-MAY",
        item(SERIALS[1:2], "nvidia-h20"),
        exporter="nv-exports",
        ship_date="2025-05-20",
        **to_china,
    )
    ship(story, "H20-OTHER", item(SERIALS[2:3], "nvidia-h20"), ship_date="2025-05-20", **to_china)
    found = gather(story, library, "H20-MAR", "H20-MAY", "H20-OTHER", pack="ear-2025-05")
    before, after, other = (found[s] for s in ("H20-MAR", "H20-MAY", "H20-OTHER"))
    letter = "usg-nvidia-2025-04-09"
    assert letter not in before.facts["exporter"]["informed"]
    assert before.items[0].facts["named_by_letters"] == []
    assert letter in after.facts["exporter"]["informed"]  # matched by its registered name
    assert after.items[0].facts["informed_letters"] == [letter]
    assert other.facts["exporter"]["informed"] == []
    assert other.items[0].facts["named_by_letters"] == [letter]
    assert other.items[0].facts["informed_letters"] == []


def test_the_citation_splits_into_code_and_reference(story: Story, library: Library) -> None:
    story.manufacture(SERIALS[:2])
    ship(story, "NAC-1", item(SERIALS[:1]), license="nac:A1234567")
    ship(story, "LIC-1", item(SERIALS[1:2]), license="BIS-2026-0042")
    found = gather(story, library, "NAC-1", "LIC-1")
    cited = found["NAC-1"].facts["shipment"]
    assert (cited["license_kind"], cited["license"], cited["license_reference"]) == (
        "exception",
        "NAC",
        "A1234567",
    )
    plain = found["LIC-1"].facts["shipment"]
    assert (plain["license_kind"], plain["license"], plain["license_reference"]) == (
        "license",
        "BIS-2026-0042",
        "",
    )


def test_a_receipt_elsewhere_and_the_resolution_that_lifts_the_hold(story: Story) -> None:
    story.manufacture(SERIALS[:2])
    ship(story, "SH-R", item(SERIALS[:2]), ship_date="2026-05-20")
    story.sign_as("lion", {**END_USE, "shipments": ["SH-R"]})
    story.sign_as(
        "lion",
        {
            "kind": "receipt",
            "shipment": "SH-R",
            "serials": SERIALS[:2],
            "date": "2026-05-25",
            "country": "MY",
            "site": "Johor DC",
        },
    )
    checker = Checker.open(story.ledger, as_of=AS_OF)
    [first] = checker.determine(["SH-R"])
    assert first.verdict == "hold"
    [flag] = [f for f in first.flags if f["rule"] == "diversion.receipt-elsewhere"]
    assert flag["facts"] == {"shipment.receipts_elsewhere": ["MY"]}
    assert "to SG" in flag["message"] and "signed in MY" in flag["message"]
    checker.record([first], [story.world.operator])
    flag_id, _ = checker.flags_of("SH-R")[("diversion.receipt-elsewhere", None)]
    story.sign_as(
        "bis", {"kind": "resolution", "flag": flag_id, "status": "cleared", "reason": "explained"}
    )
    [second] = checker.determine(["SH-R"])
    assert second.verdict == "clear"
    assert [f.get("resolution") for f in second.flags] == ["cleared"]
    [recorded] = checker.record([second], [story.world.operator])
    assert not recorded.duplicate  # the resolution is part of what was signed


def test_entity_list_policies_come_from_the_csl_row(story: Story, library: Library) -> None:
    story.world.register(
        "qixing",
        ["consignee", "end_user"],
        country="CN",
        name="Zhenhua Qixing Microelectronics Co., Ltd.",
    )
    story.keys["qixing"] = story.world.party_keys["qixing"]
    story.manufacture(SERIALS[:1])
    ship(
        story,
        "SH-Q",
        item(SERIALS[:1]),
        consignee="qixing",
        end_user="qixing",
        destination="CN",
        route=["US", "CN"],
    )
    snapshots.import_list(
        story.ledger, CSL.read_bytes(), name=CSL.name, signers=[story.world.operator]
    )
    party = gather(story, library, "SH-Q")["SH-Q"].facts["consignee"]
    # "Case-by-case review for items not subject to 744.23; presumption of denial
    # otherwise": the strictest it names.
    assert party["entity_list_policies"] == ["presumption_of_denial"]


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("Presumption of denial.", "presumption_of_denial"),
        (
            "Policy of denial for all items subject to the EAR apart from food",
            "presumption_of_denial",
        ),
        ("Case-by-case review.", "case_by_case"),
        ("Case by case review for items under 3A090", "case_by_case"),
        ("Presumption of approval for EAR99 items.", "approval"),
        ("See 744.11(b).", "presumption_of_denial"),
        (None, "presumption_of_denial"),
    ],
)
def test_entity_list_policy_text(text: str | None, policy: str) -> None:
    assert entity_list_policy(text) == policy


@pytest.mark.parametrize(
    ("cited", "parsed"),
    [
        (None, ("none", "", "")),
        ("NLR", ("exception", "NLR", "")),
        ("aca", ("exception", "ACA", "")),
        ("NAC:A123456", ("exception", "NAC", "A123456")),
        ("NAC:", ("exception", "NAC", "")),
        ("L-AE-1", ("license", "L-AE-1", "")),
        ("D123:456", ("license", "D123:456", "")),
    ],
)
def test_parse_citation(cited: str | None, parsed: tuple[str, str, str]) -> None:
    assert parse_citation(cited) == parsed


def test_inspection_evidence_against_the_serials_claimed(story: Story, library: Library) -> None:
    """Issue 17 item 4: serials claimed seen that the evidence does not show, and serials
    the evidence shows that no manufacturer registered."""
    story.manufacture(SMI_SERIALS[:2])
    story.manufacture(SERIALS[:2])
    ship(story, "SH-1", item([*SMI_SERIALS[:2], *SERIALS[:2]]))
    ship(story, "SH-2", item(SERIALS[2:3]), ship_date="2026-02-02")  # inspected by no one
    story.manufacture(SERIALS[2:3])
    # The evidence shows the eight boards of the file: two registered, six not. SERIALS[0]
    # is claimed seen but is in no evidence file; SERIALS[1] is listed missing.
    inspect(
        story,
        serials_seen=[SMI_SERIALS[0], SERIALS[0]],
        serials_missing=[SERIALS[1]],
        evidence=[evidence(read_nvidia_smi(SMI), SMI.name)],
    )
    found = gather(story, library, "SH-1", "SH-2")
    assert found["SH-1"].items[0].facts["seen_without_evidence"] == 1
    assert found["SH-1"].facts["shipment"]["evidence_unregistered"] == 6
    assert found["SH-2"].items[0].facts["seen_without_evidence"] == 0
    assert found["SH-2"].facts["shipment"]["evidence_unregistered"] == 0

    [determination] = Checker.open(story.ledger, as_of=AS_OF).determine(["SH-1"])
    raised = {f["rule"]: f for f in determination.flags}
    assert raised["diversion.seen-not-in-evidence"]["line"] == 0
    assert (
        "1 serial(s) an inspection claims seen"
        in raised["diversion.seen-not-in-evidence"]["message"]
    )
    assert raised["relabel.evidence-shows-unregistered-serial"]["severity"] == "high"


def test_an_inspection_without_evidence_is_not_held_to_it(story: Story, library: Library) -> None:
    story.manufacture(SERIALS[:2])
    ship(story, "SH-1", item(SERIALS[:2]))
    inspect(story, serials_seen=SERIALS[:2])
    [found] = gather(story, library, "SH-1").values()
    assert found.items[0].facts["seen_without_evidence"] == 0
    assert found.facts["shipment"]["evidence_unregistered"] == 0


def test_determinations_signed_where_they_were_evaluated_append_as_record_signs_them(
    story: Story, world: World
) -> None:
    """`determine(..., sign_with=...)` (how `check --all` spreads signing over the cores)
    gives the very envelopes `record` would sign, on the forked workers as on one core."""
    story.manufacture(SERIALS[:4])
    for n in range(4):
        ship(story, f"SH-{n}", item(SERIALS[n : n + 1]))
    ids = [f"SH-{n}" for n in range(4)]
    checker = Checker.open(story.ledger, as_of=AS_OF)
    presigned = checker.determine(ids, sign_with=[world.operator], batch=1, workers=2)
    plain = Checker.open(story.ledger, as_of=AS_OF).determine(ids)
    assert all(d.signed is not None for d in presigned)
    assert all(d.signed is None for d in plain)
    for signed, unsigned in zip(presigned, plain, strict=True):
        envelope = sign(statement(unsigned), [world.operator])
        assert signed.signed[1] == envelope
    recorded = checker.record(presigned, [world.operator])
    assert [r.duplicate for r in recorded] == [False] * 4
    with story.ledger.store.read() as conn:
        rows = conn.execute(select(DeterminationRow.shipment_id).order_by(DeterminationRow.seq))
        assert [r.shipment_id for r in rows] == ids
