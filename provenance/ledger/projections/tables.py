"""The projection tables: query tables derived from the entries.

Every row here is written by a projection handler (`ledger.projections`) when
its entry is appended, and rebuilt from the entries by `provenance ledger
replay`; none of it is trusted by the audit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from provenance.ledger.tables import BigInt, metadata


class Base(DeclarativeBase):
    """The projection tables: ORM models on the ledger's metadata."""

    metadata = metadata
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}  # noqa: RUF012


# --- projections: parties and keys --------------------------------------------------


class PartyRow(Base):
    __tablename__ = "parties"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    roles: Mapped[str] = mapped_column(Text)
    """Space-separated roles, sorted."""
    country: Mapped[str] = mapped_column(String(2))
    headquarters: Mapped[str] = mapped_column(String(2))
    address: Mapped[str | None] = mapped_column(Text)
    registered_seq: Mapped[int] = mapped_column(BigInt)
    updated_seq: Mapped[int] = mapped_column(BigInt)
    latitude: Mapped[str | None] = mapped_column(String(40))
    """Decimal degrees (a landmark's coordinates); None when not given."""
    longitude: Mapped[str | None] = mapped_column(String(40))


class PartyOwnerRow(Base):
    """A direct owner of a party, as its latest party statement declares it."""

    __tablename__ = "party_owners"
    party_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    share: Mapped[str] = mapped_column(String(40))
    """Percent, decimal text."""
    seq: Mapped[int] = mapped_column(BigInt)


class PartyKeyRow(Base):
    __tablename__ = "party_keys"
    keyid: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    registered_seq: Mapped[int] = mapped_column(BigInt)
    revoked_seq: Mapped[int | None] = mapped_column(BigInt)
    revocation_reason: Mapped[str | None] = mapped_column(Text)


class SubjectRow(Base):
    """Which entries speak of which subject (`party/ID`, `chip/VENDOR/MODEL/SERIAL`, ...).

    A search index, not a source of truth: every answer is re-checked against
    the entry and its inclusion proof.
    """

    __tablename__ = "subjects"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)


# --- projections: products, chips and their movements ----------------------------------
#
# Decimals (TPP, money, power) are kept as their exact decimal text; aggregates
# cast them in SQL. Lists that are only ever shown are kept as JSON text.


class ProductRow(Base):
    """The catalog as the ledger holds it: the latest `product` statement per id."""

    __tablename__ = "products"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    vendor: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    tpp: Mapped[str] = mapped_column(String(40))
    performance_density: Mapped[str | None] = mapped_column(String(40))
    die_area_mm2: Mapped[str | None] = mapped_column(String(40))
    datacenter: Mapped[bool] = mapped_column(Boolean)
    interconnect_gbps: Mapped[int | None] = mapped_column(Integer)
    memory_bandwidth_gbps: Mapped[int | None] = mapped_column(Integer)
    names: Mapped[str] = mapped_column(Text)
    """JSON list of marketed names."""
    pci_device_ids: Mapped[str] = mapped_column(Text)
    """Space-separated, as nvidia-smi prints them ("0x233010DE")."""
    hs_codes: Mapped[str] = mapped_column(Text)
    """Space-separated."""
    reference_price: Mapped[str | None] = mapped_column(String(40))
    reference_currency: Mapped[str | None] = mapped_column(String(3))
    registered_seq: Mapped[int] = mapped_column(BigInt)
    updated_seq: Mapped[int] = mapped_column(BigInt)
    us_available_from: Mapped[dt.date | None] = mapped_column(Date)
    """When the product became commercially available in the US (None: not recorded)."""


class ProductVersionRow(Base):
    """Every version of a product's figures, by entry (reports read the one of their time)."""

    __tablename__ = "product_versions"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    tpp: Mapped[str] = mapped_column(String(40))


class ChipRow(Base):
    """One registered serial and its custody state (kept current by every statement)."""

    __tablename__ = "chips"
    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(128), index=True)
    manufacturer: Mapped[str] = mapped_column(String(128))
    manufactured_seq: Mapped[int] = mapped_column(BigInt)
    manufacture_date: Mapped[dt.date] = mapped_column(Date)
    made_in: Mapped[str] = mapped_column(String(2))
    state: Mapped[str] = mapped_column(String(16), index=True)
    """manufactured, shipped, received, inspected or missing."""
    state_seq: Mapped[int] = mapped_column(BigInt)
    """The entry that set the state."""
    shipment_id: Mapped[str | None] = mapped_column(String(128))
    """The last shipment that carried it."""
    country: Mapped[str | None] = mapped_column(String(2))
    """Where it was last known to be (None while in transit)."""


