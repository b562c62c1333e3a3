"""Admission: what happens to envelopes between their arrival and their entries.

Inside the log's serialised write transaction (`Ledger.append`, `append_many`,
`import_envelopes`): each envelope is parsed and validated against its kind's model,
its signatures verified, its signer authorised against the key directory as it
stands at that entry, and its statement projected; then its leaf and the new tree
nodes are written. Anything invalid raises, naming the envelope, and the
transaction writes nothing. The log imports this module when it first writes:
reading a ledger needs none of it.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from provenance.crypto import signatures
from provenance.crypto.envelope import Envelope, verified_keyids
from provenance.crypto.keys import VerifyingKey
from provenance.errors import (
    InputError,
    IntegrityError,
    ProvenanceError,
    SignatureError,
)
from provenance.ledger import tree
from provenance.ledger.database import in_chunks, insert_rows, utcnow
from provenance.ledger.projections import handlers
from provenance.ledger.projections.parties import checked_key, checked_party
from provenance.ledger.projections.tables import PartyKeyRow, PartyRow, SubjectRow
from provenance.ledger.tables import CheckpointRow, Entry, TreeNode
from provenance.offline.entries import Appended, ParsedEntry, leaf_bytes, timestamp
from provenance.statements import kinds, payloads
from provenance.statements.authority import (
    Directory,
    KeyRecord,
    PartyRecord,
    Signer,
    authorize,
    claims,
    keys_registered_by,
)
from provenance.tlog import merkle
from provenance.tlog.note import Checkpoint

BATCH = 2000
"""Envelopes (or replayed entries) handled per round of bulk queries."""

Progress = Callable[[int], None]
"""Called with the number of entries just processed."""


@dataclass
class Head:
    """State of one write transaction: the growing tree and the key directory."""

    frontier: merkle.CompactRange
    directory: Directory
    previous: Checkpoint | None


def head(conn: Connection, origin: str) -> Head:
    """The tree's right edge, checked against the latest checkpoint, ready to grow."""
    latest = conn.execute(
        select(CheckpointRow.c.size, CheckpointRow.c.root).order_by(CheckpointRow.c.size.desc())
    ).first()
    top = conn.execute(select(func.max(Entry.c.seq))).scalar()
    entries = 0 if top is None else top + 1
    size = latest.size if latest else 0
    if entries != size:
        raise IntegrityError(
            f"the ledger holds {entries} entries but its latest checkpoint is at size "
            f"{size}: the database was altered",
            hint="run: provenance ledger verify",
        )
    edge = merkle.CompactRange.edge_nodes(size)
    found = tree.nodes(conn, edge)
    if len(found) != len(edge):
        raise IntegrityError(
            "tree nodes at the right edge are missing: the database was altered",
            hint="run: provenance ledger verify",
        )
    frontier = merkle.CompactRange(size, [found[n] for n in edge])
    if latest is not None and frontier.root() != latest.root:
        raise IntegrityError(
            "the stored tree does not match the latest checkpoint: the database was altered",
            hint="run: provenance ledger verify",
        )
    previous = Checkpoint(origin, size, frontier.root()) if latest else None
    return Head(frontier, directory(conn), previous)


def directory(conn: Connection) -> Directory:
    """Parties and keys as the projections hold them now."""

    def load_key(keyid: str) -> KeyRecord | None:
        k = conn.execute(select(PartyKeyRow.__table__).where(PartyKeyRow.keyid == keyid)).first()
        # re-checked against the entry that registered it (issue 18 item 11)
        return None if k is None else checked_key(conn, k)

    def record(p: Any) -> PartyRecord:
        return checked_party(conn, p)

    def load_parties(party_ids: list[str]) -> dict[str, PartyRecord]:
        found: dict[str, PartyRecord] = {}
        for chunk in in_chunks(party_ids):
            rows = conn.execute(select(PartyRow.__table__).where(PartyRow.id.in_(chunk)))
            found.update((p.id, record(p)) for p in rows)
        return found

    def load_party(party_id: str) -> PartyRecord | None:
        return load_parties([party_id]).get(party_id)

    return Directory(load_key, load_party, load_parties)


