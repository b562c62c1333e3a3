"""Storage: the SQLAlchemy models, the engine, and migrations on first use.

The same code runs on SQLite (one file, zero set-up) and PostgreSQL. Tables are
created only by the Alembic migrations in `migrations/`, applied when a ledger
is first opened by a newer version of the code.

Two kinds of table:

* the **ledger** itself (`ledger_info`, `entries`, `tree_nodes`, `checkpoints`):
  append-only, enforced by database triggers that refuse UPDATE and DELETE;
* **projections** (everything else): derived from the entries, rebuilt by
  `provenance ledger replay`.

Writers are serialised: SQLite takes its write lock at `BEGIN IMMEDIATE`,
PostgreSQL a transaction-scoped advisory lock keyed by the schema, so two
appends can never both extend the tree from the same head.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from provenance.errors import ConfigError, InputError, IntegrityError, NotFoundError
from provenance.resources import resource_dir

DB_ENV = "PROVENANCE_DB"
DEFAULT_DB = "provenance.db"

BigInt = BigInteger().with_variant(Integer, "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}  # noqa: RUF012


# --- the ledger (append-only) -----------------------------------------------------


class LedgerInfo(Base):
    """The ledger's identity: its checkpoint origin and verifier key. One row."""

    __tablename__ = "ledger_info"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(255))
    verifier_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime]
    key_path: Mapped[str | None] = mapped_column(Text)
    """Where `init` wrote the checkpoint key (a convenience for the CLI, not trusted)."""


class Entry(Base):
    """One leaf of the log: the canonical JSON {seq, integrated_at, envelope}."""

    __tablename__ = "entries"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    integrated_at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(32), index=True)
    envelope_digest: Mapped[str] = mapped_column(String(64), unique=True)
    signer_party: Mapped[str] = mapped_column(String(128), index=True)
    signer_keys: Mapped[str] = mapped_column(Text)
    leaf: Mapped[bytes] = mapped_column(LargeBinary)


class TreeNode(Base):
    """Hash of a complete subtree: leaves [idx * 2**level, (idx + 1) * 2**level)."""

    __tablename__ = "tree_nodes"
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class CheckpointRow(Base):
    """A signed C2SP checkpoint note for a tree size."""

    __tablename__ = "checkpoints"
    size: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


LEDGER_TABLES = ("ledger_info", "entries", "tree_nodes", "checkpoints")


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


# --- restricted-party screening ---------------------------------------------------------


class ScreeningFileRow(Base):
    """A screening list file, kept by digest (reference data beside the ledger, not a
    projection: the `screening-list` entry pins the digest, the file is checked against it
    whenever it is read)."""

    __tablename__ = "screening_files"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    format: Mapped[str] = mapped_column(String(8))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[dt.datetime]


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
    """open, cleared, confirmed or escalated."""
    resolved_seq: Mapped[int | None] = mapped_column(BigInt)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution: Mapped[str | None] = mapped_column(Text)


class ResolutionRow(Base):
    """Every resolution of a flag, in order (a flag's status at any tree size)."""

    __tablename__ = "resolutions"
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    flag_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    party: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)


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


Index("ix_entries_kind_seq", Entry.kind, Entry.seq)
Index("ix_subjects_seq", SubjectRow.seq)


IN_CHUNK = 500
"""Values per SQL `IN (...)` list (well under every database's parameter limit)."""


def in_chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    """`values` in slices of IN_CHUNK, one `IN (...)` query each."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


# --- engine -----------------------------------------------------------------------


def database_url(db: str | None) -> str:
    """A SQLAlchemy URL from `--db`: a URL, or a path to an SQLite file."""
    value = db or os.environ.get(DB_ENV) or DEFAULT_DB
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (see _on_begin), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


@dataclass
class Store:
    """An engine plus what we know about its database."""

    engine: Engine
    url: str

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        with _translated(self.url), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A serialised write transaction: one writer at a time, all or nothing."""
        with _translated(self.url), self.engine.connect() as conn:
            conn = conn.execution_options(ledger_write=True)
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()))"))
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """Turn driver errors about the database itself into our errors."""
    try:
        yield
    except DBAPIError as exc:
        message = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if "file is not a database" in message or "not a database" in message:
            raise InputError(
                f"{_display(url)} is not a provenance ledger (not a database)"
            ) from exc
        if "no such table" in message or "does not exist" in message:
            raise InputError(
                f"{_display(url)} is not a provenance ledger (missing table: {message})"
            ) from exc
        if "append-only" in message:
            raise IntegrityError(f"refused by the database: {message}") from exc
        if isinstance(exc, OperationalError):
            raise ConfigError(f"database error on {_display(url)}: {message}") from exc
        raise


def _display(url: str) -> str:
    path = _sqlite_path(url)
    if path is not None:
        return str(path)
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"not a database URL: {url}") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, pool_size=2, max_overflow=8, connect_args={"timeout": 60})
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    elif parsed.get_backend_name() == "postgresql":
        # No pre-ping (it costs a round trip per checkout); recycle instead.
        engine = create_engine(url, pool_recycle=1800, pool_size=2, max_overflow=4)
    else:
        raise InputError(
            f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
        )
    _ENGINES.add(engine)
    return engine


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
"""Every engine this process made, so a forked child can drop their pooled connections."""


def _forget_inherited_connections() -> None:
    # A child process (audit and signature workers) must never use, nor close, the
    # database connections its parent pooled: drop them without closing them.
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resource_dir("migrations")))
    cfg.attributes["connection"] = conn
    return cfg


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*['\"]?([\w]+|None)['\"]?", re.M)


@functools.cache
def _head_revision() -> str:
    """The newest migration, read from the scripts' `revision`/`down_revision` lines:
    importing alembic to ask it costs a quarter of a second on every command."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (resource_dir("migrations") / "versions").glob("*.py"):
        found = dict(_REVISION.findall(script.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
        if found.get("down_revision") not in (None, "None"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise ConfigError(f"migrations of this installation have {len(heads)} heads: {heads}")
    return heads.pop()


def open_store(db: str | None, *, create: bool = False) -> Store:
    """Open the ledger database, applying migrations it has not seen yet.

    With `create`, an empty (or missing) database becomes a new ledger schema;
    without it, a missing or empty database is `NotFoundError`. A database that
    holds other tables, or is not a database at all, is refused.
    """
    url = database_url(db)
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        if not create:
            raise NotFoundError(f"no ledger at {path}", hint="create one with: provenance init")
        path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(make_engine(url), url)
    try:
        _migrate(store, create=create)
    except BaseException:
        store.dispose()
        raise
    return store


def _migrate(store: Store, *, create: bool) -> None:
    try:
        with store.write() as conn:
            tables = set(inspect(conn).get_table_names())
            if not tables:
                if not create:
                    raise NotFoundError(
                        f"{_display(store.url)} holds no ledger",
                        hint="create one with: provenance init",
                    )
            elif "alembic_version" not in tables or "ledger_info" not in tables:
                raise InputError(
                    f"{_display(store.url)} is not a provenance ledger "
                    f"(it holds other tables: {', '.join(sorted(tables)[:5])})"
                )
            else:
                current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if current == _head_revision():
                    return
            from alembic import command  # only when there is something to migrate

            command.upgrade(_alembic_config(conn), "head")
    except OperationalError as exc:
        raise ConfigError(f"cannot open {_display(store.url)}: {exc.orig}") from exc


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
