"""A small trade with known numbers, for the report tests (both databases).

Parties (besides the Story's nvidia, meridian, lion, straits and bis): `kowloon`
(consignee and end user in HK), `falcon` (consignee and end user in AE) and `harbor`
(another exporter). Shipments (meridian's unless said):

| id         | ship date  | to | consignee | units                      | license |
|------------|------------|----|-----------|----------------------------|---------|
| SH-Q2      | 2026-05-12 | SG | lion      | 2 H100                     | NLR     |
| SH-SG      | 2026-07-15 | SG | lion      | 4 H100                     | NLR     |
| SH-HK      | 2026-08-03 | HK | kowloon   | 4 H20                      | NLR     |
| SH-HARBOR  | 2026-08-05 | SG | lion      | 1 H100 (harbor's)          | NLR     |
| SH-AE1     | 2026-08-20 | AE | falcon    | 3 H100                     | L-AE-1  |
| SH-AE2     | 2026-09-10 | AE | falcon    | 2 H100                     | L-AE-1  |
| SH-RELABEL | 2026-09-18 | SG | lion      | 2 H100 declared as unknown | NLR     |

Receipts: SH-Q2 and SH-SG in full, SH-AE1 two of three. An end-use statement covers
SH-SG only. An inspection in SG sees three of SH-SG's serials and misses the fourth.
The first five shipments are checked as of 2026-08-31, the last two as of 2026-09-30
(so their flags are raised on those days, both in 2026-Q3).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from provenance.compliance.checks import Checker
from provenance.crypto import keys
from provenance.ledger.database import database_url
from provenance.ledger.log import Ledger
from provenance.ledger.setup import initialise
from provenance.offline.entries import Appended
from provenance.reports.periods import parse_period
from tests.conftest import PG_ENV, World, pg_schema_url
from tests.ledger.test_custody import END_USE, Story

Q3 = parse_period("2026-Q3")
"""The quarter most of the scenario happens in."""

H100 = "nvidia-h100-sxm5"
H20 = "nvidia-h20"
H100_TPP = 15832
H20_TPP = 2368
UNKNOWN = "gpu-accel-module-x"
H100S = [f"H100-{n:04d}" for n in range(16)]
H20S = [f"H20-{n:04d}" for n in range(8)]
FIRST_CHECK = dt.date(2026, 8, 31)
SECOND_CHECK = dt.date(2026, 9, 30)
FIRST_IDS = ["SH-Q2", "SH-SG", "SH-HK", "SH-HARBOR", "SH-AE1"]
SECOND_IDS = ["SH-AE2", "SH-RELABEL"]
SHIPPED: dict[str, list[str]] = {
    "SH-Q2": H100S[0:2],
    "SH-SG": H100S[2:6],
    "SH-HK": H20S[0:4],
    "SH-HARBOR": H100S[13:14],
    "SH-AE1": H100S[6:9],
    "SH-AE2": H100S[9:11],
    "SH-RELABEL": H100S[11:13],
}
LICENSE = {
    "kind": "license",
    "id": "L-AE-1",
    "exporter": "meridian",
    "consignee": "falcon",
    "end_user": "falcon",
    "destination": "AE",
    "eccns": ["3A090.a"],
    "products": [H100],
    "max_quantity": 10,
    "max_value": {"amount": "400000.00", "currency": "USD"},
    "max_tpp": "158320",
    "valid_from": "2026-07-01",
    "valid_until": "2027-06-30",
    "conditions": ["no re-export"],
}


def line(serials: list[str], product: str = H100, unit_value: str = "30000.00") -> dict[str, Any]:
    return {
        "product": product,
        "description": "NVIDIA data-center GPU module",
        "hs_code": "8473.30.1180",
        "quantity": len(serials),
        "serials": serials,
        "unit_value": {"amount": unit_value, "currency": "USD"},
    }


def shipment(
    shipment_id: str,
    ship_date: str,
    to: str,
    consignee: str,
    *items: dict[str, Any],
    exporter: str = "meridian",
    license: str = "NLR",
) -> dict[str, Any]:
    return {
        "kind": "shipment",
        "id": shipment_id,
        "exporter": exporter,
        "consignee": consignee,
        "end_user": consignee,
        "ship_date": ship_date,
        "destination": to,
        "route": ["US", to],
        "license": license,
        "items": list(items),
    }


def receipt(shipment_id: str, serials: list[str], date: str, country: str) -> dict[str, Any]:
    return {
        "kind": "receipt",
        "shipment": shipment_id,
        "serials": serials,
        "date": date,
        "country": country,
        "site": "Main data centre",
    }


@dataclass
class Trade:
    """The Story with the scenario's entries in it, and what the checks recorded."""

    story: Story
    determinations: dict[str, Any] = field(default_factory=dict)
    appended: dict[str, Appended] = field(default_factory=dict)

    @property
    def world(self) -> World:
        return self.story.world

    @property
    def ledger(self) -> Ledger:
        return self.story.ledger

    def sign_as(self, party: str, document: dict[str, Any]) -> int:
        return self.story.sign_as(party, document)

    def check(self, ids: list[str], as_of: dt.date) -> None:
        checker = Checker.open(self.ledger, as_of=as_of)
        found = checker.determine(ids)
        recorded = checker.record(found, [self.world.operator])
        for determination, appended in zip(found, recorded, strict=True):
            self.determinations[determination.shipment] = determination
            self.appended[determination.shipment] = appended


