"""The ledger's own tables: append-only, guarded by database triggers.

`ledger_info` (origin and verifier key), `entries` (the leaves), `tree_nodes`
(hashes of complete subtrees) and `checkpoints` (signed notes). The triggers
(migration 0001) refuse UPDATE and DELETE on both databases, and TRUNCATE on
PostgreSQL. Everything else is a projection (`ledger.projections.tables`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Index, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


# --- kept beside the ledger --------------------------------------------------------


class ScreeningFileRow(Base):
    """A screening list file, kept by digest (reference data beside the ledger, not a
    projection: the `screening-list` entry pins the digest, the file is checked against it
    whenever it is read)."""

    __tablename__ = "screening_files"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    format: Mapped[str] = mapped_column(String(8))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[dt.datetime]


Index("ix_entries_kind_seq", Entry.kind, Entry.seq)
