"""The audit of a ledger, from its entries alone, against what the auditor trusts.

`ledger verify` trusts nothing but the checkpoint key it pinned (or remembered, in its
own state: `audit_state`) and the leaves:

0. the latest checkpoint is signed by the pinned key (or one the ledger announced after
   it) and names the ledger's origin; its signed size bounds everything read after; no
   row lies outside it; against the remembered state, the tree has not shrunk, the
   remembered checkpoint and every one before it are still there, and the tree is
   consistent with it;
1. parties and keys are rebuilt from the key-related entries (`Timeline`), parsed and
   validated once, here;
2. in worker processes, over ranges of entries (all, or those appended since the
   remembered size): every leaf hashes to its stored tree node, parses, and agrees with
   every column of its row (seq, integrated_at, kind, envelope digest, signer); every
   signature verifies, by a key registered before the entry and not revoked before it,
   of a party whose role may sign that kind; every checkpoint note in the range is
   signed by one of the ledger's keys and agrees with its row;
3. the tree is rebuilt from the leaf hashes, level by level (or grown from the
   remembered right edge), and compared with every stored node and with the root of
   every checkpoint.

The first problem, by entry number, raises `IntegrityError` naming the row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import LargeBinary, cast, func, literal, select
from sqlalchemy.engine import Connection

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
from provenance.ledger import checkpoint_keys
from provenance.ledger.audit_state import Seen
from provenance.ledger.database import Store, make_engine
from provenance.ledger.log import Ledger
from provenance.ledger.tables import CheckpointRow, Entry, LedgerInfo, TreeNode
from provenance.offline.entries import ParsedEntry, timestamp
from provenance.statements import kinds
from provenance.statements.authority import (
    Claims,
    KeyRecord,
    PartyRecord,
    Timeline,
    authorize,
    claims,
)
from provenance.statements.kinds import KEY_KINDS
from provenance.tlog import merkle, note

RANGE = 5000
"""Entries per unit of work handed to a worker."""

ENTRY_COLUMNS = ("integrated_at", "kind", "envelope_digest", "signer_party", "signer_keys", "leaf")
ENTRY_TYPES = ("text", "text", "text", "text", "text", "blob")
"""The columns of an entry row other than `seq`, and the SQLite storage class of each."""


@dataclass(frozen=True)
class AuditReport:
    origin: str
    size: int
    root: bytes
    entries: int
    checkpoints: int
    keys: int
    workers: int
    since: int | None = None
    """The size the auditor had verified before, when only what came after was audited."""
    audited: int = 0
    """How many entries were audited now (all, or those appended since `since`)."""
    seen: Seen | None = None
    """What the auditor should remember now (`audit_state`)."""
    trusted_on_first_use: bool = False
    """No key was pinned and nothing remembered: the database's own key was trusted."""

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
            "incremental_from": self.since,
            "audited": self.audited,
            "verifier_key": self.seen.pinned if self.seen else None,
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
    origin: str
    checkpoint_keys: list[tuple[str, int]]
    timeline: Timeline
    verifying: dict[str, VerifyingKey]
    claims: dict[int, Claims]
    """What each key-related entry claims, from the main process's parse (not redone)."""

    def keys_for(self, size: int) -> list[str]:
        """The checkpoint keys that may sign the checkpoint of `size`."""
        return [k for k, valid_from in self.checkpoint_keys if valid_from <= size]


_worker: _Worker | None = None


def _init(
    url: str,
    origin: str,
    checkpoint_keys: list[tuple[str, int]],
    state: _TimelineState,
    key_claims: dict[int, Claims],
) -> None:
    global _worker
    timeline = state.restore()
    _worker = _Worker(
        Store(make_engine(url), url),
        origin,
        checkpoint_keys,
        timeline,
        {k: r.verifying for k, r in timeline.keys().items()},
        key_claims,
    )


def _dispose() -> None:
    global _worker
    if _worker is not None:
        _worker.store.dispose()
        _worker = None


def _audit_range(start: int, stop: int) -> _RangeResult:
    assert _worker is not None
    result = _RangeResult(start)
    with contextlib.suppress(_Stop):
        _check_range(_worker, start, stop, result)
    return result


