"""The trade statements on both databases: custody, refusals, the chip query, replay."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, text

from provenance.crypto.keys import SigningKey
from provenance.errors import AuthorizationError, InputError, IntegrityError
from provenance.ledger import queries
from provenance.ledger.audit import audit
from provenance.ledger.projections.tables import ChipRow, ReceiptSerialRow
from provenance.statements import kinds
from provenance.statements.inspection import evidence, read_nvidia_smi
from provenance.statements.products import catalog_statements
from provenance.statements.signing import sign
from tests.conftest import DATA, World, flip_payload_byte, tamper
from tests.ledger.test_log import snapshot

SMI = DATA / "nvidia-smi" / "h100-sxm5-x8-driver-565-SYNTHETIC.xml"
SERIALS = [f"1654923{n:06d}" for n in range(12)]


class Story:
    """A ledger with the catalog, five parties and helpers that sign as each of them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.ledger = world.ledger
        self.ledger.append_many([sign(s, [world.operator]) for s in catalog_statements()])
        self.keys: dict[str, SigningKey] = {
            "nvidia": world.register("nvidia", ["manufacturer"]),
            "meridian": world.register("meridian", ["exporter"]),
            "lion": world.register("lion", ["consignee", "end_user"], country="SG"),
            "straits": world.register("straits", ["auditor"], country="SG"),
            "bis": world.register("bis", ["regulator"]),
        }

    def sign_as(self, party: str, document: dict[str, Any]) -> int:
        appended, _ = self.world.append(document, self.keys[party])
        return appended.seq

    def manufacture(self, serials: list[str] = SERIALS, product: str = "nvidia-h100-sxm5") -> int:
        return self.sign_as(
            "nvidia",
            {
                "kind": "manufacture",
                "product": product,
                "serials": serials,
                "date": "2026-01-05",
                "site": "TW",
            },
        )

    def shipment(
        self, shipment_id: str = "SH-1", serials: list[str] | None = None, **extra: Any
    ) -> int:
        return self.sign_as("meridian", shipment_doc(shipment_id, serials or SERIALS[:8], **extra))

    def receipt(self, serials: list[str], date: str = "2026-02-10", party: str = "lion") -> int:
        return self.sign_as(
            party,
            {
                "kind": "receipt",
                "shipment": "SH-1",
                "serials": serials,
                "date": date,
                "country": "SG",
                "site": "Jurong West DC",
            },
        )


def shipment_doc(shipment_id: str, serials: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "shipment",
        "id": shipment_id,
        "exporter": "meridian",
        "consignee": "lion",
        "end_user": "lion",
        "ship_date": "2026-02-01",
        "destination": "SG",
        "route": ["US", "SG"],
        "license": "NLR",
        "items": [
            {
                "product": "nvidia-h100-sxm5",
                "description": "NVIDIA H100 SXM5 80GB",
                "hs_code": "8473.30.1180",
                "quantity": len(serials),
                "serials": serials,
                "unit_value": {"amount": "30000.00", "currency": "USD"},
            }
        ],
        **extra,
    }


END_USE = {
    "kind": "end-use",
    "shipments": ["SH-1"],
    "date": "2026-01-20",
    "end_use": "Training and serving language models for cloud customers",
    "sector": "commercial cloud",
    "site": {"country": "SG", "facility": "Jurong West DC", "address": "2 Jurong West Ave"},
    "facility_power_mw": "24.5",
    "certifications": {
        "no_military": True,
        "no_wmd": True,
        "no_reexport": True,
        "no_restricted_hq_access": True,
    },
    "valid_until": "2027-01-20",
}


@pytest.fixture
def story(world: World) -> Story:
    return Story(world)


def custody(story: Story) -> dict[str, str]:
    with story.ledger.store.read() as conn:
        return dict(conn.execute(select(ChipRow.serial, ChipRow.state)).all())


def test_the_whole_chain_moves_custody_and_the_chip_query_shows_it_verified(story: Story) -> None:
    story.manufacture()
    assert set(custody(story).values()) == {"manufactured"}
    story.shipment()
    story.receipt(SERIALS[:8])
    story.sign_as("lion", END_USE)
    report = read_nvidia_smi(SMI)
    story.sign_as(
        "straits",
        {
            "kind": "inspection",
            "site": {"country": "SG", "facility": "Jurong West DC"},
            "date": "2026-03-01",
            "serials_seen": SERIALS[:7],
            "serials_missing": [SERIALS[7]],
            "findings": ["seven of eight GPUs present"],
            "evidence": [evidence(report, SMI.name)],
        },
    )
    states = custody(story)
    assert [states[s] for s in SERIALS[:8]] == ["inspected"] * 7 + ["missing"]
    assert [states[s] for s in SERIALS[8:]] == ["manufactured"] * 4

    found = queries.chip(story.ledger, SERIALS[0])
    assert found["product"] == "nvidia-h100-sxm5" and found["state"] == "inspected"
    kinds = [h["kind"] for h in found["history"]]
    assert kinds == ["manufacture", "end-use", "shipment", "receipt", "inspection"]
    assert [h["date"] for h in found["history"]] == sorted(h["date"] for h in found["history"])
    assert found["history"][0]["signer"] == "nvidia"
    assert all(h["proof"]["verified"] for h in found["history"])
    unshipped = queries.chip(story.ledger, SERIALS[9])
    assert [h["kind"] for h in unshipped["history"]] == ["manufacture"]

    shown = queries.shipment(story.ledger, "SH-1")
    assert shown["units"] == 8 and shown["not_received"] == []
    assert shown["end_use_statements"] and shown["receipts"][0]["party"] == "lion"
    assert audit(story.ledger).entries == story.ledger.size()  # raises on any failure


