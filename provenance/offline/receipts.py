"""Receipts checked offline: a C2SP tlog-proof of one entry, with its leaf on the
`extra` line (the spec's place for "data necessary to reconstruct the record hash").

The leaf is not trusted as such: the verifier hashes it, checks the inclusion
proof against the signed checkpoint, and only then reads the envelope out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provenance.errors import InputError, IntegrityError
from provenance.offline.entries import ParsedEntry
from provenance.tlog import merkle, note
from provenance.tlog.proof import parse_proof


@dataclass(frozen=True)
class VerifiedEntry:
    """An entry whose inclusion under a signed checkpoint was verified."""

    entry: ParsedEntry
    checkpoint: note.Checkpoint

    def to_json(self) -> dict[str, Any]:
        statement = self.entry.statement
        return {
            "seq": self.entry.seq,
            "kind": self.entry.kind,
            "integrated_at": self.entry.integrated_at,
            "subjects": [s.get("name") for s in statement["subject"]],
            "signatures": [s.keyid for s in self.entry.envelope.signatures],
        }


def verify_receipt(text: str, verifier_keys: list[str]) -> VerifiedEntry:
    """Check a receipt offline: checkpoint signature, then inclusion of its leaf."""
    parsed = parse_proof(text)
    checkpoint = note.open_checkpoint(parsed.note, verifier_keys)
    if parsed.extra is None:
        raise InputError(
            "the receipt carries no entry (no extra line): nothing to check it against"
        )
    merkle.verify_inclusion(
        merkle.leaf_hash(parsed.extra), parsed.index, checkpoint.size, parsed.proof, checkpoint.root
    )
    entry = ParsedEntry.from_leaf(parsed.extra)
    if entry.seq != parsed.index:
        raise IntegrityError(f"receipt index {parsed.index} holds the leaf of entry {entry.seq}")
    return VerifiedEntry(entry, checkpoint)
