"""Offline bundles: everything an auditor needs to check entries without the database.

A **bundle** is a JSON object holding receipts (`offline.receipts`, all against one
checkpoint) for the requested entries and for the entries that registered,
updated, rotated or revoked their signers' keys and parties, back to the genesis
entry. Verifying it needs only the ledger's verifier key: inclusion of every
entry, then every signature judged against the keys as they stood then.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.crypto.envelope import verified_keyids
from provenance.documents import loads_json
from provenance.errors import AuthorizationError, InputError, IntegrityError, SignatureError
from provenance.offline.entries import Receipt
from provenance.offline.receipts import verify_receipt
from provenance.statements import payloads
from provenance.statements.authority import (
    Claims,
    Timeline,
    authorize,
    claims,
    keys_registered_by,
)
from provenance.statements.kinds import KEY_KINDS
from provenance.tlog import note
from provenance.tlog.proof import HEADER as RECEIPT_HEADER

BUNDLE_FORMAT = "https://provenance.dev/bundle/v1"


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
        value = loads_json(text, "bundle")
    except InputError as exc:
        raise InputError(f"neither a tlog-proof receipt nor a JSON bundle ({exc.message})") from exc
    if not isinstance(value, dict):
        raise InputError("a bundle must be a JSON object")
    return "bundle", value


def verifier_keys(given: str) -> list[str]:
    """The ledger's verifier key, given as the string itself (`provenance ledger key`
    prints it) or as a file whose last line holds it; its form is checked."""
    text = given
    candidate = Path(given)
    if "+" not in given or candidate.is_file():
        if not candidate.is_file():
            raise InputError(f"--ledger-key {given!r} is neither a verifier key nor a file")
        lines = candidate.read_text(encoding="utf-8").strip().splitlines()
        if not lines:
            raise InputError(f"{given} is empty: it holds no verifier key")
        text = lines[-1]
    note.Verifier.parse(text)
    return [text.strip()]
