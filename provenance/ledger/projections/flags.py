"""Projections of what the rules and the screening found: screening snapshots and their
hits, determinations and their items, red flags and their resolutions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update

from provenance.ledger.database import in_chunks
from provenance.ledger.projections.tables import (
    DeterminationItemRow,
    DeterminationRow,
    FlagRow,
    ResolutionRow,
    ScreeningHitRow,
    ScreeningSnapshotRow,
    ShipmentRow,
)
from provenance.ledger.projections.writer import (
    Accepted,
    Writer,
    handles,
    prefetches,
    refused,
    shipment_row,
)
from provenance.statements.authority import Directory, PriorResolution, authorize_resolution
from provenance.statements.payloads import (
    DeterminationStatement,
    ResolutionStatement,
    ScreeningListStatement,
    Statement,
)

# --- screening snapshots and the flags they raise ----------------------------------------


def flag_id(seq: int, position: int) -> str:
    """A flag's id: the entry that raised it and its place there, e.g. `F-1042-3`."""
    return f"F-{seq}-{position}"


@handles("screening-list")
def _screening_list(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, ScreeningListStatement)
    known = writer.execute(
        select(ScreeningSnapshotRow.seq).where(ScreeningSnapshotRow.digest == statement.digest)
    ).first()
    if known is not None:
        raise refused(accepted.kind, "digest", f"this list is already snapshot entry {known.seq}")
    writer.insert(
        ScreeningSnapshotRow,
        {
            "seq": accepted.seq,
            "digest": statement.digest,
            "file": statement.file,
            "format": statement.format,
            "date": statement.date,
            "total": statement.total,
            "counts": json.dumps(statement.counts, sort_keys=True),
            "policy": json.dumps({k: format(v, "f") for k, v in statement.policy.items()}),
            "parties_screened": statement.parties_screened,
        },
    )
    for position, hit in enumerate(statement.hits):
        writer.insert(
            ScreeningHitRow,
            {
                "seq": accepted.seq,
                "position": position,
                "party": hit.party,
                "score": format(hit.score, "f"),
                "source": hit.source,
                "entity_number": hit.entity_number,
                "matched_name": hit.matched_name,
                "new": hit.new,
            },
        )
        if not hit.new:
            continue
        number = f" {hit.entity_number}" if hit.entity_number else ""
        writer.insert(
            FlagRow,
            _flag_row(
                flag_id(accepted.seq, position),
                rule=f"screening.{hit.source.lower()}",
                severity=hit.severity,
                subject=f"party/{hit.party}",
                line=None,
                message=(
                    f"party {hit.party} ({hit.name}) matches {hit.list_name} entry{number}: "
                    f"{hit.matched_name!r}, score {hit.score}"
                ),
                facts=hit.model_dump(mode="json"),
                seq=accepted.seq,
                on=statement.date,
            ),
        )


def _flag_row(
    flag: str,
    *,
    rule: str,
    severity: str,
    subject: str,
    line: int | None,
    message: str,
    facts: dict[str, Any],
    seq: int,
    on: dt.date,
) -> dict[str, Any]:
    return {
        "id": flag,
        "rule": rule,
        "severity": severity,
        "subject": subject,
        "line": line,
        "message": message,
        "facts": json.dumps(facts, sort_keys=True, ensure_ascii=False),
        "raised_seq": seq,
        "raised_on": on,
        "status": "open",
        "resolved_seq": None,
        "resolved_by": None,
        "resolution": None,
    }


