"""Signature verification spread over worker processes.

Verifying an Ed25519 signature costs about 130 microseconds of one core and is
the physical limit of admission and audit; everything else is bookkeeping. So
bulk imports and the full audit verify in a pool of processes (one per core;
`cryptography` holds the GIL while it verifies) and keep only the ordered,
cheap decisions (who may sign what, the tree) in the main process.

A worker answers, for each envelope, which key ids verified: the key id is the
SHA-256 of the key itself, so "this signature verifies with key K" is a fact
independent of whether K was registered, revoked or authorised; those
judgements stay with `authority`, in order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from provenance.crypto.envelope import Envelope
from provenance.crypto.keys import VerifyingKey

STREAM_CHUNK = 1000
"""Envelopes a worker verifies per task: small enough that appending starts early."""
PARALLEL_THRESHOLD = 512
"""Below this many envelopes a pool costs more to start than it saves."""


@dataclass(frozen=True)
class Job:
    """What a worker needs to check one envelope: the signed bytes and signatures."""

    message: bytes
    signatures: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Outcome:
    """Key ids whose signature verified, or the first failure."""

    verified: tuple[str, ...]
    error: str | None = None


def job(envelope: Envelope) -> Job:
    return Job(envelope.pae(), tuple((s.keyid, s.sig) for s in envelope.signatures))


def check(job: Job, keys: Mapping[str, VerifyingKey]) -> Outcome:
    """Verify one job's signatures against the keys their hints name."""
    verified: list[str] = []
    for i, (hint, sig) in enumerate(job.signatures):
        key = keys.get(hint)
        if key is None:
            continue
        if not key.is_valid_signature(sig, job.message):
            return Outcome(tuple(verified), f"signature {i} does not verify with key {hint[:16]}")
        if key.keyid not in verified:
            verified.append(key.keyid)
    return Outcome(tuple(verified))


_worker_keys: dict[str, VerifyingKey] = {}


def _init_worker(keys: Mapping[str, bytes]) -> None:
    _worker_keys.clear()
    _worker_keys.update({k: VerifyingKey.from_der(der) for k, der in keys.items()})


def check_all(jobs: Sequence[Job], keys: Mapping[str, VerifyingKey]) -> list[Outcome]:
    """The default task of `Verifying`: check each job's signatures."""
    return [check(j, keys) for j in jobs]


def _run_chunk(
    task: Callable[[Sequence[Any], Mapping[str, VerifyingKey]], list[Any]], jobs: Sequence[Any]
) -> list[Any]:
    return task(jobs, _worker_keys)


def cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class Verifying:
    """Work on many jobs in worker processes, started at once: iterate for the results
    in order (as the workers finish them); `close` stops the workers.

    `task(jobs, keys)` runs on each chunk of jobs in a worker, `keys` being the
    `VerifyingKey`s made once per worker from the DER `keys` given here; it must be a
    module-level function (it is sent to the workers by name). The default checks the
    jobs' signatures (`check_all`, giving an `Outcome` each); a caller may do more of
    its own per-entry work there (admission parses the statements too)."""

    def __init__(
        self,
        jobs: Sequence[Any],
        keys: Mapping[str, bytes],
        *,
        workers: int | None = None,
        task: Callable[[Sequence[Any], Mapping[str, VerifyingKey]], list[Any]] = check_all,
    ) -> None:
        count = workers if workers is not None else cores()
        self._pool: ProcessPoolExecutor | None = None
        self._parts: Iterator[list[Any]] | None = None
        self._serial: Iterator[Any] | None = None
        if count <= 1 or len(jobs) < PARALLEL_THRESHOLD:
            loaded = {k: VerifyingKey.from_der(der) for k, der in keys.items()}
            self._serial = (r for i in range(len(jobs)) for r in task(jobs[i : i + 1], loaded))
            return
        size = min(STREAM_CHUNK, max(64, len(jobs) // (count * 8)))
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        self._pool = ProcessPoolExecutor(count, initializer=_init_worker, initargs=(dict(keys),))
        try:
            # every chunk submitted now
            self._parts = self._pool.map(_run_chunk, [task] * len(chunks), chunks)
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> Iterator[Any]:
        if self._serial is not None:
            yield from self._serial
            return
        assert self._parts is not None
        try:
            for part in self._parts:
                yield from part
        finally:
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def verify_stream(
    jobs: Sequence[Job], keys: Mapping[str, bytes], *, workers: int | None = None
) -> Generator[Outcome, None, None]:
    """Verify many envelopes' signatures, yielding outcomes in order as they come.

    `keys` maps key id to DER public key. The caller can work on the first
    outcomes while the workers verify the rest; close the iterator to stop early.
    The workers start at the first `next`; `Verifying` starts them at once.
    """
    verifying = Verifying(jobs, keys, workers=workers)
    try:
        yield from verifying
    finally:
        verifying.close()
