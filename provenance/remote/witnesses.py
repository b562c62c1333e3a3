"""A log's side of C2SP tlog-witness: submitting a checkpoint to a witness.

`WitnessClient.add_checkpoint` sends the checkpoint with a consistency proof from the
size it believes the witness holds; a 409 names the witness's size, and the request is
sent again with a proof from that size (so a log that restarted, or never met this
witness, starts from `old 0`). The cosignature lines answered are checked against the
witness's key before they are returned.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from provenance.errors import IntegrityError, ProvenanceError
from provenance.tlog import cosignature
from provenance.tlog import witness as protocol
from provenance.tlog.note import Checkpoint

ATTEMPTS = 3


class WitnessRefused(ProvenanceError):
    """The witness refused the checkpoint, or could not be reached."""

    exit_code = 4

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WitnessClient:
    def __init__(self, url: str, key: cosignature.CosignerKey, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.size: int = 0
        """The size this client believes the witness holds (learned from 200s and 409s)."""
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def add_checkpoint(
        self,
        signed_note: str,
        checkpoint: Checkpoint,
        proof_from: Callable[[int], list[bytes]],
    ) -> str:
        """The witness's cosignature line on `signed_note`, or `WitnessRefused`.
        `proof_from(old)` is the log's consistency proof from size `old` to the
        checkpoint's (empty for 0)."""
        old = self.size if self.size <= checkpoint.size else 0
        for _ in range(ATTEMPTS):
            body = protocol.format_request(old, proof_from(old) if old else [], signed_note)
            try:
                response = self.http.post(self.url + "/add-checkpoint", content=body)
            except httpx.HTTPError as exc:
                raise WitnessRefused(f"witness {self.key.name} unreachable: {exc}") from exc
            if response.status_code == 409:
                try:
                    old = protocol.parse_size(response.content)
                except ProvenanceError as exc:
                    raise WitnessRefused(f"witness {self.key.name}: bad 409 body", 409) from exc
                self.size = old
                if old > checkpoint.size:
                    raise WitnessRefused(
                        f"witness {self.key.name} holds size {old}, larger than {checkpoint.size}",
                        409,
                    )
                continue
            if response.status_code != 200:
                why = response.text.strip()[:300]
                raise WitnessRefused(
                    f"witness {self.key.name} refused size {checkpoint.size} "
                    f"(HTTP {response.status_code}): {why}",
                    response.status_code,
                )
            try:
                lines = protocol.parse_cosignatures(response.content)
                mine = [
                    line for line in lines if cosignature.verify(signed_note + line, [self.key])
                ]
            except ProvenanceError as exc:
                raise WitnessRefused(f"witness {self.key.name}: {exc}", 200) from exc
            if not mine:
                raise IntegrityError(f"witness {self.key.name} answered no cosignature of its key")
            self.size = checkpoint.size
            return mine[0]
        raise WitnessRefused(f"witness {self.key.name} kept moving (409)", 409)
