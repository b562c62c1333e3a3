"""The ledger: append, read, proofs and checkpoints.

Append is one serialised transaction: verify every signature, authorise the
signer (`authority`), validate the payload (`payloads`), then write the entry,
the new complete-subtree hashes, the projections and a signed checkpoint for
the new tree size. Anything invalid raises and writes nothing. The same
envelope twice returns the first entry.

A leaf is the canonical JSON of `{"seq", "integrated_at", "envelope"}`; the
tree is RFC 6962 over those leaves; the hashes of complete subtrees are stored
at append time so a root or a proof reads O(log n) nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.engine import Connection

from provenance.crypto import signatures
from provenance.crypto.envelope import Envelope, verified_keyids
from provenance.crypto.keys import SigningKey, VerifyingKey
from provenance.errors import (
    ConfigError,
    InputError,
    IntegrityError,
    NotFoundError,
    ProvenanceError,
    SignatureError,
)
from provenance.ledger import projections
from provenance.ledger.database import Store, in_chunks, open_store, utcnow
from provenance.ledger.projections.tables import PartyKeyRow, PartyRow, SubjectRow
from provenance.ledger.tables import CheckpointRow, Entry, LedgerInfo, TreeNode
from provenance.offline.bundles import make_bundle
from provenance.offline.entries import ParsedEntry, Receipt, SignedCheckpoint, leaf_bytes, timestamp
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
from provenance.tlog import merkle, note
from provenance.tlog.note import Checkpoint

Progress = Callable[[int], None]
"""Called with the number of entries just processed."""

CHUNK = 2000


@dataclass(frozen=True)
class Appended:
    """The outcome of appending one envelope."""

    seq: int
    kind: str
    signer: str
    envelope_digest: str
    duplicate: bool


@dataclass
class _Head:
    """State of one write transaction: the growing tree and the key directory."""

    frontier: merkle.CompactRange
    directory: Directory
    previous: Checkpoint | None


class Ledger:
    """A ledger database, and (for appends) the key that signs its checkpoints."""

    def __init__(
        self,
        store: Store,
        *,
        origin: str,
        verifier_key: str,
        key_path: str | None = None,
        signer: note.Signer | None = None,
    ) -> None:
        self.store = store
        self.origin = origin
        self.verifier_key = verifier_key
        self.key_path = key_path
        self._signer = signer

    # --- opening --------------------------------------------------------------------

    @classmethod
    def open(cls, db: str | None, *, ledger_key: SigningKey | None = None) -> Ledger:
        """Open an existing ledger; with `ledger_key`, ready to append."""
        store = open_store(db)
        try:
            with store.read() as conn:
                row = conn.execute(select(LedgerInfo.__table__)).first()
            if row is None:
                raise NotFoundError(
                    "this database has a ledger schema but was never initialised",
                    hint="run: provenance init",
                )
        except BaseException:
            store.dispose()
            raise
        ledger = cls(store, origin=row.origin, verifier_key=row.verifier_key, key_path=row.key_path)
        if ledger_key is not None:
            ledger.use_checkpoint_key(ledger_key)
        return ledger

    def use_checkpoint_key(self, key: SigningKey) -> None:
        """Set the key that signs checkpoints; it must be this ledger's."""
        signer = note.Signer.from_signing_key(self.origin, key)
        if str(signer.verifier()) != self.verifier_key:
            raise ConfigError(
                "that key is not this ledger's checkpoint key",
                hint=f"the ledger's verifier key is {self.verifier_key}",
            )
        self._signer = signer

    @property
    def can_append(self) -> bool:
        return self._signer is not None

    @classmethod
    def create(
        cls,
        db: str | None,
        *,
        origin: str,
        ledger_key: SigningKey,
        genesis: Envelope,
        key_path: Path | None = None,
    ) -> tuple[Ledger, Appended]:
        """Create a ledger whose first entry (`genesis`) registers the operator."""
        signer = note.Signer.from_signing_key(origin, ledger_key)
        store = open_store(db, create=True)
        try:
            with store.write() as conn:
                if conn.execute(select(func.count()).select_from(LedgerInfo)).scalar():
                    raise InputError(
                        "a ledger already exists in this database",
                        hint="use it as it is, or choose another --db",
                    )
                info: dict[str, Any] = {
                    "id": 1,
                    "origin": origin,
                    "verifier_key": str(signer.verifier()),
                    "created_at": utcnow(),
                    "key_path": str(key_path.resolve()) if key_path else None,
                }
                conn.execute(insert(LedgerInfo), [info])
                ledger = cls(
                    store,
                    origin=origin,
                    verifier_key=str(signer.verifier()),
                    key_path=info["key_path"],
                    signer=signer,
                )
                head = ledger._head(conn)
                (result,) = ledger._append(conn, head, [genesis])
                ledger._sign_checkpoint(conn, head)
        except BaseException:
            store.dispose()
            raise
        return ledger, result

    def close(self) -> None:
        self.store.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- appending ------------------------------------------------------------------

    def append(self, envelope: Envelope) -> tuple[Appended, Receipt]:
        """Append one envelope; return the entry and its receipt."""
        with self.store.write() as conn:
            head = self._head(conn)
            (result,) = self._append(conn, head, [envelope])
            if not result.duplicate:
                self._sign_checkpoint(conn, head)
        return result, self.receipt(result.seq)

    def append_many(
        self,
        envelopes: Iterable[Envelope],
        *,
        verified: Iterable[Sequence[str]] | None = None,
        labels: Sequence[str] | None = None,
        progress: Progress | None = None,
        parsed: Sequence[payloads.Statement | None] | None = None,
    ) -> list[Appended]:
        """Append envelopes in order, all or nothing, in one transaction.

        `labels` name each envelope in errors (e.g. "line 12").

        `verified`, when given, holds for each envelope the key ids whose
        signature was already verified (by `signatures.verify_batch` in worker
        processes); the signers are still authorised here, in order.
        """
        results: list[Appended] = []
        envelope_iter = iter(envelopes)
        verified_iter = iter(verified) if verified is not None else None
        with self.store.write() as conn:
            head = self._head(conn)
            start = head.frontier.size
            while True:
                chunk = [e for _, e in zip(range(CHUNK), envelope_iter, strict=False)]
                if not chunk:
                    break
                pre = [next(verified_iter) for _ in chunk] if verified_iter is not None else None
                done = len(results)
                names = labels[done : done + len(chunk)] if labels is not None else None
                models = parsed[done : done + len(chunk)] if parsed is not None else None
                results.extend(self._append(conn, head, chunk, pre, names, models))
                if progress:
                    progress(len(chunk))
            if head.frontier.size > start:
                self._sign_checkpoint(conn, head)
        return results

    def _append(
        self,
        conn: Connection,
        head: _Head,
        envelopes: Sequence[Envelope],
        verified: Sequence[Sequence[str]] | None = None,
        labels: Sequence[str] | None = None,
        parsed: Sequence[payloads.Statement | None] | None = None,
    ) -> list[Appended]:
        frontier, directory = head.frontier, head.directory
        digests = [e.digest() for e in envelopes]
        known = dict(
            conn.execute(
                select(Entry.envelope_digest, Entry.seq).where(Entry.envelope_digest.in_(digests))
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
                statements.append(given if given is not None else self._statement(envelope))
            except ProvenanceError as exc:
                raise labelled(i, exc) from exc
        directory.prefetch_parties(
            s.id for s in statements if isinstance(s, payloads.PartyStatement)
        )
        writer = projections.Writer(conn)
        projections.prefetch(writer, statements)
        entries: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        subjects: list[dict[str, object]] = []
        results: list[Appended] = []
        for i, envelope in enumerate(envelopes):
            digest = digests[i]
            if digest in known:
                results.append(self._duplicate(conn, known[digest], digest, entries))
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
                moment = utcnow()
                leaf = leaf_bytes(seq, timestamp(moment), envelope)
                projections.project(
                    writer, projections.Accepted(seq, kind, statement, signer, moment), directory
                )
            except ProvenanceError as exc:
                raise labelled(i, exc) from exc
            subjects.extend(projections.subject_rows(seq, statement))
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
            conn.execute(insert(Entry), entries)
            conn.execute(insert(TreeNode), nodes)
            conn.execute(insert(SubjectRow), subjects)
        writer.flush()
        return results

    @staticmethod
    def _statement(envelope: Envelope) -> payloads.Statement:
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

    @staticmethod
    def _duplicate(
        conn: Connection, seq: int, digest: str, pending: list[dict[str, Any]]
    ) -> Appended:
        for row in pending:
            if row["seq"] == seq:
                return Appended(seq, row["kind"], row["signer_party"], digest, True)
        found = conn.execute(select(Entry.kind, Entry.signer_party).where(Entry.seq == seq)).one()
        return Appended(seq, found.kind, found.signer_party, digest, True)

    def import_envelopes(
        self,
        envelopes: Sequence[Envelope],
        *,
        labels: Sequence[str] | None = None,
        progress: Progress | None = None,
        workers: int | None = None,
    ) -> list[Appended]:
        """Bulk admission, all or nothing: signatures are verified on every core while
        the main process authorises and appends the envelopes already verified."""
        names = (
            labels if labels is not None else [f"envelope {i + 1}" for i in range(len(envelopes))]
        )
        material: dict[str, bytes] = {}
        hints = {s.keyid for e in envelopes for s in e.signatures}
        with self.store.read() as conn:
            for chunk in in_chunks(sorted(hints)):
                rows = conn.execute(
                    select(PartyKeyRow.keyid, PartyKeyRow.public_key).where(
                        PartyKeyRow.keyid.in_(chunk)
                    )
                )
                material.update({k: bytes(der) for k, der in rows})
        parsed: list[payloads.Statement] = []
        for i, envelope in enumerate(envelopes):
            try:
                statement = self._statement(envelope)
            except ProvenanceError as exc:
                raise type(exc)(f"{names[i]}: {exc.message}", hint=exc.hint) from exc
            parsed.append(statement)
            material.update({k.keyid: k.der() for k in keys_registered_by(statement)})
        outcomes = signatures.verify_stream(
            [signatures.job(e) for e in envelopes], material, workers=workers
        )

        def verified() -> Iterator[Sequence[str]]:
            # Appending starts while the workers still verify later envelopes.
            for i, outcome in enumerate(outcomes):
                if outcome.error:
                    raise SignatureError(f"{names[i]}: {outcome.error}")
                yield outcome.verified

        try:
            return self.append_many(
                envelopes, verified=verified(), labels=names, progress=progress, parsed=parsed
            )
        finally:
            outcomes.close()

    # --- the tree head ----------------------------------------------------------------

    def _head(self, conn: Connection) -> _Head:
        """The tree's right edge, checked against the latest checkpoint, ready to grow."""
        if self._signer is None:
            raise ConfigError(
                "appending needs the ledger's checkpoint key",
                hint="pass --checkpoint-key KEY.pem or set PROVENANCE_CHECKPOINT_KEY",
            )
        latest = conn.execute(
            select(CheckpointRow.size, CheckpointRow.root).order_by(CheckpointRow.size.desc())
        ).first()
        top = conn.execute(select(func.max(Entry.seq))).scalar()
        entries = 0 if top is None else top + 1
        size = latest.size if latest else 0
        if entries != size:
            raise IntegrityError(
                f"the ledger holds {entries} entries but its latest checkpoint is at size "
                f"{size}: the database was altered",
                hint="run: provenance ledger verify",
            )
        edge = merkle.CompactRange.edge_nodes(size)
        found = self._nodes(conn, edge)
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
        previous = Checkpoint(self.origin, size, frontier.root()) if latest else None
        return _Head(frontier, self.directory(conn), previous)

    def _sign_checkpoint(self, conn: Connection, head: _Head) -> SignedCheckpoint:
        """Sign a checkpoint for the grown tree, after checking it extends the last one."""
        assert self._signer is not None
        size = head.frontier.size
        edge = merkle.CompactRange.edge_nodes(size)
        root = merkle.resolve([edge], lambda ids: self._nodes(conn, ids))[0]
        if root != head.frontier.root():
            raise IntegrityError("the tree nodes just written do not give the expected root")
        previous = head.previous
        if previous is not None:
            proof = merkle.resolve(
                merkle.consistency_nodes(previous.size, size), lambda ids: self._nodes(conn, ids)
            )
            merkle.verify_consistency(previous.size, size, proof, previous.root, root)
        checkpoint = Checkpoint(self.origin, size, root)
        signed = note.sign(checkpoint.body(), self._signer)
        conn.execute(
            insert(CheckpointRow),
            [{"size": size, "root": root, "note": signed, "created_at": utcnow()}],
        )
        head.previous = checkpoint
        return SignedCheckpoint(checkpoint, signed)

    @staticmethod
    def _nodes(conn: Connection, ids: Iterable[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
        """Fetch stored nodes by id in one query that uses the primary key.

        One `level = L AND idx IN (...)` term per level: SQLite plans a row-value
        `(level, idx) IN (VALUES ...)` as a full scan, which would make every proof
        O(n); this form is an index lookup per node on both databases.
        """
        by_level: dict[int, list[int]] = {}
        for node in ids:
            by_level.setdefault(node.level, []).append(node.idx)
        if not by_level:
            return {}
        condition = or_(
            *(
                and_(TreeNode.level == level, TreeNode.idx.in_(sorted(set(idxs))))
                for level, idxs in by_level.items()
            )
        )
        rows = conn.execute(select(TreeNode.level, TreeNode.idx, TreeNode.hash).where(condition))
        return {merkle.NodeId(r.level, r.idx): bytes(r.hash) for r in rows}

    # --- keys and parties -----------------------------------------------------------

    def directory(self, conn: Connection) -> Directory:
        """Parties and keys as the projections hold them now."""

        def load_key(keyid: str) -> KeyRecord | None:
            k = conn.execute(
                select(PartyKeyRow.__table__).where(PartyKeyRow.keyid == keyid)
            ).first()
            if k is None:
                return None
            return KeyRecord(
                k.keyid,
                k.party_id,
                VerifyingKey.from_der(k.public_key),
                k.registered_seq,
                k.revoked_seq,
                k.revocation_reason,
            )

        def record(p: Any) -> PartyRecord:
            return PartyRecord(p.id, p.name, frozenset(p.roles.split()), p.country, p.headquarters)

        def load_parties(party_ids: list[str]) -> dict[str, PartyRecord]:
            found: dict[str, PartyRecord] = {}
            for chunk in in_chunks(party_ids):
                rows = conn.execute(select(PartyRow.__table__).where(PartyRow.id.in_(chunk)))
                found.update((p.id, record(p)) for p in rows)
            return found

        def load_party(party_id: str) -> PartyRecord | None:
            return load_parties([party_id]).get(party_id)

        return Directory(load_key, load_party, load_parties)

    # --- reading --------------------------------------------------------------------

    def size(self) -> int:
        with self.store.read() as conn:
            return self._size(conn)

    @staticmethod
    def _size(conn: Connection) -> int:
        return int(conn.execute(select(func.max(CheckpointRow.size))).scalar() or 0)

    def checkpoint(self, size: int | None = None) -> SignedCheckpoint:
        """The latest signed checkpoint, or the one signed at exactly `size`."""
        with self.store.read() as conn:
            query = select(CheckpointRow.note)
            if size is None:
                query = query.order_by(CheckpointRow.size.desc()).limit(1)
            else:
                query = query.where(CheckpointRow.size == size)
            text_note = conn.execute(query).scalar()
        if text_note is None:
            if size is None:
                raise NotFoundError("the ledger has no checkpoint yet")
            raise NotFoundError(f"no checkpoint was signed at tree size {size}")
        return SignedCheckpoint(note.open_checkpoint(text_note, [self.verifier_key]), text_note)

    def checkpoint_covering(self, seq: int) -> SignedCheckpoint:
        with self.store.read() as conn:
            text_note = conn.execute(
                select(CheckpointRow.note)
                .where(CheckpointRow.size > seq)
                .order_by(CheckpointRow.size.desc())
                .limit(1)
            ).scalar()
        if text_note is None:
            raise NotFoundError(f"entry {seq} does not exist")
        return SignedCheckpoint(note.open_checkpoint(text_note, [self.verifier_key]), text_note)

    def entry(self, seq: int) -> ParsedEntry:
        with self.store.read() as conn:
            leaf = conn.execute(select(Entry.leaf).where(Entry.seq == seq)).scalar()
        if leaf is None:
            raise NotFoundError(f"entry {seq} does not exist")
        parsed = ParsedEntry.from_leaf(bytes(leaf))
        if parsed.seq != seq:
            raise IntegrityError(f"entry {seq} holds a leaf for entry {parsed.seq}")
        return parsed

    def entry_row(self, seq: int) -> Entry:
        with self.store.read() as conn:
            row = conn.execute(select(Entry.__table__).where(Entry.seq == seq)).first()
        if row is None:
            raise NotFoundError(f"entry {seq} does not exist")
        return Entry(**row._mapping)

    def root(self, size: int) -> bytes:
        with self.store.read() as conn:
            return self._root(conn, size)

    def _root(self, conn: Connection, size: int) -> bytes:
        edge = merkle.CompactRange.edge_nodes(size)
        return merkle.resolve([edge], lambda ids: self._nodes(conn, ids))[0]

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        """RFC 6962 inclusion proof of entry `seq` in the tree of `size` (O(log n) reads)."""
        if not 0 <= seq < size:
            raise NotFoundError(f"entry {seq} is not in a tree of size {size}")
        return self._proof(merkle.inclusion_nodes(seq, size), size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 6962 consistency proof between two tree sizes (O(log n) reads)."""
        if not 0 <= old_size <= new_size:
            raise InputError(f"old size {old_size} must be between 0 and {new_size}")
        if new_size < 1:
            raise NotFoundError(f"tree size {new_size} is outside 1..{self.size()}")
        return self._proof(merkle.consistency_nodes(old_size, new_size), new_size)

    def _proof(self, groups: list[list[merkle.NodeId]], size: int) -> list[bytes]:
        """Resolve a proof's nodes in one query; a tree larger than the ledger is not found.

        The size is checked only when nodes are missing: every node of a tree of
        `size` exists once `size` entries do, so the common case is one query.
        """
        with self.store.read() as conn:
            try:
                return merkle.resolve(groups, lambda ids: self._nodes(conn, ids))
            except IntegrityError:
                self._check_size(conn, size)
                raise

    def _check_size(self, conn: Connection, size: int) -> None:
        current = self._size(conn)
        if not 0 < size <= current:
            raise NotFoundError(f"tree size {size} is outside 1..{current}")

    def receipt(self, seq: int, size: int | None = None) -> Receipt:
        """A tlog-proof of entry `seq` against the latest checkpoint (or one at `size`)."""
        signed = self.checkpoint(size) if size is not None else self.checkpoint()
        if seq >= signed.checkpoint.size:
            raise NotFoundError(f"entry {seq} is not in the tree of size {signed.checkpoint.size}")
        parsed = self.entry(seq)
        proof = self.inclusion_proof(seq, signed.checkpoint.size)
        merkle.verify_inclusion(
            merkle.leaf_hash(parsed.leaf),
            seq,
            signed.checkpoint.size,
            proof,
            signed.checkpoint.root,
        )
        return Receipt(seq, parsed.leaf, tuple(proof), signed)

    # --- projections and bundles ------------------------------------------------------

    def replay(self, progress: Progress | None = None) -> int:
        """Rebuild every projection from the entries; return how many were replayed."""
        replayed = 0
        with self.store.write() as conn:
            projections.clear(conn)
            directory = Directory()
            top = conn.execute(select(func.max(Entry.seq))).scalar()
            size = 0 if top is None else int(top) + 1
            for start in range(0, size, CHUNK):
                rows = conn.execute(
                    select(
                        Entry.seq,
                        Entry.leaf,
                        Entry.signer_party,
                        Entry.signer_keys,
                        Entry.integrated_at,
                    )
                    .where(Entry.seq >= start, Entry.seq < start + CHUNK)
                    .order_by(Entry.seq)
                ).all()
                subjects: list[dict[str, object]] = []
                writer = projections.Writer(conn)
                for row in rows:
                    parsed = ParsedEntry.from_leaf(bytes(row.leaf))
                    statement = parsed.model()
                    signer = Signer(row.signer_party, tuple(row.signer_keys.split()))
                    accepted = projections.Accepted(
                        row.seq, parsed.kind, statement, signer, row.integrated_at
                    )
                    projections.project(writer, accepted, directory)
                    subjects.extend(projections.subject_rows(row.seq, statement))
                writer.flush()
                if subjects:
                    conn.execute(insert(SubjectRow), subjects)
                replayed += len(rows)
                if progress:
                    progress(len(rows))
        return replayed

    def entries_about(self, subject_name: str) -> list[int]:
        """Entry numbers whose statement names this subject, in order."""
        with self.store.read() as conn:
            return list(
                conn.execute(
                    select(SubjectRow.seq)
                    .where(SubjectRow.name == subject_name)
                    .order_by(SubjectRow.seq)
                ).scalars()
            )

    def export(self, seqs: Iterable[int] | None = None) -> dict[str, Any]:
        """A bundle of receipts: the entries asked for, and the registrations, updates,
        rotations and revocations of every key and party that signed them, back to the
        genesis entry, all against the latest checkpoint."""
        signed = self.checkpoint()
        size = signed.checkpoint.size
        requested = sorted(set(seqs)) if seqs is not None else list(range(size))
        for seq in requested:
            if not 0 <= seq < size:
                raise NotFoundError(f"entry {seq} does not exist")
        needed = set(requested)
        todo = list(requested)
        with self.store.read() as conn:
            while todo:
                seq = todo.pop()
                keys = conn.execute(select(Entry.signer_keys).where(Entry.seq == seq)).scalar_one()
                related = {0}
                for keyid in keys.split():
                    party = conn.execute(
                        select(PartyKeyRow.party_id).where(PartyKeyRow.keyid == keyid)
                    ).scalar()
                    if party is None:
                        continue
                    party_keys = conn.execute(
                        select(PartyKeyRow.keyid).where(PartyKeyRow.party_id == party)
                    ).scalars()
                    names = [f"party/{party}", *(f"key/{k}" for k in party_keys)]
                    related.update(
                        conn.execute(
                            select(SubjectRow.seq).where(SubjectRow.name.in_(names))
                        ).scalars()
                    )
                for other in related - needed:
                    needed.add(other)
                    todo.append(other)
        receipts = [self.receipt(seq, size) for seq in sorted(needed)]
        return make_bundle(self.origin, receipts, requested)


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
