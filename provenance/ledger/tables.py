"""The ledger's own tables: append-only, guarded by database triggers.

`ledger_info` (origin and verifier key), `entries` (the leaves), `tree_nodes`
(hashes of complete subtrees) and `checkpoints` (signed notes). The triggers
(migration 0001) refuse UPDATE and DELETE on both databases, and TRUNCATE on
PostgreSQL. Everything else is a projection (`ledger.projections.tables`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

BigInt = BigInteger().with_variant(Integer, "sqlite")
Timestamp = DateTime(timezone=True)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)
"""Every table of a ledger database: these, and the projections' (declared on it too)."""

# SQLAlchemy Core tables, not ORM models: reading a checkpoint or a proof then needs
# no ORM at all, which keeps the command line's start-up short.

LedgerInfo = Table(
    "ledger_info",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("origin", String(255), nullable=False),
    Column("verifier_key", String(255), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    # Where `init` wrote the checkpoint key (a convenience for the CLI, not trusted).
    Column("key_path", Text),
)
"""The ledger's identity: its checkpoint origin and verifier key. One row."""

Entry = Table(
    "entries",
    metadata,
    Column("seq", BigInt, primary_key=True, autoincrement=False),
    Column("integrated_at", Timestamp, nullable=False),
    Column("kind", String(32), nullable=False, index=True),
    Column("envelope_digest", String(64), nullable=False, unique=True),
    Column("signer_party", String(128), nullable=False, index=True),
    Column("signer_keys", Text, nullable=False),
    Column("leaf", LargeBinary, nullable=False),
)
"""One leaf of the log: the canonical JSON {seq, integrated_at, envelope}."""

TreeNode = Table(
    "tree_nodes",
    metadata,
    Column("level", Integer, primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("hash", LargeBinary, nullable=False),
)
"""Hash of a complete subtree: leaves [idx * 2**level, (idx + 1) * 2**level)."""

CheckpointRow = Table(
    "checkpoints",
    metadata,
    Column("size", BigInt, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)
"""A signed C2SP checkpoint note for a tree size."""

# --- kept beside the ledger --------------------------------------------------------

ScreeningFileRow = Table(
    "screening_files",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("format", String(8), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("stored_at", Timestamp, nullable=False),
)
"""A screening list file, kept by digest (reference data beside the ledger, not a
projection: the `screening-list` entry pins the digest, the file is checked against it
whenever it is read)."""

RequestNonceRow = Table(
    "request_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("keyid", String(64), nullable=False),
    Column("expires_at", Timestamp, nullable=False, index=True),
)
"""The nonce of every signed request the service accepted, until its replay window ends
(service state, not the ledger's: rows are deleted once expired). Kept in the database
so that several workers refuse a replay to any of them."""

Index("ix_entries_kind_seq", Entry.c.kind, Entry.c.seq)
