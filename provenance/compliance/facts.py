"""Facts: what the rules read, computed from the projections in bulk.

`Facts.gather(shipment_ids)` loads everything the vocabulary names for a batch
of shipments with a fixed number of queries (IN lists), whatever the batch
size: the shipments, their items and serials, the serial registry, earlier
shipments and receipts of the same serials, inspections, parties, screening
matches, end-use statements, cited licenses and what was drawn against them,
and the cumulative compute per destination and end user. Only the facts that
depend on the classification (an item's ECCN, license coverage of ECCNs) are
left to the engine.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import and_, select

from provenance.compliance import geodesy
from provenance.errors import InputError, NotFoundError
from provenance.ledger.database import in_chunks
from provenance.ledger.log import Ledger
from provenance.ledger.projections.tables import (
    ChipRow,
    EndUseRow,
    EndUseScopeRow,
    FlagRow,
    InspectionDeviceRow,
    InspectionRow,
    InspectionSerialRow,
    KycRow,
    LabResultRow,
    LabTestRow,
    LicenseRow,
    LocationRow,
    PartyOwnerRow,
    PartyRow,
    ProductRow,
    ReceiptRow,
    ReceiptSerialRow,
    ShipmentItemRow,
    ShipmentRow,
    ShipmentSerialRow,
)
from provenance.screening import snapshots

EXCEPTION_CODES = frozenset(
    {
        "NLR",
        "NAC",
        "ACA",
        "HBM",
        "LPP",
        "AIA",
        "ACM",
        "LVS",
        "GBS",
        "TMP",
        "RPL",
        "TSU",
        "BAG",
        "AVS",
        "ENC",
        "STA",
    }
)
"""Codes a shipment may cite in `license` that are not license ids: No License Required
and the EAR's license exceptions (15 CFR 740)."""

CHINA_MACAU = frozenset({"CN", "HK", "MO"})
"""Destinations of the 2026 case-by-case path and its 50% cap (Hong Kong as China, as the
packs treat it)."""


def parse_citation(text: str | None) -> tuple[str, str, str]:
    """What a shipment's `license` cites: (kind, code or license id, reference).

    `NLR`, `ACA`: an exception code (upper-cased); `NAC:A1234567`: the exception NAC
    with the reference `A1234567` (BIS's confirmation number); anything else is a
    license id (`none` when nothing is cited)."""
    if not text:
        return "none", "", ""
    code, colon, reference = text.partition(":")
    if code.upper() in EXCEPTION_CODES:
        return "exception", code.upper(), reference if colon else ""
    return "license", text, ""


_POLICIES = (
    ("presumption_of_denial", re.compile(r"(presumption|policy) of denial", re.I)),
    ("case_by_case", re.compile(r"case[- ]by[- ]case", re.I)),
    ("approval", re.compile(r"(presumption|policy) of approval", re.I)),
)


def entity_list_policy(text: str | None) -> str:
    """An Entity List entry's license review policy (its CSL `license_policy` text) as a
    pack policy: the strictest one the text names (an entry such as "case-by-case for
    items not subject to 744.23; presumption of denial otherwise" cannot be split by
    item here, so denial). No text, or one naming no policy: presumption of denial, the
    policy most entries state."""
    for policy, pattern in _POLICIES:
        if text and pattern.search(text):
            return policy
    return "presumption_of_denial"


@dataclass(frozen=True)
class Membership:
    """A dated change of a country group: `code` is a member from `added` (inclusive)
    until `removed` (exclusive); either may be open."""

    code: str
    group: str
    added: dt.date | None
    removed: dt.date | None

    def member_on(self, on: dt.date) -> bool:
        return (self.added is None or self.added <= on) and (
            self.removed is None or on < self.removed
        )


@dataclass(frozen=True)
class Letter:
    """An "is informed" letter (reference is-informed): BIS told these parties that a
    license is required for these items to these destinations, from `since`."""

    id: str
    parties: frozenset[str]
    names: frozenset[str]
    since: dt.date
    until: dt.date | None
    products: frozenset[str]
    vendors: frozenset[str]
    thresholds: dict[str, float]
    match: str
    destinations: frozenset[str]
    destination_groups: frozenset[str]
    headquarters_groups: frozenset[str]

    def in_force(self, on: dt.date) -> bool:
        return self.since <= on and (self.until is None or on < self.until)

    def informs(self, party_id: str, name: str) -> bool:
        return party_id in self.parties or _name_key(name) in self.names

    def covers_item(self, product: str, info: ProductInfo | None) -> bool:
        if product in self.products:
            return True
        if info is None or not self.thresholds or info.vendor not in self.vendors:
            return False
        figures = {
            "tpp": info.tpp,
            "interconnect_gbps": float(info.interconnect),
            "memory_bandwidth_gbps": float(info.memory_bandwidth),
        }
        met = [figures.get(name, 0.0) >= value for name, value in self.thresholds.items()]
        return all(met) if self.match == "all" else any(met)


@functools.lru_cache(maxsize=4096)
def _name_key(name: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())


def _date(value: Any, where: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Reference:
    """The reference data a pack reads, in the shapes the facts need."""

    groups: dict[str, frozenset[str]]
    treat_as: dict[str, str]
    hubs: frozenset[str]
    hs_classes: list[tuple[str, str]]
    """(digits prefix, class), longest prefix first."""
    misdeclared: tuple[str, ...]
    changes: dict[tuple[str, str], Membership] = field(default_factory=dict)
    """(country, group) -> its dated membership, where the group changed."""
    letters: tuple[Letter, ...] = ()
    memory_parts: dict[str, tuple[int, float]] = field(default_factory=dict)
    """HBM part id -> (memory bandwidth GB/s, memory bandwidth density GB/s/mm^2)."""
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, compare=False, repr=False)
    """Answers already given (codes and descriptions repeat across shipments)."""

    @classmethod
    def from_pack(cls, data: dict[str, Any]) -> Reference:
        groups_doc = data.get("country-groups", {})
        groups = {
            name: frozenset(values)
            for name, values in groups_doc.items()
            if isinstance(values, list) and all(isinstance(v, str) and len(v) == 2 for v in values)
        }
        changes = _changes(groups_doc, groups)
        letters = tuple(_letter(doc) for doc in data.get("is-informed", {}).get("letters", []))
        memory_parts = {
            str(doc["id"]): _memory_part(doc) for doc in data.get("hbm-parts", {}).get("parts", [])
        }
        hubs_doc = data.get("diversion-hubs", {})
        hubs = frozenset(h["code"] for h in hubs_doc.get("hubs", []))
        hs_doc = data.get("hs-codes", {})
        classes: list[tuple[str, str]] = []
        for section, label in (
            ("accelerator", "accelerator"),
            ("server", "server"),
            ("misdeclaration", "misdeclaration"),
        ):
            classes.extend((_digits(entry["code"]), label) for entry in hs_doc.get(section, []))
        # Longest prefix wins; at equal length accelerator/server before misdeclaration.
        order = {"accelerator": 0, "server": 1, "misdeclaration": 2}
        classes.sort(key=lambda c: (-len(c[0]), order[c[1]]))
        return cls(
            groups=groups,
            treat_as=dict(groups_doc.get("treat_as", {})),
            hubs=hubs,
            hs_classes=classes,
            misdeclared=tuple(d.lower() for d in hs_doc.get("misdeclared_descriptions", [])),
            changes=changes,
            letters=letters,
            memory_parts=memory_parts,
        )

    def groups_of(self, country: str, on: dt.date | None = None) -> list[str]:
        """The country groups `country` was in on `on` (the lists as they stand when no
        date is given): a group with a dated change for the country counts from the
        day it was added until the day it was removed."""
        key = ("groups", country, on)
        if key not in self.memo:
            code = self.treat_as.get(country, country)
            found = []
            for name, members in self.groups.items():
                dated = self.changes.get((code, name)) or self.changes.get((country, name))
                if dated is not None and on is not None:
                    if dated.member_on(on):
                        found.append(name)
                elif code in members or country in members:
                    found.append(name)
            self.memo[key] = sorted(found)
        result: list[str] = self.memo[key]
        return list(result)

    def hs_class(self, code: str) -> str:
        key = ("class", code)
        if key not in self.memo:
            self.memo[key] = self._hs_class(code)
        result: str = self.memo[key]
        return result

    def _hs_class(self, code: str) -> str:
        digits = _digits(code)
        for prefix, label in self.hs_classes:
            if digits.startswith(prefix):
                return label
        return "other"

    def hs_matches(self, declared: str, listed: Iterable[str]) -> bool:
        digits = _digits(declared)
        return any(digits.startswith(_digits(code)) for code in listed)

    def misdeclared_description(self, description: str) -> bool:
        key = ("description", description)
        if key not in self.memo:
            self.memo[key] = self._misdeclared(description)
        return bool(self.memo[key])

    def _misdeclared(self, description: str) -> bool:
        text = " ".join(description.lower().split())
        return any(phrase in text for phrase in self.misdeclared)


