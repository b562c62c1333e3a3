"""The ledger: append, read, proofs and checkpoints.

Append is one serialised transaction: verify every signature, authorise the
signer (`authority`), validate the payload (`payloads`), then write the entry,
the new complete-subtree hashes, the projections and a signed checkpoint for
the new tree size. Anything invalid raises and writes nothing. The same
envelope twice returns the first entry.

A leaf is the canonical JSON of `{"seq", "integrated_at", "envelope"}`; the
tree is RFC 6962 over those leaves; the hashes of complete subtrees are stored
at append time so a root or a proof reads O(log n) nodes.

What happens to an envelope inside the append transaction (validation, authority,
projections) is `ledger.admission`, imported by the first write: a command that
only reads (a checkpoint, a proof) loads neither the statement models nor the
projections.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Row

from provenance.crypto.envelope import Envelope
from provenance.crypto.keys import SigningKey
from provenance.errors import (
    ConfigError,
    InputError,
    IntegrityError,
    NotFoundError,
)
from provenance.ledger import tree
from provenance.ledger.database import Store, open_store, utcnow
from provenance.ledger.tables import CheckpointRow, Entry, LedgerInfo
from provenance.offline.entries import ParsedEntry, Receipt, SignedCheckpoint
from provenance.tlog import merkle, note
from provenance.tlog.note import Checkpoint

if TYPE_CHECKING:
    from provenance.ledger.admission import Head, Progress
    from provenance.offline.entries import Appended
    from provenance.statements import payloads


IMPORT_CHUNK = 20_000
"""Envelopes a streaming import (`Ledger.import_envelopes`) parses and verifies per
round: with their statements, what it holds in memory at once."""
BULK_ANALYZE = 1_000
"""A write of at least this many new entries refreshes the planner's statistics after it
(`Store.refresh_statistics`, PostgreSQL)."""


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
        self._signers: list[note.Signer] = [signer] if signer is not None else []
        self._verifier_keys: list[str] | None = None
        self.tiles = tree.TileCache()
        """The upper tiles of the tree kept for proofs (`tree.CACHE_TILES` at most)."""
        self._dry: note.Signer | None = None

    @property
    def _signer(self) -> note.Signer | None:
        if self._dry is not None:
            return self._dry
        return self._signers[0] if self._signers else None

    @property
    def verifier_keys(self) -> list[str]:
        """Every checkpoint verifier key the ledger has had: the first (`verifier_key`),
        then each announced by a `checkpoint-key` entry (`ledger.checkpoint_keys`)."""
        if self._verifier_keys is None:
            from provenance.ledger import checkpoint_keys

            with self.store.read() as conn:
                announced = checkpoint_keys.rotations(conn)
            self._verifier_keys = checkpoint_keys.all_keys(self.verifier_key, announced)
        if self._dry is not None:
            return [*self._verifier_keys, str(self._dry.verifier())]
        return self._verifier_keys

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """Everything inside runs in one write transaction that is rolled back at the end
        (`--dry-run`): each append is validated, authorised, projected and judged exactly
        as for real, and nothing is written. Checkpoints inside are signed with a key
        made for the occasion and thrown away, never with the ledger's: no signature of
        the ledger's vouches for a tree that will not exist. The ledger's checkpoint key
        is not needed."""
        from provenance.crypto import keys

        self._dry = note.Signer.from_signing_key(self.origin, keys.generate())
        try:
            with self.store.rolled_back():
                yield
        finally:
            self._dry = None
            self._verifier_keys = None

    @property
    def dry(self) -> bool:
        """Inside `dry_run`."""
        return self._dry is not None

    # --- opening --------------------------------------------------------------------

    @classmethod
    def open(cls, db: str | None, *, ledger_key: SigningKey | None = None) -> Ledger:
        """Open an existing ledger; with `ledger_key`, ready to append."""
        store = open_store(db)
        try:
            with store.read() as conn:  # only what is used: created_at is not trusted
                row = conn.execute(
                    select(LedgerInfo.c.origin, LedgerInfo.c.verifier_key, LedgerInfo.c.key_path)
                ).first()
                entries = row is None and conn.execute(select(Entry.c.seq).limit(1)).first()
            if row is None and entries:
                raise IntegrityError(
                    "ledger_info is empty but the ledger holds entries: the database was altered"
                )
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

    def use_checkpoint_key(self, key: SigningKey, *more: SigningKey) -> None:
        """Set the keys that sign checkpoints (two during a rotation's overlap); each must
        be one of this ledger's."""
        signers = [note.Signer.from_signing_key(self.origin, k) for k in (key, *more)]
        for signer in signers:
            if str(signer.verifier()) not in self.verifier_keys:
                raise ConfigError(
                    "that key is not this ledger's checkpoint key",
                    hint=f"the ledger's verifier key is {self.verifier_keys[-1]}",
                )
        self._signers = signers

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
        from provenance.ledger import admission

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
                (result,) = admission.admit(conn, head, [genesis])
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
        from provenance.ledger import admission

        with self.store.write() as conn:
            head = self._head(conn)
            (result,) = admission.admit(conn, head, [envelope])
            if not result.duplicate:
                self._sign_checkpoint(conn, head)
        if result.kind == "checkpoint-key":
            self._verifier_keys = None
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
        signature was already verified (by `signatures.verify_stream` in worker
        processes); the signers are still authorised here, in order.
        """
        with self.store.write() as conn:
            head = self._head(conn)
            start = head.frontier.size
            results = self._admit(conn, head, envelopes, verified, labels, progress, parsed)
            if head.frontier.size > start:
                self._sign_checkpoint(conn, head)
        self._after_bulk(results)
        return results

    def _after_bulk(self, results: Sequence[Appended]) -> None:
        """What a bulk write leaves to do: forget the verifier keys when one was
        announced; refresh the planner's statistics after a large one (a table it grew
        may be small beside the ledger and still have been empty at its last analysis:
        5,000 determinations on 60,000 entries, planned as 8 rows, joined 900 million)."""
        if any(r.kind == "checkpoint-key" for r in results):
            self._verifier_keys = None
        added = sum(1 for r in results if not r.duplicate)
        if added >= BULK_ANALYZE:
            from provenance.ledger.tables import metadata

            self.store.refresh_statistics([t.name for t in metadata.sorted_tables])

    @staticmethod
    def _admit(
        conn: Connection,
        head: Head,
        envelopes: Iterable[Envelope],
        verified: Iterable[Sequence[str]] | None,
        labels: Sequence[str] | None,
        progress: Progress | None,
        parsed: Sequence[payloads.Statement | None] | None,
    ) -> list[Appended]:
        """Admit envelopes in rounds of `admission.BATCH` in the caller's transaction."""
        from provenance.ledger import admission

        results: list[Appended] = []
        envelope_iter = iter(envelopes)
        verified_iter = iter(verified) if verified is not None else None
        while True:
            chunk = [e for _, e in zip(range(admission.BATCH), envelope_iter, strict=False)]
            if not chunk:
                break
            pre = [next(verified_iter) for _ in chunk] if verified_iter is not None else None
            done = len(results)
            names = labels[done : done + len(chunk)] if labels is not None else None
            models = parsed[done : done + len(chunk)] if parsed is not None else None
            results.extend(admission.admit(conn, head, chunk, pre, names, models))
            if progress:
                progress(len(chunk))
        return results

    def import_envelopes(
        self,
        envelopes: Iterable[Envelope],
        *,
        labels: Sequence[str] | None = None,
        progress: Progress | None = None,
        workers: int | None = None,
        chunk: int = IMPORT_CHUNK,
    ) -> list[Appended]:
        """Bulk admission, all or nothing, in one transaction, streaming: the envelopes
        are taken `chunk` at a time; each round's statements are parsed and its
        signatures verified on every core while the main process authorises and appends
        the envelopes already verified. `labels` (e.g. "line 12") name the envelopes in
        errors; they are read by position once each round's envelopes were taken (a
        list the caller fills as it yields the envelopes will do)."""
        from provenance.ledger import admission

        results: list[Appended] = []
        envelope_iter = iter(envelopes)
        with self.store.write() as conn:
            head = self._head(conn)
            start = head.frontier.size
            while True:
                part = list(itertools.islice(envelope_iter, chunk))
                if not part:
                    break
                done = len(results)
                names = (
                    list(labels[done : done + len(part)])
                    if labels is not None
                    else [f"envelope {done + i + 1}" for i in range(len(part))]
                )
                batch = admission.verify_in_workers(conn, part, names, workers=workers)
                try:
                    results.extend(
                        self._admit(
                            conn, head, part, batch.verified(), names, progress, batch.statements
                        )
                    )
                finally:
                    batch.close()
                del part, batch
            if head.frontier.size > start:
                self._sign_checkpoint(conn, head)
        self._after_bulk(results)
        return results

    # --- the tree head ----------------------------------------------------------------

    def _head(self, conn: Connection) -> Head:
        """The tree's right edge, checked against the latest checkpoint, ready to grow."""
        from provenance.ledger import admission

        if self._signer is None:
            raise ConfigError(
                "appending needs the ledger's checkpoint key",
                hint="pass --checkpoint-key KEY.pem or set PROVENANCE_CHECKPOINT_KEY",
            )
        return admission.head(conn, self.origin)

    def _sign_checkpoint(self, conn: Connection, head: Head) -> SignedCheckpoint:
        """Sign a checkpoint for the grown tree, after checking it extends the last one."""
        assert self._signer is not None
        size = head.frontier.size
        root = tree.root(conn, size)
        if root != head.frontier.root():
            raise IntegrityError("the tree nodes just written do not give the expected root")
        previous = head.previous
        if previous is not None:
            proof = tree.resolve(conn, merkle.consistency_nodes(previous.size, size))
            merkle.verify_consistency(previous.size, size, proof, previous.root, root)
        checkpoint = Checkpoint(self.origin, size, root)
        signed = note.sign(checkpoint.body(), self._signer)
        for other in self._signers[1:] if self._dry is None else []:
            signed += note.signature_line(checkpoint.body(), other)
        conn.execute(
            insert(CheckpointRow),
            [{"size": size, "root": root, "note": signed, "created_at": utcnow()}],
        )
        head.previous = checkpoint
        return SignedCheckpoint(checkpoint, signed)

    # --- keys and parties -----------------------------------------------------------

    # --- reading --------------------------------------------------------------------

    def size(self) -> int:
        with self.store.read() as conn:
            return self._size(conn)

    @staticmethod
    def _size(conn: Connection) -> int:
        return int(conn.execute(select(func.max(CheckpointRow.c.size))).scalar() or 0)

    def checkpoint(self, size: int | None = None) -> SignedCheckpoint:
        """The latest signed checkpoint, or the one signed at exactly `size`."""
        with self.store.read() as conn:
            query = select(CheckpointRow.c.note)
            if size is None:
                query = query.order_by(CheckpointRow.c.size.desc()).limit(1)
            else:
                query = query.where(CheckpointRow.c.size == size)
            text_note = conn.execute(query).scalar()
        if text_note is None:
            if size is None:
                raise NotFoundError("the ledger has no checkpoint yet")
            raise NotFoundError(f"no checkpoint was signed at tree size {size}")
        return SignedCheckpoint(note.open_checkpoint(text_note, self.verifier_keys), text_note)

    def entry(self, seq: int) -> ParsedEntry:
        with self.store.read() as conn:
            leaf = conn.execute(select(Entry.c.leaf).where(Entry.c.seq == seq)).scalar()
        if leaf is None:
            raise NotFoundError(f"entry {seq} does not exist")
        parsed = ParsedEntry.from_leaf(bytes(leaf))
        if parsed.seq != seq:
            raise IntegrityError(f"entry {seq} holds a leaf for entry {parsed.seq}")
        return parsed

    def entry_row(self, seq: int) -> Row[Any]:
        """The stored row of entry `seq` (its columns by name)."""
        with self.store.read() as conn:
            row = conn.execute(select(Entry).where(Entry.c.seq == seq)).first()
        if row is None:
            raise NotFoundError(f"entry {seq} does not exist")
        return row

    def root(self, size: int) -> bytes:
        with self.store.read() as conn:
            return self._root(conn, size)

    def _root(self, conn: Connection, size: int) -> bytes:
        return tree.root(conn, size)

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
        """Resolve a proof's nodes: the upper ones from the tile cache, the rest in one
        query; a tree larger than the ledger is not found.

        The size is checked only when nodes are missing: every node of a tree of
        `size` exists once `size` entries do, so the common case is one query.
        """
        try:
            return self.tiles.resolve(self.store.engine, groups)
        except IntegrityError:
            with self.store.read() as conn:
                self._check_size(conn, size)
            raise
        except self._driver_errors:
            # the raw connection's errors are not translated: take the ordinary path,
            # which turns them into ours
            with self.store.read() as conn:
                try:
                    return tree.resolve(conn, groups)
                except IntegrityError:
                    self._check_size(conn, size)
                    raise

    @property
    def _driver_errors(self) -> type[Exception]:
        return self.store.engine.dialect.loaded_dbapi.Error

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
        from provenance.ledger import admission

        with self.store.write() as conn:
            return admission.replay(conn, progress)

    def entries_about(self, subject_name: str) -> list[int]:
        """Entry numbers whose statement names this subject, in order."""
        from provenance.ledger.projections.tables import SubjectRow

        with self.store.read() as conn:
            return list(
                conn.execute(
                    select(SubjectRow.seq)
                    .where(SubjectRow.name == subject_name)
                    .order_by(SubjectRow.seq)
                ).scalars()
            )

    def export(
        self, seqs: Iterable[int] | None = None, at: SignedCheckpoint | None = None
    ) -> dict[str, Any]:
        """A bundle of receipts: the entries asked for, and the registrations, updates,
        rotations and revocations of every key and party that signed them, back to the
        genesis entry, all against the latest checkpoint (or `at`, a checkpoint of this
        ledger whose note may carry cosignatures: the service's witnessed one)."""
        from provenance.ledger.projections.tables import PartyKeyRow, SubjectRow
        from provenance.offline.bundles import make_bundle

        signed = at or self.checkpoint()
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
                keys = conn.execute(
                    select(Entry.c.signer_keys).where(Entry.c.seq == seq)
                ).scalar_one()
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
                    if other >= size:
                        continue  # appended after the checkpoint: not in this bundle
                    needed.add(other)
                    todo.append(other)
        receipts = [self.receipt(seq, size) for seq in sorted(needed)]
        if at is not None:
            receipts = [Receipt(r.seq, r.leaf, r.proof, at) for r in receipts]
        return make_bundle(self.origin, receipts, requested)