@handles("determination")
def _determination(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, DeterminationStatement)
    known = writer.cache.get("shipment_seqs", {})
    if statement.shipment in known:
        shipment_seq = known[statement.shipment]
    else:
        row = shipment_row(writer, accepted.kind, "shipment", statement.shipment)
        if row.voided_seq is not None:
            raise refused(
                accepted.kind,
                "shipment",
                f"shipment {statement.shipment!r} was voided by entry {row.voided_seq}: "
                "a voided shipment is not judged",
            )
        shipment_seq = row.seq
    if shipment_seq != statement.shipment_seq:
        raise refused(
            accepted.kind,
            "shipment_seq",
            f"shipment {statement.shipment!r} is entry {shipment_seq}, "
            f"not {statement.shipment_seq}",
        )
    writer.insert(
        DeterminationRow,
        {
            "seq": accepted.seq,
            "shipment_id": statement.shipment,
            "pack_id": statement.pack.id,
            "pack_digest": statement.pack.digest,
            "screening_list": statement.screening_list,
            "evaluated_on": statement.evaluated_on,
            "verdict": statement.verdict,
            "items": json.dumps(statement.items, sort_keys=True, ensure_ascii=False),
            "flags": len(statement.flags),
        },
    )
    for item in statement.items:
        writer.insert(
            DeterminationItemRow,
            {
                "seq": accepted.seq,
                "line": item.get("line", 0),
                "shipment_id": statement.shipment,
                "product": str(item.get("product", "")),
                "eccn": str(item.get("eccn", "")),
                "quantity": int(item.get("quantity", 0)),
                "tpp": str(item.get("tpp", "0")),
                "license_required": bool(item.get("license_required")),
                "policy": item.get("policy"),
            },
        )
    subject_name = f"shipment/{statement.shipment}"
    cached = writer.cache.get("raised_flags", {})
    if subject_name in cached:
        raised: set[tuple[str, int | None]] = cached[subject_name]
    else:
        raised = {
            (row.rule, row.line)
            for row in writer.execute(
                select(FlagRow.rule, FlagRow.line).where(FlagRow.subject == subject_name)
            )
        }
    _follow_the_facts(writer, accepted, subject_name, {(f.rule, f.line) for f in statement.flags})
    states = writer.cache.get("flag_states", {}).get(subject_name)
    for position, flag in enumerate(statement.flags):
        key = (flag.rule, flag.line)
        if key in raised:
            continue  # raised by an earlier determination: one flag, one resolution
        raised.add(key)
        if states is not None:
            states.append(
                _FlagState(
                    flag_id(accepted.seq, position), flag.rule, flag.line, "open", accepted.seq
                )
            )
        writer.insert(
            FlagRow,
            _flag_row(
                flag_id(accepted.seq, position),
                rule=flag.rule,
                severity=flag.severity,
                subject=subject_name,
                line=flag.line,
                message=flag.message,
                facts=flag.facts,
                seq=accepted.seq,
                on=statement.evaluated_on,
            ),
        )


def _follow_the_facts(
    writer: Writer, accepted: Accepted, subject: str, holds: set[tuple[str, int | None]]
) -> None:
    """Flags follow the facts: an open flag on the shipment that this determination no
    longer raises is closed by it, and a flag it closed before that it raises again is
    open again; each change is a row of `resolutions` naming this entry. A flag a person
    resolved (cleared, confirmed, escalated) keeps that status.

    The flags come from the batch's prefetch (`_judged_shipments`, kept current as the
    batch raises and changes flags), or from one query when the subject is not there."""
    states: list[_FlagState] | None = writer.cache.get("flag_states", {}).get(subject)
    if states is None:
        states = [
            _FlagState(r.id, r.rule, r.line, r.status, r.raised_seq)
            for r in writer.execute(
                select(
                    FlagRow.id, FlagRow.rule, FlagRow.line, FlagRow.status, FlagRow.raised_seq
                ).where(FlagRow.subject == subject, FlagRow.status.in_(("open", "closed")))
            )
        ]
    changes: list[dict[str, Any]] = []
    for state in states:
        if state.raised_seq >= accepted.seq or state.status not in ("open", "closed"):
            continue
        held = (state.rule, state.line) in holds
        if state.status == "open" and not held:
            status, reason = "closed", f"no longer raised by determination entry {accepted.seq}"
        elif state.status == "closed" and held:
            status, reason = "open", f"raised again by determination entry {accepted.seq}"
        else:
            continue
        state.status = status
        writer.insert(
            ResolutionRow,
            {
                "seq": accepted.seq,
                "flag_id": state.id,
                "status": status,
                "party": accepted.signer.party,
                "reason": reason,
            },
        )
        closed = status == "closed"
        changes.append(
            {
                "b_id": state.id,
                "b_status": status,
                "b_resolved_seq": accepted.seq if closed else None,
                "b_resolved_by": accepted.signer.party if closed else None,
                "b_resolution": reason if closed else None,
            }
        )
    writer.update_rows(FlagRow, _FOLLOWED, changes)


@dataclass
class _FlagState:
    """What `_follow_the_facts` needs of a flag, kept current through a batch."""

    id: str
    rule: str
    line: int | None
    status: str
    raised_seq: int