def test_a_receipt_of_a_serial_the_shipment_does_not_carry_is_recorded_not_refused(
    story: Story,
) -> None:
    story.manufacture()
    story.shipment()
    seq = story.receipt([SERIALS[0], SERIALS[10], "UNKNOWN-1"])
    with story.ledger.store.read() as conn:
        rows = dict(
            conn.execute(
                select(ReceiptSerialRow.serial, ReceiptSerialRow.carried).where(
                    ReceiptSerialRow.seq == seq
                )
            ).all()
        )
    assert rows == {SERIALS[0]: True, SERIALS[10]: False, "UNKNOWN-1": False}
    states = custody(story)
    assert states[SERIALS[0]] == "received" and states[SERIALS[10]] == "manufactured"
    assert queries.shipment(story.ledger, "SH-1")["not_received"] == SERIALS[1:8]


def test_a_declared_product_unknown_to_the_catalog_is_recorded_as_declared(story: Story) -> None:
    story.manufacture()
    document = shipment_doc("SH-9", SERIALS[:2])
    document["items"][0]["product"] = "gpu-accel-module-x"
    story.sign_as("meridian", document)
    item = queries.shipment(story.ledger, "SH-9")["items"][0]
    assert item["product"] == "gpu-accel-module-x"
    assert {s["registered_product"] for s in item["serials"]} == {"nvidia-h100-sxm5"}


@pytest.mark.parametrize(
    ("party", "document", "error", "words"),
    [
        ("meridian", shipment_doc("SH-2", SERIALS[:2], consignee="ghost"), InputError, "consignee"),
        ("meridian", shipment_doc("SH-2", SERIALS[:2], forwarder="ghost"), InputError, "forwarder"),
        ("meridian", shipment_doc("SH-1", SERIALS[:2]), InputError, "shipment: id"),
        (
            "meridian",
            shipment_doc("SH-2", SERIALS[:2], exporter="lion"),
            AuthorizationError,
            "exporter",
        ),
        ("nvidia", shipment_doc("SH-2", SERIALS[:2]), AuthorizationError, "may not sign"),
        (
            "lion",
            {**END_USE, "shipments": ["SH-404"]},
            InputError,
            "shipments[0]: unknown shipment",
        ),
        (
            "nvidia",
            {
                "kind": "manufacture",
                "product": "nvidia-h100-sxm5",
                "serials": ["X1", SERIALS[3]],
                "date": "2026-01-05",
                "site": "TW",
            },
            InputError,
            "serials[1]",
        ),
        (
            "nvidia",
            {
                "kind": "manufacture",
                "product": "nvidia-h999",
                "serials": ["X1"],
                "date": "2026-01-05",
                "site": "TW",
            },
            InputError,
            "manufacture: product",
        ),
        (
            "bis",
            {
                "kind": "license",
                "id": "L-1",
                "exporter": "ghost",
                "destination": "SG",
                "eccns": ["3A090.a"],
                "valid_from": "2026-01-01",
                "valid_until": "2026-12-31",
            },
            InputError,
            "license: exporter: unknown party",
        ),
    ],
)
def test_contradictions_with_the_ledger_are_refused_and_nothing_is_written(
    story: Story, party: str, document: dict[str, Any], error: type[Exception], words: str
) -> None:
    story.manufacture()
    story.shipment()
    size = story.ledger.size()
    before = snapshot(story.world)
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        story.sign_as(party, document)
    assert story.ledger.size() == size
    assert snapshot(story.world) == before


def test_receipts_are_checked_against_the_shipment(story: Story) -> None:
    story.manufacture()
    story.shipment()
    with pytest.raises(InputError, match="receipt: date: received 2026-01-31, before"):
        story.receipt(SERIALS[:1], date="2026-01-31")
    with pytest.raises(AuthorizationError, match="neither the consignee"):
        story.world.register("other", ["consignee"], country="SG")
        story.world.append(
            {
                "kind": "receipt",
                "shipment": "SH-1",
                "serials": SERIALS[:1],
                "date": "2026-02-10",
                "country": "SG",
                "site": "x",
            },
            story.world.party_keys["other"],
        )
    with pytest.raises(InputError, match="receipt: shipment: unknown shipment 'SH-404'"):
        story.world.append(
            {
                "kind": "receipt",
                "shipment": "SH-404",
                "serials": SERIALS[:1],
                "date": "2026-02-10",
                "country": "SG",
                "site": "x",
            },
            story.keys["lion"],
        )


