"""Screening lists in the ledger: import a snapshot, re-screen every party, load it back.

A list file is kept beside the ledger by its SHA-256 (`screening_files`); the
operator signs a `screening-list` entry that pins the digest, the row counts,
the policy, and every registered party that matches an entry at or above the
threshold, each marked `new` when the previous snapshot did not already match
it. New matches become red flags (projections of that entry). Reading a list
back checks its bytes against the digest the ledger signed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select

from provenance import documents
from provenance.crypto.keys import SigningKey
from provenance.errors import InputError, IntegrityError, NotFoundError
from provenance.ledger.database import utcnow
from provenance.ledger.log import Ledger
from provenance.ledger.projections.tables import (
    PartyRow,
    ScreeningHitRow,
    ScreeningSnapshotRow,
)
from provenance.ledger.tables import ScreeningFileRow
from provenance.offline.entries import Appended
from provenance.resources import resource_dir
from provenance.screening.lists import ScreeningList, parse_list
from provenance.screening.matcher import Match, ScreeningIndex, ScreeningPolicy
from provenance.statements.payloads import ScreeningHit, ScreeningListStatement

POLICY_FILE = "screening.yaml"
SEVERITIES = ("info", "warning", "high", "blocking")
MAX_LIST_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Screening:
    """The screening policy: the scorer's settings and the severity per list."""

    policy: ScreeningPolicy = field(default_factory=ScreeningPolicy)
    severity: dict[str, str] = field(default_factory=dict)
    default_severity: str = "high"

    def severity_of(self, source: str) -> str:
        return self.severity.get(source, self.default_severity)

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "screening policy") -> Screening:
        unknown = sorted(set(values) - {"policy", "severity", "default_severity"})
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
        policy = ScreeningPolicy.from_mapping(values.get("policy") or {})
        severity = {str(k): str(v) for k, v in (values.get("severity") or {}).items()}
        default = str(values.get("default_severity", "high"))
        for source, level in [*severity.items(), ("default_severity", default)]:
            if level not in SEVERITIES:
                raise InputError(
                    f"{where}: severity of {source} is {level!r}, not one of {SEVERITIES}"
                )
        return cls(policy, severity, default)


def load_screening(path: str | Path | None = None) -> Screening:
    """The screening policy (default: rules/screening.yaml of this installation)."""
    file = Path(path) if path is not None else resource_dir("rules") / POLICY_FILE
    value = documents.read_mapping(file)
    return Screening.from_mapping(value, str(file))


@dataclass(frozen=True)
class Imported:
    """What `import_list` did."""

    digest: str
    duplicate: bool
    seq: int
    counts: dict[str, int]
    total: int
    parties_screened: int
    hits: list[ScreeningHit]
    appended: Appended | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "duplicate": self.duplicate,
            "seq": self.seq,
            "counts": self.counts,
            "total": self.total,
            "parties_screened": self.parties_screened,
            "matches": [h.model_dump(mode="json") for h in self.hits],
            "new_flags": sum(1 for h in self.hits if h.new),
        }


