"""Receipts and offline bundles: everything an auditor needs without the database.

A **receipt** is a C2SP tlog-proof (https://c2sp.org/tlog-proof) of one entry:

    c2sp.org/tlog-proof@v1
    extra <base64 of the entry's leaf: the canonical JSON {seq, integrated_at, envelope}>
    index <seq>
    <base64 inclusion-proof hash, one a line>
    <blank line>
    <the signed checkpoint note>

The leaf rides in the `extra` line (the spec's place for "data necessary to
reconstruct the record hash"); it is not trusted as such: the verifier hashes
it, checks the inclusion proof against the signed checkpoint, and only then
reads the envelope out of it.

A **bundle** is a JSON object holding receipts (all against one checkpoint)
for the requested entries and for the entries that registered, updated,
rotated or revoked their signers' keys and parties, back to the genesis
entry. Verifying it needs only the ledger's verifier key: inclusion of every
entry, then every signature judged against the keys as they stood then.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provenance import merkle, note, payloads
from provenance.authority import Claims, Timeline, authorize, claims, keys_registered_by
from provenance.envelope import verified_keyids
from provenance.errors import AuthorizationError, InputError, IntegrityError, SignatureError
from provenance.keys import VerifyingKey

if TYPE_CHECKING:
    from provenance.ledger import ParsedEntry, Receipt

RECEIPT_HEADER = "c2sp.org/tlog-proof@v1"
BUNDLE_FORMAT = "https://provenance.dev/bundle/v1"
KEY_KINDS = frozenset({"party", "key", "key-rotation", "key-revocation"})


def format_receipt(receipt: Receipt) -> str:
    lines = [
        RECEIPT_HEADER,
        f"extra {base64.b64encode(receipt.leaf).decode()}",
        f"index {receipt.seq}",
        *(base64.b64encode(p).decode() for p in receipt.proof),
        "",
    ]
    return "\n".join(lines) + "\n" + receipt.checkpoint.note


@dataclass(frozen=True)
class ParsedReceipt:
    extra: bytes | None
    index: int
    proof: list[bytes]
    note: str


def parse_receipt(text: str) -> ParsedReceipt:
    head, sep, signed_note = text.partition("\n\n")
    if not sep:
        raise InputError("malformed receipt: no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != RECEIPT_HEADER:
        raise InputError(f"not a tlog-proof: first line must be {RECEIPT_HEADER}")
    position = 1
    extra = None
    try:
        if len(lines) > position and lines[position].startswith("extra "):
            extra = base64.b64decode(lines[position][6:], validate=True)
            position += 1
        if len(lines) <= position or not lines[position].startswith("index "):
            raise InputError("malformed receipt: missing index line")
        index_text = lines[position][6:]
        if not index_text.isdigit() or (index_text != "0" and index_text.startswith("0")):
            raise InputError(f"malformed receipt index {index_text!r}")
        proof = [base64.b64decode(line, validate=True) for line in lines[position + 1 :]]
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"malformed receipt: bad base64 ({exc})") from exc
    return ParsedReceipt(extra, int(index_text), proof, signed_note)


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
    from provenance.ledger import ParsedEntry

    parsed = parse_receipt(text)
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


def make_bundle(origin: str, receipts: list[Receipt], requested: list[int]) -> dict[str, Any]:
    return {
        "format": BUNDLE_FORMAT,
        "origin": origin,
        "requested": requested,
        "receipts": [r.text() for r in sorted(receipts, key=lambda r: r.seq)],
    }


@dataclass(frozen=True)
class BundleReport:
    checkpoint: note.Checkpoint
    entries: list[dict[str, Any]]
    requested: list[int]

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.to_json(),
            "requested": self.requested,
            "entries": self.entries,
            "verified": True,
        }


def verify_bundle(data: dict[str, Any], verifier_keys: list[str]) -> BundleReport:
    """Check a bundle offline: every inclusion, then every signature and signer."""
    if data.get("format") != BUNDLE_FORMAT:
        raise InputError(f"not a provenance bundle: format must be {BUNDLE_FORMAT}")
    receipts = data.get("receipts")
    if not isinstance(receipts, list) or not receipts:
        raise InputError("the bundle holds no receipts")
    verified = [verify_receipt(text, verifier_keys) for text in receipts]
    checkpoints = {(v.checkpoint.size, v.checkpoint.root) for v in verified}
    if len(checkpoints) != 1:
        raise IntegrityError("the bundle's receipts are against different checkpoints")
    verified.sort(key=lambda v: v.entry.seq)
    timeline = Timeline()
    models: dict[int, payloads.Statement] = {}
    for item in verified:
        if item.entry.kind in KEY_KINDS:
            models[item.entry.seq] = item.entry.model()
    # Judge every entry in order, applying key changes as they come.
    report = []
    for item in verified:
        entry = item.entry
        model = models.get(entry.seq)
        claim = claims(model) if model is not None else Claims()
        keys = {k: r.verifying for k, r in timeline.keys().items()}
        if model is not None:
            keys.update({k.keyid: k for k in keys_registered_by(model)})
        try:
            ids = verified_keyids(entry.envelope, keys)
            hints = [s.keyid for s in entry.envelope.signatures]
            signer = authorize(entry.kind, entry.seq, hints, ids, timeline.as_of(entry.seq), claim)
        except (SignatureError, AuthorizationError) as exc:
            raise type(exc)(
                f"entry {entry.seq}: {exc.message}",
                hint="the bundle must carry the registration of every signer's key",
            ) from exc
        if model is not None:
            timeline.apply(model, entry.seq)
        report.append({**item.to_json(), "signer": signer.party})
    requested = [int(s) for s in data.get("requested", [])]
    return BundleReport(verified[0].checkpoint, report, requested)


def load(text: str) -> tuple[str, Any]:
    """Tell a receipt from a bundle: ("receipt", text) or ("bundle", object)."""
    if text.startswith(RECEIPT_HEADER):
        return "receipt", text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError("neither a tlog-proof receipt nor a JSON bundle") from exc
    if not isinstance(value, dict):
        raise InputError("a bundle must be a JSON object")
    return "bundle", value


def verifier_for(text: str) -> list[str]:
    """Accept a verifier key given as the string itself (checks its form)."""
    note.Verifier.parse(text)
    return [text.strip()]


__all__ = [
    "VerifyingKey",
    "format_receipt",
    "load",
    "make_bundle",
    "parse_receipt",
    "verify_bundle",
    "verify_receipt",
]