def test_a_serial_registered_twice_in_one_batch_is_refused(story: Story) -> None:
    first = story.world.envelope(
        {
            "kind": "manufacture",
            "product": "nvidia-h100-sxm5",
            "serials": ["B1", "B2"],
            "date": "2026-01-05",
            "site": "TW",
        },
        story.keys["nvidia"],
    )
    second = story.world.envelope(
        {
            "kind": "manufacture",
            "product": "nvidia-h200-sxm",
            "serials": ["B3", "B2"],
            "date": "2026-01-06",
            "site": "TW",
        },
        story.keys["nvidia"],
    )
    size = story.ledger.size()
    with pytest.raises(InputError, match=r"envelope 2: manufacture: serials\[1\]: serial 'B2'"):
        story.ledger.import_envelopes([first, second])
    assert story.ledger.size() == size
    assert "B1" not in custody(story)


def test_a_product_signed_again_supersedes_the_catalog_entry(story: Story) -> None:
    [h100] = [s for s in catalog_statements() if s.id == "nvidia-h100-sxm5"]
    changed = h100.model_copy(update={"reference_price": None})
    story.ledger.append(
        sign(type(h100).model_validate(changed.predicate()), [story.world.operator])
    )
    found = queries.product(story.ledger, "nvidia-h100-sxm5")
    assert found["reference_price"] is None and found["tpp"] == "15832"
    assert len(queries.products(story.ledger)) == 22


def test_replay_rebuilds_every_custody_table_exactly(story: Story) -> None:
    story.manufacture()
    story.shipment()
    story.receipt([SERIALS[0], "STRAY-1"])
    story.sign_as("lion", {**END_USE, "serials": [SERIALS[1]]})
    story.sign_as(
        "straits",
        {
            "kind": "inspection",
            "site": {"country": "SG", "facility": "Jurong West DC"},
            "date": "2026-03-01",
            "serials_missing": [SERIALS[2]],
            "evidence": [evidence(read_nvidia_smi(SMI), SMI.name)],
        },
    )
    story.sign_as(
        "bis",
        {
            "kind": "license",
            "id": "L-1",
            "exporter": "meridian",
            "end_user": "lion",
            "destination": "SG",
            "eccns": ["3A090.a"],
            "products": ["nvidia-h100-sxm5"],
            "max_quantity": 100,
            "max_value": {"amount": "3000000", "currency": "USD"},
            "max_tpp": "1583200",
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
            "conditions": ["no re-export"],
        },
    )
    before = snapshot(story.world)
    assert all(
        before[t]
        for t in (
            "chips",
            "shipments",
            "receipts",
            "end_uses",
            "inspections",
            "inspection_devices",
            "licenses",
            "products",
        )
    )
    assert story.ledger.replay() == story.ledger.size()
    assert snapshot(story.world) == before


def test_the_chip_query_refuses_an_entry_whose_bytes_were_altered(story: Story) -> None:
    seq = story.manufacture(["T1"])
    with story.ledger.store.read() as conn:
        leaf = bytes(
            conn.execute(text("SELECT leaf FROM entries WHERE seq = :s"), {"s": seq}).scalar_one()
        )
    tamper(
        story.ledger.store.engine,
        "UPDATE entries SET leaf = :leaf WHERE seq = :s",
        {"leaf": flip_payload_byte(leaf, 40, 1), "s": seq},
    )
    with pytest.raises(IntegrityError):
        queries.chip(story.ledger, "T1")


def test_dates_and_shapes_are_checked_before_anything_is_signed(story: Story) -> None:

    bad_end_use = {**END_USE, "shipments": [], "serials": []}
    with pytest.raises(InputError, match="both empty"):
        kinds.from_document(bad_end_use)
    with pytest.raises(InputError, match="valid_until 2026-01-01 is before date 2026-01-20"):
        kinds.from_document({**END_USE, "valid_until": "2026-01-01"})
    with pytest.raises(InputError, match=r"route: ends in MY"):
        kinds.from_document(shipment_doc("S", ["A"], route=["US", "MY"]))
    with pytest.raises(InputError, match=r"destination: 'XX' is not an ISO 3166-1"):
        kinds.from_document(shipment_doc("S", ["A"], destination="XX"))
    assert dt.date.fromisoformat(END_USE["valid_until"]) > dt.date(2026, 1, 1)


def test_a_superseded_version_keeps_every_column_a_shipment_writes() -> None:
    """`SHIPMENT_FACTS` (what a superseded version keeps, what reports read of it) names
    the columns `shipment_columns` writes: a fact added to one is added to the other."""
    from provenance.ledger.projections.custody import shipment_columns
    from provenance.ledger.projections.tables import SHIPMENT_FACTS, ShipmentVersionRow

    statement = kinds.from_document(shipment_doc("SH-F", SERIALS[:2]))
    assert isinstance(statement, kinds.get("shipment").model)
    assert set(shipment_columns(statement)) == set(SHIPMENT_FACTS)  # type: ignore[arg-type]
    assert set(SHIPMENT_FACTS) <= set(ShipmentVersionRow.__table__.c.keys())
