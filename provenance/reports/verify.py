"""Signing a report, and checking one later against the ledger.

`sign_report` wraps a report's JSON in a DSSE envelope (an in-toto Statement whose
predicate is `{"report": ...}`, predicate type `.../attestations/report/v1`).
`verify_report` checks the signature against the signer's registered key, that the
report's checkpoint is one the ledger signed and that the current tree is
consistent with it, then recomputes every figure at that tree size and lists every
difference, field by field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from provenance import documents
from provenance.crypto.envelope import Envelope, verified_keyids
from provenance.crypto.keys import SigningKey, VerifyingKey
from provenance.errors import InputError, IntegrityError, SignatureError
from provenance.ledger.log import Ledger
from provenance.ledger.projections.tables import PartyKeyRow
from provenance.ledger.tables import CheckpointRow
from provenance.reports import schema
from provenance.reports.build import DOSSIER_COMPARED, NOT_RECOMPUTED, recompute
from provenance.statements.payloads import ReportStatement
from provenance.tlog import merkle


def sign_report(report: dict[str, Any], signers: list[SigningKey]) -> Envelope:
    from provenance.statements.signing import sign

    return sign(ReportStatement(report=report), signers)


def load(path: str) -> tuple[dict[str, Any], Envelope | None]:
    """A report file: the plain JSON report, or a DSSE envelope carrying one."""
    return loads(documents.read_bytes(path), documents.display_name(path))


def loads(data: bytes, name: str = "report") -> tuple[dict[str, Any], Envelope | None]:
    """A report's bytes: the plain JSON report, or a DSSE envelope carrying one."""
    value = documents.loads_json(data, name)
    envelope = None
    if isinstance(value, dict) and "payloadType" in value:
        envelope = Envelope.from_json(value)
        statement = envelope.statement()
        if not statement.get("predicateType", "").endswith("/report/v1"):
            raise InputError(f"{name} is an envelope, but not a report")
        value = statement["predicate"].get("report")
    if not isinstance(value, dict) or "checkpoint" not in value:
        raise InputError(f"{name} is not a provenance report")
    try:
        schema.validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise InputError(f"{name} is not a well-formed report: {where}: {error['msg']}") from None
    return value, envelope


@dataclass
class Verification:
    signed_by: str | None = None
    keyids: list[str] = field(default_factory=list)
    checkpoint_signed: bool = False
    consistent_with: int | None = None
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.checkpoint_signed and self.consistent_with is not None and not self.differences

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "signed_by": self.signed_by,
            "keyids": self.keyids,
            "checkpoint_signed": self.checkpoint_signed,
            "consistent_with_size": self.consistent_with,
            "differences": self.differences,
        }


def verify_report(
    ledger: Ledger,
    report: dict[str, Any],
    envelope: Envelope | None = None,
    rules_dir: str | None = None,
) -> Verification:
    result = Verification()
    if envelope is not None:
        result.signed_by, result.keyids = _check_signature(ledger, envelope)
    checkpoint = report.get("checkpoint") or {}
    size, root = int(checkpoint.get("size", 0)), str(checkpoint.get("root", ""))
    if checkpoint.get("origin") != ledger.origin:
        result.differences.append(
            f"checkpoint.origin: report {checkpoint.get('origin')!r}, ledger {ledger.origin!r}"
        )
        return result
    with ledger.store.read() as conn:
        stored = conn.execute(
            select(CheckpointRow.c.root).where(CheckpointRow.c.size == size)
        ).scalar()
    if stored is None or bytes(stored).hex() != root:
        result.differences.append(
            f"checkpoint: the ledger signed no checkpoint of size {size} with root {root[:16]}"
        )
        return result
    result.checkpoint_signed = True
    current = ledger.size()
    proof = ledger.consistency_proof(size, current)
    merkle.verify_consistency(size, current, proof, bytes.fromhex(root), ledger.root(current))
    result.consistent_with = current
    again = recompute(ledger, report, rules_dir)
    keys: tuple[str, ...] = (
        DOSSIER_COMPARED
        if report.get("kind") in ("chip", "shipment")
        else tuple(sorted((set(report) | set(again)) - set(NOT_RECOMPUTED)))
    )
    for key in keys:
        result.differences.extend(diff(report.get(key), again.get(key), key))
    return result


def _check_signature(ledger: Ledger, envelope: Envelope) -> tuple[str, list[str]]:
    hints = [s.keyid for s in envelope.signatures]
    with ledger.store.read() as conn:
        rows = conn.execute(
            select(
                PartyKeyRow.keyid,
                PartyKeyRow.party_id,
                PartyKeyRow.public_key,
                PartyKeyRow.revoked_seq,
            ).where(PartyKeyRow.keyid.in_(hints))
        ).all()
    revoked = [r for r in rows if r.revoked_seq is not None]
    if revoked:
        raise SignatureError(
            f"the report is signed with key {revoked[0].keyid[:16]} of {revoked[0].party_id}, "
            f"revoked at entry {revoked[0].revoked_seq}"
        )
    keys = {r.keyid: VerifyingKey.from_der(bytes(r.public_key)) for r in rows}
    if not keys:
        raise SignatureError("the report is signed by no key this ledger knows")
    verified = verified_keyids(envelope, keys)
    if not verified:
        raise SignatureError("the report's signature does not verify")
    parties = {r.party_id for r in rows if r.keyid in verified}
    return ", ".join(sorted(parties)), verified


def diff(reported: Any, recomputed: Any, path: str) -> list[str]:
    """Every leaf where the two differ, as `path: report X, ledger Y`."""
    if isinstance(reported, dict) and isinstance(recomputed, dict):
        out: list[str] = []
        for key in sorted(set(reported) | set(recomputed), key=str):
            out.extend(diff(reported.get(key), recomputed.get(key), f"{path}.{key}"))
        return out
    if isinstance(reported, list) and isinstance(recomputed, list):
        out = []
        if len(reported) != len(recomputed):
            out.append(f"{path}: report has {len(reported)} rows, ledger {len(recomputed)}")
        for i, (a, b) in enumerate(zip(reported, recomputed, strict=False)):
            out.extend(diff(a, b, f"{path}[{i}]"))
        return out
    if reported != recomputed:
        return [f"{path}: report {json.dumps(reported)}, ledger {json.dumps(recomputed)}"]
    return []


def require_ok(result: Verification) -> None:
    if not result.ok:
        raise IntegrityError(
            f"the report does not match the ledger ({len(result.differences)} differences)"
        )