def _score(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def _hit_key(party: str, source: str, entity: str | None, matched: str) -> tuple[str, ...]:
    return (party, source, entity or matched)


def rescreen(
    parties: Sequence[tuple[str, str, str | None]],
    index: ScreeningIndex,
    screening: Screening,
    previous: set[tuple[str, ...]],
) -> list[ScreeningHit]:
    """Screen (id, name, country) of every party; the hits at or above the threshold."""
    results = index.screen_many([(name, country) for _, name, country in parties], limit=5)
    hits: list[ScreeningHit] = []
    for (party, name, country), matches in zip(parties, results, strict=True):
        for match in matches:
            key = _hit_key(party, match.source, match.entity_number, match.matched_name)
            hits.append(
                ScreeningHit(
                    party=party,
                    name=name,
                    country=country,
                    score=_score(match.score),
                    source=match.source,
                    list_name=match.list_name,
                    entity_number=match.entity_number,
                    matched_name=match.matched_name,
                    license_requirement=match.license_requirement,
                    license_policy=match.license_policy,
                    severity=screening.severity_of(match.source),
                    new=key not in previous,
                )
            )
    return hits


def _previous_hits(ledger: Ledger) -> set[tuple[str, ...]]:
    with ledger.store.read() as conn:
        latest = conn.execute(
            select(ScreeningSnapshotRow.seq).order_by(ScreeningSnapshotRow.seq.desc()).limit(1)
        ).scalar()
        if latest is None:
            return set()
        rows = conn.execute(
            select(
                ScreeningHitRow.party,
                ScreeningHitRow.source,
                ScreeningHitRow.entity_number,
                ScreeningHitRow.matched_name,
            ).where(ScreeningHitRow.seq == latest)
        ).all()
    return {_hit_key(*row) for row in rows}


def _parties(ledger: Ledger) -> list[tuple[str, str, str | None]]:
    with ledger.store.read() as conn:
        rows = conn.execute(
            select(PartyRow.id, PartyRow.name, PartyRow.country, PartyRow.roles).order_by(
                PartyRow.id
            )
        ).all()
    # The operator, manufacturers, auditors and regulators are not trade counterparties.
    screened = {"exporter", "consignee", "end_user", "forwarder"}
    return [(r.id, r.name, r.country) for r in rows if screened & set(r.roles.split())]


def import_list(
    ledger: Ledger,
    data: bytes,
    *,
    name: str,
    signers: list[SigningKey],
    format: str | None = None,
    date: dt.date | None = None,
    screening: Screening | None = None,
) -> Imported:
    """Store a list snapshot, re-screen every trade party, sign and append the result.

    All or nothing: a malformed file is refused (InputError naming the line) before
    anything is written; a list already imported is a no-op (`duplicate`).
    """
    from provenance.statements.signing import sign

    if len(data) > MAX_LIST_BYTES:
        raise InputError(f"{name} is over the {MAX_LIST_BYTES // (1024 * 1024)} MiB limit")
    listed = parse_list(data, format=format, source=name)
    with ledger.store.read() as conn:
        known = conn.execute(
            select(ScreeningSnapshotRow.seq).where(ScreeningSnapshotRow.digest == listed.digest)
        ).scalar()
    counts = listed.counts()
    if known is not None:
        return Imported(listed.digest, True, known, counts, len(listed), 0, [])
    screening = screening or load_screening()
    index = ScreeningIndex.build(listed.entries, screening.policy)
    parties = _parties(ledger)
    hits = rescreen(parties, index, screening, _previous_hits(ledger))
    statement = ScreeningListStatement(
        digest=listed.digest,
        file=Path(name).name or name,
        format=listed.format,
        date=date or dt.datetime.now(dt.UTC).date(),
        counts=counts,
        total=len(listed),
        policy={k: Decimal(str(v)) for k, v in screening.policy.to_json().items()},
        parties_screened=len(parties),
        hits=hits,
    )
    envelope = sign(statement, signers)
    stored = _store_file(ledger, listed, data)
    try:
        appended, _ = ledger.append(envelope)
    except BaseException:
        if stored:
            with ledger.store.write() as conn:
                conn.execute(
                    delete(ScreeningFileRow).where(ScreeningFileRow.c.digest == listed.digest)
                )
        raise
    return Imported(
        listed.digest,
        appended.duplicate,
        appended.seq,
        counts,
        len(listed),
        len(parties),
        hits,
        appended,
    )


def _store_file(ledger: Ledger, listed: ScreeningList, data: bytes) -> bool:
    """Keep the file by digest; False when it was already kept."""
    with ledger.store.write() as conn:
        there = conn.execute(
            select(ScreeningFileRow.c.digest).where(ScreeningFileRow.c.digest == listed.digest)
        ).scalar()
        if there is not None:
            return False
        conn.execute(
            insert(ScreeningFileRow),
            [
                {
                    "digest": listed.digest,
                    "format": listed.format,
                    "data": data,
                    "stored_at": utcnow(),
                }
            ],
        )
    return True


# --- reading snapshots back ------------------------------------------------------------


def snapshots(ledger: Ledger) -> list[dict[str, Any]]:
    """Every snapshot, newest first."""
    with ledger.store.read() as conn:
        rows = conn.execute(
            select(ScreeningSnapshotRow.__table__).order_by(ScreeningSnapshotRow.seq.desc())
        ).all()
        counted = conn.execute(
            select(ScreeningHitRow.seq, ScreeningHitRow.new, func.count()).group_by(
                ScreeningHitRow.seq, ScreeningHitRow.new
            )
        ).all()
    matches: dict[int, int] = {}
    new: dict[int, int] = {}
    for seq, is_new, n in counted:
        matches[seq] = matches.get(seq, 0) + n
        if is_new:
            new[seq] = n
    return [
        _snapshot_dict(r, matches=matches.get(r.seq, 0), new_flags=new.get(r.seq, 0)) for r in rows
    ]


def _snapshot_dict(row: Any, **extra: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "digest": row.digest,
        "file": row.file,
        "format": row.format,
        "date": row.date.isoformat(),
        "total": row.total,
        "counts": json.loads(row.counts),
        "policy": json.loads(row.policy),
        "parties_screened": row.parties_screened,
        **extra,
    }


def snapshot(ledger: Ledger, digest: str | None = None) -> dict[str, Any]:
    """One snapshot (the latest by default, or by digest or its prefix) with its matches."""
    with ledger.store.read() as conn:
        query = select(ScreeningSnapshotRow.__table__)
        if digest:
            query = query.where(ScreeningSnapshotRow.digest.startswith(digest.lower()))
        row = conn.execute(query.order_by(ScreeningSnapshotRow.seq.desc()).limit(2)).all()
        if not row:
            raise NotFoundError(
                "no screening list has been imported"
                if not digest
                else f"no screening snapshot {digest!r}",
                hint="provenance screening import FILE --key OPERATOR.pem",
            )
        if digest and len(row) > 1:
            raise InputError(f"{digest!r} is the start of more than one snapshot's digest")
        found = row[0]
        hits = conn.execute(
            select(ScreeningHitRow.__table__)
            .where(ScreeningHitRow.seq == found.seq)
            .order_by(ScreeningHitRow.position)
        ).all()
    return _snapshot_dict(
        found,
        matches=[
            {
                "party": h.party,
                "score": h.score,
                "source": h.source,
                "entity_number": h.entity_number,
                "matched_name": h.matched_name,
                "new": h.new,
            }
            for h in hits
        ],
    )


_INDEXES: dict[tuple[str, ScreeningPolicy], ScreeningIndex] = {}


def load_index(
    ledger: Ledger, digest: str | None = None, policy: ScreeningPolicy | None = None
) -> tuple[ScreeningIndex, dict[str, Any]]:
    """The index of a snapshot (the latest by default), its bytes checked against the
    digest the ledger signed. Indexes are cached per process."""
    info = snapshot(ledger, digest)
    chosen = policy or ScreeningPolicy.from_mapping(
        {k: _number(v) for k, v in info["policy"].items()}
    )
    cached = _INDEXES.get((info["digest"], chosen))
    if cached is not None:
        return cached, info
    with ledger.store.read() as conn:
        data = conn.execute(
            select(ScreeningFileRow.c.data).where(ScreeningFileRow.c.digest == info["digest"])
        ).scalar()
    if data is None:
        raise IntegrityError(f"the file of screening snapshot {info['digest'][:16]} is missing")
    listed = parse_list(bytes(data), format=info["format"], source=info["file"])
    if listed.digest != info["digest"]:
        raise IntegrityError(
            f"the stored file of screening snapshot {info['digest'][:16]} does not match the "
            f"digest the ledger signed (entry {info['seq']})"
        )
    index = ScreeningIndex.build(listed.entries, chosen)
    _INDEXES[(info["digest"], chosen)] = index
    return index, info


def _number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() and "." not in text else float(value)


def screen_parties(
    ledger: Ledger, party_ids: Iterable[str], policy: ScreeningPolicy | None = None
) -> dict[str, list[Match]]:
    """Matches at or above the threshold for each party, against the latest snapshot
    (empty lists when no list has been imported). What the rules engine reads."""
    wanted = list(dict.fromkeys(party_ids))
    try:
        index, _ = load_index(ledger, policy=policy)
    except NotFoundError:
        return {p: [] for p in wanted}
    with ledger.store.read() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                select(PartyRow.id, PartyRow.name, PartyRow.country).where(PartyRow.id.in_(wanted))
            )
        }
    found: dict[str, list[Match]] = {}
    for party in wanted:
        row = rows.get(party)
        found[party] = index.screen(row.name, row.country, limit=5) if row else []
    return found
