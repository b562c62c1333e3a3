"""Concurrent submissions grouped into one transaction, as Tessera sequences them.

Requests put their envelope in a queue and wait. One task takes what arrives within
`max_wait` seconds (or up to `max_batch` envelopes), appends them with
`Ledger.append_many` in one transaction with one checkpoint, and answers each. When
one envelope of a batch is refused, the transaction writes nothing and the batch is
appended again one envelope at a time, so each request gets its own answer and a
refused one writes nothing. Beyond `max_outstanding` envelopes waiting, `submit`
refuses at once (the server answers 429 with Retry-After: pushback, not a queue
without bound).

The appending runs in a thread (the database calls block); the event loop keeps
serving reads meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from provenance.crypto.envelope import Envelope
from provenance.errors import ProvenanceError
from provenance.ledger import tiles, tree
from provenance.ledger.log import Ledger
from provenance.offline.entries import Appended, Receipt
from provenance.tlog import merkle


class Overloaded(Exception):
    """More envelopes are waiting than the bound allows."""


@dataclass(frozen=True)
class Outcome:
    """What one submission became: its entry, its receipt, and (for a shipment) the
    determination the rules recorded."""

    appended: Appended
    receipt: Receipt
    determination: dict[str, Any] | None = None


@dataclass
class _Pending:
    envelope: Envelope
    future: asyncio.Future[Outcome]
    queued: float = field(default_factory=time.perf_counter)


Committed = Callable[[Ledger, Sequence[Appended]], None]
"""Called (in the appending thread) after a batch is committed."""


class Batcher:
    def __init__(
        self,
        ledger: Ledger,
        *,
        max_batch: int = 256,
        max_wait: float = 0.005,
        max_outstanding: int = 4096,
        determine: Callable[[Ledger, Sequence[Appended]], dict[int, dict[str, Any]]] | None = None,
        committed: Committed | None = None,
        observe: Callable[[int, float], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_outstanding = max_outstanding
        self.determine = determine
        self.committed = committed
        self.observe = observe
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._outstanding = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def outstanding(self) -> int:
        return self._outstanding

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, envelope: Envelope) -> Outcome:
        """Queue an envelope and wait for its entry; `Overloaded` when too much waits."""
        if self._closing or self._outstanding >= self.max_outstanding:
            raise Overloaded(f"{self._outstanding} submissions are waiting")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._outstanding += 1
        await self._queue.put(_Pending(envelope, future))
        try:
            return await asyncio.shield(future)
        finally:
            self._outstanding -= 1

    async def close(self) -> None:
        """Refuse new submissions, finish every one already queued, then stop."""
        self._closing = True
        if self._task is None:
            return
        while not self._queue.empty() or self._busy:
            await asyncio.sleep(0.01)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    _busy = False

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            self._busy = True
            batch = [first]
            if self.max_wait > 0 and self._queue.qsize() < self.max_batch - 1:
                await asyncio.sleep(self.max_wait)  # let concurrent submissions arrive
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await asyncio.to_thread(self._append, [p.envelope for p in batch])
                for pending, result in zip(batch, results, strict=True):
                    if pending.future.done():
                        continue
                    if isinstance(result, BaseException):
                        pending.future.set_exception(result)
                    else:
                        pending.future.set_result(result)
            except BaseException as exc:
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
            finally:
                self._busy = False

    def _append(self, envelopes: list[Envelope]) -> list[Outcome | ProvenanceError]:
        """Append a batch in one transaction; when it is refused, one envelope at a time."""
        started = time.perf_counter()
        outcomes: list[Outcome | ProvenanceError]
        try:
            appended = self.ledger.append_many(envelopes)
            outcomes = list(self._outcomes(appended))
        except ProvenanceError:
            if len(envelopes) == 1:
                raise
            outcomes = []
            for envelope in envelopes:
                try:
                    one = self.ledger.append_many([envelope])
                    outcomes.extend(self._outcomes(one))
                except ProvenanceError as exc:
                    outcomes.append(exc)
        if self.observe is not None:
            self.observe(len(envelopes), time.perf_counter() - started)
        return outcomes

    def _outcomes(self, appended: Sequence[Appended]) -> list[Outcome]:
        if self.committed is not None:
            self.committed(self.ledger, appended)
        determinations = self.determine(self.ledger, appended) if self.determine else {}
        receipts = receipts_for(self.ledger, [a.seq for a in appended])
        return [Outcome(a, receipts[a.seq], determinations.get(a.seq)) for a in appended]


def receipts_for(ledger: Ledger, seqs: Sequence[int]) -> dict[int, Receipt]:
    """Receipts of these entries against one checkpoint (the latest): the checkpoint read
    and verified once, the leaves in one query, every proof's nodes in one query; each
    proof verified before it is handed out."""
    signed = ledger.checkpoint()
    size, root = signed.checkpoint.size, signed.checkpoint.root
    wanted = sorted(set(seqs))
    groups = {seq: merkle.inclusion_nodes(seq, size) for seq in wanted}
    with ledger.store.read() as conn:
        leaves = tiles.leaves_of(conn, wanted)
        found = tree.nodes(conn, {n for g in groups.values() for group in g for n in group})
    receipts = {}
    for seq in wanted:
        proof = merkle.resolve(groups[seq], lambda _ids: found)
        leaf = leaves[seq]
        merkle.verify_inclusion(merkle.leaf_hash(leaf), seq, size, proof, root)
        receipts[seq] = Receipt(seq, leaf, tuple(proof), signed)
    return receipts