class ShipmentRow(Base):
    __tablename__ = "shipments"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInt, unique=True)
    exporter: Mapped[str] = mapped_column(String(128), index=True)
    consignee: Mapped[str] = mapped_column(String(128), index=True)
    end_user: Mapped[str] = mapped_column(String(128), index=True)
    forwarder: Mapped[str | None] = mapped_column(String(128))
    ship_date: Mapped[dt.date] = mapped_column(Date, index=True)
    destination: Mapped[str] = mapped_column(String(2), index=True)
    route: Mapped[str] = mapped_column(Text)
    """Space-separated country codes, origin first."""
    license: Mapped[str | None] = mapped_column(String(128), index=True)
    units: Mapped[int] = mapped_column(Integer)
    payer: Mapped[str | None] = mapped_column(String(128))
    delivery_address: Mapped[str | None] = mapped_column(String(16))
    """commercial, residential or unknown (None: not declared)."""
    version_seq: Mapped[int | None] = mapped_column(BigInt)
    """The entry of the facts in force: the shipment's own, or its latest amendment
    (`0012_shipment_corrections`; None in a row written before it: the shipment's own)."""
    voided_seq: Mapped[int | None] = mapped_column(BigInt)
    """The `shipment-void` entry that withdrew it (None: in force)."""


class ShipmentItemRow(Base):
    __tablename__ = "shipment_items"
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.id"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    product: Mapped[str] = mapped_column(String(128), index=True)
    description: Mapped[str] = mapped_column(Text)
    hs_code: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_value: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))


class ShipmentSerialRow(Base):
    __tablename__ = "shipment_serials"
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.id"), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    line: Mapped[int] = mapped_column(Integer)


SHIPMENT_FACTS = (
    "consignee",
    "end_user",
    "forwarder",
    "ship_date",
    "destination",
    "route",
    "license",
    "units",
    "payer",
    "delivery_address",
)
"""The `shipments` columns an amendment may change (not the id, entry or exporter): what
a superseded version keeps."""


class ShipmentVersionRow(Base):
    """A superseded version of a shipment: the facts an amendment replaced (the entry
    holds them too; kept here so that a chip's history finds a serial an amendment
    removed, that history lists every version, and that a report at an earlier tree size
    counts the facts in force then).

    The facts are NULL in a row written before `0013_shipment_version_facts` until
    `provenance ledger replay` rebuilds it."""

    __tablename__ = "shipment_versions"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    """The superseded entry (the shipment's own, or an earlier amendment)."""
    shipment_id: Mapped[str] = mapped_column(String(128), index=True)
    superseded_seq: Mapped[int] = mapped_column(BigInt)
    """The amendment that replaced it."""
    consignee: Mapped[str | None] = mapped_column(String(128))
    end_user: Mapped[str | None] = mapped_column(String(128))
    forwarder: Mapped[str | None] = mapped_column(String(128))
    ship_date: Mapped[dt.date | None] = mapped_column(Date)
    destination: Mapped[str | None] = mapped_column(String(2))
    route: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(String(128))
    units: Mapped[int | None] = mapped_column(Integer)
    payer: Mapped[str | None] = mapped_column(String(128))
    delivery_address: Mapped[str | None] = mapped_column(String(16))


class ShipmentVersionItemRow(Base):
    """The items of a superseded version, as `shipment_items` held them."""

    __tablename__ = "shipment_version_items"
    seq: Mapped[int] = mapped_column(ForeignKey("shipment_versions.seq"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    product: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text)
    hs_code: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_value: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))


