"""Offline bundles: everything an auditor needs to check entries without the database.

A **bundle** is a JSON object holding receipts (`offline.receipts`, all against one
checkpoint) for the requested entries and for the entries that registered,
updated, rotated or revoked their signers' keys and parties, back to the genesis
entry. Verifying it needs only the ledger's verifier key: inclusion of every
entry, then every signature judged against the keys as they stood then.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.crypto.envelope import verified_keyids
from provenance.documents import loads_json
from provenance.errors import (
    AuthorizationError,
    InputError,
    IntegrityError,
    ProvenanceError,
    SignatureError,
)
from provenance.offline.entries import ParsedEntry, Receipt
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


MAX_RECEIPTS = 1_000_000


def _requested(data: dict[str, Any]) -> list[int]:
    value = data.get("requested", [])
    if not isinstance(value, list) or len(value) > MAX_RECEIPTS:
        raise InputError("the bundle's requested must be a list of entry numbers")
    for i, seq in enumerate(value):
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise InputError(f"the bundle's requested[{i}] is not an entry number: {seq!r:.40}")
    return list(value)


def _shape(data: object) -> tuple[str, list[int], list[str]]:
    """A bundle's origin, requested entries and receipts, once its form is checked."""
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise InputError(f"not a provenance bundle: format must be {BUNDLE_FORMAT}")
    origin = data.get("origin")
    if not isinstance(origin, str) or not origin:
        raise InputError("the bundle names no origin (the ledger it is from)")
    requested = _requested(data)
    receipts = data.get("receipts")
    if not isinstance(receipts, list) or not receipts:
        raise InputError("the bundle holds no receipts")
    if len(receipts) > MAX_RECEIPTS:
        raise InputError(f"the bundle holds more than {MAX_RECEIPTS} receipts")
    for i, text in enumerate(receipts):
        if not isinstance(text, str):
            raise InputError(f"the bundle's receipts[{i}] is not a receipt (a string)")
    return origin, requested, receipts


def verify_bundle(data: object, verifier_keys: list[str]) -> BundleReport:
    """Check a bundle offline: its form; every inclusion, all against one checkpoint of the
    origin the bundle names; that every entry it says was requested is there; then every
    signature and signer. Anything short of that raises: a report says verified or nothing."""
    origin, requested, receipts = _shape(data)
    verified = [verify_receipt(text, verifier_keys) for text in receipts]
    checkpoints = {(v.checkpoint.size, v.checkpoint.root) for v in verified}
    if len(checkpoints) != 1:
        raise IntegrityError("the bundle's receipts are against different checkpoints")
    if verified[0].checkpoint.origin != origin:
        raise IntegrityError(
            f"the bundle says it is from {origin!r}, but its checkpoint is "
            f"{verified[0].checkpoint.origin!r}'s"
        )
    verified.sort(key=lambda v: v.entry.seq)
    seqs = [v.entry.seq for v in verified]
    if len(set(seqs)) != len(seqs):
        raise IntegrityError("the bundle holds two receipts for one entry")
    missing = sorted(set(requested) - set(seqs))
    if missing:
        listed = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise IntegrityError(
            f"the bundle lacks the receipts of requested entries {listed}",
            hint="an entry asked for and absent is not verified; export the bundle again",
        )
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
    return BundleReport(verified[0].checkpoint, report, requested)


def describe_bundle(data: object) -> dict[str, Any]:
    """What a bundle holds, decoded and **not verified** (`verify_bundle` verifies): the
    origin, the checkpoint its receipts name, and each entry: its number, kind, signer
    (the party the bundle's own key entries give each signing key to), subjects, a
    summary of its statement and the statement's fields, and whether it was requested."""
    from provenance.statements import kinds
    from provenance.tlog.proof import parse_proof

    origin, requested, receipts = _shape(data)
    entries: list[ParsedEntry] = []
    notes: set[str] = set()
    for i, text in enumerate(receipts):
        try:
            proof = parse_proof(text)
            if proof.extra is None:
                raise InputError("it carries no entry (no extra line)")
            entry = ParsedEntry.from_leaf(proof.extra)
        except ProvenanceError as exc:
            raise InputError(f"the bundle's receipts[{i}]: {exc.message}") from exc
        notes.add(proof.note)
        entries.append(entry)
    entries.sort(key=lambda e: e.seq)
    timeline = Timeline()
    owners: dict[str, str] = {}
    shown: list[dict[str, Any]] = []
    for entry in entries:
        try:
            model = entry.model()
        except ProvenanceError as exc:
            raise InputError(f"entry {entry.seq} of the bundle: {exc.message}") from exc
        if entry.kind in KEY_KINDS:
            # shown as it is: `provenance verify` says what is wrong with it
            with contextlib.suppress(ProvenanceError):
                timeline.apply(model, entry.seq)
            owners.update({k: r.party for k, r in timeline.keys().items()})
        keyids = [s.keyid for s in entry.envelope.signatures]
        signers = sorted({owners[k] for k in keyids if k in owners})
        predicate = entry.statement["predicate"]
        shown.append(
            {
                "seq": entry.seq,
                "kind": entry.kind,
                "integrated_at": entry.integrated_at,
                "signer": ", ".join(signers) or None,
                "signer_keys": keyids,
                "subjects": [s["name"] for s in entry.statement["subject"]],
                "summary": kinds.get(entry.kind).summarise(predicate),
                "requested": entry.seq in requested,
                "predicate": predicate,
            }
        )
    checkpoint: dict[str, Any] | None = None
    try:  # the checkpoint the receipts name (one, in a bundle that verifies)
        bodies = {note.split(n)[0] for n in notes}
        if len(bodies) == 1:
            checkpoint = note.Checkpoint.parse(bodies.pop()).to_json()
    except ProvenanceError:
        pass
    return {
        "origin": origin,
        "checkpoint": checkpoint,
        "requested": requested,
        "entries": shown,
        "verified": False,
    }


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


def load_bundle(text: str) -> dict[str, Any]:
    """A bundle's JSON object (a receipt, or anything else, is refused)."""
    form, value = load(text)
    if form != "bundle":
        raise InputError(
            "a receipt, not a bundle: `provenance verify` checks it",
            hint="`provenance ledger export` writes a bundle",
        )
    assert isinstance(value, dict)
    return value


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
