"""The add-checkpoint checks of C2SP tlog-witness v1.0.0, in the spec's order, and the
cosignature.

    404  the checkpoint's origin is not a log the witness knows
    403  no signature by a key it trusts for that origin, or one that fails
    400  a malformed request, or an old size larger than the checkpoint's
    409  the old size is not the size it last cosigned (answer: that size, text/x.tlog.size)
    422  a size-0 checkpoint whose root is not the empty tree's; a proof with `old 0`;
         a consistency proof that does not verify; the same size with another root
    200  the cosignature line, after the new state is committed

A checkpoint is cosigned only if the witness's state moved to it (or already was it):
the compare-and-swap of `store.WitnessStore.advance`, so check and update are atomic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from provenance.errors import InputError, IntegrityError
from provenance.tlog import merkle, note
from provenance.tlog import witness as protocol
from provenance.tlog.cosignature import Cosigner
from provenance.witnessing.store import WitnessStore

log = logging.getLogger("provenance.witness")


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


def _refuse(status: int, why: str) -> Answer:
    return Answer(status, why.rstrip("\n") + "\n")


class Witness:
    def __init__(
        self,
        cosigner: Cosigner,
        logs: dict[str, list[note.Verifier]],
        store: WitnessStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner = cosigner
        self.logs = logs
        self.store = store
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            request = protocol.parse_request(body)
            text, _ = note.split(request.note)
            checkpoint = note.Checkpoint.parse(text)
        except (InputError, IntegrityError) as exc:
            return _refuse(400, f"malformed request: {exc}")
        verifiers = self.logs.get(checkpoint.origin)
        if verifiers is None:
            return _refuse(404, f"unknown log {checkpoint.origin!r}")
        try:
            note.open(request.note, verifiers)
        except IntegrityError as exc:
            return _refuse(403, f"not signed by the log: {exc}")
        if request.old_size > checkpoint.size:
            why = f"old size {request.old_size} is larger than the checkpoint's {checkpoint.size}"
            return _refuse(400, why)
        latest = self.store.latest(checkpoint.origin)
        size = latest.size if latest is not None else 0
        if request.old_size != size:
            return Answer(409, f"{size}\n", protocol.SIZE_TYPE)
        if checkpoint.size == 0 and checkpoint.root != merkle.EMPTY_ROOT:
            why = "size 0 with another root than the empty tree's"
            return self._evidence(request, checkpoint, why)
        if request.old_size == 0 and request.proof:
            return _refuse(422, "a consistency proof from size 0 must be empty")
        if latest is not None:
            try:
                merkle.verify_consistency(
                    latest.size, checkpoint.size, request.proof, latest.root, checkpoint.root
                )
            except IntegrityError as exc:
                why = f"not consistent with size {latest.size}: {exc}"
                return self._evidence(request, checkpoint, why)
        timestamp = max(1, int(self.clock()))
        line = self.cosigner.signature_line(text, timestamp)
        if not self.store.advance(
            checkpoint.origin, latest, checkpoint.size, checkpoint.root, request.note + line
        ):
            moved = self.store.latest(checkpoint.origin)
            return Answer(409, f"{moved.size if moved else 0}\n", protocol.SIZE_TYPE)
        return Answer(200, line)

    def _evidence(
        self, request: protocol.AddCheckpoint, checkpoint: note.Checkpoint, why: str
    ) -> Answer:
        """A 422 for a checkpoint its log signed: kept as evidence, then refused. (A bad
        proof alone proves nothing against the log; the note is kept all the same, for
        whoever investigates.)"""
        log.warning("refused %s at size %d: %s", checkpoint.origin, checkpoint.size, why)
        self.store.record_refusal(
            checkpoint.origin, request.old_size, checkpoint.size, request.note, why
        )
        return _refuse(422, why)

    def checkpoint(self, origin: str) -> str | None:
        """The latest checkpoint it cosigned for `origin`, with the log's signatures it
        verified and its own cosignature (the monitoring read)."""
        latest = self.store.latest(origin)
        return latest.note if latest is not None else None
