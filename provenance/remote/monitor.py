"""`provenance monitor URL`: follow a served ledger and report the entries that concern
you, trusting the log for nothing.

Each round:

1. reads the checkpoint and checks it against the pinned key, the last checkpoint seen
   (consistency from the tiles; a split view is `SplitView`, exit 4, with both notes)
   and, if given, the witness policy (`RemoteLedger.checkpoint`);
2. reads the new entries it may read (`/v1/entries`, signed with its key) and proves
   each one in the tree of that checkpoint (an inclusion proof computed from the
   public tiles, against the signed root);
3. reports every entry that names a watched serial (`chip/<serial>` subject), names a
   watched party (a subject `party/<id>`, a party field of the statement, or the party
   whose key signed it) or is signed by a watched key (the signature's key id, checked
   against the key's registration when the monitor has read it), or registers,
   rotates or revokes a watched key;
4. saves its place (`monitor.json` in the state directory, beside the client's
   `ledgers.json`), so that a restarted monitor resumes after the last entry it read.

Keys are learned from the `party`, `key` and `key-rotation` entries the monitor reads,
so a signature is attributed to a party only when it verifies with that party's key.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.crypto.keys import VerifyingKey
from provenance.errors import ConfigError, IntegrityError, ProvenanceError
from provenance.offline.entries import ParsedEntry
from provenance.remote.client import RemoteLedger
from provenance.tlog import merkle, tiles

PARTY_FIELDS = frozenset(
    {"exporter", "consignee", "end_user", "forwarder", "party", "manufacturer", "licensee"}
)
PAGE = 1000


@dataclass(frozen=True)
class Watch:
    serials: frozenset[str] = frozenset()
    parties: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()

    def empty(self) -> bool:
        return not (self.serials or self.parties or self.keys)


@dataclass
class Cursor:
    """Where the monitor is: the next entry to read, and the keys it learned."""

    path: Path
    next: int = 0
    keys: dict[str, list[str]] = field(default_factory=dict)
    """key id -> [party, PEM]"""

    @classmethod
    def load(cls, directory: Path) -> Cursor:
        path = directory / "monitor.json"
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the monitor state {path}: {exc}") from exc
        return cls(path, int(value.get("next", 0)), dict(value.get("keys", {})))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".tmp{os.getpid()}")
        data = {"next": self.next, "keys": self.keys}
        temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)


@dataclass(frozen=True)
class Round:
    size: int
    root: bytes
    read: int
    """Entries read and proved this round."""
    reported: list[dict[str, Any]]


def _party_values(value: Any, key: str | None = None) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _party_values(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _party_values(v, key)
    elif isinstance(value, str) and key in PARTY_FIELDS:
        yield value


class Monitor:
    def __init__(self, remote: RemoteLedger, watch: Watch, state_dir: Path) -> None:
        self.remote = remote
        self.watch = watch
        self.cursor = Cursor.load(state_dir)
        self._verifiers: dict[str, VerifyingKey] = {}

    # --- keys ---------------------------------------------------------------------------

    def _verifier(self, keyid: str) -> VerifyingKey | None:
        if keyid not in self._verifiers and keyid in self.cursor.keys:
            self._verifiers[keyid] = VerifyingKey.from_pem(self.cursor.keys[keyid][1])
        return self._verifiers.get(keyid)

    def _learn(self, entry: ParsedEntry) -> None:
        predicate = entry.statement["predicate"]
        pems: list[tuple[str, str]] = []
        if entry.kind == "party":
            pems = [(str(predicate["id"]), str(pem)) for pem in predicate.get("keys", [])]
        elif entry.kind in ("key", "key-rotation"):
            pems = [(str(predicate["party"]), str(predicate["public_key"]))]
        for party, pem in pems:
            try:
                key = VerifyingKey.from_pem(pem)
            except ProvenanceError:
                continue
            self.cursor.keys[key.keyid] = [party, pem]

    def _signers(self, entry: ParsedEntry, every: bool) -> list[tuple[str, str | None]]:
        """(key id, party) for each signature: the party when the key is known and its
        signature verifies, None otherwise. Only the signatures that can matter are
        verified (a watched key, or a known key of a watched party) unless `every`."""
        found: list[tuple[str, str | None]] = []
        pae = entry.envelope.pae()
        for signature in entry.envelope.signatures:
            known = self.cursor.keys.get(signature.keyid)
            party = None
            if known is not None and (
                every or known[0] in self.watch.parties or signature.keyid in self.watch.keys
            ):
                key = self._verifier(signature.keyid)
                try:
                    if key is not None:
                        key.verify(signature.sig, pae)
                        party = known[0]
                except ProvenanceError:
                    party = None
            found.append((signature.keyid, party))
        for keyid in self.watch.keys - {k for k, _ in found}:
            key = self._verifier(keyid)  # a signature whose key id hides a watched key
            if key is None:
                continue
            for signature in entry.envelope.signatures:
                try:
                    key.verify(signature.sig, pae)
                except ProvenanceError:
                    continue
                found.append((keyid, self.cursor.keys[keyid][0]))
        return found

    # --- matching -----------------------------------------------------------------------

    def reasons(self, entry: ParsedEntry, signers: list[tuple[str, str | None]]) -> list[str]:
        subjects = {str(s.get("name")) for s in entry.statement.get("subject", [])}
        predicate = entry.statement["predicate"]
        reasons = [f"serial {s}" for s in sorted(self.watch.serials) if f"chip/{s}" in subjects]
        named = set(_party_values(predicate)) | {
            s.removeprefix("party/") for s in subjects if s.startswith("party/")
        }
        if entry.kind == "party":
            named.add(str(predicate.get("id")))
        signing_parties = {p for _, p in signers if p}
        for party in sorted(self.watch.parties):
            if party in signing_parties:
                reasons.append(f"signed by party {party}")
            elif party in named:
                reasons.append(f"names party {party}")
        signing_keys = {k for k, _ in signers}
        for keyid in sorted(self.watch.keys):
            if keyid in signing_keys:
                reasons.append(f"signed by key {keyid}")
            elif f"key/{keyid}" in subjects:
                reasons.append(f"about key {keyid}")
        return reasons

    # --- a round ------------------------------------------------------------------------

    def round(self, progress: Callable[[int], None] | None = None) -> Round:
        checkpoint, _ = self.remote.checkpoint()
        size, root = checkpoint.size, checkpoint.root
        if self.cursor.next > size:
            raise IntegrityError(
                f"the ledger shows size {size}, smaller than the {self.cursor.next} "
                "entries this monitor read before"
            )
        nodes = tiles.nodes_from_tiles(size, self.remote.tile)
        memo: dict[merkle.NodeId, bytes] = {}

        def fetch(ids: Iterable[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
            ids = list(ids)
            wanted = [i for i in ids if i not in memo]
            if wanted:
                memo.update(nodes(wanted))
            return {i: memo[i] for i in ids}

        reported: list[dict[str, Any]] = []
        read = 0
        start = self.cursor.next
        while start < size:
            page = self.remote.entries(start, PAGE)
            page_size = int(page.get("size", 0))
            if page_size != size:
                # the page is against another checkpoint: check it, and stop at ours
                self.remote.open_checkpoint(str(page.get("checkpoint", "")))
            for item in page.get("entries", []):
                seq = int(item["seq"])
                if not start <= seq < size:
                    continue
                leaf = base64.b64decode(item["leaf"])
                proof = merkle.resolve(merkle.inclusion_nodes(seq, size), fetch)
                merkle.verify_inclusion(merkle.leaf_hash(leaf), seq, size, proof, root)
                entry = ParsedEntry.from_leaf(leaf)
                if entry.seq != seq:
                    raise IntegrityError(f"entry {seq} was sent the leaf of entry {entry.seq}")
                self._learn(entry)
                reasons = self.reasons(entry, self._signers(entry, every=False))
                read += 1
                if reasons:
                    signers = self._signers(entry, every=True)
                    reported.append(self._report(entry, signers, reasons, size, root))
            following = page.get("next")
            end = min(size, int(following)) if following is not None else size
            if progress:
                progress(end - start)
            if end <= start:
                break
            start = end
        self.cursor.next = size
        self.cursor.save()
        return Round(size, root, read, reported)

    def _report(
        self,
        entry: ParsedEntry,
        signers: list[tuple[str, str | None]],
        reasons: list[str],
        size: int,
        root: bytes,
    ) -> dict[str, Any]:
        return {
            "seq": entry.seq,
            "kind": entry.kind,
            "integrated_at": entry.integrated_at,
            "reasons": reasons,
            "signers": [{"keyid": k, "party": p} for k, p in signers],
            "subjects": [s.get("name") for s in entry.statement.get("subject", [])],
            "checkpoint": {"origin": self.remote.origin, "size": size, "root": root.hex()},
        }
