"""The full audit of a ledger, from its entries alone.

`ledger verify` trusts nothing but the ledger's verifier key and the leaves:

1. parties and keys are rebuilt from the key-related entries (`Timeline`);
2. in worker processes, over ranges of entries: every leaf hashes to its stored
   tree node, parses, and agrees with its row (seq, kind, envelope digest,
   signer); every signature verifies, by a key registered before the entry and
   not revoked before it, of a party whose role may sign that kind; every
   checkpoint note in the range is signed by the ledger key;
3. the tree is rebuilt from the leaf hashes, level by level, and compared with
   every stored node and with the root of every checkpoint.

The first problem, by entry number, raises `IntegrityError` naming the entry.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import func, select, text

from provenance.crypto.envelope import Envelope
from provenance.crypto.keys import VerifyingKey
from provenance.crypto.signatures import check, cores, job
from provenance.errors import (
    AuthorizationError,
    InputError,
    IntegrityError,
    ProvenanceError,
    SignatureError,
)
from provenance.ledger.database import Store, make_engine
from provenance.ledger.log import Ledger
from provenance.ledger.tables import CheckpointRow, Entry
from provenance.offline.entries import ParsedEntry
from provenance.statements import kinds
from provenance.statements.authority import (
    Claims,
    KeyRecord,
    PartyRecord,
    Timeline,
    authorize,
    claims,
    keys_registered_by,
)
from provenance.statements.kinds import KEY_KINDS
from provenance.tlog import merkle, note

RANGE = 5000
"""Entries per unit of work handed to a worker."""


@dataclass(frozen=True)
class AuditReport:
    origin: str
    size: int
    root: bytes
    entries: int
    checkpoints: int
    keys: int
    workers: int

    def to_json(self) -> dict[str, object]:
        return {
            "ok": True,
            "origin": self.origin,
            "size": self.size,
            "root": self.root.hex(),
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "keys": self.keys,
            "workers": self.workers,
        }


@dataclass(frozen=True)
class _Finding:
    seq: int
    message: str


@dataclass
class _RangeResult:
    start: int
    leaf_hashes: list[bytes] = field(default_factory=list)
    checkpoints: dict[int, bytes] = field(default_factory=dict)
    finding: _Finding | None = None


# --- what workers know ----------------------------------------------------------------


@dataclass(frozen=True)
class _TimelineState:
    """A picklable copy of a `Timeline`."""

    keys: dict[str, tuple[str, bytes, int, int | None, str | None]]
    roles: dict[str, list[tuple[int, tuple[str, str, tuple[str, ...], str, str]]]]

    @classmethod
    def of(cls, timeline: Timeline) -> _TimelineState:
        keys = {
            k: (r.party, r.verifying.der(), r.registered_seq, r.revoked_seq, r.reason)
            for k, r in timeline.keys().items()
        }
        roles = {
            party: [
                (seq, (p.id, p.name, tuple(sorted(p.roles)), p.country, p.headquarters))
                for seq, p in history
            ]
            for party, history in timeline.history().items()
        }
        return cls(keys, roles)

    def restore(self) -> Timeline:
        timeline = Timeline()
        for keyid, (party, der, registered, revoked, reason) in self.keys.items():
            timeline.directory.put_key(
                KeyRecord(keyid, party, VerifyingKey.from_der(der), registered, revoked, reason)
            )
        for history in self.roles.values():
            for seq, (pid, name, roles, country, hq) in history:
                timeline.record_party(seq, PartyRecord(pid, name, frozenset(roles), country, hq))
        return timeline


@dataclass
class _Worker:
    store: Store
    verifier_keys: list[str]
    timeline: Timeline
    verifying: dict[str, VerifyingKey]


_worker: _Worker | None = None


def _init(url: str, verifier_keys: list[str], state: _TimelineState) -> None:
    global _worker
    timeline = state.restore()
    _worker = _Worker(
        Store(make_engine(url), url),
        verifier_keys,
        timeline,
        {k: r.verifying for k, r in timeline.keys().items()},
    )


def _audit_range(start: int, stop: int) -> _RangeResult:
    assert _worker is not None
    result = _RangeResult(start)
    with contextlib.suppress(_Stop):
        _check_range(_worker, start, stop, result)
    return result


class _Stop(Exception):
    pass


def _check_range(worker: _Worker, start: int, stop: int, result: _RangeResult) -> None:
    def fail(seq: int, message: str) -> None:
        result.finding = _Finding(seq, message)
        raise _Stop

    with worker.store.read() as conn:
        stored: dict[int, bytes] = dict(
            conn.execute(
                text("SELECT idx, hash FROM tree_nodes WHERE level = 0 AND idx >= :a AND idx < :b"),
                {"a": start, "b": stop},
            ).all()
        )
        rows = conn.execute(
            text(
                "SELECT seq, kind, envelope_digest, signer_party, signer_keys, leaf FROM entries "
                "WHERE seq >= :a AND seq < :b ORDER BY seq"
            ),
            {"a": start, "b": stop},
        )
        expected = start
        for seq, kind, digest, signer_party, signer_keys, leaf in rows:
            if seq != expected:
                fail(expected, "the entry is missing (a row was deleted)")
            expected += 1
            leaf = bytes(leaf)
            leaf_hash = merkle.leaf_hash(leaf)
            node = stored.get(seq)
            if node is None:
                fail(seq, "its leaf hash is missing from the tree")
            elif bytes(node) != leaf_hash:
                fail(seq, "the stored entry does not match the tree (its bytes were altered)")
            result.leaf_hashes.append(leaf_hash)
            problem = _check_entry(worker, seq, kind, digest, signer_party, signer_keys, leaf)
            if problem:
                fail(seq, problem)
        if expected != stop:
            fail(expected, "the entry is missing (a row was deleted)")
        for size, root, signed in conn.execute(
            text("SELECT size, root, note FROM checkpoints WHERE size > :a AND size <= :b"),
            {"a": start, "b": stop},
        ):
            try:
                checkpoint = note.open_checkpoint(signed, worker.verifier_keys)
            except ProvenanceError as exc:
                fail(size - 1, f"checkpoint at size {size}: {exc.message}")
            if checkpoint.size != size or checkpoint.root != bytes(root):
                fail(size - 1, f"checkpoint at size {size} does not match its row")
            result.checkpoints[size] = checkpoint.root


def _check_entry(
    worker: _Worker,
    seq: int,
    kind: str,
    digest: str,
    signer_party: str,
    signer_keys: str,
    leaf: bytes,
) -> str | None:
    try:
        value = json.loads(leaf)
        if value.get("seq") != seq:
            return f"its leaf says it is entry {value.get('seq')}"
        envelope = Envelope.from_json(value["envelope"])
        statement = envelope.statement()
        leaf_kind = kinds.kind_of(statement["predicateType"])
    except (ValueError, KeyError, TypeError, InputError) as exc:
        return f"its leaf is not a valid entry ({exc})"
    if leaf_kind != kind:
        return f"its row says kind {kind!r} but it holds a {leaf_kind!r} statement"
    if envelope.digest() != digest:
        return "its envelope digest does not match its row"
    keys: Mapping[str, VerifyingKey] = worker.verifying
    claim = Claims()
    if kind in KEY_KINDS:
        try:
            model = kinds.from_predicate(kind, statement["predicate"])
        except InputError as exc:
            return exc.message
        claim = claims(model)
        keys = {**worker.verifying, **{k.keyid: k for k in keys_registered_by(model)}}
    outcome = check(job(envelope), keys)
    if outcome.error:
        return outcome.error
    try:
        signer = authorize(
            kind,
            seq,
            [s.keyid for s in envelope.signatures],
            outcome.verified,
            worker.timeline.as_of(seq),
            claim,
        )
    except (AuthorizationError, SignatureError) as exc:
        return exc.message
    if signer.party != signer_party or " ".join(signer.keyids) != signer_keys:
        return "its signer columns do not match its signatures"
    return None


# --- the audit ------------------------------------------------------------------------


def build_timeline(store: Store) -> Timeline:
    """Parties and keys from the key-related entries, in order."""
    timeline = Timeline()
    with store.read() as conn:
        rows = conn.execute(
            select(Entry.c.seq, Entry.c.leaf)
            .where(Entry.c.kind.in_(KEY_KINDS))
            .order_by(Entry.c.seq)
        )
        for seq, leaf in rows:
            try:
                parsed = ParsedEntry.from_leaf(bytes(leaf))
                timeline.apply(parsed.model(), seq)
            except ProvenanceError as exc:
                raise IntegrityError(
                    f"entry {seq}: {exc.message}",
                    hint="the ledger's key history does not replay: the database was altered",
                ) from exc
    return timeline


def _ranges(size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, size, RANGE):
        yield start, min(size, start + RANGE)


def audit(
    ledger: Ledger,
    *,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> AuditReport:
    """Verify the whole ledger; raise `IntegrityError` at the first bad entry."""
    store = ledger.store
    with store.read() as conn:
        count, top = conn.execute(select(func.count(), func.max(Entry.c.seq))).one()
        latest = int(conn.execute(select(func.max(CheckpointRow.c.size))).scalar() or 0)
        checkpoint_count = int(
            conn.execute(select(func.count()).select_from(CheckpointRow)).scalar_one()
        )
    top_seq: int | None = top
    size = 0 if top_seq is None else top_seq + 1
    timeline = build_timeline(store)
    state = _TimelineState.of(timeline)
    count_workers = workers if workers is not None else cores()
    ranges = list(_ranges(max(size, int(latest))))
    results: list[_RangeResult] = []
    if count_workers <= 1 or len(ranges) <= 1:
        count_workers = 1
        _init(store.url, ledger.verifier_keys, state)
        for start, stop in ranges:
            results.append(_audit_range(start, stop))
            if progress:
                progress(stop - start)
    else:
        with ProcessPoolExecutor(
            count_workers, initializer=_init, initargs=(store.url, ledger.verifier_keys, state)
        ) as pool:
            futures: list[Future[_RangeResult]] = [
                pool.submit(_audit_range, a, b) for a, b in ranges
            ]
            for (start, stop), future in zip(ranges, futures, strict=True):
                results.append(future.result())
                if progress:
                    progress(stop - start)
    findings = [r.finding for r in results if r.finding is not None]
    if findings:
        first = min(findings, key=lambda f: f.seq)
        raise IntegrityError(f"entry {first.seq}: {first.message}")
    if count != size:
        raise IntegrityError(f"the ledger holds {count} entries but numbers them up to {size - 1}")
    if latest != size:
        raise IntegrityError(
            f"the latest checkpoint is at size {latest} but the ledger holds {size} entries"
        )
    leaf_hashes = [h for r in results for h in r.leaf_hashes]
    checkpoints = {s: root for r in results for s, root in r.checkpoints.items()}
    root = _check_tree(store, leaf_hashes, checkpoints)
    return AuditReport(
        ledger.origin,
        size,
        root,
        count,
        checkpoint_count,
        len(timeline.keys()),
        count_workers,
    )


def _check_tree(store: Store, leaf_hashes: list[bytes], checkpoints: dict[int, bytes]) -> bytes:
    """Rebuild every level from the leaves; compare stored nodes and checkpoint roots."""
    levels = [leaf_hashes]
    with store.read() as conn:
        level = 1
        while len(levels[-1]) >= 2:
            below = levels[-1]
            computed = [
                merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)
            ]
            stored = conn.execute(
                text("SELECT idx, hash FROM tree_nodes WHERE level = :l ORDER BY idx"), {"l": level}
            ).all()
            if len(stored) != len(computed):
                raise IntegrityError(
                    f"tree level {level} holds {len(stored)} nodes, want {len(computed)}"
                )
            for (idx, value), expected in zip(stored, computed, strict=True):
                if bytes(value) != expected:
                    first_leaf = idx << level
                    raise IntegrityError(
                        f"entry {first_leaf}: stored tree node (level {level}, index {idx}) "
                        "does not match the entries below it"
                    )
            levels.append(computed)
            level += 1

    def root_at(size: int) -> bytes:
        nodes = merkle.range_nodes(0, size)
        return merkle.fold([levels[n.level][n.idx] for n in nodes])

    for size in sorted(checkpoints):
        if root_at(size) != checkpoints[size]:
            raise IntegrityError(
                f"entry {size - 1}: the checkpoint at size {size} does not match the tree"
            )
    return root_at(len(leaf_hashes)) if leaf_hashes else merkle.EMPTY_ROOT


__all__ = ["AuditReport", "audit", "build_timeline"]