_FOLLOWED = (
    update(FlagRow)
    .where(FlagRow.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        resolved_seq=bindparam("b_resolved_seq"),
        resolved_by=bindparam("b_resolved_by"),
        resolution=bindparam("b_resolution"),
    )
)


@handles("resolution")
def _resolution(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    """Who may give a flag which status is `authority.authorize_resolution` (the one policy);
    a refusal raises before anything of the entry is written."""
    statement = accepted.statement
    assert isinstance(statement, ResolutionStatement)
    found = writer.execute(
        select(FlagRow.subject, FlagRow.severity).where(FlagRow.id == statement.flag)
    ).first()
    if found is None:
        raise refused(
            accepted.kind, "flag", f"unknown flag {statement.flag!r}", hint="provenance flag list"
        )
    signer = directory.party(accepted.signer.party)
    roles = signer.roles if signer is not None else frozenset()
    owner = None
    if found.subject.startswith("shipment/"):
        owner = writer.execute(
            select(ShipmentRow.exporter).where(
                ShipmentRow.id == found.subject.removeprefix("shipment/")
            )
        ).scalar()
    prior = [
        PriorResolution(r.seq, r.status, r.party, r.role or _role_of(directory, r.party))
        for r in writer.execute(
            select(ResolutionRow.seq, ResolutionRow.status, ResolutionRow.party, ResolutionRow.role)
            .where(ResolutionRow.flag_id == statement.flag)
            .order_by(ResolutionRow.seq)
        )
    ]
    role = authorize_resolution(
        flag=statement.flag,
        subject=found.subject,
        severity=found.severity,
        status=statement.status,
        allow_list=statement.allow_list,
        party=accepted.signer.party,
        roles=roles,
        owns_subject=owner is not None and owner == accepted.signer.party,
        prior=prior,
    )
    writer.insert(
        ResolutionRow,
        {
            "seq": accepted.seq,
            "flag_id": statement.flag,
            "status": statement.status,
            "party": accepted.signer.party,
            "reason": statement.reason,
            "role": role,
            "expires": statement.expires,
            "evidence": json.dumps(statement.evidence) if statement.evidence else None,
        },
    )
    writer.cache.get("flag_states", {}).pop(found.subject, None)  # a person changed it
    writer.execute(
        update(FlagRow)
        .where(FlagRow.id == statement.flag)
        .values(
            status=statement.status,
            resolved_seq=accepted.seq,
            resolved_by=accepted.signer.party,
            resolution=statement.reason,
            expires=statement.expires,
        )
    )


def _role_of(directory: Directory, party_id: str) -> str:
    """The role of a resolution recorded before roles were (a ledger older than 0009)."""
    party = directory.party(party_id)
    return "regulator" if party is not None and "regulator" in party.roles else "exporter"


@prefetches("determination")
def _judged_shipments(writer: Writer, batch: Sequence[Statement]) -> None:
    """The shipments the batch's determinations speak of, and the flags already raised."""
    judged = sorted({s.shipment for s in batch if isinstance(s, DeterminationStatement)})
    seqs: dict[str, int] = {}
    raised: dict[str, set[tuple[str, int | None]]] = {f"shipment/{s}": set() for s in judged}
    states: dict[str, list[_FlagState]] = {f"shipment/{s}": [] for s in judged}
    writer.flush()
    for chunk in in_chunks(judged):
        rows = writer.conn.execute(
            select(ShipmentRow.id, ShipmentRow.seq).where(
                ShipmentRow.id.in_(chunk), ShipmentRow.voided_seq.is_(None)
            )
        )
        seqs.update((r.id, r.seq) for r in rows)
        subjects = [f"shipment/{s}" for s in chunk]
        for r in writer.conn.execute(
            select(
                FlagRow.id,
                FlagRow.subject,
                FlagRow.rule,
                FlagRow.line,
                FlagRow.status,
                FlagRow.raised_seq,
            ).where(FlagRow.subject.in_(subjects))
        ):
            raised[r.subject].add((r.rule, r.line))
            states[r.subject].append(_FlagState(r.id, r.rule, r.line, r.status, r.raised_seq))
    writer.cache["shipment_seqs"] = seqs
    writer.cache["raised_flags"] = raised
    writer.cache["flag_states"] = states
