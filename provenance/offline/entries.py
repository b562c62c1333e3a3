"""Entries, checkpoints and receipts as values: what the log writes and what an
offline verifier reads, with no database.

A leaf is the canonical JSON (RFC 8785) of `{"seq", "integrated_at", "envelope"}`;
its hash, `SHA-256(0x00 || leaf)`, is the Merkle tree's leaf. A receipt is a C2SP
tlog-proof of one entry that carries the entry's leaf on its `extra` line.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provenance.crypto import canonical
from provenance.crypto.envelope import Envelope
from provenance.documents import loads_json
from provenance.errors import InputError, IntegrityError
from provenance.tlog import merkle
from provenance.tlog.note import Checkpoint
from provenance.tlog.proof import format_proof

if TYPE_CHECKING:
    from provenance.statements import payloads


def timestamp(moment: dt.datetime) -> str:
    """The `integrated_at` text of a leaf: UTC, microseconds, `Z`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def leaf_bytes(seq: int, integrated_at: str, envelope: Envelope) -> bytes:
    """The canonical JSON of `{"seq", "integrated_at", "envelope"}`.

    Built around the envelope's own canonical bytes (computed once, for its digest
    too): the keys sort as `envelope`, `integrated_at`, `seq`, a timestamp of the
    `timestamp` form and an integer need no escaping, so this is RFC 8785 byte for
    byte; anything else goes through `canonical.dumps`."""
    if type(seq) is int and 0 <= seq <= 2**53 - 1 and _TIMESTAMP.fullmatch(integrated_at):
        return b"".join(
            (
                b'{"envelope":',
                envelope.canonical_bytes(),
                b',"integrated_at":"',
                integrated_at.encode("ascii"),
                b'","seq":',
                str(seq).encode("ascii"),
                b"}",
            )
        )
    return canonical.dumps(
        {"seq": seq, "integrated_at": integrated_at, "envelope": envelope.to_json()}
    )


@dataclass(frozen=True)
class ParsedEntry:
    """An entry as stored: its leaf, and what the leaf says."""

    seq: int
    integrated_at: str
    envelope: Envelope
    statement: dict[str, Any]
    kind: str
    leaf: bytes

    @classmethod
    def from_leaf(cls, leaf: bytes) -> ParsedEntry:
        try:
            value = loads_json(leaf, "stored leaf", error=IntegrityError)
            envelope = Envelope.from_json(value["envelope"])
            seq, integrated_at = value["seq"], value["integrated_at"]
        except (ValueError, KeyError, TypeError, InputError) as exc:
            raise IntegrityError(f"stored leaf is not a ledger entry: {exc}") from exc
        if not isinstance(seq, int) or not isinstance(integrated_at, str):
            raise IntegrityError("stored leaf has a malformed seq or integrated_at")
        from provenance.statements import kinds  # the registry loads every model

        try:
            statement = envelope.statement()
            kind = kinds.kind_of(statement["predicateType"])
        except InputError as exc:
            raise IntegrityError(f"entry {seq}: {exc.message}") from exc
        return cls(seq, integrated_at, envelope, statement, kind, leaf)

    def model(self) -> payloads.Statement:
        from provenance.statements import kinds

        return kinds.from_predicate(self.kind, self.statement["predicate"])


@dataclass(frozen=True)
class Appended:
    """The outcome of appending one envelope."""

    seq: int
    kind: str
    signer: str
    envelope_digest: str
    duplicate: bool


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: str

    def to_json(self) -> dict[str, object]:
        return {**self.checkpoint.to_json(), "note": self.note}


@dataclass(frozen=True)
class Receipt:
    """A C2SP tlog-proof for one entry, with the entry's leaf as its extra data."""

    seq: int
    leaf: bytes
    proof: tuple[bytes, ...]
    checkpoint: SignedCheckpoint

    def text(self) -> str:
        return format_proof(self.seq, self.proof, self.checkpoint.note, extra=self.leaf)

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "leaf_hash": merkle.leaf_hash(self.leaf).hex(),
            "proof": [p.hex() for p in self.proof],
            "checkpoint": self.checkpoint.to_json(),
            "tlog_proof": self.text(),
        }