def statement_of(envelope: Envelope) -> payloads.Statement:
    """The envelope's statement, validated against its kind's model and its subjects."""
    if envelope.payload_type != "application/vnd.in-toto+json":
        raise InputError(f"unsupported payloadType {envelope.payload_type!r}")
    value = envelope.statement()
    kind = kinds.kind_of(value["predicateType"])
    statement = kinds.from_predicate(kind, value["predicate"])
    expected = [{"name": n, "digest": {"sha256": d}} for n, d in statement.subjects()]
    if value["subject"] != expected:
        raise InputError(
            f"{kind}: the statement's subjects do not match its predicate",
            hint="sign statements with `provenance sign` so subjects are derived",
        )
    return statement


def admit(
    conn: Connection,
    head: Head,
    envelopes: Sequence[Envelope],
    verified: Sequence[Sequence[str]] | None = None,
    labels: Sequence[str] | None = None,
    parsed: Sequence[payloads.Statement | None] | None = None,
    copies: Sequence[ParsedEntry] | None = None,
) -> list[Appended]:
    """Admit envelopes in order; `copies`, when given, are the entries of another ledger
    these envelopes come from (a mirror): each must land at its own seq with its own
    `integrated_at`, giving the very same leaf, and none may be a duplicate."""
    frontier, directory = head.frontier, head.directory
    digests = [e.digest() for e in envelopes]
    known = dict(
        conn.execute(
            select(Entry.c.envelope_digest, Entry.c.seq).where(Entry.c.envelope_digest.in_(digests))
        ).all()
    )

    def labelled(i: int, exc: ProvenanceError) -> ProvenanceError:
        if labels is None:
            return exc
        return type(exc)(f"{labels[i]}: {exc.message}", hint=exc.hint)

    statements: list[payloads.Statement | None] = []
    for i, envelope in enumerate(envelopes):
        if digests[i] in known:
            statements.append(None)
            continue
        try:
            given = parsed[i] if parsed is not None else None
            statements.append(given if given is not None else statement_of(envelope))
        except ProvenanceError as exc:
            raise labelled(i, exc) from exc
    directory.prefetch_parties(s.id for s in statements if isinstance(s, payloads.PartyStatement))
    writer = handlers.Writer(conn)
    handlers.prefetch(writer, statements)
    entries: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    subjects: list[dict[str, object]] = []
    results: list[Appended] = []
    for i, envelope in enumerate(envelopes):
        digest = digests[i]
        if digest in known:
            if copies is not None:
                raise labelled(i, IntegrityError("a copied entry repeats an earlier envelope"))
            results.append(_duplicate(conn, known[digest], digest, entries))
            continue
        statement = statements[i]
        assert statement is not None
        seq = frontier.size
        try:
            kind = statement.kind
            hints = [s.keyid for s in envelope.signatures]
            if verified is not None:
                keyids: Sequence[str] = verified[i]
            else:
                keys = _verification_keys(envelope, statement, directory)
                keyids = verified_keyids(envelope, keys)
            signer = authorize(kind, seq, hints, keyids, directory, claims(statement))
            moment = utcnow() if copies is None else _moment_of(copies[i], seq)
            leaf = leaf_bytes(seq, timestamp(moment), envelope)
            if copies is not None and leaf != copies[i].leaf:
                raise IntegrityError(f"entry {seq}: the copied leaf is not the one it rebuilds")
            handlers.project(
                writer, handlers.Accepted(seq, kind, statement, signer, moment), directory
            )
        except ProvenanceError as exc:
            raise labelled(i, exc) from exc
        subjects.extend(handlers.subject_rows(seq, statement))
        for node, value in frontier.append(merkle.leaf_hash(leaf)):
            nodes.append({"level": node.level, "idx": node.idx, "hash": value})
        entries.append(
            {
                "seq": seq,
                "integrated_at": moment,
                "kind": kind,
                "envelope_digest": digest,
                "signer_party": signer.party,
                "signer_keys": " ".join(signer.keyids),
                "leaf": leaf,
            }
        )
        known[digest] = seq
        results.append(Appended(seq, kind, signer.party, digest, False))
    if entries:
        insert_rows(conn, Entry, entries)
        insert_rows(conn, TreeNode, nodes)
        insert_rows(conn, SubjectRow.__table__, subjects)
    writer.flush()
    return results


