"""Where a checkpoint is published: the one place a signed checkpoint leaves the service.

`/checkpoint` serves `Publication.note()`: the ledger's latest signed note, with the
lines each cosigner hook adds. A hook is a function from the checkpoint (and its note)
to signature lines (`— <name> <base64>`): a witness's tlog-cosignature, for instance,
which the witnesses' work (issue 13) plugs in here. A hook that fails or answers
nothing adds nothing: the log's own signature is always there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from provenance.offline.entries import SignedCheckpoint
from provenance.tlog.note import SIGNATURE_PREFIX

Cosigner = Callable[[SignedCheckpoint], list[str]]
log = logging.getLogger("provenance.service")


@dataclass
class Publication:
    cosigners: list[Cosigner] = field(default_factory=list)
    _cache: tuple[str, str] | None = None

    def note(self, signed: SignedCheckpoint) -> str:
        """The note to publish for this checkpoint: its signatures and the cosigners'."""
        if self._cache is not None and self._cache[0] == signed.note:
            return self._cache[1]
        lines: list[str] = []
        for cosign in self.cosigners:
            try:
                added = cosign(signed)
            except Exception:
                log.exception("cosigner %r failed", cosign)
                continue
            lines.extend(line for line in added if line.startswith(SIGNATURE_PREFIX))
        published = signed.note + "".join(f"{line.rstrip(chr(10))}\n" for line in lines)
        self._cache = (signed.note, published)
        return published