def build(world: World, *, check: bool = True, **names: str) -> Trade:
    """The scenario in `world`. `names` overrides a party's display name (kowloon=...)."""
    story = Story(world)
    for party, roles, country in (
        ("kowloon", ["consignee", "end_user"], "HK"),
        ("falcon", ["consignee", "end_user"], "AE"),
        ("harbor", ["exporter"], "US"),
    ):
        extra = {"name": names[party]} if party in names else {}
        story.keys[party] = world.register(party, roles, country=country, **extra)
    trade = Trade(story)
    story.manufacture(H100S, product=H100)
    story.manufacture(H20S, product=H20)
    trade.sign_as("bis", LICENSE)
    trade.sign_as("meridian", shipment("SH-Q2", "2026-05-12", "SG", "lion", line(H100S[0:2])))
    trade.sign_as("meridian", shipment("SH-SG", "2026-07-15", "SG", "lion", line(H100S[2:6])))
    trade.sign_as(
        "meridian",
        shipment("SH-HK", "2026-08-03", "HK", "kowloon", line(H20S[0:4], H20, "12000.00")),
    )
    trade.sign_as(
        "harbor",
        shipment("SH-HARBOR", "2026-08-05", "SG", "lion", line(H100S[13:14]), exporter="harbor"),
    )
    trade.sign_as(
        "meridian",
        shipment("SH-AE1", "2026-08-20", "AE", "falcon", line(H100S[6:9]), license="L-AE-1"),
    )
    trade.sign_as(
        "meridian",
        shipment("SH-AE2", "2026-09-10", "AE", "falcon", line(H100S[9:11]), license="L-AE-1"),
    )
    trade.sign_as(
        "meridian",
        shipment("SH-RELABEL", "2026-09-18", "SG", "lion", line(H100S[11:13], UNKNOWN, "5000.00")),
    )
    trade.sign_as(
        "lion",
        {**END_USE, "shipments": ["SH-SG"], "date": "2026-07-01", "valid_until": "2027-07-01"},
    )
    trade.sign_as("lion", receipt("SH-Q2", H100S[0:2], "2026-05-20", "SG"))
    trade.sign_as("lion", receipt("SH-SG", H100S[2:6], "2026-07-22", "SG"))
    trade.sign_as("falcon", receipt("SH-AE1", H100S[6:8], "2026-08-28", "AE"))
    trade.sign_as(
        "straits",
        {
            "kind": "inspection",
            "site": {"country": "SG", "facility": "Jurong West DC"},
            "date": "2026-09-01",
            "serials_seen": H100S[2:5],
            "serials_missing": [H100S[5]],
            "findings": ["three of four GPUs present"],
        },
    )
    if check:
        trade.check(FIRST_IDS, FIRST_CHECK)
        trade.check(SECOND_IDS, SECOND_CHECK)
    return trade


@contextmanager
def module_world(backend: str, directory: Path) -> Iterator[World]:
    """A World shared by the tests of a module (the `world` fixture is per test): built once
    per backend, so tests that use it only read."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'ledger.db'}"
        admin = None
    else:
        base = os.environ[PG_ENV]
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(database_url(base))
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = pg_schema_url(base, schema)
    done = initialise(
        url, origin="test.example/ledger", keys_dir=directory / "keys", with_catalog=False
    )
    try:
        yield World(url, directory, done.ledger, keys.load_private(done.operator_key))
    finally:
        done.ledger.close()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