class _Stop(Exception):
    pass


def _raw(column: Any, conn: Connection) -> Any:
    """A column as its stored bytes: SQLite keeps whatever it is given (text that is not
    UTF-8, text where bytes belong), so the audit reads bytes and judges them itself:
    damage is a finding, not a crash."""
    return cast(column, LargeBinary) if conn.dialect.name == "sqlite" else column


def _types(conn: Connection, *columns: Any) -> Any:
    """On SQLite, the storage classes of `columns` joined by spaces (a column holds any
    type there: text where bytes belong passes a CAST unchanged, but breaks every reader);
    elsewhere the database enforces the declared types, and this is the constant `TYPED`."""
    if conn.dialect.name != "sqlite":
        return literal(TYPED)
    joined: Any = func.typeof(columns[0])
    for column in columns[1:]:
        joined = joined.concat(" ").concat(func.typeof(column))
    return joined


TYPED = "typed"


def _typed(found: object, *expected: str) -> bool:
    return found == TYPED or found == " ".join(expected)


def _bytes(value: object) -> bytes | None:
    """A stored byte string, or None when the database holds something else there."""
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return None


def _nodes(conn: Connection, ids: Iterable[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
    """Stored tree nodes by id (as `tree.nodes`, but reading bytes as stored: a value that is
    not a byte string counts as missing)."""
    by_level: dict[int, list[int]] = {}
    for node in ids:
        by_level.setdefault(node.level, []).append(node.idx)
    found: dict[merkle.NodeId, bytes] = {}
    for level, idxs in by_level.items():
        for chunk in _chunks(sorted(set(idxs)), 500):
            for idx, value in conn.execute(
                select(TreeNode.c.idx, _raw(TreeNode.c.hash, conn)).where(
                    TreeNode.c.level == level, TreeNode.c.idx.in_(chunk)
                )
            ):
                stored = _bytes(value)
                if stored is not None and isinstance(idx, int):
                    found[merkle.NodeId(level, idx)] = stored
    return found


def _text(value: object) -> str | None:
    """A stored text value, or None when it is not text (damaged bytes, another type)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _moment(value: object) -> str | None:
    """A stored timestamp in the leaf's form (`offline.entries.timestamp`), or None."""
    if not isinstance(value, dt.datetime):
        stored = _text(value)
        if stored is None:
            return None
        try:
            value = dt.datetime.fromisoformat(stored)
        except ValueError:
            return None
    assert isinstance(value, dt.datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return timestamp(value)


def _check_range(worker: _Worker, start: int, stop: int, result: _RangeResult) -> None:
    def fail(seq: int, message: str) -> None:
        result.finding = _Finding(seq, message)
        raise _Stop

    store = worker.store
    with store.read() as conn:
        stored: dict[int, object] = {
            idx: value if _typed(types, "integer", "integer", "blob") else None
            for idx, value, types in conn.execute(
                select(
                    TreeNode.c.idx,
                    _raw(TreeNode.c.hash, conn),
                    _types(conn, TreeNode.c.level, TreeNode.c.idx, TreeNode.c.hash),
                ).where(TreeNode.c.level == 0, TreeNode.c.idx >= start, TreeNode.c.idx < stop)
            )
        }
        columns = [_raw(Entry.c[name], conn) for name in ENTRY_COLUMNS[:-1]]
        rows = conn.execute(
            select(
                Entry.c.seq,
                *columns,
                _raw(Entry.c.leaf, conn),
                _types(conn, *(Entry.c[n] for n in ENTRY_COLUMNS)),
            )
            .where(Entry.c.seq >= start, Entry.c.seq < stop)
            .order_by(Entry.c.seq)
        )
        expected = start
        for row in rows:
            seq, moment, leaf = row[0], row[1], row[6]
            if seq != expected:
                fail(expected, "the entry is missing (a row was deleted or renumbered)")
            expected += 1
            if not _typed(row[7], *ENTRY_TYPES):
                fail(seq, f"its row holds values of the wrong types ({row[7]})")
            leaf = _bytes(leaf)
            if leaf is None:
                fail(seq, "its leaf is not a byte string (the row was altered)")
            assert leaf is not None
            leaf_hash = merkle.leaf_hash(leaf)
            node = stored.get(seq)
            if node is None:
                fail(seq, "its leaf hash is missing from the tree")
            elif _bytes(node) != leaf_hash:
                fail(seq, "the stored entry does not match the tree (its bytes were altered)")
            result.leaf_hashes.append(leaf_hash)
            kind, digest, signer_party, signer_keys = (_text(v) for v in row[2:6])
            if kind is None or digest is None or signer_party is None or signer_keys is None:
                fail(seq, "a column of its row is not text (the row was altered)")
            problem = _check_entry(
                worker,
                seq,
                _moment(moment),
                str(kind),
                str(digest),
                str(signer_party),
                str(signer_keys),
                leaf,
            )
            if problem:
                fail(seq, problem)
        if expected != stop:
            fail(expected, "the entry is missing (a row was deleted or renumbered)")
        for size, root, signed, types in conn.execute(
            select(
                CheckpointRow.c.size,
                _raw(CheckpointRow.c.root, conn),
                _raw(CheckpointRow.c.note, conn),
                _types(conn, CheckpointRow.c.root, CheckpointRow.c.note),
            ).where(CheckpointRow.c.size > start, CheckpointRow.c.size <= stop)
        ):
            if not _typed(types, "blob", "text"):
                fail(size - 1, f"checkpoint at size {size} holds values of the wrong types")
            opened = _check_checkpoint(
                worker.origin, worker.keys_for(size), size, root, _text(signed)
            )
            if isinstance(opened, str):
                fail(size - 1, opened)
            else:
                result.checkpoints[size] = opened.root


def _check_checkpoint(
    origin: str, keys: list[str], size: int, root: object, signed: object
) -> note.Checkpoint | str:
    """The checkpoint a row holds, or what is wrong with it."""
    if not isinstance(signed, str):
        return f"checkpoint at size {size}: its note is not text"
    try:
        checkpoint = note.open_checkpoint(signed, keys)
    except ProvenanceError as exc:
        return f"checkpoint at size {size}: {exc.message}"
    if checkpoint.origin != origin:
        return f"checkpoint at size {size} is for {checkpoint.origin!r}, not {origin!r}"
    if checkpoint.size != size:
        return f"checkpoint at size {size} does not match its row (its note says {checkpoint.size})"
    if checkpoint.root != _bytes(root):
        return f"checkpoint at size {size}: its root column does not match its note"
    return checkpoint


def _check_entry(
    worker: _Worker,
    seq: int,
    integrated_at: str | None,
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
        if value.get("integrated_at") != integrated_at:
            return "its integrated_at column does not match its leaf"
        envelope = Envelope.from_json(value["envelope"])
        statement = envelope.statement()
        leaf_kind = kinds.kind_of(statement["predicateType"])
    except (ValueError, KeyError, TypeError, InputError) as exc:
        return f"its leaf is not a valid entry ({exc})"
    if leaf_kind != kind:
        return f"its row says kind {kind!r} but it holds a {leaf_kind!r} statement"
    if envelope.digest() != digest:
        return "its envelope digest does not match its row"
    keys: Mapping[str, VerifyingKey] = worker.verifying  # every key, those it registers too
    claim = Claims()
    if kind in KEY_KINDS:
        # validated and applied by the main process (`_timeline`), not parsed again here
        found = worker.claims.get(seq)
        if found is None:
            return "its key change is missing from the key history (its kind was altered)"
        claim = found
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


def build_timeline(store: Store, below: int | None = None) -> Timeline:
    """Parties and keys from the key-related entries (below tree size `below`), in order."""
    return _timeline(store, None, below)[0]


def _timeline(
    store: Store, seqs: list[int] | None, below: int | None, proven: int = 0
) -> tuple[Timeline, list[int], dict[int, Claims]]:
    """The key history from the key-related entries: those numbered in `seqs`, else every
    entry of a key kind below `below`. The leaves of entries below `proven` are not audited
    again by the caller: it proves their inclusion (`_prove_included`)."""
    timeline = Timeline()
    key_claims: dict[int, Claims] = {}
    replayed: list[int] = []
    with store.read() as conn:
        if seqs is None:
            # streamed: the key history is kept, not every key entry's leaf at once
            query = select(Entry.c.seq, _raw(Entry.c.leaf, conn)).where(Entry.c.kind.in_(KEY_KINDS))
            if below is not None:
                query = query.where(Entry.c.seq >= 0, Entry.c.seq < below)
            streamed = conn.execution_options(yield_per=2000).execute(query.order_by(Entry.c.seq))
            for s, leaf in streamed:
                _replay(timeline, key_claims, int(s), _bytes(leaf) or b"", proven)
                replayed.append(int(s))
            return timeline, replayed, key_claims
        else:
            found: dict[int, bytes] = {}
            for chunk in _chunks(sorted(set(seqs)), 500):
                found.update(
                    (int(s), _bytes(leaf) or b"")
                    for s, leaf in conn.execute(
                        select(Entry.c.seq, _raw(Entry.c.leaf, conn)).where(Entry.c.seq.in_(chunk))
                    )
                )
            rows = []
            for seq in sorted(set(seqs)):
                if seq not in found:
                    raise IntegrityError(
                        f"entry {seq}: the entry is missing (a row was deleted or renumbered)"
                    )
                rows.append((seq, found[seq]))
    for seq, leaf in rows:
        _replay(timeline, key_claims, seq, leaf, proven)
    return timeline, [seq for seq, _ in rows], key_claims


def _replay(
    timeline: Timeline, key_claims: dict[int, Claims], seq: int, leaf: bytes, proven: int
) -> None:
    """Apply one key-related entry to the key history."""
    try:
        parsed = ParsedEntry.from_leaf(leaf)
        if parsed.seq != seq:
            raise IntegrityError(f"its leaf says it is entry {parsed.seq}")
        if seq < proven and parsed.kind not in KEY_KINDS:
            raise IntegrityError(f"it holds a {parsed.kind!r} statement, not a key change")
        model = parsed.model()
        timeline.apply(model, seq)
        key_claims[seq] = claims(model)
    except ProvenanceError as exc:
        raise IntegrityError(
            f"entry {seq}: {exc.message}",
            hint="the ledger's key history does not replay: the database was altered",
        ) from exc


def _chunks(values: list[int], n: int) -> Iterator[list[int]]:
    for i in range(0, len(values), n):
        yield values[i : i + n]


def _ranges(start: int, size: int) -> Iterator[tuple[int, int]]:
    for a in range(start, size, RANGE):
        yield a, min(size, a + RANGE)


@dataclass(frozen=True)
class _Tip:
    """The latest checkpoint, verified: the tree the audit checks."""

    size: int
    root: bytes
    note: str


def audit(
    ledger: Ledger,
    *,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    pinned: str | None = None,
    seen: Seen | None = None,
    full: bool = False,
) -> AuditReport:
    """Verify the ledger; raise `IntegrityError` at the first bad row.

    `pinned` is the checkpoint verifier key to trust (default: what `seen` remembers, else
    the key the database names, trusted on first use). `seen` is what the auditor verified
    before (`audit_state`): the ledger must have grown from it, consistently, with no
    checkpoint below it removed; only the entries appended since are audited, unless
    `full`. The report's `seen` is what to remember now.
    """
    store = ledger.store
    with store.read() as conn:
        _check_identity(conn, ledger, pinned, seen)
        chain = _checkpoint_chain(conn, ledger, seen)
        trusted = _trusted_from(chain, pinned or (seen.pinned if seen else ledger.verifier_key))
        tip = _tip(conn, ledger.origin, chain, trusted)
        checkpoint_count = int(
            conn.execute(select(func.count()).select_from(CheckpointRow)).scalar_one()
        )
        if seen is not None:
            _check_against_seen(conn, seen, tip)
        _check_bounds(conn, tip.size)
    start = seen.size if seen is not None and not full else 0
    if start:
        timeline, key_seqs, key_claims = _timeline(
            store, _key_seqs(store, seen, tip.size), None, start
        )
        _prove_included(store, [s for s in key_seqs if s < start], tip)
    else:
        timeline, key_seqs, key_claims = _timeline(store, None, tip.size)
    state = _TimelineState.of(timeline)
    ranges = list(_ranges(start, tip.size))
    count_workers = workers if workers is not None else cores()
    results: list[_RangeResult] = []
    initargs = (store.url, ledger.origin, chain, state, key_claims)
    if count_workers <= 1 or len(ranges) <= 1:
        count_workers = 1
        _init(*initargs)
        try:
            for a, b in ranges:
                results.append(_audit_range(a, b))
                if progress:
                    progress(b - a)
        finally:
            _dispose()
    else:
        with ProcessPoolExecutor(count_workers, initializer=_init, initargs=initargs) as pool:
            futures: list[Future[_RangeResult]] = [
                pool.submit(_audit_range, a, b) for a, b in ranges
            ]
            for (a, b), future in zip(ranges, futures, strict=True):
                results.append(future.result())
                if progress:
                    progress(b - a)
    findings = [r.finding for r in results if r.finding is not None]
    if findings:
        first = min(findings, key=lambda f: f.seq)
        raise IntegrityError(f"entry {first.seq}: {first.message}")
    leaf_hashes = [h for r in results for h in r.leaf_hashes]
    checkpoints = {s: root for r in results for s, root in r.checkpoints.items()}
    if start:
        assert seen is not None
        root = _extend_tree(store, seen, leaf_hashes, checkpoints, tip)
    else:
        root = _check_tree(store, leaf_hashes, checkpoints)
    if root != tip.root:
        raise IntegrityError(f"entry {tip.size - 1}: the latest checkpoint does not match the tree")
    remembered = Seen(
        ledger.origin,
        pinned or (seen.pinned if seen else ledger.verifier_key),
        chain,
        tip.size,
        tip.root.hex(),
        tip.note,
        checkpoint_count,
        key_seqs,
    )
    return AuditReport(
        ledger.origin,
        tip.size,
        tip.root,
        tip.size,
        checkpoint_count,
        len(timeline.keys()),
        count_workers,
        since=start or None,
        audited=tip.size - start,
        seen=remembered,
        trusted_on_first_use=pinned is None and seen is None,
    )


def _check_identity(
    conn: Connection, ledger: Ledger, pinned: str | None, seen: Seen | None
) -> None:
    """The database's idea of the ledger against the key and origin the auditor trusts."""
    rows = conn.execute(select(LedgerInfo.c.id)).scalars().all()
    if rows != [1]:
        raise IntegrityError(f"ledger_info holds rows {rows[:5]}, want the one row 1")
    if seen is not None:
        if seen.origin != ledger.origin:
            raise IntegrityError(
                f"the database names its ledger {ledger.origin!r}, but the auditor verified "
                f"{seen.origin!r} here before",
                hint="a different ledger now sits in this database",
            )
        if ledger.verifier_key != seen.keys[0][0]:
            raise IntegrityError(
                f"the database names checkpoint key {ledger.verifier_key}, but the ledger the "
                f"auditor verified here before began with {seen.keys[0][0]}",
                hint="the ledger was rebuilt with another key",
            )
        if pinned is not None and pinned not in [k for k, _ in seen.keys]:
            raise IntegrityError(
                f"the key given ({pinned}) is not one the auditor saw this ledger use",
                hint="check where the key came from, or audit with another --state",
            )
    key = pinned or (seen.pinned if seen else ledger.verifier_key)
    try:
        name = note.Verifier.parse(key).name
    except ProvenanceError as exc:
        if pinned is not None:
            raise InputError(f"the pinned ledger key is malformed: {exc.message}") from exc
        raise IntegrityError(f"ledger_info: its verifier key is malformed: {exc.message}") from exc
    if name != ledger.origin:
        raise IntegrityError(
            f"the database names its ledger {ledger.origin!r}, but the pinned key is for {name!r}"
        )


def _rotations(conn: Connection, start: int, below: int) -> list[checkpoint_keys.Rotation]:
    """The `checkpoint-key` announcements with `start <= seq < below` (the audit of their
    range checks them as entries)."""
    found = []
    rows = conn.execute(
        select(Entry.c.seq, _raw(Entry.c.leaf, conn))
        .where(Entry.c.kind == "checkpoint-key", Entry.c.seq >= start, Entry.c.seq < below)
        .order_by(Entry.c.seq)
    )
    for seq, leaf in rows:
        try:
            predicate = ParsedEntry.from_leaf(_bytes(leaf) or b"").statement["predicate"]
            found.append(
                checkpoint_keys.Rotation(
                    int(seq),
                    str(predicate["verifier_key"]),
                    str(predicate["replaces"]),
                    dt.date.fromisoformat(str(predicate["overlap_until"])),
                )
            )
        except (ProvenanceError, KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(f"entry {seq}: a malformed checkpoint-key entry ({exc})") from exc
    return found


def _checkpoint_chain(conn: Connection, ledger: Ledger, seen: Seen | None) -> list[tuple[str, int]]:
    """Every checkpoint key with the smallest size it may sign: the first key from size 1;
    a key announced at entry s, replacing a key of the chain, once the first checkpoint
    after s (signed by the keys before it) is past."""
    chain = list(seen.keys) if seen is not None else [(ledger.verifier_key, 1)]
    top = conn.execute(select(func.max(CheckpointRow.c.size))).scalar()
    if not isinstance(top, int):
        raise IntegrityError("the ledger has no checkpoint")
    for rotation in _rotations(conn, seen.size if seen is not None else 0, top):
        if rotation.replaces not in [k for k, _ in chain]:
            continue  # replaces no key of the ledger: it adds none
        first_after = conn.execute(
            select(func.min(CheckpointRow.c.size)).where(CheckpointRow.c.size > rotation.seq)
        ).scalar()
        if isinstance(first_after, int):
            chain.append((rotation.verifier_key, first_after + 1))
    return chain


def _trusted_from(chain: list[tuple[str, int]], pinned: str) -> list[tuple[str, int]]:
    """The pinned key and those announced after it: the keys that may sign the latest
    checkpoint (which fixes the whole tree)."""
    keys = [k for k, _ in chain]
    if pinned not in keys:
        raise IntegrityError(
            f"the ledger's checkpoints are not signed by the pinned key {pinned}",
            hint=f"the database names {keys[0]}: a ledger rebuilt with another key",
        )
    return chain[keys.index(pinned) :]


def _tip(
    conn: Connection, origin: str, chain: list[tuple[str, int]], trusted: list[tuple[str, int]]
) -> _Tip:
    row = conn.execute(
        select(
            CheckpointRow.c.size, _raw(CheckpointRow.c.root, conn), _raw(CheckpointRow.c.note, conn)
        )
        .order_by(CheckpointRow.c.size.desc())
        .limit(1)
    ).first()
    if row is None:
        raise IntegrityError("the ledger has no checkpoint")
    size, signed = int(row[0]), _text(row[2])
    keys = [k for k, valid_from in trusted if valid_from <= size]
    checked = _check_checkpoint(origin, keys, size, row[1], signed)
    if isinstance(checked, str):
        any_key = _check_checkpoint(origin, [k for k, _ in chain], size, row[1], signed)
        if not isinstance(any_key, str):
            checked = "the latest checkpoint is not signed by the pinned key"
        raise IntegrityError(f"entry {max(size - 1, 0)}: {checked}")
    return _Tip(size, checked.root, str(signed))


def _check_against_seen(conn: Connection, seen: Seen, tip: _Tip) -> None:
    """A rollback, a fork or a removed checkpoint, against what the auditor saw."""
    if tip.size < seen.size:
        raise IntegrityError(
            f"the ledger's latest checkpoint is at size {tip.size}, but the auditor verified "
            f"size {seen.size} before: {seen.size - tip.size} "
            f"{'entry was' if seen.size - tip.size == 1 else 'entries were'} removed (a rollback)",
            hint="keep the state file: it and the checkpoint it names are the evidence",
        )
    root = conn.execute(
        select(_raw(CheckpointRow.c.root, conn)).where(CheckpointRow.c.size == seen.size)
    ).scalar()
    stored = _bytes(root)
    if stored is None or stored.hex() != seen.root:
        raise IntegrityError(
            f"entry {seen.size - 1}: the checkpoint at size {seen.size} the auditor verified "
            "is gone or changed"
        )
    below = int(
        conn.execute(
            select(func.count()).select_from(CheckpointRow).where(CheckpointRow.c.size <= seen.size)
        ).scalar_one()
    )
    if below != seen.checkpoints:
        raise IntegrityError(
            f"the ledger holds {below} checkpoints up to size {seen.size}, but the auditor "
            f"verified {seen.checkpoints}: "
            + ("a checkpoint was deleted" if below < seen.checkpoints else "one was added")
        )
    if tip.size > seen.size:
        try:
            proof = merkle.resolve(
                merkle.consistency_nodes(seen.size, tip.size), lambda ids: _nodes(conn, ids)
            )
            merkle.verify_consistency(
                seen.size, tip.size, proof, bytes.fromhex(seen.root), tip.root
            )
        except IntegrityError as exc:
            raise IntegrityError(
                f"the tree of size {tip.size} is not consistent with the checkpoint of size "
                f"{seen.size} the auditor verified ({exc.message})",
                hint="two histories of one ledger: keep both checkpoint notes",
            ) from exc


def _check_bounds(conn: Connection, size: int) -> None:
    """No row outside the signed tree: every structure after this is bounded by `size`."""
    seq = conn.execute(
        select(Entry.c.seq).where((Entry.c.seq < 0) | (Entry.c.seq >= size)).limit(1)
    ).scalar()
    if seq is not None:
        raise IntegrityError(
            f"entry {seq}: numbered outside the signed tree of size {size} "
            "(a row was added or renumbered)"
        )
    stray = conn.execute(
        select(CheckpointRow.c.size).where(CheckpointRow.c.size < 1).limit(1)
    ).scalar()
    if stray is not None:
        raise IntegrityError(f"checkpoint row at size {stray}: no tree has that size")
    height = max(size - 1, 0).bit_length()
    level = conn.execute(
        select(TreeNode.c.level)
        .where((TreeNode.c.level < 0) | (TreeNode.c.level > height))
        .limit(1)
    ).scalar()
    if level is not None:
        raise IntegrityError(f"tree node at level {level}: the tree of size {size} has none")
    for lvl in range(height + 1):
        idx = conn.execute(
            select(TreeNode.c.idx)
            .where(
                TreeNode.c.level == lvl,
                (TreeNode.c.idx < 0) | (TreeNode.c.idx >= size >> lvl),
            )
            .limit(1)
        ).scalar()
        if idx is not None:
            first = max(0, min(idx << lvl, size - 1)) if isinstance(idx, int) and idx >= 0 else 0
            raise IntegrityError(
                f"entry {first}: tree node (level {lvl}, index {idx}) lies outside the tree "
                f"of size {size}"
            )


def _key_seqs(store: Store, seen: Seen | None, size: int) -> list[int]:
    """The key-related entries: those the auditor remembered, and those appended since."""
    assert seen is not None
    with store.read() as conn:
        new = conn.execute(
            select(Entry.c.seq).where(
                Entry.c.kind.in_(KEY_KINDS), Entry.c.seq >= seen.size, Entry.c.seq < size
            )
        ).scalars()
        return sorted({*seen.key_seqs, *(int(s) for s in new)})


def _prove_included(store: Store, seqs: list[int], tip: _Tip) -> None:
    """Each entry's stored leaf is in the signed tree (inclusion proofs from stored nodes)."""
    with store.read() as conn:
        for chunk in _chunks(seqs, 200):
            leaves: dict[int, object] = dict(
                conn.execute(
                    select(Entry.c.seq, _raw(Entry.c.leaf, conn)).where(Entry.c.seq.in_(chunk))
                ).all()
            )
            groups = {seq: merkle.inclusion_nodes(seq, tip.size) for seq in chunk}
            wanted = {node for g in groups.values() for group in g for node in group}
            stored = _nodes(conn, wanted)

            def fetch(
                _ids: object, found: dict[merkle.NodeId, bytes] = stored
            ) -> dict[merkle.NodeId, bytes]:
                return found

            for seq in chunk:
                try:
                    proof = merkle.resolve(groups[seq], fetch)
                    merkle.verify_inclusion(
                        merkle.leaf_hash(_bytes(leaves[seq]) or b""), seq, tip.size, proof, tip.root
                    )
                except (IntegrityError, KeyError) as exc:
                    raise IntegrityError(
                        f"entry {seq}: the stored entry is not in the signed tree "
                        f"(its bytes were altered): {exc}"
                    ) from exc


def _extend_tree(
    store: Store,
    seen: Seen,
    leaf_hashes: list[bytes],
    checkpoints: dict[int, bytes],
    tip: _Tip,
) -> bytes:
    """The tree grown from the right edge the auditor verified: every node the new entries
    complete equals the stored one, every new checkpoint's root is the tree's."""
    start = seen.size
    with store.read() as conn:
        edge_ids = merkle.CompactRange.edge_nodes(start)
        stored_edge = _nodes(conn, edge_ids)
        try:
            compact = merkle.CompactRange(start, [stored_edge[n] for n in edge_ids])
        except KeyError as exc:
            raise IntegrityError(
                f"entry {start - 1}: a tree node of size {start} is missing"
            ) from exc
        if compact.root().hex() != seen.root:
            raise IntegrityError(
                f"entry {start - 1}: the stored tree no longer gives the root of size {start} "
                "the auditor verified"
            )
        created: dict[tuple[int, int], bytes] = {}
        for leaf_hash in leaf_hashes:
            for node, value in compact.append(leaf_hash):
                if node.level:
                    created[(node.level, node.idx)] = value
            expected = checkpoints.get(compact.size)
            if expected is not None and compact.root() != expected:
                raise IntegrityError(
                    f"entry {compact.size - 1}: the checkpoint at size {compact.size} does not "
                    "match the tree"
                )
        for level in range(1, max(tip.size - 1, 0).bit_length() + 1):
            rows = conn.execute(
                select(TreeNode.c.idx, _raw(TreeNode.c.hash, conn), _types(conn, TreeNode.c.hash))
                .where(TreeNode.c.level == level, TreeNode.c.idx >= start >> level)
                .order_by(TreeNode.c.idx)
            )
            found = 0
            for idx, value, types in rows:
                found += 1
                if not _typed(types, "blob") or created.get((level, int(idx))) != _bytes(value):
                    raise IntegrityError(
                        f"entry {max(start, int(idx) << level)}: stored tree node (level {level}, "
                        f"index {idx}) does not match the entries below it"
                    )
            want = (tip.size >> level) - (start >> level)
            if found != want:
                raise IntegrityError(
                    f"entry {start}: tree level {level} holds {found} new nodes, want {want}"
                )
        return compact.root()


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
                select(TreeNode.c.idx, _raw(TreeNode.c.hash, conn), _types(conn, TreeNode.c.hash))
                .where(TreeNode.c.level == level)
                .order_by(TreeNode.c.idx)
            )
            position = 0
            for idx, value, types in stored:
                if idx != position or position >= len(computed):
                    raise IntegrityError(
                        f"entry {min(position << level, len(leaf_hashes) - 1)}: tree node "
                        f"(level {level}, index {position}) is missing"
                    )
                if not _typed(types, "blob") or _bytes(value) != computed[position]:
                    raise IntegrityError(
                        f"entry {position << level}: stored tree node (level {level}, index "
                        f"{position}) does not match the entries below it"
                    )
                position += 1
            if position != len(computed):
                raise IntegrityError(
                    f"entry {position << level}: tree node (level {level}, index {position}) "
                    "is missing"
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