def _changes(
    doc: dict[str, Any], groups: dict[str, frozenset[str]]
) -> dict[tuple[str, str], Membership]:
    """The dated memberships of country-groups `changes`, checked against the lists: on
    the file's `as_of` date every change must agree with the list it changes."""
    as_of = _date(doc.get("as_of"), "country-groups: as_of")
    out: dict[tuple[str, str], Membership] = {}
    for i, entry in enumerate(doc.get("changes", []) or []):
        where = f"country-groups: changes[{i}]"
        if not isinstance(entry, dict) or "code" not in entry or "group" not in entry:
            raise InputError(f"{where}: needs code and group")
        code, group = str(entry["code"]), str(entry["group"])
        if group not in groups:
            raise InputError(f"{where}: {group!r} is not a group of the file")
        dated = Membership(
            code,
            group,
            _date(entry.get("added"), f"{where}.added"),
            _date(entry.get("removed"), f"{where}.removed"),
        )
        if dated.added is None and dated.removed is None:
            raise InputError(f"{where}: give added, removed or both")
        if (code, group) in out:
            raise InputError(f"{where}: {code} in {group} is changed twice; give one span")
        if as_of is not None and dated.member_on(as_of) != (code in groups[group]):
            state = "a member" if code in groups[group] else "not a member"
            raise InputError(
                f"{where}: on {as_of} (the file's as_of) {code} is {state} of {group} "
                "in the list, which the change contradicts"
            )
        out[(code, group)] = dated
    return out


def _letter(doc: dict[str, Any]) -> Letter:
    where = f"is-informed: letter {doc.get('id', '?')}"
    since = _date(doc.get("from"), f"{where}.from")
    if since is None or not doc.get("id"):
        raise InputError(f"{where}: needs an id and a from date")
    informed = doc.get("informed") or {}
    match = str(doc.get("match", "any"))
    if match not in ("any", "all"):
        raise InputError(f"{where}: match is 'any' or 'all', not {match!r}")
    return Letter(
        id=str(doc["id"]),
        parties=frozenset(informed.get("parties", [])),
        names=frozenset(_name_key(n) for n in informed.get("names", [])),
        since=since,
        until=_date(doc.get("until"), f"{where}.until"),
        products=frozenset(doc.get("products", [])),
        vendors=frozenset(doc.get("vendors", [])),
        thresholds={k: float(v) for k, v in (doc.get("thresholds") or {}).items()},
        match=match,
        destinations=frozenset(doc.get("destinations", [])),
        destination_groups=frozenset(doc.get("destination_groups", [])),
        headquarters_groups=frozenset(doc.get("headquarters_groups", [])),
    )


def _memory_part(doc: dict[str, Any]) -> tuple[int, float]:
    where = f"hbm-parts: {doc.get('id', '?')}"
    try:
        bandwidth = int(doc["bandwidth_gbps"])
        area = Decimal(str(doc["package_area_mm2"]))
    except (KeyError, ValueError, ArithmeticError):
        raise InputError(f"{where}: needs bandwidth_gbps and package_area_mm2") from None
    if bandwidth <= 0 or area <= 0:
        raise InputError(f"{where}: bandwidth and area must be positive")
    density = (Decimal(bandwidth) / area).quantize(Decimal("0.000001"), ROUND_DOWN)
    return bandwidth, float(density)


IN_FORCE = ShipmentRow.voided_seq.is_(None)
"""A shipment not voided: what other shipments' facts (cumulative compute, a serial's
earlier carriers, a license's drawdown) count."""


def _effective_products(conn: Any, *where: Any) -> dict[tuple[str, int], str]:
    """(shipment, line) -> the product its serials are registered to, where they all agree
    on one (the rule `item.product` follows): relabeled chips count as what they are."""
    found: dict[tuple[str, int], set[str]] = defaultdict(set)
    query = (
        select(ShipmentSerialRow.shipment_id, ShipmentSerialRow.line, ChipRow.product_id)
        .join(ChipRow, ChipRow.serial == ShipmentSerialRow.serial)
        .join(ShipmentRow, ShipmentRow.id == ShipmentSerialRow.shipment_id)
    )
    if where:
        query = query.where(*where)
    for shipment_id, line, product in conn.execute(query):
        found[(shipment_id, line)].add(product)
    return {key: next(iter(v)) for key, v in found.items() if len(v) == 1}


def _two_sites(seen: set[tuple[dt.date, str]] | None) -> bool:
    """Seen (received or inspected) at two different sites on the same day."""
    if not seen:
        return False
    places: dict[dt.date, set[str]] = defaultdict(set)
    for date, place in seen:
        places[date].add(place)
    return any(len(p) > 1 for p in places.values())


@functools.lru_cache(maxsize=8192)
def _digits(code: str) -> str:
    return "".join(ch for ch in code if ch.isdigit())


@dataclass(frozen=True)
class ProductInfo:
    id: str
    vendor: str
    tpp: float
    pd: float
    die_area: float
    datacenter: bool
    interconnect: int
    memory_bandwidth: int
    hs_codes: tuple[str, ...]
    price: float
    currency: str | None
    pci_ids: tuple[str, ...]
    names: tuple[str, ...]
    us_available_from: dt.date | None = None