class ShipmentVersionSerialRow(Base):
    """The serials of a superseded version."""

    __tablename__ = "shipment_version_serials"
    seq: Mapped[int] = mapped_column(ForeignKey("shipment_versions.seq"), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    line: Mapped[int | None] = mapped_column(Integer)
    """The item it was on (NULL before 0013, until a replay)."""


class ReceiptRow(Base):
    __tablename__ = "receipts"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.id"), index=True)
    party: Mapped[str] = mapped_column(String(128))
    date: Mapped[dt.date] = mapped_column(Date)
    country: Mapped[str] = mapped_column(String(2))
    site: Mapped[str] = mapped_column(Text)


class ReceiptSerialRow(Base):
    __tablename__ = "receipt_serials"
    seq: Mapped[int] = mapped_column(ForeignKey("receipts.seq"), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    carried: Mapped[bool] = mapped_column(Boolean)
    """False when the shipment did not list this serial (recorded, flagged by the rules)."""


class EndUseRow(Base):
    __tablename__ = "end_uses"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    party: Mapped[str] = mapped_column(String(128), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    end_use: Mapped[str] = mapped_column(Text)
    sector: Mapped[str] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(2))
    facility: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    facility_power_mw: Mapped[str] = mapped_column(String(40))
    no_military: Mapped[bool] = mapped_column(Boolean)
    no_wmd: Mapped[bool] = mapped_column(Boolean)
    no_reexport: Mapped[bool] = mapped_column(Boolean)
    no_restricted_hq_access: Mapped[bool] = mapped_column(Boolean)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    latitude: Mapped[str | None] = mapped_column(String(40))
    """The declared site's coordinates (decimal degrees), when given."""
    longitude: Mapped[str | None] = mapped_column(String(40))


class EndUseScopeRow(Base):
    """What an end-use statement covers: shipments and serials."""

    __tablename__ = "end_use_scope"
    seq: Mapped[int] = mapped_column(ForeignKey("end_uses.seq"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    """"shipment" or "serial"."""
    ref: Mapped[str] = mapped_column(String(128), primary_key=True)


class InspectionRow(Base):
    __tablename__ = "inspections"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    auditor: Mapped[str] = mapped_column(String(128), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    country: Mapped[str] = mapped_column(String(2))
    facility: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[str] = mapped_column(Text)
    """JSON list."""
    evidence_files: Mapped[int] = mapped_column(Integer)


class InspectionSerialRow(Base):
    __tablename__ = "inspection_serials"
    seq: Mapped[int] = mapped_column(ForeignKey("inspections.seq"), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(8))
    """"seen" or "missing"."""


class InspectionDeviceRow(Base):
    """A GPU an evidence file shows, as the hardware reported it."""

    __tablename__ = "inspection_devices"
    seq: Mapped[int] = mapped_column(ForeignKey("inspections.seq"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    file_sha256: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str | None] = mapped_column(String(64), index=True)
    product_name: Mapped[str] = mapped_column(Text)
    pci_device_id: Mapped[str | None] = mapped_column(String(10))
    board_part_number: Mapped[str | None] = mapped_column(Text)
    uuid: Mapped[str | None] = mapped_column(Text)


class LicenseRow(Base):
    __tablename__ = "licenses"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInt, unique=True)
    regulator: Mapped[str] = mapped_column(String(128))
    exporter: Mapped[str] = mapped_column(String(128), index=True)
    consignee: Mapped[str | None] = mapped_column(String(128))
    end_user: Mapped[str | None] = mapped_column(String(128))
    destination: Mapped[str] = mapped_column(String(2))
    eccns: Mapped[str] = mapped_column(Text)
    """Space-separated."""
    products: Mapped[str] = mapped_column(Text)
    """Space-separated product ids (empty: any)."""
    max_quantity: Mapped[int | None] = mapped_column(Integer)
    max_value: Mapped[str | None] = mapped_column(String(40))
    max_value_currency: Mapped[str | None] = mapped_column(String(3))
    max_tpp: Mapped[str | None] = mapped_column(String(40))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    conditions: Mapped[str] = mapped_column(Text)
    """JSON list."""


# --- evidence: lab tests, KYC, location measurements --------------------------------------


class LabTestRow(Base):
    __tablename__ = "lab_tests"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    lab: Mapped[str] = mapped_column(String(128), index=True)
    product: Mapped[str] = mapped_column(String(128))
    """As declared to the lab."""
    date: Mapped[dt.date] = mapped_column(Date)
    country: Mapped[str] = mapped_column(String(2))
    facility: Mapped[str] = mapped_column(Text)


class LabResultRow(Base):
    """One serial a lab measured: its identity and the figures that decide the envelope."""

    __tablename__ = "lab_results"
    seq: Mapped[int] = mapped_column(ForeignKey("lab_tests.seq"), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    product_name: Mapped[str] = mapped_column(Text)
    pci_device_id: Mapped[str | None] = mapped_column(String(10))
    uuid: Mapped[str | None] = mapped_column(Text)
    tpp: Mapped[str] = mapped_column(String(40))
    """Measured TPP (decimal text): the highest tops x bits."""
    memory_bandwidth_gbps: Mapped[int] = mapped_column(Integer)


class KycRow(Base):
    __tablename__ = "kyc_attestations"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    party: Mapped[str] = mapped_column(String(128), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    complete: Mapped[bool] = mapped_column(Boolean)
    """Every control is stated true."""
    authorised_users: Mapped[str] = mapped_column(Text)
    remote_access: Mapped[str] = mapped_column(Text)


class LocationRow(Base):
    """A landmark's measurement of a chip, with the landmark's coordinates at the time."""

    __tablename__ = "location_measurements"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    landmark: Mapped[str] = mapped_column(String(128), index=True)
    serial: Mapped[str] = mapped_column(String(64), index=True)
    nonce: Mapped[str] = mapped_column(String(128))
    rtt_ms: Mapped[str] = mapped_column(String(40))
    measured_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    latitude: Mapped[str] = mapped_column(String(40))
    """The landmark's registered coordinates when it measured."""
    longitude: Mapped[str] = mapped_column(String(40))
    product_name: Mapped[str] = mapped_column(Text)
    pci_device_id: Mapped[str | None] = mapped_column(String(10))


Index("ux_location_landmark_nonce", LocationRow.landmark, LocationRow.nonce, unique=True)


# --- restricted-party screening ---------------------------------------------------------


class ScreeningSnapshotRow(Base):
    __tablename__ = "screening_snapshots"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    file: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(8))
    date: Mapped[dt.date] = mapped_column(Date)
    total: Mapped[int] = mapped_column(Integer)
    counts: Mapped[str] = mapped_column(Text)
    """JSON object: rows per source list."""
    policy: Mapped[str] = mapped_column(Text)
    """JSON object: threshold and weights."""
    parties_screened: Mapped[int] = mapped_column(Integer)


class ScreeningHitRow(Base):
    __tablename__ = "screening_hits"
    seq: Mapped[int] = mapped_column(ForeignKey("screening_snapshots.seq"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    party: Mapped[str] = mapped_column(String(128), index=True)
    score: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(8))
    entity_number: Mapped[str | None] = mapped_column(Text)
    matched_name: Mapped[str] = mapped_column(Text)
    new: Mapped[bool] = mapped_column(Boolean)
    """True when the previous snapshot did not match this party to this entry."""


class FlagRow(Base):
    """A red flag: raised by a signed entry (a determination, a screening snapshot), open
    until a resolution entry clears, confirms or escalates it."""

    __tablename__ = "flags"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(128), index=True)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    """info, warning, high or blocking."""
    subject: Mapped[str] = mapped_column(String(255), index=True)
    """What it is about: `party/ID`, `shipment/ID`, `chip/SERIAL`."""
    message: Mapped[str] = mapped_column(Text)
    facts: Mapped[str] = mapped_column(Text)
    """JSON object: the facts the rule saw."""
    raised_seq: Mapped[int] = mapped_column(BigInt, index=True)
    raised_on: Mapped[dt.date] = mapped_column(Date)
    line: Mapped[int | None] = mapped_column(Integer)
    """The shipment item it is about (None: the shipment, or a party)."""
    status: Mapped[str] = mapped_column(String(16), index=True)
    """open, cleared, confirmed, escalated or disputed."""
    resolved_seq: Mapped[int | None] = mapped_column(BigInt)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution: Mapped[str | None] = mapped_column(Text)
    expires: Mapped[dt.date | None] = mapped_column(Date)
    """The last day an allow-list clearance holds (None: no expiry)."""


class ResolutionRow(Base):
    """Every resolution of a flag, in order (a flag's status at any tree size)."""

    __tablename__ = "resolutions"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    flag_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    """A `resolution` entry resolves one flag; a `determination` entry may close (status
    `closed`) or reopen (`open`) several: those it no longer raises, or raises again."""
    status: Mapped[str] = mapped_column(String(16))
    party: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(16))
    """The role the party acted in (`authority.FLAG_RANK`): regulator or exporter."""
    expires: Mapped[dt.date | None] = mapped_column(Date)
    evidence: Mapped[str | None] = mapped_column(Text)
    """JSON list of the evidence a dispute names."""


class DeterminationRow(Base):
    """The rules engine's verdict on a shipment (every check is kept; the latest counts)."""

    __tablename__ = "determinations"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    shipment_id: Mapped[str] = mapped_column(String(128), index=True)
    pack_id: Mapped[str] = mapped_column(String(128))
    pack_digest: Mapped[str] = mapped_column(String(64))
    screening_list: Mapped[str | None] = mapped_column(String(64))
    evaluated_on: Mapped[dt.date] = mapped_column(Date)
    verdict: Mapped[str] = mapped_column(String(24), index=True)
    items: Mapped[str] = mapped_column(Text)
    """JSON list: per item ECCN, TPP, PD, license requirement and policy."""
    flags: Mapped[int] = mapped_column(Integer)


class DeterminationItemRow(Base):
    """One item of a determination, for SQL aggregates (units and compute by ECCN)."""

    __tablename__ = "determination_items"
    seq: Mapped[int] = mapped_column(ForeignKey("determinations.seq"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    shipment_id: Mapped[str] = mapped_column(String(128), index=True)
    product: Mapped[str] = mapped_column(String(128))
    eccn: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    tpp: Mapped[str] = mapped_column(String(40))
    """TPP of one unit of the product the chips are (decimal text)."""
    license_required: Mapped[bool] = mapped_column(Boolean)
    policy: Mapped[str | None] = mapped_column(String(32))


Index("ix_subjects_seq", SubjectRow.seq)


PROJECTION_TABLES: list[str] = [
    table.name
    for table in reversed(Base.metadata.sorted_tables)
    if table.name
    in {model.__tablename__ for model in Base.__subclasses__() if model.__module__ == __name__}
]
"""Every projection table, children before parents (the order replay clears them in)."""
