"""Witnessing the ledger's checkpoints (`provenance serve --witness-policy FILE`).

After each checkpoint the service submits it to every witness of the policy that has a
URL (C2SP tlog-witness, `remote.witnesses`: a consistency proof from the size each
witness holds, a 409 answered from the size it names), and collects the cosignatures.
A checkpoint whose cosignatures meet the policy's quorum becomes the *published* one:
`/checkpoint`, every receipt and every read are answered against it, carrying its
cosignatures. While the quorum cannot be met (witnesses down, or refusing), nothing new
is published, as Tessera does: the service keeps serving the last witnessed
checkpoint, appends go on being sequenced, and a submission whose entry is not yet
under a witnessed checkpoint is answered 503 with Retry-After once `wait` seconds have
passed (the entry is in the ledger; the client's retry is answered with it, 200, once
the witnesses cosign). Before any checkpoint is witnessed `/checkpoint` is 503.

One thread per service process does the submitting: it wakes on each commit
(`nudge`) or every `interval` seconds, and retries a checkpoint that missed its quorum.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from provenance.errors import ProvenanceError
from provenance.ledger.log import Ledger
from provenance.offline.entries import SignedCheckpoint
from provenance.remote.witnesses import WitnessClient
from provenance.tlog import policy as tlog_policy

log = logging.getLogger("provenance.service")


class Cosigning:
    def __init__(
        self,
        ledger: Ledger,
        policy: tlog_policy.Policy,
        *,
        interval: float = 0.5,
        timeout: float = 5.0,
    ) -> None:
        self.ledger = ledger
        self.policy = policy
        self.interval = interval
        self.clients = {
            w.name: WitnessClient(w.url, w.key, timeout=timeout)
            for w in policy.witnesses.values()
            if w.url
        }
        self.published: SignedCheckpoint | None = None
        self.by_size: dict[int, SignedCheckpoint] = {}
        self.last_attempt: dict[str, str] = {}
        """For each witness, the outcome of the last submission (for /healthz and logs)."""
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max(1, len(self.clients)))
        self._thread = threading.Thread(target=self._run, name="cosigning", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)
        self._pool.shutdown(wait=False)
        for client in self.clients.values():
            client.close()

    def nudge(self) -> None:
        """A checkpoint was committed: submit it now."""
        self._wake.set()

    def wait_for(self, size: int, timeout: float) -> SignedCheckpoint | None:
        """The published checkpoint once it covers `size` entries (None after timeout)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self.published is not None and self.published.checkpoint.size >= size,
                timeout,
            )
            return self.published

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.round()
            except Exception:  # the loop must outlive a bad round (it is logged)
                log.exception("witnessing round failed")

    def round(self) -> bool:
        """Submit the ledger's latest checkpoint if it is not published yet; True when it
        met the quorum."""
        try:
            signed = self.ledger.checkpoint()
        except ProvenanceError:
            return False
        current = self.published
        if current is not None and current.checkpoint.size >= signed.checkpoint.size:
            return True
        size = signed.checkpoint.size

        def proof_from(old: int) -> list[bytes]:
            return self.ledger.consistency_proof(old, size)

        def submit(name: str) -> tuple[str, str | None]:
            try:
                line = self.clients[name].add_checkpoint(signed.note, signed.checkpoint, proof_from)
            except ProvenanceError as exc:
                self.last_attempt[name] = exc.message
                log.warning("witness %s: %s", name, exc.message)
                return name, None
            self.last_attempt[name] = f"cosigned size {size}"
            return name, line

        answers = dict(self._pool.map(submit, list(self.clients)))
        lines = {name: line for name, line in answers.items() if line is not None}
        cosigned = signed.note + "".join(lines[n] for n in sorted(lines))
        if not self.policy.met_by(self.policy.cosigners(cosigned)):
            return False
        published = SignedCheckpoint(signed.checkpoint, cosigned)
        with self._changed:
            self.published = published
            self.by_size[size] = published
            if len(self.by_size) > 1024:
                del self.by_size[min(self.by_size)]
            self._changed.notify_all()
        return True