@dataclass(frozen=True)
class LabResult:
    """One serial as a lab measured it (the facts read the latest valid one)."""

    seq: int
    date: dt.date
    lab_country: str
    """Where the lab is registered (its party's country)."""
    tested_in: str
    tpp: float
    bandwidth: int
    pci_device_id: str | None
    product_name: str


@dataclass(frozen=True)
class Measurement:
    """A landmark's measurement of a serial."""

    landmark: str
    at: dt.datetime
    rtt_ms: float
    landmark_at: tuple[float, float]


LISTED = 20
"""Serials a fact lists by name (the counts give the rest)."""


def _listed(values: list[str]) -> list[str]:
    if len(values) <= LISTED:
        return values
    return [*values[:LISTED], f"and {len(values) - LISTED} more"]


@dataclass(frozen=True)
class Evidence:
    """The lab tests and location measurements of a batch's serials, and the KYC
    attestations of its consignees and end users."""

    lab: dict[str, list[LabResult]]
    located: dict[str, list[Measurement]]
    kyc: dict[str, list[Any]]


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes (stored in UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Inspected:
    """The nvidia-smi evidence of the inspections (those with evidence files) that name
    a batch's serials: which inspections name each serial, which claim it seen, and
    the serials each inspection's evidence shows."""

    naming: dict[str, set[int]]
    claiming: dict[str, set[int]]
    shown: dict[int, set[str]]

    def unshown(self, serial: str) -> bool:
        """Claimed seen by an inspection whose evidence does not show it."""
        return any(serial not in self.shown.get(q, set()) for q in self.claiming.get(serial, ()))

    def shown_with(self, serials: Iterable[str]) -> set[str]:
        """Every serial the evidence shows, of the inspections that name these serials."""
        seqs = {seq for s in serials for seq in self.naming.get(s, ())}
        return {s for seq in seqs for s in self.shown.get(seq, set())}


@dataclass
class ItemFacts:
    """One item's facts (the engine adds its ECCN and license requirement to them)."""

    facts: dict[str, Any]


@dataclass
class ShipmentFacts:
    """Every fact of one shipment except those the classification decides."""

    id: str
    seq: int
    ship_date: dt.date
    license_id: str | None
    facts: dict[str, Any]
    """shipment, exporter, consignee, end_user, forwarder, end_use, totals, license."""
    items: list[ItemFacts]
    license_row: Any = None
    screening: dict[str, list[Any]] = field(default_factory=dict)
    resolutions: dict[tuple[str, int | None], str] = field(default_factory=dict)
    """(rule, line) -> the signed resolution of that flag raised on this shipment earlier
    (cleared, confirmed, escalated, disputed; flags still open, and allow-list clearances past
    their expiry on the evaluation date, are not listed)."""
    confirmed: dict[tuple[str, int | None], tuple[str, str, str]] = field(default_factory=dict)
    """(rule, line) -> (flag id, severity, message) of each flag on this shipment that a
    signed resolution confirmed: it stands even when the facts no longer raise it."""


def _kyc_on(rows: list[Any], on: dt.date) -> str:
    """'valid' when a KYC attestation signed by `on` covers `on` with every control stated
    true; 'incomplete' when one covers it but not every control holds; else 'none'."""
    covering = [r for r in rows if r.date <= on and r.valid_from <= on <= r.valid_until]
    if any(r.complete for r in covering):
        return "valid"
    return "incomplete" if covering else "none"


class Facts:
    """Gathers facts from one ledger, caching what every shipment shares."""

    def __init__(
        self, ledger: Ledger, reference: Reference, params: dict[str, Any], as_of: dt.date
    ) -> None:
        self.ledger = ledger
        self.reference = reference
        self.params = params
        self.as_of = as_of
        self._products: dict[str, ProductInfo] | None = None
        self._pci: dict[str, set[str]] = {}
        self._names: dict[str, set[str]] = {}
        self._parties: dict[str, Any] | None = None
        self._screening: dict[str, list[Any]] = {}
        self._timeline: dict[str, Any] | None = None
        self._party_facts: dict[tuple[str | None, dt.date], dict[str, Any]] = {}
        self._cap: dict[str, dict[str, tuple[list[tuple[dt.date, int]], list[int]]]] = {}
        self._owners: dict[str, list[tuple[str, float]]] | None = None
        self._affiliation: dict[str, tuple[list[str], list[str], list[str]]] = {}

    # --- shared, loaded once ------------------------------------------------------------

    def products(self) -> dict[str, ProductInfo]:
        if self._products is None:
            with self.ledger.store.read() as conn:
                rows = conn.execute(select(ProductRow.__table__)).all()
            self._products = {}
            for r in rows:
                info = ProductInfo(
                    id=r.id,
                    vendor=r.vendor,
                    tpp=float(r.tpp),
                    pd=float(r.performance_density or 0),
                    die_area=float(r.die_area_mm2 or 0),
                    datacenter=bool(r.datacenter),
                    interconnect=r.interconnect_gbps or 0,
                    memory_bandwidth=r.memory_bandwidth_gbps or 0,
                    hs_codes=tuple(r.hs_codes.split()),
                    price=float(r.reference_price or 0),
                    currency=r.reference_currency,
                    pci_ids=tuple(r.pci_device_ids.split()),
                    names=tuple(json.loads(r.names)),
                    us_available_from=r.us_available_from,
                )
                self._products[r.id] = info
                for pci in info.pci_ids:
                    self._pci.setdefault(pci.upper(), set()).add(r.id)
                for name in (*info.names, r.model):
                    self._names.setdefault(name.casefold(), set()).add(r.id)
        return self._products

    def parties(self) -> dict[str, Any]:
        if self._parties is None:
            with self.ledger.store.read() as conn:
                self._parties = {r.id: r for r in conn.execute(select(PartyRow.__table__))}
        return self._parties

    def owners(self) -> dict[str, list[tuple[str, float]]]:
        """party -> its direct owners and their shares (percent), as declared."""
        if self._owners is None:
            self._owners = defaultdict(list)
            with self.ledger.store.read() as conn:
                for r in conn.execute(select(PartyOwnerRow.__table__)):
                    self._owners[r.party_id].append((r.owner_id, float(r.share)))
        return self._owners

    def owners_of(self, party_ids: Iterable[str]) -> set[str]:
        """Every direct or indirect owner of these parties."""
        owners = self.owners()
        found: set[str] = set()
        todo = [p for p in party_ids if p]
        while todo:
            for owner, _ in owners.get(todo.pop(), []):
                if owner not in found:
                    found.add(owner)
                    todo.append(owner)
        return found

    def affiliation(
        self, party_id: str, visiting: frozenset[str] = frozenset()
    ) -> tuple[list[str], list[str], list[str]]:
        """The Affiliates rule: (lists, Entity List policies, ownership chain) when parties on
        the Entity List or the MEU list own `party_id` 50% or more, directly or through
        parties they own 50% or more, alone or in aggregate; empty lists otherwise."""
        if party_id in self._affiliation:
            return self._affiliation[party_id]
        lists: set[str] = set()
        policies: set[str] = set()
        chain: list[str] = []
        total = 0.0
        for owner, share in self.owners().get(party_id, []):
            if owner in visiting:
                continue  # an ownership cycle: counted once
            above = [m for m in self._screening.get(owner, []) if m.above_threshold]
            direct = {m.source for m in above if m.source in ("EL", "MEU")}
            direct_policies = {
                entity_list_policy(m.license_policy) for m in above if m.source == "EL"
            }
            via_lists, via_policies, via_chain = self.affiliation(owner, visiting | {party_id})
            owner_lists = direct | set(via_lists)
            if not owner_lists:
                continue
            total += share
            lists |= owner_lists
            policies |= direct_policies | set(via_policies)
            chain.append(f"{party_id} <- {owner} ({share:g}%, {'/'.join(sorted(owner_lists))})")
            chain.extend(via_chain)
        found = (sorted(lists), sorted(policies), chain) if total >= 50.0 else ([], [], [])
        if not visiting:
            self._affiliation[party_id] = found
        return found

    def matches(self, party_id: str) -> list[Any]:
        """The party's own matches at or above the threshold (after `screen`)."""
        return [m for m in self._screening.get(party_id, []) if m.above_threshold]

    def screen(self, party_ids: Iterable[str]) -> None:
        wanted = [p for p in dict.fromkeys(party_ids) if p and p not in self._screening]
        if wanted:
            self._screening.update(snapshots.screen_parties(self.ledger, wanted))

    def timeline(self) -> dict[str, Any]:
        """Every shipment's (ship date, seq) and TPP, per destination and per end user,
        as sorted prefix sums: the cumulative compute up to any shipment."""
        if self._timeline is None:
            products = self.products()
            with self.ledger.store.read() as conn:
                rows = conn.execute(
                    select(
                        ShipmentRow.id,
                        ShipmentRow.seq,
                        ShipmentRow.ship_date,
                        ShipmentRow.destination,
                        ShipmentRow.end_user,
                        ShipmentRow.consignee,
                        ShipmentRow.route,
                        ShipmentItemRow.line,
                        ShipmentItemRow.product,
                        ShipmentItemRow.quantity,
                    )
                    .join(ShipmentItemRow, ShipmentItemRow.shipment_id == ShipmentRow.id)
                    .where(IN_FORCE)
                ).all()
                effective = _effective_products(conn, IN_FORCE)
            per_shipment: dict[str, list[Any]] = {}
            cap: dict[str, dict[str, list[tuple[tuple[dt.date, int], int]]]] = {}
            cap_from = _date(self.params.get("china_cap_from"), "params.china_cap_from")
            for r in rows:
                entry = per_shipment.setdefault(
                    r.id, [(r.ship_date, r.seq), r.destination, r.end_user, r.consignee, 0.0, 0]
                )
                product = effective.get((r.id, r.line), r.product)
                info = products.get(product)
                entry[4] += r.quantity * (info.tpp if info else 0.0)
                entry[5] += r.quantity
                if cap_from is not None and r.ship_date >= cap_from:
                    origin = r.route.split()[0] if r.route else ""
                    side = (
                        "china"
                        if r.destination in CHINA_MACAU and origin == "US"
                        else "us"
                        if r.destination == "US"
                        else None
                    )
                    if side is not None:
                        sides = cap.setdefault(product, {"china": [], "us": []})
                        sides[side].append(((r.ship_date, r.seq), r.quantity))
            keyed: dict[str, dict[str, list[Any]]] = {
                "destination": {},
                "end_user": {},
                "consignee": {},
            }
            for order, destination, end_user, consignee, tpp, units in per_shipment.values():
                keyed["destination"].setdefault(destination, []).append((order, tpp, units))
                keyed["end_user"].setdefault(end_user, []).append((order, tpp, units))
                keyed["consignee"].setdefault(consignee, []).append((order, tpp, units))
            self._cap = {}
            for product, sides in cap.items():
                built_sides = {}
                for side, side_entries in sides.items():
                    side_entries.sort()
                    total = 0
                    sums = []
                    for _, units in side_entries:
                        total += units
                        sums.append(total)
                    built_sides[side] = ([o for o, _ in side_entries], sums)
                self._cap[product] = built_sides
            self._timeline = {}
            for kind, groups in keyed.items():
                built = {}
                for key, entries in groups.items():
                    entries.sort()
                    orders, tpp_sums, unit_sums = [], [], []
                    tpp_total, unit_total = 0.0, 0
                    for order, tpp, units in entries:
                        tpp_total += tpp
                        unit_total += units
                        orders.append(order)
                        tpp_sums.append(tpp_total)
                        unit_sums.append(unit_total)
                    built[key] = (orders, tpp_sums, unit_sums)
                self._timeline[kind] = built
        return self._timeline

    def _earlier(self, kind: str, key: str, order: tuple[dt.date, int]) -> int:
        """How many shipments of the timeline `kind` for `key` came before `order`."""
        found = self.timeline()[kind].get(key)
        return bisect_left(found[0], order) if found else 0

    def cap_units(self, product: str, order: tuple[dt.date, int]) -> tuple[int, int]:
        """Units of `product` shipped from the US to China/Macau, and to US end users,
        from `params.china_cap_from` up to and including `order`, by every exporter."""
        self.timeline()
        sides = self._cap.get(product)
        if not sides:
            return 0, 0
        out = []
        for side in ("china", "us"):
            orders, sums = sides[side]
            at = bisect_right(orders, order)
            out.append(sums[at - 1] if at else 0)
        return out[0], out[1]

    def _cumulative(self, kind: str, key: str, order: tuple[dt.date, int]) -> tuple[float, int]:
        found = self.timeline()[kind].get(key)
        if not found:
            return 0.0, 0
        orders, tpp_sums, unit_sums = found
        at = bisect_right(orders, order)
        return (tpp_sums[at - 1], unit_sums[at - 1]) if at else (0.0, 0)

    # --- per batch ----------------------------------------------------------------------

    def gather(self, shipment_ids: Sequence[str]) -> list[ShipmentFacts]:
        ids = list(dict.fromkeys(shipment_ids))
        products = self.products()
        parties = self.parties()
        with self.ledger.store.read() as conn:
            shipments = {}
            items: dict[str, list[Any]] = defaultdict(list)
            serials: dict[tuple[str, int], list[str]] = defaultdict(list)
            for chunk in in_chunks(ids):
                for r in conn.execute(
                    select(ShipmentRow.__table__).where(ShipmentRow.id.in_(chunk))
                ):
                    shipments[r.id] = r
                for r in conn.execute(
                    select(ShipmentItemRow.__table__)
                    .where(ShipmentItemRow.shipment_id.in_(chunk))
                    .order_by(ShipmentItemRow.shipment_id, ShipmentItemRow.line)
                ):
                    items[r.shipment_id].append(r)
                for r in conn.execute(
                    select(ShipmentSerialRow.__table__).where(
                        ShipmentSerialRow.shipment_id.in_(chunk)
                    )
                ):
                    serials[(r.shipment_id, r.line)].append(r.serial)
            missing = [i for i in ids if i not in shipments]
            if missing:
                raise NotFoundError(f"no shipment {missing[0]!r}", hint="provenance shipment list")
            all_serials = sorted({s for group in serials.values() for s in group})
            registered: dict[str, str] = {}
            carriers: dict[str, list[tuple[int, str, dt.date]]] = defaultdict(list)
            receipts_of: dict[str, list[tuple[str, dt.date]]] = defaultdict(list)
            missing_at: dict[str, int] = defaultdict(int)
            sightings: dict[str, set[tuple[dt.date, str]]] = defaultdict(set)
            devices: dict[str, list[Any]] = defaultdict(list)
            evidenced: dict[str, set[int]] = defaultdict(set)
            claimed: dict[str, set[int]] = defaultdict(set)
            lab: dict[str, list[LabResult]] = defaultdict(list)
            located: dict[str, list[Measurement]] = defaultdict(list)
            for chunk in in_chunks(all_serials):
                rows = conn.execute(
                    select(ChipRow.serial, ChipRow.product_id).where(ChipRow.serial.in_(chunk))
                )
                registered.update((r.serial, r.product_id) for r in rows)
                for serial, shipment_id, seq, ship_date in conn.execute(
                    select(
                        ShipmentSerialRow.serial,
                        ShipmentRow.id,
                        ShipmentRow.seq,
                        ShipmentRow.ship_date,
                    )
                    .join(ShipmentRow, ShipmentRow.id == ShipmentSerialRow.shipment_id)
                    .where(ShipmentSerialRow.serial.in_(chunk), IN_FORCE)
                ):
                    carriers[serial].append((seq, shipment_id, ship_date))
                for serial, shipment_id, date, country, site in conn.execute(
                    select(
                        ReceiptSerialRow.serial,
                        ReceiptRow.shipment_id,
                        ReceiptRow.date,
                        ReceiptRow.country,
                        ReceiptRow.site,
                    )
                    .join(ReceiptRow, ReceiptRow.seq == ReceiptSerialRow.seq)
                    .where(ReceiptSerialRow.serial.in_(chunk))
                ):
                    receipts_of[serial].append((shipment_id, date))
                    sightings[serial].add((date, f"{country}/{site}".casefold()))
                for serial, date, country, facility in conn.execute(
                    select(
                        InspectionSerialRow.serial,
                        InspectionRow.date,
                        InspectionRow.country,
                        InspectionRow.facility,
                    )
                    .join(InspectionRow, InspectionRow.seq == InspectionSerialRow.seq)
                    .where(
                        InspectionSerialRow.serial.in_(chunk),
                        InspectionSerialRow.status == "seen",
                    )
                ):
                    sightings[serial].add((date, f"{country}/{facility}".casefold()))
                for (serial,) in conn.execute(
                    select(InspectionSerialRow.serial).where(
                        InspectionSerialRow.serial.in_(chunk),
                        InspectionSerialRow.status == "missing",
                    )
                ):
                    missing_at[serial] += 1
                for r in conn.execute(
                    select(
                        InspectionDeviceRow.serial,
                        InspectionDeviceRow.pci_device_id,
                        InspectionDeviceRow.product_name,
                    ).where(InspectionDeviceRow.serial.in_(chunk))
                ):
                    devices[r.serial].append(r)
                for r in conn.execute(
                    select(
                        LabResultRow.serial,
                        LabResultRow.seq,
                        LabTestRow.date,
                        PartyRow.country,
                        LabTestRow.country.label("tested_in"),
                        LabResultRow.tpp,
                        LabResultRow.memory_bandwidth_gbps,
                        LabResultRow.pci_device_id,
                        LabResultRow.product_name,
                    )
                    .join(LabTestRow, LabTestRow.seq == LabResultRow.seq)
                    .join(PartyRow, PartyRow.id == LabTestRow.lab)
                    .where(LabResultRow.serial.in_(chunk))
                ):
                    lab[r.serial].append(
                        LabResult(
                            r.seq,
                            r.date,
                            r.country,
                            r.tested_in,
                            float(r.tpp),
                            r.memory_bandwidth_gbps,
                            r.pci_device_id,
                            r.product_name,
                        )
                    )
                for r in conn.execute(
                    select(LocationRow.__table__).where(LocationRow.serial.in_(chunk))
                ):
                    located[r.serial].append(
                        Measurement(
                            r.landmark,
                            _aware(r.measured_at),
                            float(r.rtt_ms),
                            (float(r.latitude), float(r.longitude)),
                        )
                    )
                for serial, seq, status in conn.execute(
                    select(
                        InspectionSerialRow.serial,
                        InspectionSerialRow.seq,
                        InspectionSerialRow.status,
                    )
                    .join(InspectionRow, InspectionRow.seq == InspectionSerialRow.seq)
                    .where(InspectionSerialRow.serial.in_(chunk), InspectionRow.evidence_files > 0)
                ):
                    evidenced[serial].add(seq)
                    if status == "seen":
                        claimed[serial].add(seq)
            # What the evidence of those inspections shows, and which of its serials no
            # manufacturer registered.
            shown: dict[int, set[str]] = defaultdict(set)
            for seqs in in_chunks(sorted({str(q) for qs in evidenced.values() for q in qs})):
                for inspection_seq, board in conn.execute(
                    select(InspectionDeviceRow.seq, InspectionDeviceRow.serial).where(
                        InspectionDeviceRow.seq.in_([int(q) for q in seqs]),
                        InspectionDeviceRow.serial.is_not(None),
                    )
                ):
                    if board is not None:
                        shown[inspection_seq].add(board)
            unknown = sorted({s for group in shown.values() for s in group} - set(registered))
            for chunk in in_chunks(unknown):
                registered.update(
                    (r.serial, r.product_id)
                    for r in conn.execute(
                        select(ChipRow.serial, ChipRow.product_id).where(ChipRow.serial.in_(chunk))
                    )
                )
            inspected = Inspected(evidenced, claimed, shown)
            foreign: dict[str, int] = defaultdict(int)
            receipt_countries: dict[str, set[str]] = defaultdict(set)
            resolutions: dict[str, dict[tuple[str, int | None], str]] = defaultdict(dict)
            confirmed: dict[str, dict[tuple[str, int | None], tuple[str, str, str]]] = defaultdict(
                dict
            )
            for chunk in in_chunks(ids):
                for shipment_id, carried in conn.execute(
                    select(ReceiptRow.shipment_id, ReceiptSerialRow.carried)
                    .join(ReceiptRow, ReceiptRow.seq == ReceiptSerialRow.seq)
                    .where(ReceiptRow.shipment_id.in_(chunk))
                ):
                    if not carried:
                        foreign[shipment_id] += 1
                for shipment_id, country in conn.execute(
                    select(ReceiptRow.shipment_id, ReceiptRow.country).where(
                        ReceiptRow.shipment_id.in_(chunk)
                    )
                ):
                    receipt_countries[shipment_id].add(country)
                subjects = {f"shipment/{s}": s for s in chunk}
                for subject, rule, line, status, expires, flag, severity, message in conn.execute(
                    select(
                        FlagRow.subject,
                        FlagRow.rule,
                        FlagRow.line,
                        FlagRow.status,
                        FlagRow.expires,
                        FlagRow.id,
                        FlagRow.severity,
                        FlagRow.message,
                    ).where(
                        FlagRow.subject.in_(list(subjects)),
                        FlagRow.status.in_(("cleared", "confirmed", "escalated", "disputed")),
                    )
                ):
                    if expires is not None and expires < self.as_of:
                        continue  # an allow-list clearance past its expiry: open again
                    resolutions[subjects[subject]][(rule, line)] = status
                    if status == "confirmed":
                        confirmed[subjects[subject]][(rule, line)] = (flag, severity, message)
            end_users = sorted({r.end_user for r in shipments.values()})
            end_uses: dict[str, list[tuple[Any, set[str], set[str]]]] = defaultdict(list)
            for chunk in in_chunks(end_users):
                statements = {
                    r.seq: r
                    for r in conn.execute(
                        select(EndUseRow.__table__)
                        .where(EndUseRow.party.in_(chunk))
                        .order_by(EndUseRow.seq)
                    )
                }
                scopes: dict[int, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
                for seqs in in_chunks([str(s) for s in statements]):
                    for r in conn.execute(
                        select(EndUseScopeRow.__table__).where(
                            EndUseScopeRow.seq.in_([int(s) for s in seqs])
                        )
                    ):
                        scopes[r.seq][0 if r.kind == "shipment" else 1].add(r.ref)
                for seq, row in statements.items():
                    covered_shipments, covered_serials = scopes[seq]
                    end_uses[row.party].append((row, covered_shipments, covered_serials))
            kyc_parties = sorted({p for r in shipments.values() for p in (r.consignee, r.end_user)})
            kyc: dict[str, list[Any]] = defaultdict(list)
            for chunk in in_chunks(kyc_parties):
                for r in conn.execute(select(KycRow.__table__).where(KycRow.party.in_(chunk))):
                    kyc[r.party].append(r)
            license_ids = sorted(
                {r.license for r in shipments.values() if parse_citation(r.license)[0] == "license"}
            )
            licenses: dict[str, Any] = {}
            drawn: dict[str, list[tuple[tuple[dt.date, int], int, float, float]]] = defaultdict(
                list
            )
            for chunk in in_chunks(license_ids):
                for r in conn.execute(select(LicenseRow.__table__).where(LicenseRow.id.in_(chunk))):
                    licenses[r.id] = r
                under = and_(ShipmentRow.license.in_(chunk), IN_FORCE)
                effective = _effective_products(conn, under)
                for r in conn.execute(
                    select(
                        ShipmentRow.id,
                        ShipmentRow.license,
                        ShipmentRow.ship_date,
                        ShipmentRow.seq,
                        ShipmentItemRow.line,
                        ShipmentItemRow.quantity,
                        ShipmentItemRow.unit_value,
                        ShipmentItemRow.product,
                    )
                    .join(ShipmentItemRow, ShipmentItemRow.shipment_id == ShipmentRow.id)
                    .where(under)
                ):
                    info = products.get(effective.get((r.id, r.line), r.product))
                    drawn[r.license].append(
                        (
                            (r.ship_date, r.seq),
                            r.quantity,
                            r.quantity * float(r.unit_value),
                            r.quantity * (info.tpp if info else 0.0),
                        )
                    )
        party_ids = {
            p
            for r in shipments.values()
            for p in (r.exporter, r.consignee, r.end_user, r.forwarder)
            if p
        }
        self.screen(party_ids | self.owners_of(party_ids))
        out = []
        for shipment_id in ids:
            row = shipments[shipment_id]
            out.append(
                self._one(
                    row,
                    items[shipment_id],
                    serials,
                    registered,
                    carriers,
                    receipts_of,
                    missing_at,
                    devices,
                    inspected,
                    sightings,
                    foreign[shipment_id],
                    end_uses.get(row.end_user, []),
                    licenses.get(row.license) if row.license else None,
                    drawn.get(row.license, []) if row.license else [],
                    parties,
                    products,
                    sorted(receipt_countries.get(shipment_id, set())),
                    resolutions.get(shipment_id, {}),
                    Evidence(lab, located, kyc),
                )
            )
            out[-1].confirmed = confirmed.get(shipment_id, {})
        return out

    # --- one shipment -------------------------------------------------------------------

    def _party(self, party_id: str | None, parties: dict[str, Any], on: dt.date) -> dict[str, Any]:
        row = parties.get(party_id) if party_id else None
        matches = self._screening.get(party_id or "", [])
        above = [m for m in matches if m.above_threshold]
        policies = sorted({entity_list_policy(m.license_policy) for m in above if m.source == "EL"})
        if row is None:
            return {
                "id": party_id or "",
                "registered": False,
                "country": "",
                "country_groups": [],
                "headquarters": "",
                "hq_groups": [],
                "roles": [],
                "is_forwarder": False,
                "screening_lists": sorted({m.source for m in above}),
                "screening_score": float(max((m.score for m in matches), default=0.0)),
                "entity_list_policies": policies,
                "informed": [],
                "affiliate_of": [],
                "affiliate_policies": [],
                "ownership_chain": [],
            }
        roles = row.roles.split()
        affiliate_of, affiliate_policies, chain = self.affiliation(row.id)
        informed = [
            letter.id
            for letter in self.reference.letters
            if letter.in_force(on) and letter.informs(row.id, row.name)
        ]
        return {
            "id": row.id,
            "registered": True,
            "country": row.country,
            "country_groups": self.reference.groups_of(row.country, on),
            "headquarters": row.headquarters,
            "hq_groups": self.reference.groups_of(row.headquarters, on),
            "roles": roles,
            "is_forwarder": "forwarder" in roles,
            "screening_lists": sorted({m.source for m in above}),
            "screening_score": float(max((m.score for m in matches), default=0.0)),
            "entity_list_policies": policies,
            "informed": informed,
            "affiliate_of": affiliate_of,
            "affiliate_policies": affiliate_policies,
            "ownership_chain": chain,
        }

    def _one(
        self,
        row: Any,
        item_rows: list[Any],
        serials: dict[tuple[str, int], list[str]],
        registered: dict[str, str],
        carriers: dict[str, list[tuple[int, str, dt.date]]],
        receipts_of: dict[str, list[tuple[str, dt.date]]],
        missing_at: dict[str, int],
        devices: dict[str, list[Any]],
        inspected: Inspected,
        sightings: dict[str, set[tuple[dt.date, str]]],
        foreign: int,
        end_uses: list[tuple[Any, set[str], set[str]]],
        license_row: Any,
        drawn: list[tuple[tuple[dt.date, int], int, float, float]],
        parties: dict[str, Any],
        products: dict[str, ProductInfo],
        receipt_countries: list[str],
        resolutions: dict[tuple[str, int | None], str],
        evidence: Evidence,
    ) -> ShipmentFacts:
        ref = self.reference
        route = row.route.split()
        transit = route[1:-1]
        order = (row.ship_date, row.seq)
        on = row.ship_date
        exporter = self._party(row.exporter, parties, on)
        consignee = self._party(row.consignee, parties, on)
        end_user = self._party(row.end_user, parties, on)
        forwarder = self._party(row.forwarder, parties, on)
        destination_groups = ref.groups_of(row.destination, on)
        hq_groups = set(consignee["hq_groups"]) | set(end_user["hq_groups"])
        letters = [
            letter
            for letter in ref.letters
            if letter.in_force(on)
            and (
                row.destination in letter.destinations
                or bool(letter.destination_groups & set(destination_groups))
                or bool(letter.headquarters_groups & hq_groups)
            )
        ]
        all_serials: list[str] = []
        items: list[ItemFacts] = []
        carried_all = {s for item in item_rows for s in serials.get((row.id, item.line), [])}
        end_use, site = self._end_use(row, end_uses, carried_all)
        currencies = set()
        value_total = 0.0
        tpp_total = 0.0
        for item in item_rows:
            listed = serials.get((row.id, item.line), [])
            all_serials.extend(listed)
            regs = [registered[s] for s in listed if s in registered]
            registered_products = sorted(set(regs))
            effective = registered_products[0] if len(registered_products) == 1 else item.product
            info = products.get(effective)
            declared = products.get(item.product)
            unit_value = float(item.unit_value)
            currencies.add(item.currency)
            value_total += unit_value * item.quantity
            ratio = 1.0
            if info and info.price > 0 and info.currency == item.currency:
                ratio = unit_value / info.price
            open_count = 0
            for serial in listed:
                for seq, other, other_date in carriers.get(serial, []):
                    if other == row.id or (other_date, seq) >= (row.ship_date, row.seq):
                        continue  # only shipments that left before this one
                    got = any(
                        sid == other and date <= row.ship_date
                        for sid, date in receipts_of.get(serial, [])
                    )
                    if not got:
                        open_count += 1
                        break
            observed = [d for s in listed for d in devices.get(s, [])]
            observed_products: set[str] = set()
            other_product = 0
            for device in observed:
                found = set(self._pci.get((device.pci_device_id or "").upper(), set()))
                if not found:
                    found = set(self._names.get(device.product_name.casefold(), set()))
                observed_products |= found
                if found and item.product not in found:
                    other_product += 1
            tpp_each = info.tpp if info else 0.0
            tpp_total += tpp_each * item.quantity
            memory = ref.memory_parts.get(effective) or ref.memory_parts.get(item.product)
            named = [letter.id for letter in letters if letter.covers_item(effective, info)]
            facts = {
                "line": item.line,
                "declared_product": item.product,
                "declared_known": declared is not None,
                "product": effective,
                "catalog_known": info is not None,
                "description": item.description,
                "description_misdeclared": ref.misdeclared_description(item.description),
                "hs_code": item.hs_code,
                "hs_class": ref.hs_class(item.hs_code),
                "hs_expected": (
                    (info is not None and ref.hs_matches(item.hs_code, info.hs_codes))
                    or ref.hs_class(item.hs_code) in ("accelerator", "server")
                ),
                "quantity": item.quantity,
                "unit_value": unit_value,
                "currency": item.currency,
                "reference_price": info.price if info else 0.0,
                "value_ratio": ratio,
                "tpp": tpp_each,
                "pd": info.pd if info else 0.0,
                "die_area_mm2": info.die_area if info else 0.0,
                "datacenter": info.datacenter if info else False,
                "interconnect_gbps": info.interconnect if info else 0,
                "memory_bandwidth_gbps": (
                    info.memory_bandwidth if info else memory[0] if memory else 0
                ),
                "memory_part": memory is not None and info is None,
                "memory_bandwidth_density": memory[1] if memory and info is None else 0.0,
                "named_by_letters": named,
                "informed_letters": [n for n in named if n in exporter["informed"]],
                "declared_tpp": declared.tpp if declared else 0.0,
                "serials": len(listed),
                "serials_unregistered": sum(1 for s in listed if s not in registered),
                "serials_other_product": sum(1 for r in regs if r != item.product),
                "registered_products": registered_products,
                "serials_in_open_shipment": open_count,
                "serials_at_two_sites": sum(1 for s in listed if _two_sites(sightings.get(s))),
                "observed": len(observed),
                "observed_other_product": other_product,
                "observed_products": sorted(observed_products),
                "seen_without_evidence": sum(1 for s in listed if inspected.unshown(s)),
                "eccn": "",
                "license_required": False,
                "policy": "",
                "governing_rule": "",
                "exceptions": [],
                "exceptions_suspended": False,
                "exception_covers": False,
                "exception_reference_missing": False,
            }
            facts.update(self._lab(listed, item.product, row.ship_date, evidence.lab))
            facts.update(self._located(listed, row.ship_date, site, evidence.located))
            china_units, us_units = self.cap_units(effective, order)
            facts.update(
                {
                    "cap_china_units": china_units,
                    "cap_us_units": us_units,
                    "cap_ratio": china_units / us_units if us_units else 0.0,
                    "us_available_from": (
                        info.us_available_from.isoformat()
                        if info and info.us_available_from
                        else ""
                    ),
                }
            )
            items.append(ItemFacts(facts))
        carried = set(all_serials)
        received = {
            s for s in all_serials if any(sid == row.id for sid, _ in receipts_of.get(s, []))
        }
        tpp_destination, _ = self._cumulative("destination", row.destination, order)
        tpp_end_user, units_end_user = self._cumulative("end_user", row.end_user, order)
        kw = float(self.params.get("kw_per_accelerator", 0) or 0)
        end_use["units_at_end_user"] = units_end_user
        end_use["power_needed_mw"] = units_end_user * kw / 1000
        license_kind, cited, reference = parse_citation(row.license)
        shipment = {
            "id": row.id,
            "ship_date": row.ship_date.isoformat(),
            "destination": row.destination,
            "destination_groups": destination_groups,
            "destination_is_hub": row.destination in ref.hubs,
            "origin": route[0] if route else "",
            "route": route,
            "transit": transit,
            "transit_hubs": [c for c in transit if c in ref.hubs],
            "license": cited,
            "license_kind": license_kind,
            "license_reference": reference,
            "units": row.units,
            "items": len(item_rows),
            "value": value_total,
            "currency": currencies.pop() if len(currencies) == 1 else "MIXED",
            "has_forwarder": bool(row.forwarder),
            "consignee_is_end_user": row.consignee == row.end_user,
            "days_since_ship": (self.as_of - row.ship_date).days,
            "received_units": len(received),
            "not_received": len(carried - received),
            "foreign_receipts": foreign,
            "missing_at_inspection": sum(1 for s in all_serials if missing_at.get(s)),
            "evidence_unregistered": len(inspected.shown_with(all_serials) - set(registered)),
            "receipt_countries": receipt_countries,
            "receipts_elsewhere": [c for c in receipt_countries if c != row.destination],
        }
        shipment.update(
            {
                "payer": row.payer or "",
                "payer_not_consignee": bool(row.payer) and row.payer != row.consignee,
                "delivery_address": row.delivery_address or "",
                "consignee_prior_shipments": self._earlier("consignee", row.consignee, order),
            }
        )
        consignee_kyc = _kyc_on(evidence.kyc.get(row.consignee, []), on)
        end_user_kyc = _kyc_on(evidence.kyc.get(row.end_user, []), on)
        kyc = {
            "consignee_valid": consignee_kyc == "valid",
            "end_user_valid": end_user_kyc == "valid",
            "covers_ship_date": "valid" in (consignee_kyc, end_user_kyc),
            "incomplete": "incomplete" in (consignee_kyc, end_user_kyc)
            and "valid" not in (consignee_kyc, end_user_kyc),
        }
        facts = {
            "shipment": shipment,
            "kyc": kyc,
            "exporter": exporter,
            "consignee": consignee,
            "end_user": end_user,
            "forwarder": forwarder,
            "end_use": end_use,
            "totals": {
                "tpp": tpp_total,
                "tpp_destination": tpp_destination,
                "tpp_end_user": tpp_end_user,
            },
            "license": self._license(row, license_kind, license_row, drawn, order),
            "params": self.params,
        }
        return ShipmentFacts(
            row.id,
            row.seq,
            row.ship_date,
            row.license,
            facts,
            items,
            license_row,
            {
                p: self._screening.get(p, [])
                for p in (row.exporter, row.consignee, row.end_user, row.forwarder)
                if p
            },
            resolutions,
        )

    def _end_use(
        self, row: Any, end_uses: list[tuple[Any, set[str], set[str]]], carried: set[str]
    ) -> tuple[dict[str, Any], tuple[float, float] | None]:
        covering = [
            (eu, shipments, serials)
            for eu, shipments, serials in end_uses
            if row.id in shipments or carried & serials
        ]
        valid = [eu for eu, _, _ in covering if eu.date <= row.ship_date <= eu.valid_until]
        best = valid[-1] if valid else (covering[-1][0] if covering else None)
        located = [eu for eu in (valid or [c[0] for c in covering]) if eu.latitude is not None]
        site = (float(located[-1].latitude), float(located[-1].longitude)) if located else None
        return {
            "present": bool(covering),
            "valid_on_ship_date": bool(valid),
            "site_country": best.country if best else "",
            "power_mw": float(best.facility_power_mw) if best else 0.0,
            "certified": bool(
                best
                and best.no_military
                and best.no_wmd
                and best.no_reexport
                and best.no_restricted_hq_access
            ),
            "units_at_end_user": 0,
            "power_needed_mw": 0.0,
            "site_located": site is not None,
        }, site

    def _lab(
        self, listed: list[str], declared: str, ship_date: dt.date, lab: dict[str, list[LabResult]]
    ) -> dict[str, Any]:
        """The lab-test facts of an item's serials: which have a test by a US lab dated on or
        before the ship date, and of those (the latest test of each) which measured outside
        the envelope or as another product than declared."""
        envelope_tpp = float(self.params.get("china_envelope_tpp", 0) or 0)
        envelope_bw = float(self.params.get("china_envelope_bandwidth_gbps", 0) or 0)
        untested: list[str] = []
        outside: list[str] = []
        mismatch: list[str] = []
        tested = 0
        for serial in listed:
            valid = [
                t
                for t in lab.get(serial, [])
                if t.date <= ship_date and t.lab_country == "US" and t.tested_in == "US"
            ]
            if not valid:
                untested.append(serial)
                continue
            tested += 1
            latest = max(valid, key=lambda t: (t.date, t.seq))
            if (envelope_tpp and latest.tpp >= envelope_tpp) or (
                envelope_bw and latest.bandwidth >= envelope_bw
            ):
                outside.append(f"{serial} (TPP {latest.tpp:,.0f}, {latest.bandwidth:,} GB/s)")
            found = set(self._pci.get((latest.pci_device_id or "").upper(), set()))
            if not found:
                found = set(self._names.get(latest.product_name.casefold(), set()))
            if declared not in found:
                says = ", ".join(sorted(found)) or "no catalog product"
                mismatch.append(f"{serial} ({latest.product_name}: {says})")
        return {
            "lab_tested": tested,
            "lab_untested_count": len(untested),
            "lab_untested": _listed(untested),
            "lab_outside_envelope": _listed(outside),
            "lab_identity_mismatch": _listed(mismatch),
        }

    def _located(
        self,
        listed: list[str],
        ship_date: dt.date,
        site: tuple[float, float] | None,
        located: dict[str, list[Measurement]],
    ) -> dict[str, Any]:
        """The location facts of an item's serials: measurements from the ship date to the
        evaluation date, each landmark's reach against the declared site."""
        km_per_ms = float(self.params.get("km_per_ms_fibre", geodesy.KM_PER_MS_IN_FIBRE))
        measured = 0
        no_site = 0
        outside: list[str] = []
        for serial in listed:
            found = [m for m in located.get(serial, []) if ship_date <= m.at.date() <= self.as_of]
            if not found:
                continue
            measured += 1
            if site is None:
                no_site += 1
                continue
            bounds = [geodesy.bound(m.landmark, m.landmark_at, site, m.rtt_ms, km_per_ms)
                      for m in found]  # fmt: skip
            wrong = [b for b in bounds if not b.consistent]
            if wrong:
                outside.append(f"{serial}: " + "; ".join(b.describe() for b in wrong))
        return {
            "location_measured": measured,
            "location_no_site": no_site,
            "location_outside_count": len(outside),
            "location_outside": _listed(outside),
        }

    def _license(
        self,
        row: Any,
        kind: str,
        license_row: Any,
        drawn: list[tuple[tuple[dt.date, int], int, float, float]],
        order: tuple[dt.date, int],
    ) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "cited": kind == "license",
            "found": license_row is not None,
            "valid_on_ship_date": False,
            "destination_ok": False,
            "parties_ok": False,
            "products_ok": False,
            "eccns_ok": False,
            "quantity_used": 0,
            "quantity_max": 0,
            "value_used": 0.0,
            "value_max": 0.0,
            "tpp_used": 0.0,
            "tpp_max": 0.0,
            "within_limits": False,
            "exception_covers": False,
        }
        if license_row is None:
            return facts
        lic = license_row
        used = [d for d in drawn if d[0] <= order]  # drawn holds one license's shipments
        facts.update(
            {
                "valid_on_ship_date": lic.valid_from <= row.ship_date <= lic.valid_until,
                "destination_ok": lic.destination == row.destination,
                "parties_ok": lic.exporter == row.exporter
                and (lic.consignee is None or lic.consignee == row.consignee)
                and (lic.end_user is None or lic.end_user == row.end_user),
                "quantity_used": sum(d[1] for d in used),
                "quantity_max": lic.max_quantity or 0,
                "value_used": sum(d[2] for d in used),
                "value_max": float(lic.max_value) if lic.max_value else 0.0,
                "tpp_used": sum(d[3] for d in used),
                "tpp_max": float(lic.max_tpp) if lic.max_tpp else 0.0,
            }
        )
        facts["within_limits"] = (
            (not facts["quantity_max"] or facts["quantity_used"] <= facts["quantity_max"])
            and (not facts["value_max"] or facts["value_used"] <= facts["value_max"])
            and (not facts["tpp_max"] or facts["tpp_used"] <= facts["tpp_max"])
        )
        return facts