def _moment_of(copy: ParsedEntry, seq: int) -> dt.datetime:
    if copy.seq != seq:
        raise IntegrityError(f"the copied entry {copy.seq} is offered at position {seq}")
    try:
        moment = dt.datetime.strptime(copy.integrated_at, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError as exc:
        raise IntegrityError(f"entry {seq}: malformed integrated_at") from exc
    return moment.replace(tzinfo=dt.UTC)


def _duplicate(conn: Connection, seq: int, digest: str, pending: list[dict[str, Any]]) -> Appended:
    for row in pending:
        if row["seq"] == seq:
            return Appended(seq, row["kind"], row["signer_party"], digest, True)
    found = conn.execute(select(Entry.c.kind, Entry.c.signer_party).where(Entry.c.seq == seq)).one()
    return Appended(seq, found.kind, found.signer_party, digest, True)


@dataclass(frozen=True)
class _Parsed:
    """What a worker sends back for one envelope: its statement (or why it has none)
    and the key ids whose signature verified with the keys the worker was given."""

    statement: payloads.Statement | None
    error: tuple[type[ProvenanceError], str, str | None] | None
    outcome: signatures.Outcome


def _parse_and_check(
    jobs: Sequence[tuple[Envelope, signatures.Job]], keys: Mapping[str, VerifyingKey]
) -> list[_Parsed]:
    """In a worker: validate each envelope's statement (`statement_of`) and check its
    signatures: the per-entry work that needs nothing of the ledger's state."""
    out = []
    for envelope, job in jobs:
        try:
            statement: payloads.Statement | None = statement_of(envelope)
            error = None
        except ProvenanceError as exc:
            statement, error = None, (type(exc), exc.message, exc.hint)
        out.append(_Parsed(statement, error, signatures.check(job, keys)))
    return out


class WorkerBatch:
    """Envelopes parsed and verified in worker processes, consumed in order.

    `verified()` yields each envelope's verified key ids as the workers finish them
    (appending starts while they still work on later envelopes) and appends its
    statement to `statements` as it goes. A signature whose key the workers were not
    given (the batch itself registers it) is verified here, once every statement that
    could register it has been read: exactly the keys a whole-batch parse would use."""

    def __init__(
        self,
        envelopes: Sequence[Envelope],
        names: Sequence[str],
        material: dict[str, bytes],
        workers: int | None,
    ) -> None:
        self.envelopes = envelopes
        self.names = names
        self.statements: list[payloads.Statement] = []
        self.material = material
        self.unknown = {s.keyid for e in envelopes for s in e.signatures} - material.keys()
        self.outcomes = signatures.Verifying(
            [(e, signatures.job(e)) for e in envelopes],
            material,
            workers=workers,
            task=_parse_and_check,
        )

    def verified(self) -> Iterator[Sequence[str]]:
        results = iter(self.outcomes)
        buffered: deque[_Parsed] = deque()
        loaded: dict[str, VerifyingKey] | None = None
        registered: dict[str, VerifyingKey] = {}
        complete = False
        for i, envelope in enumerate(self.envelopes):
            parsed = buffered.popleft() if buffered else next(results)
            if parsed.error is not None:
                cls, message, hint = parsed.error
                raise cls(f"{self.names[i]}: {message}", hint=hint)
            assert parsed.statement is not None
            for key in keys_registered_by(parsed.statement):
                registered.setdefault(key.keyid, key)
            outcome = parsed.outcome
            late = [s.keyid for s in envelope.signatures if s.keyid in self.unknown]
            if late:
                if not complete and any(k not in registered for k in late):
                    # a key a later statement may register: read them all first
                    for rest in results:
                        buffered.append(rest)
                        if rest.statement is not None:
                            for key in keys_registered_by(rest.statement):
                                registered.setdefault(key.keyid, key)
                    complete = True
                if any(k in registered for k in late):
                    if loaded is None:
                        loaded = {k: VerifyingKey.from_der(d) for k, d in self.material.items()}
                    keys = {**loaded, **registered}
                    outcome = signatures.check(signatures.job(envelope), keys)
            if outcome.error:
                raise SignatureError(f"{self.names[i]}: {outcome.error}")
            self.statements.append(parsed.statement)
            yield outcome.verified

    def close(self) -> None:
        self.outcomes.close()


def verify_in_workers(
    conn: Connection,
    envelopes: Sequence[Envelope],
    names: Sequence[str],
    *,
    workers: int | None = None,
) -> WorkerBatch:
    """Start parsing and verifying every envelope on every core, with the registered
    keys their signatures' hints name."""
    material: dict[str, bytes] = {}
    hints = {s.keyid for e in envelopes for s in e.signatures}
    for chunk in in_chunks(sorted(hints)):
        rows = conn.execute(
            select(PartyKeyRow.keyid, PartyKeyRow.public_key).where(PartyKeyRow.keyid.in_(chunk))
        )
        material.update({k: bytes(der) for k, der in rows})
    return WorkerBatch(envelopes, names, material, workers)


def replay(conn: Connection, progress: Progress | None = None) -> int:
    """Rebuild every projection from the entries (in the caller's write transaction);
    return how many were replayed."""
    from provenance.ledger import guards

    replayed = 0
    guards.drop_projection_guards(conn)  # put back below, in the same transaction
    handlers.clear(conn)
    directory = Directory()
    top = conn.execute(select(func.max(Entry.c.seq))).scalar()
    size = 0 if top is None else int(top) + 1
    for start in range(0, size, BATCH):
        rows = conn.execute(
            select(
                Entry.c.seq,
                Entry.c.leaf,
                Entry.c.signer_party,
                Entry.c.signer_keys,
                Entry.c.integrated_at,
            )
            .where(Entry.c.seq >= start, Entry.c.seq < start + BATCH)
            .order_by(Entry.c.seq)
        ).all()
        subjects: list[dict[str, object]] = []
        writer = handlers.Writer(conn)
        for row in rows:
            parsed = ParsedEntry.from_leaf(bytes(row.leaf))
            statement = parsed.model()
            signer = Signer(row.signer_party, tuple(row.signer_keys.split()))
            accepted = handlers.Accepted(row.seq, parsed.kind, statement, signer, row.integrated_at)
            handlers.project(writer, accepted, directory)
            subjects.extend(handlers.subject_rows(row.seq, statement))
        writer.flush()
        insert_rows(conn, SubjectRow.__table__, subjects)
        replayed += len(rows)
        if progress:
            progress(len(rows))
    guards.create_projection_guards(conn)
    return replayed


def _verification_keys(
    envelope: Envelope, statement: payloads.Statement, directory: Directory
) -> dict[str, VerifyingKey]:
    """Keys to try: the registered keys the hints name, plus keys the statement brings."""
    keys = {k.keyid: k for k in keys_registered_by(statement)}
    for signature in envelope.signatures:
        record = directory.key(signature.keyid)
        if record is not None:
            keys[record.keyid] = record.verifying
    return keys
